"""Ingest a webhook delivery: store each message once with its conversation, then queue it.

Order matters for "nothing accepted is ever lost or duplicated": the message, its conversation,
its customer and its dedupe record commit in one transaction; the queue send comes after. The
dedupe record keeps what was sent, so a retried delivery sends it again: if the first send
failed that finishes the work, if not FIFO deduplication (same id) absorbs the second.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger

from chalicelib import observability
from chalicelib.domain import conversations
from chalicelib.domain.conversations import Conversation, Outcome
from chalicelib.domain.events import (
    Channel,
    ChannelSignal,
    Direction,
    Ignored,
    MessageDeleted,
    MessageEvent,
    Platform,
    WebhookEvent,
)
from chalicelib.domain.ports import (
    AlreadyStored,
    InboundQueue,
    IngestStore,
    NewMessage,
    SeenMessage,
    VersionConflict,
    message_sk,
)

logger = Logger(child=True)

_MAX_ATTEMPTS = 8  # optimistic-lock retries: only a burst on one conversation needs more than 1


@dataclass(frozen=True)
class IngestDeps:
    store: IngestStore
    queue: InboundQueue
    now: Callable[[], datetime]
    channel_problem: Callable[[str, str, str], None] | None = None
    channel_seen: Callable[[Iterable[str]], None] | None = None  # the platform is calling


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
        if isinstance(event, MessageEvent):
            report.add(_message(event, received_at, deps))
        elif isinstance(event, MessageDeleted):
            erased = deps.store.erase(event.platform, event.message_id, event.deleted_at)
            report.add("erased" if erased else "erase_unknown")
        elif isinstance(event, ChannelSignal):
            logger.info("channel signal", extra={"platform": event.platform,
                                                 "signal": event.signal})
            if event.signal in ("revoked", "send_failed") and deps.channel_problem:
                deps.channel_problem(event.platform.value, event.signal, event.detail)
            report.add(f"signal:{event.signal}")
        elif isinstance(event, Ignored):
            logger.info("event ignored", extra={"platform": event.platform,
                                                "event_type": event.event_type,
                                                "reason": event.reason})
            report.add("ignored")
    if platforms and deps.channel_seen is not None:
        deps.channel_seen(platforms)  # after the work: bookkeeping never costs a delivery
    return report


def _message(event: MessageEvent, received_at: datetime, deps: IngestDeps) -> str:
    store = deps.store
    # No read of the dedupe record first: the transaction's condition on it decides, so a new
    # message (nearly all of them) costs one read fewer.
    for _ in range(_MAX_ATTEMPTS):
        thread = _thread(event, store)
        current = store.load(event.platform, thread)
        if current is None and event.direction is Direction.OUT:
            # The brand wrote where no customer is waiting (a post, a reply elsewhere): it
            # answers nobody, so it starts no conversation.
            return "brand_elsewhere"
        base = current or conversations.start(event, thread)
        transition = conversations.apply(base, event, received_at)
        after = transition.conversation
        message = NewMessage(
            event=event, conversation=after,
            expected_version=None if current is None else current.version,
            outcome=transition.outcome, received_at=received_at,
            queue_body=_queue_body(event, after, transition.outcome, received_at, deps,
                                   transition.response_seconds),
            response_seconds=transition.response_seconds,
        )
        try:
            store.record(message)
        except VersionConflict:
            continue  # someone else wrote this conversation first: re-read and re-apply
        except AlreadyStored:
            seen = store.seen(event.platform, event.message_id)
            return _redelivered(event, seen, deps) if seen else "duplicate"
        _send(event, after.id, message.queue_body, deps)
        if transition.response_seconds is not None:  # answered natively on the platform
            observability.response_time(event.platform.value, transition.response_seconds,
                                        first=after.first_turn)
        return transition.outcome.value
    raise VersionConflict(f"conversation {event.platform}:{event.thread} kept changing")


def _redelivered(event: MessageEvent, seen: SeenMessage, deps: IngestDeps) -> str:
    if event.edited:
        deps.store.edit(event.platform, event.message_id, event.text)
        return "edited"
    if seen.queue_body:
        # Send again: if the first send failed, this finishes the work; if it succeeded, FIFO
        # deduplication (same id) absorbs it. Cheaper than recording every successful send.
        _send(event, seen.conversation, seen.queue_body, deps)
    return "duplicate"


def _send(event: MessageEvent, conversation_id: str, body: Any, deps: IngestDeps) -> None:
    deps.queue.send(body, group=conversation_id,
                    dedupe_id=f"{event.platform.value}:{event.message_id}")


def _thread(event: MessageEvent, store: IngestStore) -> str:
    """X public replies join the conversation of the tweet they answer (the tweet index)."""
    if event.platform is Platform.X and event.channel is Channel.PUBLIC and event.reply_to:
        return store.thread_of_tweet(event.reply_to) or event.thread
    return event.thread


def _queue_body(event: MessageEvent, after: Conversation, outcome: Outcome,
                received_at: datetime, deps: IngestDeps,
                response_seconds: float | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "outcome": outcome.value,
        "conversation": after.id,
        "turn": after.turn,
        "message_id": event.message_id,
        "message_sk": message_sk(event),
        "received_at": received_at.isoformat(),
    }
    if outcome is Outcome.TURN_OPENED:
        profile = deps.store.customer(event.platform, after.customer.id)
        body["opened_at"] = after.turn_opened_at.isoformat() if after.turn_opened_at else None
        body["complaints_before"] = profile.complaints if profile else 0
        body["followers"] = after.customer.followers
    if response_seconds is not None:
        body["response_seconds"] = response_seconds
    return body
