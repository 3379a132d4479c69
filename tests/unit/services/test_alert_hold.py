"""Ringing while the inbound queue has a backlog (in-memory fakes): a check that would page is
held, neither sent nor failed, its bucket not finished; once the backlog is gone, or its hold
has run out, it pages; a backlog that cannot be read holds nothing."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from chalicelib import observability
from chalicelib.domain.conversations import Conversation, Status
from chalicelib.domain.policies import parse_policies
from chalicelib.domain.timers import DueCheck
from chalicelib.services import sweeper
from chalicelib.services.alerting import (
    AlertingDeps,
    ChecksFailed,
    ChecksHeld,
    InboundBacklog,
    ring_bucket,
)
from tests.fakes import FakeNotifier
from tests.unit.domain.test_backlog import POLICY
from tests.unit.services.test_alerting import CONV, NOW, deps, due, sent

__all__ = ["deps"]  # the fixture
HOLD = timedelta(seconds=60)


class Backlog:
    """The inbound queue's count of messages no worker picked up; counts its reads."""

    def __init__(self, waiting: int) -> None:
        self.count, self.reads = waiting, 0

    def waiting(self) -> int:
        self.reads += 1
        return self.count


class Unreadable:
    def waiting(self) -> int:
        raise ConnectionError("GetQueueAttributes timed out")


def held(deps: AlertingDeps, backlog: InboundBacklog, at: datetime = NOW) -> AlertingDeps:
    return replace(deps, inbound_backlog=backlog, alert_hold=HOLD, now=lambda: at)


def test_a_check_due_during_a_backlog_is_held_then_alerted_when_it_drains(deps) -> None:
    backlog = Backlog(12)
    due(deps, "warning")  # due at NOW
    with pytest.raises(ChecksHeld) as ring:
        ring_bucket(100, held(deps, backlog))
    assert ring.value.keys == [f"{CONV.id}#1#warning"] and ring.value.until == NOW + HOLD
    assert sent(deps) == []
    assert deps.alert_log.status([f"{CONV.id}#1#warning"]) == {}  # neither sent nor claimed
    assert 100 not in deps.due_checks.finished  # the sweeper would still find it
    backlog.count = 0
    report = ring_bucket(100, held(deps, backlog, NOW + timedelta(seconds=10)))
    assert (report.sent, report.held) == (1, [])
    assert sent(deps) == [("alice", "warning")]
    assert 100 in deps.due_checks.finished


def test_the_answer_that_was_queued_closes_the_turn_and_nobody_is_paged(deps) -> None:
    due(deps, "warning")
    with pytest.raises(ChecksHeld):
        ring_bucket(100, held(deps, Backlog(3)))
    # The worker applies the brand's answer from the queue; the bucket's retry comes.
    deps.conversations.items[CONV.id] = replace(CONV, status=Status.AWAITING_CUSTOMER)
    report = ring_bucket(100, held(deps, Backlog(0), NOW + timedelta(seconds=4)))
    assert sent(deps) == [] and report.skipped == {"answered": 1}


def test_after_its_hold_a_check_pages_whatever_the_backlog(deps) -> None:
    backlog = Backlog(10_000)  # a stuck worker: its own alarm tells the admins
    due(deps, "warning")
    report = ring_bucket(100, held(deps, backlog, NOW + HOLD))
    assert (report.sent, report.held) == (1, [])
    assert backlog.reads == 0  # nothing to decide: no request


def test_the_backlog_is_read_once_per_ring_and_only_if_someone_would_be_paged(deps) -> None:
    backlog = Backlog(5)
    for n in range(4):
        conv = replace(CONV, thread=f"t-{n + 10}")
        deps.conversations.items[conv.id] = conv
        due(deps, "warning", conv=conv.id)
    with pytest.raises(ChecksHeld) as ring:
        ring_bucket(100, held(deps, backlog))
    assert len(ring.value.keys) == 4 and backlog.reads == 1
    answered = Backlog(5)
    deps.conversations.items[CONV.id] = replace(CONV, status=Status.AWAITING_CUSTOMER)
    due(deps, "warning", bucket=200)
    assert ring_bucket(200, held(deps, answered)).skipped == {"answered": 1}
    assert answered.reads == 0


