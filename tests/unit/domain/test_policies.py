"""SLA policy files: windows, warnings, escalation, teams, clear errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.policies import (
    PolicyError,
    load_policies,
    parse_duration,
    parse_policies,
)

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = load_policies(ROOT / "chalicelib" / "policies.yaml")
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)

MINIMAL = """
priorities:
  urgent: {first_response: 15m, next_response: 15m, escalate_after: 10m}
  high:   {first_response: 1h,  next_response: 1h,  escalate_after: 30m}
  normal: {first_response: 2h,  next_response: 1h30m, escalate_after: 1h}
  low:    {first_response: 8h,  next_response: 8h,  escalate_after: 4h}
"""


def test_the_shipped_policy_follows_the_1_to_3_hour_guidance() -> None:
    plan = SHIPPED.for_team("support").plan(T0, "normal", first=True)
    assert plan.due_at == T0 + timedelta(hours=2)
    assert plan.warn_at == T0 + timedelta(minutes=90)  # 75% of the window
    assert plan.escalate_at == T0 + timedelta(hours=3)
    assert SHIPPED.timer_resolution == timedelta(seconds=10)


def test_next_response_windows_apply_after_the_first_turn() -> None:
    policies = parse_policies(MINIMAL)
    assert policies.for_team("support").plan(T0, "normal", first=False).due_at == (
        T0 + timedelta(hours=1, minutes=30))


def test_checks_are_keyed_by_conversation_turn_and_level() -> None:
    checks = SHIPPED.for_team("support").plan(T0, "urgent", first=True).checks("x.t-1", 3)
    assert [(c.key, c.due_at - T0) for c in checks] == [
        ("x.t-1#3#warning", timedelta(minutes=11, seconds=15)),
        ("x.t-1#3#breach", timedelta(minutes=15)),
        ("x.t-1#3#escalation", timedelta(minutes=25))]


def test_teams_take_platforms_and_override_only_what_they_say() -> None:
    policies = parse_policies(MINIMAL + """
teams:
  social:
    platforms: [x, instagram]
    channels: [public]
    priorities:
      urgent: {first_response: 5m}
    calendar: {timezone: Europe/London, hours: "mon-fri 08:00-20:00"}
""")
    assert policies.team_for("x", "public") == "social"
    assert policies.team_for("x", "private") == "support"
    assert policies.team_for("whatsapp", "private") == "support"
    social = policies.for_team("social")
    assert social.windows["urgent"].first_response == timedelta(minutes=5)
    assert social.windows["urgent"].escalate_after == timedelta(minutes=10)  # inherited
    saturday = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    assert social.plan(saturday, "urgent", first=True).due_at == datetime(
        2026, 11, 30, 8, 5, tzinfo=UTC)
    assert policies.for_team("unknown-team") is policies.for_team("support")


def test_json_is_accepted_because_it_is_yaml() -> None:
    policies = parse_policies('{"warn_at": 0.5, "priorities": ' + str({
        p: {"first_response": "1h", "next_response": "1h", "escalate_after": "1h"}
        for p in ("urgent", "high", "normal", "low")}).replace("'", '"') + "}")
    assert policies.warn_at == 0.5


@pytest.mark.parametrize(("text", "message"), [
    (MINIMAL + "colour: blue\n", "colour: unknown key"),
    (MINIMAL.replace("escalate_after: 10m", "escalate_afer: 10m"),
     r"priorities.urgent.escalate_afer: unknown key"),
    (MINIMAL.replace("  low:    {first_response: 8h,  next_response: 8h,  escalate_after: 4h}",
                     ""), "priorities.low: missing"),
    (MINIMAL.replace("15m, next", "soon, next"), "priorities.urgent.first_response: 'soon'"),
    (MINIMAL.replace("8h,  next", "0s,  next"), "longer than zero"),
    ("warn_at: 1.5\n" + MINIMAL, "warn_at: a fraction"),
    (MINIMAL + "teams:\n  social:\n    platforms: [myspace]\n", "teams.social.platforms"),
    (MINIMAL + "teams:\n  social:\n    priorities:\n      urgent: {first_reponse: 1m}\n",
     r"teams.social.priorities.urgent.first_reponse: unknown key"),
    (MINIMAL + "calendar: {timezone: Nowhere/Land}\n", "calendar: Nowhere/Land"),
    ("- a list\n", "expected a mapping"),
    ("priorities: [\n", "not valid YAML"),
])
def test_mistakes_are_refused_with_the_path_of_the_key(text: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policies(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("90s", timedelta(seconds=90)), ("15m", timedelta(minutes=15)), ("2h", timedelta(hours=2)),
    ("1d", timedelta(days=1)), ("1h30m", timedelta(minutes=90)),
])
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text, "x") == expected


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1),
                    timezones=st.just(UTC)),
       st.sampled_from(["urgent", "high", "normal", "low"]), st.booleans())
def test_every_turn_gets_warning_then_breach_then_escalation(opened, priority, first) -> None:
    plan = SHIPPED.for_team("support").plan(opened, priority, first=first)
    assert opened < plan.warn_at < plan.due_at < plan.escalate_at


def test_remaining_time_is_negative_once_overdue() -> None:
    policy = SHIPPED.for_team("support")
    due = T0 + timedelta(hours=1)
    assert policy.remaining(due, T0) == timedelta(hours=1)
    assert policy.remaining(due, due + timedelta(minutes=5)) == -timedelta(minutes=5)


LISTEN = MINIMAL + """
listening:
  - query: '"scruffy mcgee" OR scruffymcgee -is:retweet'
    account: "@ScruffyHelp"
    period_minutes: 15
    daily_requests: 96
  - {query: scruffy parcel, account: 1234, period_minutes: 0.5, daily_requests: 10}
