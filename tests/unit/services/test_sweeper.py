"""The sweeper with in-memory fakes: which level of which open turn it rings, and once."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain.conversations import Conversation, Status
from chalicelib.domain.policies import load_policies
from chalicelib.domain.timers import DueCheck
from chalicelib.services.alerting import AlertingDeps
from chalicelib.services.sweeper import SweepDeps, sweep
from tests.fakes import (
    FakeAckLinks,
    FakeAlertLog,
    FakeConversations,
    FakeDueChecks,
    FakeNotifier,
    FakeRotas,
)
from tests.unit.services.test_alerting import CONV, NOW, ROTA

POLICIES = load_policies(Path(__file__).resolve().parents[3] / "chalicelib" / "policies.yaml")


@pytest.fixture
def deps() -> AlertingDeps:
    return AlertingDeps(due_checks=FakeDueChecks(), conversations=FakeConversations(),
                        rotas=FakeRotas(ROTA), alert_log=FakeAlertLog(),
                        notifier=FakeNotifier(), ack_links=FakeAckLinks(),
                        public_url="https://rw.example", now=lambda: NOW)


class OpenTurns:
    def __init__(self, conversations: dict[str, Conversation]) -> None:
        self.items = conversations
        self.asked: list[tuple[str, datetime, datetime]] = []

    def awaiting_due_between(self, team: str, start: datetime,
                             end: datetime) -> list[Conversation]:
        self.asked.append((team, start, end))
        return [c for c in self.items.values() if c.team == team and c.due_at
                and start <= c.due_at <= end and c.status is Status.AWAITING_AGENT]


def turn(thread: str, due_in: timedelta, **changes: object) -> Conversation:
    due = NOW + due_in
    return replace(CONV, thread=thread, due_at=due, warn_at=due - timedelta(minutes=15),
                   escalate_at=due + timedelta(minutes=30), **changes)  # type: ignore[arg-type]


def sweeper_deps(alerting: AlertingDeps, *turns: Conversation) -> SweepDeps:
    for c in turns:
        alerting.conversations.items[c.id] = c  # type: ignore[attr-defined]
    return SweepDeps(open_turns=OpenTurns({c.id: c for c in turns}),
                     due_checks=alerting.due_checks, alert_log=alerting.alert_log,
                     alerting=lambda: alerting, policies=lambda: POLICIES, now=lambda: NOW)


def filed(alerting: AlertingDeps, c: Conversation, level: str, ago: timedelta) -> int:
    """The check filed in its bucket, as triage does; the bucket number."""
    bucket = int((NOW - ago).timestamp()) // 10 * 10
    alerting.due_checks.add(bucket, DueCheck(c.id, c.turn, level, NOW - ago))
    return bucket


def sent(alerting: AlertingDeps) -> list[tuple[str, str, str]]:
    assert isinstance(alerting.notifier, FakeNotifier)
    return [(a["conversation"], a["level"], a["agent"]) for a in alerting.notifier.sent]


def test_a_bucket_that_never_rang_is_rung_and_a_finished_one_passed_over(
        deps: AlertingDeps) -> None:
    deps = replace(deps, digest_after=100)
    lost, fine, answered, recent = (turn(t, timedelta(minutes=10)) for t in (
        "t-lost", "t-fine", "t-answered", "t-recent"))
    answered = replace(answered, status=Status.AWAITING_CUSTOMER)
    s = sweeper_deps(deps, lost, fine, answered, recent)
    filed(deps, lost, "warning", timedelta(minutes=4))  # its alarm never rang
    filed(deps, answered, "warning", timedelta(minutes=4))  # never rang, but answered since
    deps.due_checks.done(filed(deps, fine, "warning", timedelta(minutes=7)))  # rang and done
    filed(deps, recent, "warning", timedelta(seconds=30))  # may ring yet: within the grace
    filed(deps, lost, "breach", timedelta(minutes=30))  # older than two periods: not read
    report = sweep(s)
    assert report.buckets == 61  # 10 s buckets over two 5-minute periods
    assert (report.unfinished, report.missed, report.failed) == (1, 2, [])  # one bucket
    assert sent(deps) == [("x.t-lost", "warning", "alice")]
    assert sweep(s).sent == 0  # the second sweep finds it sent


def test_turns_never_filed_get_their_highest_missed_level_once(deps: AlertingDeps) -> None:
    deps = replace(deps, digest_after=100)
    s = sweeper_deps(
        deps,
        turn("t-breach", timedelta(minutes=-5)),  # past warning and breach: the breach
        turn("t-esc", timedelta(minutes=-40)),  # past all three: the lead
        turn("t-acked", timedelta(minutes=-40), acked_turn=1),  # acknowledged: nothing more
        turn("t-just", timedelta(seconds=-30)),  # 30 s late: the bucket may ring yet
        turn("t-answered", timedelta(minutes=-5), status=Status.AWAITING_CUSTOMER),
    )
    report = sweep(s)
    assert (report.candidates, report.missed, report.failed) == (3, 3, [])
    assert sorted(sent(deps)) == [
        ("x.t-breach", "breach", "alice"), ("x.t-breach", "breach", "bob"),
        ("x.t-esc", "escalation", "dana")]
    sweep(s)  # the second sweep finds them sent
    assert len(sent(deps)) == 3


def test_an_alert_the_normal_path_sent_is_left_alone(deps: AlertingDeps) -> None:
    c = turn("t-sent", timedelta(minutes=-5))
    assert isinstance(deps.alert_log, FakeAlertLog)
    deps.alert_log.sent(f"{c.id}#1#breach", NOW)
    assert sweep(sweeper_deps(deps, c)).missed == 0
    assert sent(deps) == []


def test_it_reads_only_turns_past_their_deadline_from_the_index(deps: AlertingDeps) -> None:
    s = sweeper_deps(deps)
    sweep(s)
    assert isinstance(s.open_turns, OpenTurns)
    [(team, start, end)] = s.open_turns.asked
    assert team == "support" and end == NOW - timedelta(seconds=60)  # the grace
    assert start == NOW - timedelta(hours=5)  # the longest escalate_after (4 h) and margin


def test_a_failing_send_is_reported_and_swept_again(deps: AlertingDeps) -> None:
    class Down(FakeNotifier):
        def notify(self, **alert: Any) -> None:
            raise ConnectionError("SNS down")

    c = turn("t-down", timedelta(minutes=-5))
    report = sweep(sweeper_deps(replace(deps, notifier=Down()), c))
    assert report.failed == [f"{c.id}#1#breach"]
    assert sweep(sweeper_deps(deps, c)).sent == 2  # released: the next sweep sends it
    assert sent(deps) == [(c.id, "breach", "alice"), (c.id, "breach", "bob")]
