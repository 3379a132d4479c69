"""The triage worker: a queued turn gets its priority, team and deadlines, and its due checks
go into the alarm clock's buckets. Redelivery is harmless: triage is deterministic, due checks
are keyed by (conversation, turn, level) and a bucket's alarm is set idempotently."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger

from chalicelib.domain.conversations import Conversation, Status
from chalicelib.domain.policies import Policies
from chalicelib.domain.ports import ConversationStore, VersionConflict
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
    on_turn: Callable[[str, int, dict[str, Any]], None]  # facts for the SLA report


def handle(body: Mapping[str, Any], deps: TurnDeps) -> str:
    outcome = body.get("outcome")
    if outcome == "turn_opened":
        return _plan(body, deps, follow_up=False)
    if outcome == "follow_up":
        return _plan(body, deps, follow_up=True)
    # An answer needs no work here: ringing skips the checks of an answered turn.
    return "nothing to do"


def triaged(c: Conversation, text: str, *, followers: int | None, complaints_before: int,
            policies: Policies, follow_up: bool,
            received_at: datetime | None = None) -> Conversation | None:
    """`c` with the priority, team and deadlines its open turn gets; None when a follow-up
    changes nothing (a calmer follow-up never relaxes a deadline already set).

    Late deliveries are honest: a message that reached us after its whole window had passed
    (Meta retries for ~36 hours) opens its turn one window before its receipt, so it is due
    on arrival, not warned, breached and escalated in three consecutive buckets; and the turn
    is marked `late_delivery` for the inbox and the report."""
    result = triage(text, CustomerSnapshot(followers=followers,
                                           complaints_before=complaints_before),
                    channel=c.channel.value, first_turn=c.first_turn)
    if follow_up and c.due_at is not None and (
            _RANK[result.priority] <= _RANK.get(c.priority or "low", 0)):
        return None
    planned = _apply(c, result, policies)
    if follow_up or received_at is None or planned.due_at is None or (
            planned.due_at >= received_at or planned.turn_opened_at is None):
        return planned
    floored = replace(c, turn_opened_at=received_at - (planned.due_at - planned.turn_opened_at),
                      late_delivery=True)
    return _apply(floored, result, policies)


def turn_facts(c: Conversation, policies: Policies) -> dict[str, Any]:
    """What the SLA report keeps of a planned turn."""
    assert c.team is not None
    assert c.priority is not None
    assert c.turn_opened_at is not None
    plan = policies.for_team(c.team).plan(c.turn_opened_at, c.priority, first=c.first_turn)
    facts: dict[str, Any] = {"team": c.team, "priority": c.priority,
                             "due_at": plan.due_at.isoformat(),
                             "warn_at": plan.warn_at.isoformat()}
    if c.late_delivery:
        facts["late_delivery"] = True  # the report tells these turns apart
    return facts


def _plan(body: Mapping[str, Any], deps: TurnDeps, *, follow_up: bool) -> str:
    # The inbound worker usually triaged the turn in the write that applied its message
    # ("planned"): then only the alarm is left to set.
    if body.get("planned") is False:
        return "unchanged"  # triaged there: this follow-up changes no deadline
    planned_already = bool(body.get("planned"))
    for _ in range(8):
        c = deps.conversations.get(str(body["conversation"]))
        if c is None:
            return "conversation gone"
        if c.turn != int(body["turn"]) or c.turn_opened_at is None:
            return "superseded"  # a later turn has its own message in the queue
        if planned_already:
            break
        text = body.get("text")
        if text is None:  # a redelivery: the stored facts never hold the text
            text = deps.conversations.message_text(c.id, str(body["message_sk"])) or ""
        planned = triaged(c, text, followers=body.get("followers", c.customer.followers),
                          complaints_before=int(body.get("complaints_before", 0)),
                          policies=deps.policies(), follow_up=follow_up,
                          received_at=_received(body))
        if planned is None:
            return "unchanged"
        if planned == c:
            break  # a redelivery: already saved, but make sure the alarms are set below
        try:
            deps.conversations.save(planned)
        except VersionConflict:
            continue
        c = planned
        break
    else:
        raise VersionConflict(str(body["conversation"]))
    policy = deps.policies()
    if c.team is None or c.priority is None or c.turn_opened_at is None:
        raise VersionConflict(c.id)  # not planned after all: let the queue retry
    plan = policy.for_team(c.team).plan(c.turn_opened_at, c.priority, first=c.first_turn)
    if not planned_already:
        deps.on_turn(c.id, c.turn, turn_facts(c, policy))
    if c.status is not Status.AWAITING_AGENT:
        return "answered before triage"
    # Only the warning: ringing it files the breach, and the breach the escalation.
    alarm.schedule(plan.checks(c.id, c.turn)[:1], store=deps.due_checks, clock=deps.clock,
                   resolution=policy.timer_resolution, now=deps.now)
    logger.info("turn planned", extra={"conversation": conversation_label(c.id), "turn": c.turn,
                                       "priority": c.priority, "team": c.team,
                                       "due_at": plan.due_at.isoformat()})
    return "planned"


def _received(body: Mapping[str, Any]) -> datetime | None:
    received = body.get("received_at")
    return datetime.fromisoformat(str(received)) if received else None


def _apply(c: Conversation, result: Triage, policies: Policies) -> Conversation:
    team = c.team or policies.team_for(c.platform.value, c.channel.value)
    assert c.turn_opened_at is not None
    plan = policies.for_team(team).plan(c.turn_opened_at, result.priority, first=c.first_turn)
    return replace(c, team=team, priority=result.priority, reasons=result.reasons,
                   warn_at=plan.warn_at, due_at=plan.due_at, escalate_at=plan.escalate_at)
