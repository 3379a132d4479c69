"""The last line of defence: every few minutes, find open turns whose warning, breach or
escalation time has passed without the alert that should have gone, and ring them.

Whatever lost the alert (a StartExecution that failed after the turn's commit, the alarm
clock's state machine deleted or failing, an alert bucket parked in the DLQ), the turn is still
in its team's inbox index (GSI1, earliest deadline first): the sweeper reads only the part of
it whose deadline is near or past, never the whole table. Ringing goes through the alerting
service with the same claims as the normal path, so the sweeper and a late normal ring never
both page; a second sweep finds the alert sent and does nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from aws_lambda_powertools import Logger

from chalicelib.domain.conversations import Conversation, Status
from chalicelib.domain.policies import Policies
from chalicelib.domain.ports import AlertLog
from chalicelib.domain.timers import DueCheck
from chalicelib.services import alerting

logger = Logger(child=True)

# How far back a missed deadline is still rung: beyond any escalate_after, and a weekend of the
# sweeper itself being down. Older open turns are the inbox's business, not a pager's.
LOOKBACK = timedelta(days=3)


class OpenTurns(Protocol):
    """Conversations awaiting an agent, by deadline (port; GSI1 in DynamoDB)."""

    def awaiting_due_between(self, team: str, start: datetime,
                             end: datetime) -> list[Conversation]: ...


@dataclass(frozen=True)
class SweepDeps:
    open_turns: OpenTurns
    alert_log: AlertLog
    alerting: Callable[[], alerting.AlertingDeps]
    policies: Callable[[], Policies]
    now: Callable[[], datetime]


@dataclass
class SweepReport:
    candidates: int = 0  # open turns read near or past their deadline
    missed: int = 0  # alerts found not sent
    sent: int = 0  # messages the sweeper published
    failed: list[str] = field(default_factory=list)  # tried again at the next sweep

    def as_dict(self) -> dict[str, int]:
        return {"candidates": self.candidates, "missed": self.missed, "sent": self.sent,
                "failed": len(self.failed)}


def grace(policies: Policies) -> timedelta:
    """How late an alert must be before the sweeper takes over: a healthy bucket rings at most
    one resolution after its time, and its publish takes seconds."""
    return max(timedelta(seconds=60), 3 * policies.timer_resolution)


def warning_lead(policies: Policies) -> timedelta:
    """The longest a warning comes before its deadline (24x7; under business hours a warning
    whose timer was lost is rung this long before the deadline at the latest: late, but never
    after the breach)."""
    leads = [max(w.first_response, w.next_response) * (1 - team.warn_at)
             for team in (policies.for_team(t) for t in policies.teams)
             for w in team.windows.values()]
    return max(leads, default=timedelta(0))


def _missed(c: Conversation, now: datetime, late: timedelta) -> DueCheck | None:
    """The highest level whose time passed (by `late`) for this open turn. Only the highest:
    a warning after its breach has passed would tell the agent nothing the breach does not."""
    if c.status is not Status.AWAITING_AGENT:
        return None
    levels = [("escalation", c.escalate_at), ("breach", c.due_at), ("warning", c.warn_at)]
    for level, at in levels:
        if at is None or at > now - late:
            continue
        if level == "escalation" and c.acked_turn == c.turn:
            continue  # acknowledged: the lead is not woken, the breach still stands
        return DueCheck(c.id, c.turn, level, at)
    return None


def sweep(deps: SweepDeps) -> SweepReport:
    policies, now = deps.policies(), deps.now()
    late, lead = grace(policies), warning_lead(policies)
    report = SweepReport()
    missed: list[DueCheck] = []
    for team in policies.teams:
        for c in deps.open_turns.awaiting_due_between(team, now - LOOKBACK, now + lead):
            report.candidates += 1
            check = _missed(c, now, late)
            if check is not None:
                missed.append(check)
    if missed:
        already = deps.alert_log.status([c.key for c in missed])
        missed = [c for c in missed if already.get(c.key) != "sent"]
    report.missed = len(missed)
    if missed:
        ring = alerting.alert_checks(missed, deps.alerting())
        report.sent, report.failed = ring.sent, ring.failed
    logger.info("swept", extra=report.as_dict())
    return report
