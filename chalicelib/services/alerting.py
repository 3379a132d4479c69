"""Ringing a bucket: every due check in it becomes an alert to whoever is on call now.

A check is skipped when its turn was answered (or a later turn opened), and an escalation is
skipped once an agent acknowledged the turn; a breach is still recorded for the report. One
alert per (conversation, turn, level) whatever the queue redelivers: the alert log's claim
decides, and a claim whose publish failed is sent again by the retry. The claim has a lease
longer than the alarm function runs: a redelivery while a slow send is still going finds it
held and waits; a sender that died mid-send lets the retry take it once the lease is over.

An agent over the rate gets one digest for the bucket instead; the checks it covers stay
claimed until it is out, then count as alerted at their level (the sweeper passes them); a
digest refused releases them, and the retry digests them again.

Each check of a bucket succeeds or fails on its own: the others are sent, and the bucket is
reported failed at the end so the queue retries it (the sent ones are skipped by their claims).

While the inbound queue holds messages no worker has picked up, a check that would page is held
(domain/backlog.py): its answer may be among them. The bucket is retried soon (ChecksHeld, not
a failure), and once the check's hold has run out it pages whatever the backlog.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from chalicelib import observability
from chalicelib.domain import alerts, backlog
from chalicelib.domain.conversations import Conversation, Status
from chalicelib.domain.oncall import Agent, Rota, on_call, recipients
from chalicelib.domain.ports import AckGrant, AckLinks, AlertLog, ConversationStore
from chalicelib.domain.timers import AlarmClock, DueCheck, DueChecks
from chalicelib.services import alarm

logger = Logger(child=True)

ACK_LINK_LIFETIME = timedelta(hours=24)
# Longer than AlertWorker's 60 s timeout (.chalice/config.json): a live sender is done or dead.
ALERT_LEASE = timedelta(minutes=2)


class ChecksFailed(RuntimeError):
    """Some checks of a bucket could not be alerted: the bucket is retried for them."""

    def __init__(self, bucket: int, keys: list[str]) -> None:
        super().__init__(f"bucket {bucket}: {len(keys)} check(s) failed")
        self.keys = keys


class ChecksHeld(RuntimeError):
    """Some checks of a bucket wait for the inbound backlog: the bucket is retried soon, by
    `until` at the latest (the earliest end of their holds). Not a failure."""

    def __init__(self, bucket: int, keys: list[str], until: datetime) -> None:
        super().__init__(f"bucket {bucket}: {len(keys)} check(s) held until {until:%H:%M:%S}")
        self.keys, self.until = keys, until


class InboundBacklog(Protocol):
    """Messages waiting in the inbound queue that no worker has picked up yet (port,
    adapters/sqs_queue.py). Raises if it cannot tell."""

    def waiting(self) -> int: ...


class Notifier(Protocol):
    """Sends an alert to an agent (adapters/sns_alerts.py)."""

    def notify(self, *, agent: str, team: str, level: str, conversation: str | None,
               subject: str, sms: str, email: str) -> None: ...


class RotaSource(Protocol):
    """Rotas and agents by id (port, implemented in adapters/dynamodb/oncall.py)."""

    def rota(self, team: str) -> Rota | None: ...

    def agent(self, agent_id: str) -> Agent | None: ...


@dataclass(frozen=True)
class AlertingDeps:
    due_checks: DueChecks
    conversations: ConversationStore
    rotas: RotaSource
    alert_log: AlertLog
    notifier: Notifier
    ack_links: AckLinks
    public_url: str
    now: Callable[[], datetime]
    default_team: str = "support"
    digest_after: int = 5  # alerts a minute an agent gets one by one; beyond, one digest
    on_turn: Callable[[str, int, dict[str, Any]], None] | None = None  # report facts
    clock: AlarmClock | None = None  # files a turn's next level when this one rings
    resolution: timedelta = timedelta(seconds=10)
    # The sweeper alerts even when the alarm clock is down: filing the next level is then
    # best effort (the sweeper finds that level too when it passes).
    next_level_best_effort: bool = False
    # Read once per ring, only if a check would page; None: never hold.
    inbound_backlog: InboundBacklog | None = None
    alert_hold: timedelta = backlog.DEFAULT_ALERT_HOLD  # the policy file's alert_hold


@dataclass
class RingReport:
    checks: int = 0
    sent: int = 0
    skipped: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    digested: int = 0
    failed: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)  # waiting for the inbound backlog
    held_until: datetime | None = None  # the earliest end of their holds


def ring_bucket(bucket: int, deps: AlertingDeps) -> RingReport:
    report = alert_checks(alarm.ring(bucket, store=deps.due_checks), deps)
    logger.info("bucket rang", extra={"bucket": bucket, "checks": report.checks,
                                      "sent": report.sent, "digested": report.digested,
                                      "skipped": dict(report.skipped),
                                      "failed": len(report.failed), "held": len(report.held)})
    if report.failed:  # its retry rings the held checks too
        raise ChecksFailed(bucket, report.failed)
    if report.held and report.held_until is not None:
        raise ChecksHeld(bucket, report.held, report.held_until)  # not done: rung again
    # The sweeper passes over a finished bucket with one small read.
    deps.due_checks.done(bucket)
    return report


@dataclass
class _Pending:
    """A claimed check some of whose recipients wait on a digest: it is marked sent (or
    released for the retry) once their digests are out (or refused)."""

    check: DueCheck
    conversation: Conversation
    recipients: int
    agents: set[str]
    now: datetime


Digests = dict[tuple[str, str], list[_Pending]]


def alert_checks(checks: list[DueCheck], deps: AlertingDeps) -> RingReport:
    """Alert every check that still needs it, each on its own: one that fails (a corrupt
    item, a publish refused) is listed in `failed`, and the others go out."""
    report = RingReport()
    report.checks = len(checks)
    digests: Digests = defaultdict(list)
    inbound = _Backlog(deps.inbound_backlog)
    for check in sorted(checks, key=lambda c: c.due_at):
        try:
            _handle(check, deps, report, digests, inbound)
        except Exception as error:  # one check must not sink its bucket
            logger.warning("check failed", extra={"check": check.key,
                                                  "error": type(error).__name__})
            report.failed.append(check.key)
    for (agent, team), covered in digests.items():
        _send_digest(agent, team, covered, deps, report)
    return report


class _Backlog:
    """The inbound backlog as one ring sees it: read at most once, and only when a check would
    page (a bucket of answered turns costs no request)."""

    def __init__(self, source: InboundBacklog | None) -> None:
        self.source = source
        self._waiting: int | None = None

    def waiting(self) -> int:
        if self._waiting is None:
            self._waiting = 0
            if self.source is not None:
                try:
                    self._waiting = self.source.waiting()
                except Exception as error:  # cannot tell: alert as if there were none
                    logger.warning("inbound backlog not read: alerts are not held",
                                   extra={"error": type(error).__name__})
        return self._waiting


def _held(check: DueCheck, c: Conversation, deps: AlertingDeps, report: RingReport,
          inbound: _Backlog) -> bool:
    now, until = deps.now(), backlog.hold_until(check.due_at, deps.alert_hold)
    if now >= until:
        return False  # its hold ran out (or there is none): no need to read the backlog
    if not backlog.holds(check.due_at, now, inbound.waiting(), deps.alert_hold):
        return False
    report.held.append(check.key)
    report.held_until = min(until, report.held_until or until)
    observability.alert_held(c.platform.value, check.level)
    return True


def _send_digest(agent: str, team: str, covered: list[_Pending], deps: AlertingDeps,
                 report: RingReport) -> None:
    """A digest is claimed like the alerts it replaces: its checks stay claimed until it is
    out; refused, they are released and the bucket's retry digests them again."""
    now = deps.now()
    alert = alerts.digest(team, deps.public_url,
                          [(p.check.level, p.conversation) for p in covered], now)
    try:
        deps.notifier.notify(agent=agent, team=team, level="digest", conversation=None,
                             subject=alert.subject, sms=alert.sms, email=alert.email)
    except Exception as error:
        logger.warning("digest failed", extra={"agent": agent, "team": team,
                                               "checks": len(covered),
                                               "error": type(error).__name__})
        for pending in covered:
            if pending.check.key in report.failed:
                continue  # another of its digests failed already
            report.failed.append(pending.check.key)
            try:
                deps.alert_log.release(pending.check.key)
            except Exception:  # the lease runs out instead
                logger.warning("claim not released", extra={"check": pending.check.key})
        return
    for pending in covered:
        key = pending.check.key
        pending.agents.discard(agent)
        if pending.recipients > 1:  # so a retry does not digest it to this agent again
            _best_effort(partial(deps.alert_log.delivered, key, agent), key)
        if not pending.agents and key not in report.failed:
            observability.alert_sent(pending.conversation.platform.value, pending.check.level)
            _best_effort(partial(deps.alert_log.sent, key, pending.now), key)


