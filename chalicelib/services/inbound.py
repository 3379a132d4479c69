"""The inbound worker: an accepted message joins its conversation, then its turn is triaged.

It runs in the conversation's FIFO group, so a conversation's messages apply in order. The
message, its conversation, its customer and its turn commit in one transaction that also marks
the dedupe record applied; a redelivery finds it applied and only finishes the triage, which is
idempotent (services/turns.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib import observability
from chalicelib.domain import conversations
from chalicelib.domain.conversations import Conversation, Outcome
from chalicelib.domain.events import Channel, Direction, MessageEvent, Platform
from chalicelib.domain.ports import AlreadyStored, IngestStore, NewMessage, VersionConflict
from chalicelib.domain.ports import message_sk as event_sk
from chalicelib.services import turns

_MAX_ATTEMPTS = 8  # optimistic-lock retries: only a burst on one conversation needs more than 1


@dataclass(frozen=True)
class InboundDeps:
    store: IngestStore
    turns: Callable[[], turns.TurnDeps]  # built only when a turn needs triage


def handle(body: Mapping[str, Any], deps: InboundDeps) -> str:
    event = MessageEvent.model_validate(body["event"])
    received_at = datetime.fromisoformat(str(body["received_at"]))
    outcome, facts = apply(event, received_at, deps.store)
    if facts:
        turns.handle(facts, deps.turns())
    return outcome


def apply(event: MessageEvent, received_at: datetime,
          store: IngestStore) -> tuple[str, Mapping[str, Any] | None]:
    """Apply one message to its conversation: (outcome, the facts triage needs, if any)."""
    for _ in range(_MAX_ATTEMPTS):
        thread = _thread(event, store)
        current = store.load(event.platform, thread)
        if current is None and event.direction is Direction.OUT:
            # The brand wrote where no customer is waiting (a post, a reply elsewhere): it
            # answers nobody, so it starts no conversation.
            return "brand_elsewhere", None
        base = current or conversations.start(event, thread)
        transition = conversations.apply(base, event, received_at)
        after = transition.conversation
        facts = _facts(event, after, transition.outcome, received_at, store,
                       transition.response_seconds)
        try:
            store.record(NewMessage(
                event=event, conversation=after,
                expected_version=None if current is None else current.version,
                outcome=transition.outcome, received_at=received_at, facts=facts,
                response_seconds=transition.response_seconds))
        except VersionConflict:
            continue  # someone else wrote this conversation first: re-read and re-apply
        except AlreadyStored:
            seen = store.seen(event.platform, event.message_id)
            return "duplicate", seen.facts if seen else None
        if transition.response_seconds is not None:  # answered natively on the platform
            observability.response_time(event.platform.value, transition.response_seconds,
                                        first=after.first_turn)
        # The text goes to triage in memory only: the dedupe record never holds it.
        return transition.outcome.value, {**facts, "text": event.text}
    raise VersionConflict(f"conversation {event.platform}:{event.thread} kept changing")


def _thread(event: MessageEvent, store: IngestStore) -> str:
    """X public replies join the conversation of the tweet they answer (the tweet index)."""
    if event.platform is Platform.X and event.channel is Channel.PUBLIC and event.reply_to:
        return store.thread_of_tweet(event.reply_to) or event.thread
    return event.thread


def _facts(event: MessageEvent, after: Conversation, outcome: Outcome, received_at: datetime,
           store: IngestStore, response_seconds: float | None) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "outcome": outcome.value,
        "conversation": after.id,
        "turn": after.turn,
        "message_id": event.message_id,
        "message_sk": event_sk(event),
        "received_at": received_at.isoformat(),
    }
    if outcome is Outcome.TURN_OPENED:
        profile = store.customer(event.platform, after.customer.id)
        facts["opened_at"] = after.turn_opened_at.isoformat() if after.turn_opened_at else None
        facts["complaints_before"] = profile.complaints if profile else 0
        facts["followers"] = after.customer.followers
    if response_seconds is not None:
        facts["response_seconds"] = response_seconds
    return facts
