"""Ringing a bucket: who gets told what, and what is skipped (in-memory fakes)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from chalicelib.domain.conversations import Conversation, Status
from chalicelib.domain.events import Channel, Person, Platform
from chalicelib.domain.oncall import Rota
from chalicelib.domain.timers import DueCheck
from chalicelib.services.acknowledge import AckDeps, acknowledge
from chalicelib.services.alerting import ALERT_LEASE, AlertingDeps, ChecksFailed, ring_bucket
from tests.fakes import (
    FakeAckLinks,
    FakeAlertLog,
    FakeConversations,
    FakeDueChecks,
    FakeNotifier,
    FakeRotas,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ROTA = Rota(team="support", members=("alice", "bob"), shift=timedelta(days=1),
            handoff=time(9, 0), timezone="UTC", starts_on=date(2026, 11, 24), lead="dana")
CONV = Conversation(platform=Platform.X, thread="t-1", channel=Channel.PUBLIC, brand_id="9",
                    customer=Person(id="42", handle="ann"), created_at=NOW, turn=1,
                    turn_opened_at=NOW - timedelta(minutes=10), team="support",
                    priority="high", reasons=("keyword: refund",),
                    due_at=NOW + timedelta(minutes=5))


@pytest.fixture
def deps() -> AlertingDeps:
    conversations = FakeConversations()
    conversations.items[CONV.id] = CONV
    return AlertingDeps(due_checks=FakeDueChecks(), conversations=conversations,
                        rotas=FakeRotas(ROTA), alert_log=FakeAlertLog(),
                        notifier=FakeNotifier(), ack_links=FakeAckLinks(),
                        public_url="https://rw.example", now=lambda: NOW, digest_after=3)


def due(deps: AlertingDeps, level: str, bucket: int = 100, conv: str = CONV.id) -> None:
    deps.due_checks.add(bucket, DueCheck(conv, 1, level, NOW))


def sent(deps: AlertingDeps) -> list[tuple[str, str]]:
    assert isinstance(deps.notifier, FakeNotifier)
    return [(a["agent"], a["level"]) for a in deps.notifier.sent]


def test_levels_go_to_primary_then_both_then_the_lead(deps) -> None:
    for level in ("warning", "breach", "escalation"):
        due(deps, level)
    ring_bucket(100, deps)
    assert sent(deps) == [("alice", "warning"), ("alice", "breach"), ("bob", "breach"),
                          ("dana", "escalation")]
    sms = deps.notifier.sent[0]["sms"]
    assert sms.startswith("WARN X @ann 5m left (high): keyword: refund.")
    assert "https://rw.example/ack/t0.sig" in sms


def test_an_answered_turn_is_skipped(deps) -> None:
    deps.conversations.items[CONV.id] = replace(CONV, status=Status.AWAITING_CUSTOMER)
    due(deps, "warning")
    report = ring_bucket(100, deps)
    assert sent(deps) == []
    assert report.skipped == {"answered": 1}


def test_an_alert_the_last_look_saved_is_counted(deps) -> None:
    from chalicelib import observability

    observability.metrics.clear_metrics()
    deps.conversations.items[CONV.id] = replace(CONV, status=Status.AWAITING_CUSTOMER)
    due(deps, "warning")
    ring_bucket(100, deps)
    saved = observability.metrics.metric_set.get("AnsweredBeforeAlert", {}).get("Value")
    observability.metrics.clear_metrics()
    assert saved == [1.0]


def test_a_later_turn_makes_the_old_checks_moot(deps) -> None:
    deps.conversations.items[CONV.id] = replace(CONV, turn=2)
    due(deps, "breach")
    ring_bucket(100, deps)
    assert sent(deps) == []


def test_the_same_check_rung_twice_alerts_once(deps) -> None:
    due(deps, "warning")
    ring_bucket(100, deps)
    ring_bucket(100, deps)
    assert sent(deps) == [("alice", "warning")]


def test_a_retry_after_a_failed_publish_reaches_only_who_missed_it(deps) -> None:
    class FailsForBobOnce(FakeNotifier):
        def notify(self, **alert: Any) -> None:
            if alert["agent"] == "bob" and not getattr(self, "failed", False):
                self.failed = True
                raise ConnectionError("SNS throttled")
            super().notify(**alert)

    deps = replace(deps, notifier=FailsForBobOnce())
    due(deps, "breach")
    with pytest.raises(ChecksFailed):
        ring_bucket(100, deps)
    ring_bucket(100, deps)  # the queue redelivers the bucket, at once: the claim was released
    ring_bucket(100, deps)  # and once more: nothing left to send
    assert sent(deps) == [("alice", "breach"), ("bob", "breach")]


def test_acknowledging_stops_the_breach_and_the_escalation(deps) -> None:
    due(deps, "warning", 100)
    ring_bucket(100, deps)
    ack = AckDeps(links=deps.ack_links, conversations=deps.conversations, now=lambda: NOW)
    done = acknowledge("t0.sig", ack)
    assert (done.agent, done.already) == ("alice", False)
    due(deps, "breach", 200)
    due(deps, "escalation", 200)
    report = ring_bucket(200, deps)
    assert sent(deps) == [("alice", "warning")]
    assert report.skipped["acknowledged"] == 2
    assert acknowledge("t0.sig", ack).already


def test_a_flood_becomes_one_digest_per_agent(deps) -> None:
    for n in range(6):
        conv = replace(CONV, thread=f"t-{n + 10}")
        deps.conversations.items[conv.id] = conv
        due(deps, "warning", conv=conv.id)
    report = ring_bucket(100, deps)
    assert sent(deps) == [("alice", "warning")] * 3 + [("alice", "digest")]
    assert report.digested == 3
    assert deps.notifier.sent[-1]["sms"].startswith("3 conversations for support need")


def _flood(deps: AlertingDeps, n: int, level: str = "warning") -> list[str]:
    assert isinstance(deps.conversations, FakeConversations)
    ids = []
    for i in range(n):
        conv = replace(CONV, thread=f"t-{i + 10}", customer=Person(id=str(i), handle=f"c{i}"),
                       due_at=NOW + timedelta(minutes=i))
        deps.conversations.items[conv.id] = conv
        due(deps, level, conv=conv.id)
        ids.append(conv.id)
    return ids


def test_a_digest_whose_publish_fails_is_retried_and_sent_once(deps) -> None:
    class RefusesDigests(FakeNotifier):
        refuse = True

        def notify(self, **alert: Any) -> None:
            if alert["level"] == "digest" and self.refuse:
                raise ConnectionError("SNS refuses the digest")
            super().notify(**alert)

    notifier = RefusesDigests()
    deps = replace(deps, notifier=notifier)
    ids = _flood(deps, 6)
    log = deps.alert_log
    assert isinstance(log, FakeAlertLog)
    with pytest.raises(ChecksFailed) as failed:
        ring_bucket(100, deps)
    covered = [f"{i}#1#warning" for i in ids[3:]]
    assert failed.value.keys == covered  # not marked sent, released for the retry at once
    assert [log.status_of[k] for k in covered] == ["pending"] * 3
    assert not any(k in log.leases for k in covered)
    assert sent(deps) == [("alice", "warning")] * 3
    notifier.refuse = False
    ring_bucket(100, deps)  # the bucket's retry: the three digested, the others skipped
    ring_bucket(100, deps)  # a redelivery after that sends nothing more
    assert sent(deps) == [("alice", "warning")] * 3 + [("alice", "digest")]
    assert deps.notifier.sent[-1]["sms"].startswith("3 conversations for support need")
    assert [log.status_of[k] for k in covered] == ["sent"] * 3


def test_a_digest_email_lists_every_conversation_it_covers(deps) -> None:
    _flood(deps, 7)
    ring_bucket(100, deps)
    email = deps.notifier.sent[-1]["email"]
    listed = [line.strip() for line in email.splitlines() if line.startswith("  ")]
    assert listed == [f"WARN @c{i} on X, {i}m left" for i in range(3, 7)]


def test_each_conversation_a_digest_covers_counts_as_alerted_at_its_level(deps) -> None:
    """Both on-call agents get breaches; bob's digest is refused, alice's goes out: the
    retry sends bob his digest and alice nothing twice; then every check is sent."""
    class RefusesBob(FakeNotifier):
        refuse = True

        def notify(self, **alert: Any) -> None:
            if alert["level"] == "digest" and alert["agent"] == "bob" and self.refuse:
                raise ConnectionError("SNS refuses bob's digest")
            super().notify(**alert)

    notifier = RefusesBob()
    deps = replace(deps, notifier=notifier)
    ids = _flood(deps, 5, "breach")
    with pytest.raises(ChecksFailed):
        ring_bucket(100, deps)
    notifier.refuse = False
    ring_bucket(100, deps)
    digests = [a["agent"] for a in notifier.sent if a["level"] == "digest"]
    assert digests == ["alice", "bob"]
    assert deps.alert_log.status([f"{i}#1#breach" for i in ids]) == {
        f"{i}#1#breach": "sent" for i in ids}


def test_every_link_an_alert_carries_opens_a_page_never_a_json_endpoint(deps) -> None:
    """The ack link opens the alert page; a digest's opens the inbox filtered to what it
    covers (its team, waiting on an agent, on its one platform)."""
    for n in range(5):
        conv = replace(CONV, thread=f"t-{n + 20}")
        deps.conversations.items[conv.id] = conv
        due(deps, "warning", conv=conv.id)
    ring_bucket(100, deps)
    links = [(a["level"], link) for a in deps.notifier.sent for text in (a["sms"], a["email"])
             for link in re.findall(r"https://rw\.example(\S+)", text)]
    assert {level for level, _ in links} == {"warning", "digest"}
    for level, path in links:
        assert not path.startswith("/api/"), (level, path)
        if level == "digest":
            assert path == "/console?team=support&platform=x"
        else:
            assert re.fullmatch(r"/ack/t\d+\.sig", path), path


def test_no_rota_means_the_ring_fails_and_is_retried(deps) -> None:
    deps.conversations.items[CONV.id] = replace(CONV, team="nobody")
    due(deps, "warning")
    with pytest.raises(ChecksFailed, match="1 check"):
        ring_bucket(100, replace(deps, rotas=FakeRotas(replace(ROTA, team="elsewhere"))))


def test_each_level_that_rings_unanswered_files_the_next_and_an_answer_stops_the_chain(
        deps) -> None:
    from tests.fakes import FakeClock

    clock = FakeClock()
    assert CONV.due_at is not None
    escalate_at = CONV.due_at + timedelta(minutes=10)
    deps.conversations.items[CONV.id] = replace(CONV, escalate_at=escalate_at)
    deps = replace(deps, clock=clock, resolution=timedelta(seconds=10))
    due(deps, "warning")
    ring_bucket(100, deps)
    breach_bucket = int(CONV.due_at.timestamp())
    assert [(c.level, c.due_at) for c in deps.due_checks.buckets[breach_bucket]] == [
        ("breach", CONV.due_at)]
    assert clock.set_buckets == [breach_bucket]
    ring_bucket(breach_bucket, deps)
    escalation_bucket = int(escalate_at.timestamp())
    assert [c.level for c in deps.due_checks.buckets[escalation_bucket]] == ["escalation"]
    # Answered now: the escalation rings, alerts nobody and files nothing more.
    deps.conversations.items[CONV.id] = replace(CONV, status=Status.AWAITING_CUSTOMER)
    before = dict(deps.due_checks.buckets)
    assert ring_bucket(escalation_bucket, deps).skipped == {"answered": 1}
    assert deps.due_checks.buckets == before
    assert sent(deps) == [("alice", "warning"), ("alice", "breach"), ("bob", "breach")]


def test_one_poisoned_check_does_not_sink_its_bucket(deps) -> None:
    class RefusesOneConversation(FakeNotifier):
        def notify(self, **alert: Any) -> None:
            if alert["conversation"] == "x.t-11":
                raise ConnectionError("SNS refuses this one")
            super().notify(**alert)

    deps = replace(deps, notifier=RefusesOneConversation(), digest_after=100)
    for n in range(3):
        conv = replace(CONV, thread=f"t-{n + 10}")
        deps.conversations.items[conv.id] = conv
        due(deps, "warning", conv=conv.id)
    with pytest.raises(ChecksFailed) as failed:
        ring_bucket(100, deps)
    assert failed.value.keys == ["x.t-11#1#warning"]
    assert [a["conversation"] for a in deps.notifier.sent] == ["x.t-10", "x.t-12"]
    deps = replace(deps, notifier=FakeNotifier())  # SNS takes it again
    assert ring_bucket(100, deps).sent == 1  # the retry sends only the one that failed
    assert [a["conversation"] for a in deps.notifier.sent] == ["x.t-11"]


def test_a_redelivery_during_a_slow_send_waits_and_a_dead_senders_lease_runs_out(
        deps) -> None:
    due(deps, "warning")
    key = f"{CONV.id}#1#warning"
    assert deps.alert_log.claim(key, ("alice",), NOW, ALERT_LEASE) == frozenset()  # in flight
    with pytest.raises(ChecksFailed):
        ring_bucket(100, deps)  # the redelivery finds the claim held: no second page
    assert sent(deps) == []
    later = replace(deps, now=lambda: NOW + ALERT_LEASE + timedelta(seconds=1))
    ring_bucket(100, later)  # the first sender died mid-send: its lease is over
    ring_bucket(100, later)
    assert sent(deps) == [("alice", "warning")]