def _best_effort(write: Callable[[], None], key: str) -> None:
    """After a send went out: a failed write leaves the lease to run out, and the retry
    may send once more (rather than lose an alert)."""
    try:
        write()
    except Exception as error:
        logger.warning("alert log not updated", extra={"check": key,
                                                       "error": type(error).__name__})


def _skip_reason(check: DueCheck, c: Conversation | None) -> str | None:
    if c is None:
        return "conversation gone"  # erased on request: nobody to alert about
    if c.turn != check.turn or c.status is not Status.AWAITING_AGENT:
        return "answered"
    if check.level != "warning" and c.acked_turn == check.turn:
        # Someone said "on it" from the alert page: like a paging tool's acknowledgement, no
        # more pages about this turn (breach nor lead). The breach still counts in the report.
        return "acknowledged"
    return None


# A turn files only its warning; each level that rings unanswered files the next. Most turns
# are answered before the warning, so they never write the other two checks.
_NEXT = {"warning": "breach", "breach": "escalation"}


def _file_next(check: DueCheck, c: Conversation, deps: AlertingDeps) -> None:
    level = _NEXT.get(check.level)
    at = {"breach": c.due_at, "escalation": c.escalate_at}.get(level or "")
    if level is None or at is None or deps.clock is None:
        return
    # Before alerting: a retried ring (after a failed publish) files it again, harmlessly.
    try:
        alarm.schedule([DueCheck(c.id, c.turn, level, at)], store=deps.due_checks,
                       clock=deps.clock, resolution=deps.resolution, now=deps.now)
    except Exception as error:
        if not deps.next_level_best_effort:
            raise
        logger.warning("next level not filed", extra={"check": check.key, "next": level,
                                                      "error": type(error).__name__})


