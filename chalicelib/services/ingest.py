"""Ingest a webhook delivery: queue each message, its edits and its deletions.

The webhook answers the platform fast: one FIFO send per event and no write, the floor for
"nothing accepted is ever lost". Duplicates are the worker's to drop: the send's
deduplication id (`<platform>:<message id>`) absorbs a redelivery within SQS's 5 minutes, and
the worker's applied check (services/inbound.py, the message found where its own time puts it)
any later one. An edit and a deletion are queued in their message's group (the conversation's,
when the payload shows it), so the worker applies them after it. The conversation itself is
built by the worker.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from chalicelib.domain.events import (
    Channel,
    ChannelSignal,
    Ignored,
    MessageDeleted,
    MessageEvent,
    Platform,
    WebhookEvent,
)
from chalicelib.domain.ports import ChannelLog
from chalicelib.domain.redaction import hide_phones

logger = Logger(child=True)


class InboundQueue(Protocol):
    """The queue to the inbound worker (adapters/sqs_queue.py)."""

    def send(self, body: Mapping[str, Any], *, group: str, dedupe_id: str) -> None: ...


def every_account(platform: str, account_id: str | None) -> bool:
    """No brand account declared (the local default): every account is the brand's."""
    return True


@dataclass(frozen=True)
class IngestDeps:
    queue: InboundQueue
    now: Callable[[], datetime]
    channels: ChannelLog  # the platform is calling; what it says about a channel
    # Is this (platform, brand account id) one of the brand's declared accounts
    # (Policies.accepts)? Another account's delivery is counted and stored nowhere.
    accepts: Callable[[str, str | None], bool] = every_account
    # Where a credential problem the platform reports is kept (Policies.health_channel).
    health_channel: Callable[[str, str | None], str] = lambda platform, account: platform


@dataclass
class IngestReport:
    """What one delivery did, by outcome (logged; counts only, never text)."""

    counts: Counter[str] = field(default_factory=Counter)

    def add(self, what: str) -> None:
        self.counts[what] += 1

    def as_dict(self) -> dict[str, object]:
        return {"accepted": True, "events": dict(self.counts)}


def ingest(events: Iterable[WebhookEvent], deps: IngestDeps) -> IngestReport:
    report = IngestReport()
    received_at = deps.now()
    platforms: set[str] = set()
    for event in events:
        if not isinstance(event, ChannelSignal):  # a revoke proves nothing works
            platforms.add(event.platform.value)
        if isinstance(event, MessageEvent | ChannelSignal) and event.brand_id is not None and (
                not deps.accepts(event.platform.value, event.brand_id)):
            # Answered 200 all the same: the platform would retry an error for days.
            deps.channels.unknown_account(event.platform.value, event.brand_id)
            report.add("unknown_account")
        elif isinstance(event, MessageEvent):
            report.add(_message(event, received_at, deps))
            # A declared account's own channel (`<platform>:<id>`) is seen too, so one
            # account gone quiet shows behind a platform that keeps calling for the others.
            platforms.add(deps.health_channel(event.platform.value, event.brand_id))
        elif isinstance(event, MessageDeleted):
            # Applied by the worker after its message: found there, it loses its text.
            deps.queue.send(_body(event, received_at), group=_deletion_group(event),
                            dedupe_id=f"{event.platform.value}:{event.message_id}:deleted")
            report.add("deletion_queued")
        elif isinstance(event, ChannelSignal):
            logger.info("channel signal", extra={"platform": event.platform,
                                                 "signal": event.signal})
            if event.signal in ("revoked", "send_failed"):
                deps.channels.problem(deps.health_channel(event.platform.value,
                                                          event.brand_id),
                                      event.signal, event.detail)
            report.add(f"signal:{event.signal}")
        elif isinstance(event, Ignored):
            logger.info("event ignored", extra={"platform": event.platform,
                                                "event_type": event.event_type,
                                                "reason": hide_phones(event.reason)})
            report.add("ignored")
    if platforms:
        deps.channels.seen(platforms)  # after the work: bookkeeping never costs a delivery
    return report


def _message(event: MessageEvent, received_at: datetime, deps: IngestDeps) -> str:
    """Queue the event: one send, nothing read or written. Everything the conversation needs
    happens in the worker, in the conversation's FIFO order; so does an edit (the same id with
    new text: a deduplication id of its own, or FIFO would drop it as the message's)."""
    dedupe_id = f"{event.platform.value}:{event.message_id}"
    if event.edited:
        dedupe_id += ":edited:" + hashlib.sha256(event.text.encode()).hexdigest()[:16]
    deps.queue.send(_body(event, received_at), group=_group(event), dedupe_id=dedupe_id)
    return "edit_queued" if event.edited else "accepted"


def _body(event: MessageEvent | MessageDeleted, received_at: datetime) -> dict[str, Any]:
    return {"event": event.model_dump(mode="json"), "received_at": received_at.isoformat()}


def _deletion_group(event: MessageDeleted) -> str:
    """The message's own group when the thread is known. An X post's is not (its group is the
    tweet it answers): its deletion goes alone, and the worker retries a few times if it finds
    no post yet (services/inbound.py `erase`)."""
    if event.thread is not None:
        return f"{event.platform.value}.{event.thread}"
    return f"{event.platform.value}.d-{event.message_id}"


def _group(event: MessageEvent) -> str:
    """The group keeps a conversation's events in order. An X reply's conversation is only
    known in the worker (the tweet index), so it goes in the group of the tweet it answers:
    a reply to the customer's first tweet then waits for that tweet, where groups running side
    by side would let the answer reach the worker first and find no conversation to answer.
    Deeper in a thread it is a guess, and the version check covers concurrent writes."""
    if event.platform is Platform.X and event.channel is Channel.PUBLIC and event.reply_to:
        return f"{event.platform.value}.t-{event.reply_to}"
    return f"{event.platform.value}.{event.thread}"
