"""What applying one message did: the inbound worker's contract between its commit and the
steps after it (the store's bookkeeping, the turn's alarm). Kept with the message so that a
redelivery can finish those steps; the adapter alone decides how it is stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from chalicelib.domain.conversations import Conversation, Outcome


class Planned(Enum):
    """Whether the write that applied the message also triaged its turn. Three states, not a
    bool: "changed nothing" must not be mistaken for "not triaged there"."""

    YES = "yes"  # the turn's plan (team, priority, deadlines) is in the facts: set its alarm
    UNCHANGED = "unchanged"  # a follow-up that changes no deadline: nothing left to do
    NOT_TRIAGED = "not_triaged"  # an answer or a brand message: no turn to plan


@dataclass(frozen=True)
class TurnPlan:
    """What the SLA report keeps of a planned turn."""

    team: str
    priority: str
    due_at: datetime
    warn_at: datetime
    late_delivery: bool = False  # opened one window before its receipt (turns.plan)

    @classmethod
    def of(cls, c: Conversation) -> TurnPlan | None:
        """The plan `c`'s open turn carries, if triage has given it one."""
        if c.team and c.priority and c.due_at and c.warn_at:
            return cls(team=c.team, priority=c.priority, due_at=c.due_at, warn_at=c.warn_at,
                       late_delivery=c.late_delivery)
        return None


@dataclass(frozen=True)
class Facts:
    outcome: Outcome
    conversation: str
    turn: int
    message_id: str
    # Where the message sorts in its conversation: its platform time; an agent's reply, the
    # time the agent API gave it (its echo carries another).
    message_at: datetime
    received_at: datetime
    opened_at: datetime | None = None  # a turn opened: when its clock started
    complaints_before: int = 0  # a turn opened: turns the customer opened before this one
    response_seconds: float | None = None  # a turn answered: how long it waited
    answered_at: datetime | None = None
    planned: Planned = Planned.NOT_TRIAGED
    plan: TurnPlan | None = None  # set when `planned` is YES


def committed(outcome: Outcome, message_id: str, message_at: datetime, c: Conversation,
              received_at: datetime) -> Facts:
    """What finishing a message needs, read from the conversation its write committed (which
    names it as its last message, and `outcome` what it did): the store rebuilds them after a
    stop, the agent API's reply records them as they are."""
    plan = TurnPlan.of(c)
    return Facts(
        outcome=outcome, conversation=c.id, turn=c.turn, message_id=message_id,
        message_at=message_at, received_at=received_at, opened_at=c.turn_opened_at,
        response_seconds=c.last_response_seconds, answered_at=c.answered_at,
        planned=Planned.YES if plan else Planned.NOT_TRIAGED, plan=plan)
