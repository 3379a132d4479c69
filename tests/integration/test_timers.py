"""Timers against moto: a complaint storm starts one alarm-clock execution per bucket, and a
check added to a bucket that already rang still gets handled."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chalicelib import bootstrap
from chalicelib.adapters.stepfunctions_clock import StepFunctionsAlarmClock
from chalicelib.domain.timers import DueCheck, bucket_of
from chalicelib.services import alarm
from infrastructure.local.aws import Built

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def seconds_policies(aws: Built, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLYWINDOW_POLICIES",
                       str(ROOT / "tests" / "fixtures" / "policies" / "seconds.yaml"))
    bootstrap.reset()


def test_a_storm_of_1000_complaints_starts_one_execution_per_bucket(seconds_policies) -> None:
    """1,000 turns opened within a minute, each planned by its own "container" (a fresh
    alarm-clock adapter, so no in-process cache helps): executions <= buckets used."""
    policy = bootstrap.policies().for_team("support")
    start = datetime.now(UTC) + timedelta(minutes=5)
    buckets: set[int] = set()
    for n in range(1000):
        opened = start + timedelta(milliseconds=60 * n)
        plan = policy.plan(opened, "normal", first=True)
        clock = StepFunctionsAlarmClock(bootstrap.stepfunctions(), bootstrap.alarm_clock_arn())
        buckets.update(alarm.schedule(
            plan.checks(f"whatsapp.wa-1-{n}", 1), store=bootstrap.due_checks(), clock=clock,
            resolution=bootstrap.policies().timer_resolution, now=lambda: datetime.now(UTC)))
    executions = []
    paginator = bootstrap.stepfunctions().get_paginator("list_executions")
    for page in paginator.paginate(stateMachineArn=bootstrap.alarm_clock_arn()):
        executions.extend(page["executions"])
    print(f"\n1000 complaints -> {len(buckets)} buckets, {len(executions)} executions")
    assert 60 <= len(buckets) < 3000  # one-second buckets over a minute, three levels
    assert len(executions) == len(buckets)
    assert {e["name"] for e in executions} == {f"bucket-{b}" for b in buckets}


def test_a_check_added_after_its_bucket_rang_moves_to_the_next_bucket(aws: Built) -> None:
    resolution = timedelta(seconds=10)
    due = datetime.now(UTC) + timedelta(seconds=60)
    bucket = bucket_of(due, resolution)
    store = bootstrap.due_checks()
    assert store.ring(bucket) == []  # the bucket rang before the check arrived
    check = DueCheck(conversation="x.t-1", turn=1, level="warning", due_at=due)
    used = alarm.schedule([check], store=store, clock=bootstrap.alarm_clock(),
                          resolution=resolution, now=lambda: datetime.now(UTC))
    assert used == [bucket + 10]
    assert store.ring(bucket + 10) == [check]


def test_a_ring_returns_every_check_added_before_it(aws: Built) -> None:
    resolution = timedelta(seconds=10)
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=120)
    checks = [DueCheck(conversation=f"x.t-{n}", turn=1, level="breach", due_at=due)
              for n in range(25)]
    alarm.schedule(checks, store=bootstrap.due_checks(), clock=bootstrap.alarm_clock(),
                   resolution=resolution, now=lambda: datetime.now(UTC))
    rung = bootstrap.due_checks().ring(bucket_of(due, resolution))
    assert sorted(rung) == sorted(checks)
    assert time.time() < due.timestamp()  # rung early on purpose; nothing waited for real


def test_a_redelivered_ring_of_a_finished_bucket_returns_its_checks_not_its_markers(
        aws: Built) -> None:
    """SQS delivers at least once: a bucket rung and marked done may ring again."""
    store, bucket = bootstrap.due_checks(), 10 * (int(time.time()) // 10) + 600
    check = DueCheck(conversation="x.t-1", turn=1, level="warning", due_at=datetime.now(UTC))
    store.add(bucket, check)
    assert store.ring(bucket) == [check]
    store.done(bucket)
    assert store.ring(bucket) == [check]
    assert store.unfinished(bucket) == []
