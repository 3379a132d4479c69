"""The inbound worker: an accepted message joins its conversation, then its turn is triaged.

It runs in the conversation's FIFO group, so a conversation's messages apply in order. Triage
happens here too, so one versioned write of the conversation carries the message's effect and
its turn's priority and deadlines: that write is the commit point (the writes around it
are idempotent, see adapters/dynamodb/messages.py). The webhook writes nothing, so this worker
is where duplicates end: a redelivery finds the message applied (its item, where its own time
puts it, or the conversation's last message) and only finishes what is left: the store's
bookkeeping and setting the alarm, both idempotent. The platform's edits and deletions come
through the same queue, after their message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from chalicelib import observability
from chalicelib.domain import conversations
from chalicelib.domain.conversations import Conversation, Outcome
from chalicelib.domain.errors import StoreUnavailable, VersionConflict
from chalicelib.domain.events import Direction, MessageDeleted, MessageEvent, Platform
from chalicelib.domain.facts import Facts, Planned
from chalicelib.domain.policies import Policies
from chalicelib.domain.ports import CustomerProfile, NewMessage, Snapshot
from chalicelib.domain.redaction import hide_phones
from chalicelib.services import turns

_MAX_ATTEMPTS = 8  # optimistic-lock retries: only a burst on one conversation needs more than 1
# Receives of an X post's deletion that finds no post: the post may still be queued in another
# group (the tweet it answers), so it is retried (2, 4, 8, 16 s ... apart, handlers.py) before
# the worker gives up: about a minute, never a dead letter.
ERASE_RECEIVES = 6


class ConversationLog(Protocol):
    """The worker's view of storage (adapters/dynamodb/conversation_log.py)."""

    def read(self, event: MessageEvent, *, seen: bool, erasure: bool,
             customer: bool) -> Snapshot:
        """What `event` needs read, in one or two requests, consistently: whether it is
        applied (`seen`: where its own time puts it, an agent's reply or a Meta comment where
        its claim says, an X post where its tweet index says; or done with elsewhere, a brand
        post), its thread and conversation, its author's erasure and profile when asked. Each
        call reads again: a retry must see the write that beat it."""
        ...

    def customer(self, platform: Platform, user_id: str) -> CustomerProfile | None:
        """A profile `read` did not bring (a turn opened for someone not the author)."""
        ...

    def erased_at(self, platform: Platform, user_id: str) -> datetime | None:
        """When the customer's data was erased on request, while its tombstone lasts (when
        `read` did not bring it: a retry, or a brand message older than its conversation)."""
        ...

    def record(self, message: NewMessage) -> None:
        """Commit the conversation if it is still at `expected_version` (VersionConflict
        otherwise), with the message, its turn and its customer. What is written before the
        commit is harmless without it; what comes after is idempotent."""
        ...

    def finish_applied(self, event: MessageEvent, conversation: Conversation,
                       received_at: datetime) -> Facts | None:
        """The conversation's last write applied `event`, but the work after it may not have
        happened: do it (idempotently) and return the facts that commit recorded."""
        ...

    def pass_over(self, platform: Platform, message_id: str) -> None:
        """The worker is done with a message that belongs to no conversation (a brand post):
        its redeliveries are duplicates (`seen`) even once a conversation starts in its thread,
        where it would otherwise answer a turn it never saw."""
        ...

    def edit(self, event: MessageEvent) -> bool:
        """The platform's edit of a stored message: its new text, unless it was withdrawn.
        False if it is stored nowhere."""
        ...

    def erase(self, deleted: MessageDeleted) -> bool:
        """Remove the text of a withdrawn message, keep that it existed (the turn's clock).
        False if it is stored nowhere (found through its thread, its claim or its tweet
        index)."""
        ...


@dataclass(frozen=True)
class InboundDeps:
    log: ConversationLog
    policies: Callable[[], Policies]
    turns: Callable[[], turns.TurnDeps]  # built only when a turn needs its alarm


def handle(body: Mapping[str, Any], deps: InboundDeps, receives: int = 1) -> str:
    """One queued event. `receives`: SQS's count for this record (a deletion's retries)."""
    if body["event"].get("kind") == "deleted":
        return erase(MessageDeleted.model_validate(body["event"]), deps.log, receives)
    event = MessageEvent.model_validate(body["event"])
    received_at = datetime.fromisoformat(str(body["received_at"]))
    outcome, facts, committed = _apply(event, received_at, deps.log, deps.policies())
    if facts is not None and facts.planned is Planned.YES:
        turns.set_alarm(facts, deps.turns(), committed)
    return outcome


