"""The sweeper with in-memory fakes: which level of which open turn it rings, and once."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from chalicelib.domain.conversations import Conversation, Status
from chalicelib.domain.policies import load_policies
from chalicelib.services import sweeper
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
                     alert_log=alerting.alert_log, alerting=lambda: alerting,
                     policies=lambda: POLICIES, now=lambda: NOW)


def sent(alerting: AlertingDeps) -> list[tuple[str, str, str]]:
    assert isinstance(alerting.notifier, FakeNotifier)
    return [(a["conversation"], a["level"], a["agent"]) for a in alerting.notifier.sent]


def test_each_open_turn_gets_its_highest_missed_level_once(deps: AlertingDeps) -> None:
    deps = replace(deps, digest_after=100)
    s = sweeper_deps(
        deps,
        turn("t-warn", timedelta(minutes=10)),  # past its warning only
        turn("t-breach", timedelta(minutes=-5)),  # past warning and breach: the breach
        turn("t-esc", timedelta(minutes=-40)),  # past all three: the lead
        turn("t-acked", timedelta(minutes=-40), acked_turn=1),  # acknowledged: the breach
        turn("t-early", timedelta(minutes=20)),  # warned in 5 minutes: not yet
        turn("t-just", timedelta(seconds=14 * 60 + 30)),  # 30 s late: the bucket may ring yet
        turn("t-answered", timedelta(minutes=-5), status=Status.AWAITING_CUSTOMER),
    )
    report = sweep(s)
    assert (report.missed, report.failed) == (4, [])
    assert sorted(sent(deps)) == [
        ("x.t-acked", "breach", "alice"), ("x.t-acked", "breach", "bob"),
        ("x.t-breach", "breach", "alice"), ("x.t-breach", "breach", "bob"),
        ("x.t-esc", "escalation", "dana"), ("x.t-warn", "warning", "alice")]
    assert sweep(s).missed == 0  # the second sweep finds them sent
    assert len(sent(deps)) == 6


def test_an_alert_the_normal_path_sent_is_left_alone(deps: AlertingDeps) -> None:
    c = turn("t-sent", timedelta(minutes=10))
    assert isinstance(deps.alert_log, FakeAlertLog)
    deps.alert_log.sent(f"{c.id}#1#warning", NOW)
    assert sweep(sweeper_deps(deps, c)).missed == 0
    assert sent(deps) == []


def test_it_reads_only_the_window_near_or_past_the_deadline(deps: AlertingDeps) -> None:
    s = sweeper_deps(deps)
    sweep(s)
    assert isinstance(s.open_turns, OpenTurns)
    [(team, start, end)] = s.open_turns.asked
    assert team == "support" and start == NOW - sweeper.LOOKBACK
    assert end == NOW + timedelta(hours=2)  # the longest warning lead: 25% of 8 h
    assert sweeper.grace(POLICIES) == timedelta(seconds=60)


def test_a_failing_send_is_reported_and_swept_again(deps: AlertingDeps) -> None:
    class Down(FakeNotifier):
        def notify(self, **alert):  # type: ignore[no-untyped-def]
            raise ConnectionError("SNS down")

    c = turn("t-down", timedelta(minutes=10))
    report = sweep(sweeper_deps(replace(deps, notifier=Down()), c))
    assert report.failed == [f"{c.id}#1#warning"]
    assert sweep(sweeper_deps(deps, c)).sent == 1  # released: the next sweep sends it
    assert sent(deps) == [(c.id, "warning", "alice")]