"""


def test_listening_queries_are_read_with_their_account_period_and_budget() -> None:
    first, second = parse_policies(LISTEN).listening
    assert first.query == '"scruffy mcgee" OR scruffymcgee -is:retweet'
    assert (first.account, first.handle) == ("@ScruffyHelp", "ScruffyHelp")
    assert (first.period, first.daily_requests) == (timedelta(minutes=15), 96)
    assert second.account == "1234" and second.period == timedelta(seconds=30)
    assert first.key != second.key and len(first.key) == 24
    assert parse_policies(MINIMAL).listening == () and SHIPPED.listening == ()


@pytest.mark.parametrize(("entry", "message"), [
    ("{query: a, account: b, period_minutes: 15}", r"listening\[0\]\.daily_requests: missing"),
    ("{query: '', account: b, period_minutes: 1, daily_requests: 1}",
     r"listening\[0\]\.query: a non-empty"),
    ("{query: a, account: b, period_minutes: 0, daily_requests: 1}",
     r"listening\[0\]\.period_minutes: a number of minutes"),
    ("{query: a, account: b, period_minutes: 5, daily_requests: true}",
     r"listening\[0\]\.daily_requests: a whole number"),
    ("{query: a, account: '', period_minutes: 5, daily_requests: 1}",
     r"listening\[0\]\.account"),
    ("{query: a, account: b, period_minutes: 5, daily_requests: 1, lang: en}",
     r"listening\[0\]\.lang: unknown key"),
    (f"{{query: {'a' * 513}, account: b, period_minutes: 5, daily_requests: 1}}",
     r"listening\[0\]\.query: 513 characters"),
])
def test_listening_mistakes_name_their_path(entry: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policies(MINIMAL + f"listening:\n  - {entry}\n")


def test_a_query_declared_twice_is_refused() -> None:
    entry = "{query: a b, account: x, period_minutes: 5, daily_requests: 1}"
    with pytest.raises(PolicyError, match=r"listening\[1\]\.query: the same query"):
        parse_policies(MINIMAL + f"listening:\n  - {entry}\n  - {entry}\n")
    with pytest.raises(PolicyError, match="listening: expected a list"):
        parse_policies(MINIMAL + "listening: {query: a}\n")
