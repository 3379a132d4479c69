"""Ingest a webhook delivery: claim each message id once, then queue the message.

The webhook answers the platform fast: one conditional put (the message id's claim) and one FIFO
send per message, the floor for "nothing accepted is ever lost or duplicated". A retried
delivery whose first send may have failed sends again; FIFO deduplication, or the worker's
applied check after its 5 minutes, absorbs the second. The conversation itself is built by
the worker (services/inbound.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from chalicelib.domain.errors import AlreadyStored
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


class Claims(Protocol):
    """The webhook's claims on platform message ids (adapters/dynamodb/claims.py)."""

    def accept(self, event: MessageEvent, received_at: datetime) -> None:
        """Claim the message id; AlreadyStored (with `applied`) if it was claimed before."""
        ...

    def edit(self, platform: Platform, message_id: str, text: str) -> bool:
        """The platform's edit of an applied message. False if unknown or stored nowhere;
        StoreUnavailable while it is claimed but not applied yet (the platform retries)."""
        ...

    def erase(self, platform: Platform, message_id: str, deleted_at: datetime) -> bool:
        """Remove the text of a withdrawn message, keep that it existed (as `edit`)."""
        ...


def every_account(platform: str, account_id: str | None) -> bool:
    """No brand account declared (the local default): every account is the brand's."""
    return True


@dataclass(frozen=True)
class IngestDeps:
    claims: Claims
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
            erased = deps.claims.erase(event.platform, event.message_id, event.deleted_at)
            report.add("erased" if erased else "erase_unknown")
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
    """Claim the id, then queue the event. One write and one send, nothing read: everything
    the conversation needs happens in the worker, in the conversation's FIFO order."""
    body = {"event": event.model_dump(mode="json"), "received_at": received_at.isoformat()}
    try:
        deps.claims.accept(event, received_at)
    except AlreadyStored as seen:
        if event.edited:
            deps.claims.edit(event.platform, event.message_id, event.text)
            return "edited"
        if seen.applied:
            return "duplicate"
        # Accepted before but perhaps never queued (the send failed): send again. If the first
        # send went through, FIFO deduplication or the worker's applied check absorbs this one.
        _send(event, body, deps)
        return "duplicate"
    _send(event, body, deps)
    return "accepted"


def _send(event: MessageEvent, body: dict[str, Any], deps: IngestDeps) -> None:
    deps.queue.send(body, group=_group(event),
                    dedupe_id=f"{event.platform.value}:{event.message_id}")


def _group(event: MessageEvent) -> str:
    """The group keeps a conversation's events in order. An X reply's conversation is only
    known in the worker (the tweet index), so it goes in the group of the tweet it answers:
    a reply to the customer's first tweet then waits for that tweet, where groups running side
    by side would let the answer reach the worker first and find no conversation to answer.
    Deeper in a thread it is a guess, and the version check covers concurrent writes."""
    if event.platform is Platform.X and event.channel is Channel.PUBLIC and event.reply_to:
        return f"{event.platform.value}.t-{event.reply_to}"
    return f"{event.platform.value}.{event.thread}"