def _handle(check: DueCheck, deps: AlertingDeps, report: RingReport,
            digests: Digests, inbound: _Backlog) -> None:
    c = deps.conversations.get(check.conversation)
    reason = _skip_reason(check, c)
    if reason == "acknowledged" and c is not None and check.level == "breach" \
            and deps.on_turn is not None:
        deps.on_turn(c.id, c.turn, {"breached": True})
    if reason is not None or c is None:
        report.skipped[reason or "?"] += 1
        if reason == "answered" and c is not None:
            observability.answered_before_alert(c.platform.value, check.level)
        return
    if _held(check, c, deps, report, inbound):
        return  # before anything is filed or claimed: the retry starts this check afresh
    _file_next(check, c, deps)
    now = deps.now()
    if check.level == "breach" and deps.on_turn is not None:
        deps.on_turn(c.id, c.turn, {"breached": True})
    team = c.team or deps.default_team
    rota = deps.rotas.rota(team) or deps.rotas.rota(deps.default_team)
    if rota is None:
        logger.error("no rota: nobody to alert", extra={"team": team, "level": check.level})
        raise LookupError(f"team {team} has no on-call rota")  # retried, then the DLQ
    who = recipients(on_call(rota, now), check.level)
    reached = deps.alert_log.claim(check.key, who, now, ALERT_LEASE)
    if reached is None:
        report.skipped["already alerted"] += 1
        return
    try:
        waiting = _send(check, c, who, reached, team, now, deps, report)
    except Exception:
        try:
            deps.alert_log.release(check.key)
        except Exception:  # the lease runs out instead
            logger.warning("claim not released", extra={"check": check.key})
        raise
    if waiting:  # marked sent once its digests are out
        pending = _Pending(check, c, len(who), set(waiting), now)
        for agent_id in waiting:
            digests[(agent_id, team)].append(pending)
        return
    observability.alert_sent(c.platform.value, check.level)
    deps.alert_log.sent(check.key, now)


def _send(check: DueCheck, c: Conversation, who: tuple[str, ...], reached: frozenset[str],
          team: str, now: datetime, deps: AlertingDeps, report: RingReport) -> list[str]:
    """Alert each recipient not reached yet; those over their rate are left to a digest
    (returned)."""
    waiting: list[str] = []
    for agent_id in who:
        if agent_id in reached:
            continue  # this retry follows a failed publish to someone else: not twice
        if deps.alert_log.count_recent(agent_id, now) > deps.digest_after:
            waiting.append(agent_id)
            report.digested += 1
            continue
        token = deps.ack_links.issue(AckGrant(conversation=c.id, turn=c.turn, agent=agent_id,
                                              expires_at=now + ACK_LINK_LIFETIME))
        alert = alerts.compose(check.level, c, now, f"{deps.public_url}/ack/{token}",
                               deps.conversations.recent(c.id, 3))
        deps.notifier.notify(agent=agent_id, team=team, level=check.level,
                             conversation=c.id, subject=alert.subject, sms=alert.sms,
                             email=alert.email)
        if len(who) > 1:
            deps.alert_log.delivered(check.key, agent_id)  # a lone recipient needs no marker
        report.sent += 1
    return waiting
