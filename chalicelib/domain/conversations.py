"""Conversations and turns: what a customer message or a brand reply does to them.

A turn opens with a customer message after the brand last spoke; it needs a response. Its clock
starts at the platform's own timestamp, never later than when ReplyWindow received it, so a late
or retried delivery does not reset it (a delivery so late that its whole window has passed is
floored by triage: services/turns.py). A brand message in the same conversation answers the
open turn. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from chalicelib.domain.events import Channel, Direction, MessageEvent, Person, Platform


class Status(StrEnum):
    AWAITING_AGENT = "awaiting_agent"  # the clock is running
    AWAITING_CUSTOMER = "awaiting_customer"  # answered: the clock is paused
    RESOLVED = "resolved"


class Outcome(StrEnum):
    """What a message did to its conversation; the triage worker acts on it."""

    TURN_OPENED = "turn_opened"  # a new turn needs a response: triage it, set its timers
    FOLLOW_UP = "follow_up"  # the customer wrote again in an open turn: the clock keeps running
    TURN_ANSWERED = "turn_answered"  # the brand answered: stop the turn's timers
    BRAND_MESSAGE = "brand_message"  # the brand wrote again with no turn open: nothing to stop


def conversation_id(platform: Platform | str, thread: str) -> str:
    """URL-safe id used by the agent API and in due checks: `<platform>.<thread>`."""
    return f"{Platform(platform).value}.{thread}"


def split_conversation_id(value: str) -> tuple[Platform, str]:
    platform, _, thread = value.partition(".")
    if not thread:
        raise ValueError(f"not a conversation id: {value!r}")
    return Platform(platform), thread


@dataclass(frozen=True)
class Conversation:
    platform: Platform
    thread: str
    channel: Channel
    brand_id: str
    customer: Person
    created_at: datetime
    status: Status = Status.AWAITING_AGENT
    turn: int = 0
    turn_opened_at: datetime | None = None
    last_customer_message_id: str | None = None  # what a reply answers (X in_reply_to, ...)
    last_customer_at: datetime | None = None  # Meta/WhatsApp messaging windows start here
    summoned: bool = False  # X: the customer mentioned or quoted the brand in this turn
    last_response_seconds: float | None = None
    answered_at: datetime | None = None
    # Set by triage and the SLA engine:
    team: str | None = None
    priority: str | None = None
    reasons: tuple[str, ...] = ()
    warn_at: datetime | None = None
    due_at: datetime | None = None
    escalate_at: datetime | None = None
    assignee: str | None = None
    acked_by: str | None = None
    acked_turn: int | None = None
    version: int = 0  # optimistic lock: each write expects the version it read
    # The last message applied: its write is the commit point of applying it, so a worker
    # that stopped after it (before the message's own bookkeeping) knows to finish, not redo.
    last_message_id: str | None = None
    last_outcome: str | None = None  # what that message did (an Outcome)
    late_delivery: bool = False  # this turn's message reached us after its window had passed
    found_by_listening: bool = False  # begun by a post found by listening, not a delivery

    @property
    def source(self) -> str:
        """How the conversation reached us, for the inbox, the alerts and the report."""
        return "listening" if self.found_by_listening else "webhook"

    @property
    def id(self) -> str:
        return conversation_id(self.platform, self.thread)

    @property
    def first_turn(self) -> bool:
        return self.turn == 1


@dataclass(frozen=True)
class Transition:
    conversation: Conversation
    outcome: Outcome
    response_seconds: float | None = None  # set when the brand answered a turn


def start(event: MessageEvent, thread: str) -> Conversation:
    """A new conversation, begun by a customer's message."""
    return Conversation(platform=event.platform, thread=thread, channel=event.channel,
                        brand_id=event.brand_id, customer=event.customer,
                        created_at=event.created_at,
                        found_by_listening=event.found_by_listening)


def apply(conversation: Conversation, event: MessageEvent, received_at: datetime) -> Transition:
    """The conversation after `event`. Only messages of this conversation may be applied: a
    brand message elsewhere (a post, a like, another thread) never answers this turn."""
    if event.direction is Direction.IN:
        return _stamped(_customer_wrote(conversation, event, received_at), event.message_id)
    return _stamped(_brand_wrote(conversation, event, received_at), event.message_id)


def _stamped(transition: Transition, message_id: str) -> Transition:
    """The conversation remembers the message that made this transition, and what it did."""
    return replace(transition, conversation=replace(
        transition.conversation, last_message_id=message_id,
        last_outcome=transition.outcome.value))


def _customer_wrote(c: Conversation, event: MessageEvent, received_at: datetime) -> Transition:
    sent_at = min(event.created_at, received_at)
    # Keep the richest profile: a later payload may lack the follower count an earlier had.
    customer = _merge_person(c.customer, event.author)
    if c.status is Status.AWAITING_AGENT and c.turn > 0:
        return Transition(replace(c, customer=customer, last_customer_message_id=event.message_id,
                                  last_customer_at=max(sent_at, c.last_customer_at or sent_at),
                                  summoned=c.summoned or event.summoned), Outcome.FOLLOW_UP)
    opened = replace(
        c, customer=customer, status=Status.AWAITING_AGENT, turn=c.turn + 1,
        turn_opened_at=sent_at, late_delivery=False, last_customer_message_id=event.message_id,
        last_customer_at=sent_at, summoned=event.summoned, warn_at=None, due_at=None,
        escalate_at=None, acked_by=None, acked_turn=None, answered_at=None,
    )
    return Transition(opened, Outcome.TURN_OPENED)


def _brand_wrote(c: Conversation, event: MessageEvent, received_at: datetime) -> Transition:
    if c.status is not Status.AWAITING_AGENT or c.turn_opened_at is None:
        return Transition(c, Outcome.BRAND_MESSAGE)
    answered_at = min(event.created_at, received_at)
    seconds = max(0.0, (answered_at - c.turn_opened_at).total_seconds())
    return Transition(
        replace(c, status=Status.AWAITING_CUSTOMER, answered_at=answered_at,
                last_response_seconds=seconds),
        Outcome.TURN_ANSWERED, response_seconds=seconds)


def answer(c: Conversation, at: datetime, message_id: str) -> Transition:
    """The brand answered through our API (the platform accepted reply `message_id` at `at`)."""
    if c.status is not Status.AWAITING_AGENT or c.turn_opened_at is None:
        return _stamped(Transition(c, Outcome.BRAND_MESSAGE), message_id)
    seconds = max(0.0, (at - c.turn_opened_at).total_seconds())
    return _stamped(Transition(replace(c, status=Status.AWAITING_CUSTOMER, answered_at=at,
                                       last_response_seconds=seconds),
                               Outcome.TURN_ANSWERED, response_seconds=seconds), message_id)


def _merge_person(known: Person, seen: Person) -> Person:
    if known.id != seen.id:
        return known  # the brand or a third party wrote: the customer stays who it was
    return Person(id=known.id, handle=seen.handle or known.handle, name=seen.name or known.name,
                  followers=seen.followers if seen.followers is not None else known.followers)