def test_a_bucket_with_a_held_and_a_late_check_sends_the_late_one(deps) -> None:
    late = replace(CONV, thread="t-late")
    deps.conversations.items[late.id] = late
    due(deps, "warning")  # due at NOW: held until NOW + HOLD
    deps.due_checks.add(100, replace(deps.due_checks.buckets[100][0], conversation=late.id,
                                     due_at=NOW - HOLD))
    with pytest.raises(ChecksHeld) as ring:
        ring_bucket(100, held(deps, Backlog(7)))
    assert ring.value.keys == [f"{CONV.id}#1#warning"]
    assert [n["conversation"] for n in deps.notifier.sent] == [late.id]


def test_a_failure_beside_a_hold_is_reported_as_the_failure(deps) -> None:
    class Refuses(FakeNotifier):
        def notify(self, **alert: object) -> None:
            raise ConnectionError("SNS throttled")

    late = replace(CONV, thread="t-late")
    deps.conversations.items[late.id] = late
    due(deps, "warning")
    deps.due_checks.add(100, replace(deps.due_checks.buckets[100][0], conversation=late.id,
                                     due_at=NOW - HOLD))
    with pytest.raises(ChecksFailed) as ring:  # retried on the failure ladder, held one too
        ring_bucket(100, replace(held(deps, Backlog(7)), notifier=Refuses()))
    assert ring.value.keys == [f"{late.id}#1#warning"]


def test_an_unreadable_backlog_holds_nothing_and_says_so(deps, caplog) -> None:
    due(deps, "warning")
    with caplog.at_level(logging.WARNING):
        report = ring_bucket(100, held(deps, Unreadable()))
    assert report.sent == 1 and sent(deps) == [("alice", "warning")]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == ["inbound backlog not read: alerts are not held"]


def test_a_hold_is_counted_and_is_not_a_warning(deps, caplog) -> None:
    observability.metrics.clear_metrics()
    due(deps, "warning")
    with caplog.at_level(logging.INFO), pytest.raises(ChecksHeld):
        ring_bucket(100, held(deps, Backlog(2)))
    counted = observability.metrics.metric_set.get("AlertHeld", {}).get("Value")
    observability.metrics.clear_metrics()
    assert counted == [1.0]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    rang = next(r for r in caplog.records if r.getMessage() == "bucket rang")
    assert rang.__dict__["held"] == 1 and rang.__dict__["failed"] == 0


class NoTurns:
    def awaiting_due_between(self, team: str, start: datetime,
                             end: datetime) -> list[Conversation]:
        return []


def test_the_sweeper_leaves_a_bucket_with_a_held_check_unfinished(deps) -> None:
    """A hold longer than the sweeper's grace (a minute): the sweeper meets held checks too."""
    policies = parse_policies(POLICY + "alert_hold: 5m\n")
    due_at = NOW - timedelta(seconds=70)  # past the grace, within the hold
    bucket = int(due_at.timestamp()) // 10 * 10
    deps.due_checks.add(bucket, DueCheck(CONV.id, 1, "warning", due_at))

    def sweep(backlog: Backlog) -> sweeper.SweepReport:
        return sweeper.sweep(sweeper.SweepDeps(
            open_turns=NoTurns(), due_checks=deps.due_checks, alert_log=deps.alert_log,
            alerting=lambda: replace(held(deps, backlog), alert_hold=policies.alert_hold),
            policies=lambda: policies, now=lambda: NOW))

    swept = sweep(Backlog(4))
    assert (swept.sent, swept.failed, swept.held) == (0, [], [f"{CONV.id}#1#warning"])
    assert bucket not in deps.due_checks.finished  # the next sweep rings it again
    swept = sweep(Backlog(0))
    assert swept.sent == 1 and bucket in deps.due_checks.finished
