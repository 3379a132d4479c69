"""The channel watch with an in-memory store: one admin alert per incident, one when it is
over, and an alert that failed is sent by the next pass."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chalicelib.domain.policies import PolicyError, parse_policies
from chalicelib.services import channel_watch
from chalicelib.services.channel_watch import ChannelDeps, WatchLog
from tests.fakes import FakeChannelStore

POLICIES = parse_policies((Path(__file__).resolve().parents[2] / "fixtures" / "policies" /
                           "seconds.yaml").read_text() + "channel_silence: {x: 2h}\n")


class Admins(list[str]):
    def __call__(self, subject: str, sms: str) -> None:
        self.append(sms)


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def deps() -> ChannelDeps:
    return ChannelDeps(store=FakeChannelStore(), notify_admins=Admins(),
                       policies=lambda: POLICIES, public_url="https://rw.example", now=Clock())


def log(deps: ChannelDeps) -> WatchLog:
    """What the webhook and ingest write to, over the same store the check reads."""
    return WatchLog(store=deps.store, policies=deps.policies, now=deps.now)


def admin_sms(deps: ChannelDeps) -> list[str]:
    assert isinstance(deps.notify_admins, Admins)
    return list(deps.notify_admins)


def test_learns_the_longest_gap_from_traffic(deps) -> None:
    clock = deps.now
    for minutes in (0, 5, 25, 30):
        clock.at = datetime(2026, 11, 25, 12, 0, tzinfo=UTC) + timedelta(minutes=minutes)
        log(deps).seen(["whatsapp", "whatsapp"])
    state = deps.store.states["whatsapp"]
    assert (state.events, state.longest_gap) == (4, timedelta(minutes=20))


def test_one_alert_per_incident_and_one_when_it_is_over(deps) -> None:
    log(deps).seen(["x"])
    deps.now.at += timedelta(hours=2, minutes=1)  # configured: x is down after 2 h of silence
    assert channel_watch.check(deps) == {"x": "down: silent"}
    assert channel_watch.check(deps) == {}  # still down: nobody is told twice
    deps.now.at += timedelta(minutes=5)
    assert channel_watch.check(deps) == {}
    log(deps).seen(["x"])
    assert channel_watch.check(deps) == {"x": "recovered"}
    assert channel_watch.check(deps) == {}
    sms = admin_sms(deps)
    assert len(sms) == 2
    assert sms[0].startswith("CHANNEL DOWN x: no events for 2h01m")
    assert sms[1] == "CHANNEL OK x: working again after 5m. https://rw.example/console/channels"


def test_an_alert_that_failed_is_sent_by_the_next_pass(deps) -> None:
    deps.store.record("messenger", "unhealthy", "messenger: token rejected (190)", deps.now())
    failing = replace(deps, notify_admins=lambda s, m: (_ for _ in ()).throw(ConnectionError()))
    with pytest.raises(ConnectionError):
        channel_watch.check(failing)
    assert channel_watch.check(deps) == {"messenger": "down: auth"}
    assert channel_watch.check(deps) == {}
    assert admin_sms(deps) == [
        "CHANNEL DOWN messenger: unhealthy: messenger: token rejected (190). "
        "https://rw.example/console/channels"]


def test_a_channel_that_recovers_before_anyone_was_told_stays_quiet(deps) -> None:
    deps.store.record("x", "unhealthy", "x: token rejected (401)", deps.now())
    deps.store.open_incident("x", "auth", deps.now())  # opened, then the alert failed
    deps.now.at += timedelta(minutes=1)
    deps.store.record("x", "healthy", "", deps.now())
    assert channel_watch.check(deps) == {"x": "recovered"}
    assert admin_sms(deps) == []


def test_overview_names_each_state(deps) -> None:
    log(deps).seen(["whatsapp"])
    deps.store.record("x", "revoked", "app revoked by @brand", deps.now())
    view = channel_watch.overview(deps)
    assert view["whatsapp"]["state"] == "learning"
    assert view["x"]["state"] == "revoked" and view["x"]["detail"] == "app revoked by @brand"
    assert view["x"]["silence_alert_after_s"] == 7200


def test_junk_among_verified_deliveries_never_pages(deps) -> None:
    for _ in range(10):  # 50 forged POSTs over 50 minutes, a real delivery after every 5
        for _ in range(5):
            deps.now.at += timedelta(minutes=1)
            log(deps).signature("meta", False)
        log(deps).signature("meta", True)
        assert channel_watch.check(deps) == {}
    assert admin_sms(deps) == []


def test_a_sustained_run_with_nothing_verified_pages_once_then_recovers(deps) -> None:
    log(deps).signature("meta", True)
    for minute in range(12):
        deps.now.at += timedelta(minutes=1)
        log(deps).signature("meta", False)
        # not before the run has lasted 10 minutes (the default policy)
        assert channel_watch.check(deps) == ({"meta": "down: signature_failures"}
                                             if minute == 10 else {})
    log(deps).signature("meta", True)
    assert channel_watch.check(deps) == {"meta": "recovered"}
    sms = admin_sms(deps)
    assert len(sms) == 2 and sms[0].startswith("CHANNEL DOWN meta: 11 deliveries failed")


def test_a_flapping_channel_pages_once_a_period_and_the_held_page_follows(deps) -> None:
    deps.store.record("x", "unhealthy", "x: token rejected (401)", deps.now())
    assert channel_watch.check(deps) == {"x": "down: auth"}
    deps.now.at += timedelta(minutes=5)
    deps.store.record("x", "healthy", "", deps.now())
    assert channel_watch.check(deps) == {"x": "recovered"}
    deps.now.at += timedelta(minutes=5)
    deps.store.record("x", "unhealthy", "x: token rejected (401)", deps.now())
    assert channel_watch.check(deps) == {"x": "held: auth"}  # 10 minutes after the last page
    deps.now.at += timedelta(minutes=30)
    assert channel_watch.check(deps) == {"x": "held: auth"}
    deps.now.at += timedelta(minutes=21)  # an hour after the first page: still down, told now
    assert channel_watch.check(deps) == {"x": "down: auth"}
    assert channel_watch.check(deps) == {}
    assert [s.split(":")[0] for s in admin_sms(deps)] == ["CHANNEL DOWN x", "CHANNEL OK x",
                                                          "CHANNEL DOWN x"]


def test_the_thresholds_come_from_the_policies(deps) -> None:
    from chalicelib.domain.policies import PolicyError

    text = (Path(__file__).resolve().parents[2] / "fixtures" / "policies" / "seconds.yaml"
            ).read_text()
    tuned = parse_policies(text + "channel_alerts: {signature_failures: 3, signature_over: 2m,"
                                  " page_every: 4h}\n")
    assert (tuned.channel_alerts.signature_failures, tuned.channel_alerts.signature_over,
            tuned.channel_alerts.page_every) == (3, timedelta(minutes=2), timedelta(hours=4))
    quick = replace(deps, policies=lambda: tuned)
    for _ in range(3):
        deps.now.at += timedelta(minutes=1)
        log(quick).signature("meta", False)
    assert channel_watch.check(quick) == {"meta": "down: signature_failures"}
    with pytest.raises(PolicyError, match="signature_failures"):
        parse_policies(text + "channel_alerts: {signature_failures: 0}\n")
    with pytest.raises(PolicyError, match="unknown key"):
        parse_policies(text + "channel_alerts: {pages: 1}\n")


ACCOUNTS = parse_policies((Path(__file__).resolve().parents[2] / "fixtures" / "policies" /
                           "accounts.yaml").read_text())


def test_one_account_of_two_gone_quiet_pages_once_naming_it(deps: ChannelDeps) -> None:
    deps = replace(deps, policies=lambda: ACCOUNTS)
    clock = deps.now
    assert isinstance(clock, Clock)
    both = ["messenger", "messenger:2001", "messenger:2002"]
    for _ in range(25):  # a rhythm learned: an event every 5 minutes (the floor: 15 minutes)
        log(deps).seen(both)
        clock.at += timedelta(minutes=5)
    for _ in range(6):  # the US Page and the platform go on; the UK Page stops
        log(deps).seen(["messenger", "messenger:2002"])
        clock.at += timedelta(minutes=5)
    assert channel_watch.check(deps) == {"messenger:2001": "down: silent"}
    assert channel_watch.check(deps) == {}  # one page per incident
    sms = admin_sms(deps)
    assert len(sms) == 1 and sms[0].startswith(
        "CHANNEL DOWN messenger:2001 (Scruffy UK): no events for 35m"), sms
    health = channel_watch.overview(deps)
    assert (health["messenger:2001"]["state"], health["messenger:2002"]["state"],
            health["messenger"]["state"]) == ("silent", "ok", "ok")
    log(deps).seen(["messenger", "messenger:2001"])
    assert channel_watch.check(deps) == {"messenger:2001": "recovered"}
    assert admin_sms(deps)[1].startswith("CHANNEL OK messenger:2001 (Scruffy UK): working")


def test_an_accounts_channel_may_have_its_own_configured_silence() -> None:
    text = (Path(__file__).resolve().parents[2] / "fixtures" / "policies" /
            "accounts.yaml").read_text()
    policies = parse_policies(text + 'channel_silence: {"whatsapp:3002": 4h, messenger: 1h}\n')
    assert policies.channel_silence["whatsapp:3002"] == timedelta(hours=4)
    with pytest.raises(PolicyError, match="whatsapp:3999: unknown key"):
        parse_policies(text + 'channel_silence: {"whatsapp:3999": 4h}\n')