def erase(deleted: MessageDeleted, log: ConversationLog, receives: int) -> str:
    """A deletion queued behind its message (its thread known) that finds nothing is done:
    the message was never stored (never delivered, a brand post, an erased customer's). An X
    post's deletion travels in a group of its own: finding nothing, it is retried up to
    ERASE_RECEIVES receives in case the post is still queued, then done ("erase_unknown"),
    never dead-lettered. Not covered: a message whose send failed at the webhook (answered
    503) and whose platform retry comes only after its deletion is kept with its text."""
    if log.erase(deleted):
        return "erased"
    if deleted.thread is None and receives < ERASE_RECEIVES:
        raise StoreUnavailable("deleted message not applied yet: retried")
    return "erase_unknown"


def apply(event: MessageEvent, received_at: datetime, log: ConversationLog,
          policies: Policies) -> tuple[str, Facts | None]:
    """Apply one message to its conversation: (outcome, the facts the alarm needs, if any)."""
    outcome, facts, _ = _apply(event, received_at, log, policies)
    return outcome, facts


def _apply(event: MessageEvent, received_at: datetime, log: ConversationLog,
           policies: Policies) -> tuple[str, Facts | None, Conversation | None]:
    """As `apply`, plus the conversation this call committed (None when it committed nothing:
    a duplicate's alarm reads what is stored now)."""
    if event.edited and log.edit(event):
        return "edited", None, None  # an edit of a message never stored is that message
    # A customer's message may open a conversation or a turn: its author's tombstone and
    # profile come in the same read (a brand message needs neither).
    customer_wrote = event.direction is Direction.IN
    snapshot = log.read(event, seen=True, erasure=customer_wrote, customer=customer_wrote)
    if snapshot.seen is not None:
        return "duplicate", snapshot.seen.facts, None
    for attempt in range(_MAX_ATTEMPTS):
        if attempt:  # a write beat ours: read the conversation again, never a cached one
            snapshot = log.read(event, seen=False, erasure=False, customer=customer_wrote)
        thread, current = snapshot.thread, snapshot.conversation
        if current is not None and current.last_message_id == event.message_id:
            # Applied, then the worker stopped (or lost the answer) before the bookkeeping.
            return "duplicate", log.finish_applied(event, current, received_at), None
        if current is None and event.direction is Direction.OUT:
            # The brand wrote where no customer is waiting (a post, a reply elsewhere): it
            # answers nobody, so it starts no conversation.
            log.pass_over(event.platform, event.message_id)
            return "brand_elsewhere", None, None
        if (current is None or event.created_at < current.created_at) and _erased_since(
                event, snapshot, log):
            # Written before its author's erasure (queued then, or redelivered late by the
            # platform, even into the conversation a later message started): it must not bring
            # erased words back, and stores nothing (the customer's tombstone decides again on
            # each redelivery). A message written after the erasure is a new contact and
            # starts a conversation as any other.
            return "erased_customer", None, None
        base = current or conversations.start(event, thread)
        transition = conversations.apply(base, event, received_at)
        after = transition.conversation
        complaints_before = _complaints_before(event, after, transition.outcome,
                                               snapshot, log)
        after, planned, plan = turns.plan(after, transition.outcome, event.text,
                                          complaints_before=complaints_before,
                                          policies=policies, received_at=received_at)
        facts = Facts(
            outcome=transition.outcome, conversation=after.id, turn=after.turn,
            message_id=event.message_id, message_at=event.created_at,
            received_at=received_at,
            opened_at=after.turn_opened_at if transition.outcome is Outcome.TURN_OPENED
            else None, complaints_before=complaints_before,
            response_seconds=transition.response_seconds,
            answered_at=after.answered_at if transition.response_seconds is not None else None,
            planned=planned, plan=plan)
        try:
            log.record(NewMessage(
                event=event, conversation=after,
                expected_version=None if current is None else current.version,
                outcome=transition.outcome, received_at=received_at, facts=facts,
                response_seconds=transition.response_seconds))
        except VersionConflict:
            continue  # someone else wrote this conversation first: re-read and re-apply
        if transition.response_seconds is not None:  # answered natively on the platform
            observability.response_time(event.platform.value, transition.response_seconds,
                                        first=after.first_turn)
        return transition.outcome.value, facts, after
    raise VersionConflict(hide_phones(f"conversation {event.platform}:{event.thread} kept "
                                      "changing"))


def _erased_since(event: MessageEvent, snapshot: Snapshot, log: ConversationLog) -> bool:
    """Asked only where a conversation would be created, or the message predates the one it
    joins (an erasure deletes them all, a later message may start a new one)."""
    erased_at = snapshot.erased_at if snapshot.erasure_read else log.erased_at(
        event.platform, event.author.id)
    return erased_at is not None and event.created_at <= erased_at


def _complaints_before(event: MessageEvent, after: Conversation, outcome: Outcome,
                       snapshot: Snapshot, log: ConversationLog) -> int:
    """Turns the customer opened before this one: asked only when a turn opens."""
    if outcome is not Outcome.TURN_OPENED:
        return 0
    customer = after.customer.id
    if snapshot.customer_read and customer == event.author.id:
        profile = snapshot.customer
    else:
        profile = log.customer(event.platform, customer)
    return profile.complaints if profile else 0
