"""A turn's plan and its alarm, the inbound worker's two steps around its commit: `plan` gives
the turn its priority, team and deadlines in the write that applies its message; `set_alarm`
puts its due check into the alarm clock's bucket once that write is done. Redelivery is
harmless: triage is deterministic, due checks are keyed by (conversation, turn, level) and a
bucket's alarm is set idempotently."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from aws_lambda_powertools import Logger

from chalicelib.domain.conversations import Conversation, Outcome, Status
from chalicelib.domain.errors import VersionConflict
from chalicelib.domain.facts import Facts, Planned, TurnPlan
from chalicelib.domain.policies import Policies
from chalicelib.domain.ports import ConversationStore
from chalicelib.domain.redaction import conversation_label
from chalicelib.domain.timers import AlarmClock, DueChecks
from chalicelib.domain.triage import CustomerSnapshot, Triage, triage
from chalicelib.services import alarm

logger = Logger(child=True)

_RANK = {"low": 0, "normal": 1, "high": 2, "urgent": 3}


@dataclass(frozen=True)
class TurnDeps:
    conversations: ConversationStore
    due_checks: DueChecks
    clock: AlarmClock
    policies: Callable[[], Policies]
    now: Callable[[], datetime]


def plan(c: Conversation, outcome: Outcome, text: str, *, complaints_before: int,
         policies: Policies, received_at: datetime) -> tuple[Conversation, Planned,
                                                             TurnPlan | None]:
    """Before the commit: `c` (just changed by a message that did `outcome`) with the priority,
    team and deadlines its open turn gets, so that one write carries the message and its plan.
    A calmer follow-up never relaxes a deadline already set: it changes nothing.

    Late deliveries are honest: a message that reached us after its whole window had passed
    (Meta retries for ~36 hours) opens its turn one window before its receipt, so it is due
    on arrival, not warned, breached and escalated in three consecutive buckets; and the turn
    is marked `late_delivery` for the inbox and the report."""
    if outcome not in (Outcome.TURN_OPENED, Outcome.FOLLOW_UP):
        return c, Planned.NOT_TRIAGED, None
    result = triage(text, CustomerSnapshot(followers=c.customer.followers,
                                           complaints_before=complaints_before),
                    channel=c.channel.value, first_turn=c.first_turn)
    if outcome is Outcome.FOLLOW_UP and c.due_at is not None and (
            _RANK[result.priority] <= _RANK.get(c.priority or "low", 0)):
        return c, Planned.UNCHANGED, None
    planned = _apply(c, result, policies)
    if outcome is Outcome.TURN_OPENED and planned.due_at is not None and (
            planned.due_at < received_at and planned.turn_opened_at is not None):
        floored = replace(c, late_delivery=True, turn_opened_at=received_at - (
            planned.due_at - planned.turn_opened_at))
        planned = _apply(floored, result, policies)
    return planned, Planned.YES, TurnPlan.of(planned)


def set_alarm(facts: Facts, deps: TurnDeps, committed: Conversation | None = None) -> str:
    """After the commit: the turn's first due check goes into the alarm clock's bucket. A
    redelivery sets it again, harmlessly (checks are keyed, a bucket's alarm set idempotently).
    `committed`: the conversation this worker has just written, so not read again (a read per
    turn); a redelivery has none and reads what is stored now. An answer that lands between
    the commit and here leaves a check that rings into the ring's last look, which skips it."""
    if facts.planned is not Planned.YES:
        # An answer needs no work here (ringing skips the checks of an answered turn); a
        # follow-up that changed nothing keeps the alarm its turn has.
        return "nothing to do" if facts.planned is Planned.NOT_TRIAGED else "unchanged"
    c = committed if committed is not None else deps.conversations.get(facts.conversation)
    if c is None:
        return "conversation gone"
    if c.turn != facts.turn or c.turn_opened_at is None:
        return "superseded"  # a later turn has its own message in the queue
    if c.team is None or c.priority is None:
        raise VersionConflict(c.id)  # not the plan it committed: let the queue retry
    if c.status is not Status.AWAITING_AGENT:
        return "answered before triage"
    policy = deps.policies()
    turn_plan = policy.for_team(c.team).plan(c.turn_opened_at, c.priority, first=c.first_turn)
    # Only the warning: ringing it files the breach, and the breach the escalation.
    alarm.schedule(turn_plan.checks(c.id, c.turn)[:1], store=deps.due_checks, clock=deps.clock,
                   resolution=policy.timer_resolution, now=deps.now)
    logger.info("turn planned", extra={"conversation": conversation_label(c.id), "turn": c.turn,
                                       "priority": c.priority, "team": c.team,
                                       "due_at": turn_plan.due_at.isoformat()})
    return "planned"


def _apply(c: Conversation, result: Triage, policies: Policies) -> Conversation:
    team = c.team or policies.team_for(c.platform.value, c.channel.value, c.brand_id)
    assert c.turn_opened_at is not None
    due = policies.for_team(team).plan(c.turn_opened_at, result.priority, first=c.first_turn)
    return replace(c, team=team, priority=result.priority, reasons=result.reasons,
                   warn_at=due.warn_at, due_at=due.due_at, escalate_at=due.escalate_at)
