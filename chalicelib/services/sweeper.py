"""The last line of defence: every few minutes, find open turns whose warning, breach or
escalation time has passed without the alert that should have gone, and ring them.

It reads only what is due, never the whole table, in two ways:
- the alarm clock's buckets whose time passed since the last two sweeps: a bucket whose ring
  finished says so with a marker, so one small read passes over it; a bucket that never rang
  (its StartExecution failed, the state machine was deleted or failed) or whose ring failed
  (its queue record dead-lettered) has its checks read and rung;
- the turns whose deadline passed (by the grace) without being filed at all (their planning
  never reached the alarm clock), from their team's inbox index (GSI1, earliest deadline
  first): the highest level each has passed.
Ringing goes through the alerting service with the same claims as the normal path, so the
sweeper and a late normal ring never both page; a second sweep finds the alert sent. A check
held for the inbound backlog (a policy's alert_hold longer than the grace) leaves its bucket
unfinished: the next sweep rings it again.
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
from chalicelib.domain.timers import DueCheck, DueChecks
from chalicelib.services import alerting

logger = Logger(child=True)

# Beyond the longest escalate_after, how long a turn past its deadline is still looked at for
# a missed alert. Older open turns are the inbox's business, not a pager's.
LOOKBACK_MARGIN = timedelta(hours=1)


class OpenTurns(Protocol):
    """Conversations awaiting an agent, by deadline (port; GSI1 in DynamoDB)."""

    def awaiting_due_between(self, team: str, start: datetime,
                             end: datetime) -> list[Conversation]: ...


@dataclass(frozen=True)
class SweepDeps:
    open_turns: OpenTurns
    due_checks: DueChecks
    alert_log: AlertLog
    alerting: Callable[[], alerting.AlertingDeps]
    policies: Callable[[], Policies]
    now: Callable[[], datetime]
    period: timedelta = timedelta(minutes=5)  # the template's SweepMinutes


@dataclass
class SweepReport:
    buckets: int = 0  # alarm-clock buckets looked at
    unfinished: int = 0  # ... that never rang or whose ring failed
    candidates: int = 0  # open turns read past their deadline
    missed: int = 0  # alerts found not sent
    sent: int = 0  # messages the sweeper published
    failed: list[str] = field(default_factory=list)  # tried again at the next sweep
    held: list[str] = field(default_factory=list)  # waiting for the inbound backlog: the same

    def as_dict(self) -> dict[str, int]:
        return {"buckets": self.buckets, "unfinished": self.unfinished,
                "candidates": self.candidates, "missed": self.missed, "sent": self.sent,
                "failed": len(self.failed), "held": len(self.held)}


def grace(policies: Policies) -> timedelta:
    """How late an alert must be before the sweeper takes over: a healthy bucket rings at most
    one resolution after its time, and its publish takes seconds."""
    return max(timedelta(seconds=60), 3 * policies.timer_resolution)


def lookback(policies: Policies) -> timedelta:
    """How far back the inbox index is read: a turn past its deadline may still miss its
    escalation this long after it (24x7)."""
    after = [w.escalate_after for t in policies.teams
             for w in policies.for_team(t).windows.values()]
    return max(after, default=timedelta(0)) + LOOKBACK_MARGIN


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
    late = grace(policies)
    report = SweepReport()
    missed: dict[str, DueCheck] = {}
    # Buckets that should have rung by now - late, back over two periods (a sweep that failed
    # or ran late is covered by the next).
    step = int(policies.timer_resolution.total_seconds())
    newest = int((now - late).timestamp()) // step * step
    oldest = newest - int(2 * deps.period.total_seconds()) // step * step
    unfinished: dict[int, list[str]] = {}
    for bucket in range(oldest, newest + 1, step):
        report.buckets += 1
        checks = deps.due_checks.unfinished(bucket)
        if checks:
            unfinished[bucket] = [c.key for c in checks]
            missed.update((c.key, c) for c in checks)
    report.unfinished = len(unfinished)
    for team in policies.teams:
        for c in deps.open_turns.awaiting_due_between(team, now - lookback(policies),
                                                      now - late):
            report.candidates += 1
            check = _missed(c, now, late)
            if check is not None:
                missed.setdefault(check.key, check)
    if missed:
        already = deps.alert_log.status(list(missed))
        missed = {k: c for k, c in missed.items() if already.get(k) != "sent"}
    report.missed = len(missed)
    if missed:
        ring = alerting.alert_checks(list(missed.values()), deps.alerting())
        report.sent, report.failed, report.held = ring.sent, ring.failed, ring.held
    for bucket, keys in unfinished.items():
        if not set(keys) & {*report.failed, *report.held}:
            deps.due_checks.done(bucket)  # finished by the sweeper: the next one passes over
    logger.info("swept", extra=report.as_dict())
    return report
