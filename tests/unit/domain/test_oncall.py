"""Who is on call: shifts, hand-offs at the exact boundary, overrides, DST, recipients."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.oncall import (
    OnCall,
    Override,
    Rota,
    next_change,
    next_handoff,
    on_call,
    recipients,
    rota_from_dict,
    rota_to_dict,
)

LONDON = ZoneInfo("Europe/London")
DAILY = Rota(team="support", members=("alice", "bob", "carol"), shift=timedelta(days=1),
             handoff=time(9, 0), timezone="Europe/London", starts_on=date(2026, 3, 23),
             lead="dana")


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=LONDON)


def test_the_hand_off_happens_exactly_at_the_hand_off_time() -> None:
    assert on_call(DAILY, at(24, 8, 59)).primary == "alice"
    assert on_call(DAILY, at(24, 9, 0)).primary == "bob"
    assert on_call(DAILY, at(24, 9, 0)).secondary == "carol"


def test_the_rotation_wraps_around() -> None:
    assert [on_call(DAILY, at(23 + n, 10)).primary for n in range(5)] == [
        "alice", "bob", "carol", "alice", "bob"]


def test_a_daily_hand_off_stays_at_09_00_local_across_the_clocks_going_forward() -> None:
    # 2026-03-29: GMT -> BST. 09:00 BST is 08:00 UTC.
    assert on_call(DAILY, datetime(2026, 3, 29, 7, 59, tzinfo=UTC)).primary == "carol"
    assert on_call(DAILY, datetime(2026, 3, 29, 8, 0, tzinfo=UTC)).primary == "alice"
    assert on_call(DAILY, datetime(2026, 3, 30, 8, 0, tzinfo=UTC)).primary == "bob"


def test_a_twelve_hour_rota_counts_real_time() -> None:
    rota = Rota(team="t", members=("a", "b"), shift=timedelta(hours=12), handoff=time(8, 0),
                timezone="UTC", starts_on=date(2026, 1, 1))
    assert on_call(rota, datetime(2026, 1, 1, 19, 59, tzinfo=UTC)).primary == "a"
    assert on_call(rota, datetime(2026, 1, 1, 20, 0, tzinfo=UTC)).primary == "b"
    assert on_call(rota, datetime(2026, 1, 2, 8, 0, tzinfo=UTC)).primary == "a"


def test_before_the_first_hand_off_the_first_shift_is_on_call() -> None:
    assert on_call(DAILY, at(1, 12)).primary == "alice"


def test_an_override_takes_the_primary_seat() -> None:
    rota = rota_from_dict({**rota_to_dict(DAILY), "overrides": [
        {"start": at(24, 12).isoformat(), "end": at(24, 14).isoformat(), "agent": "carol"}]})
    assert on_call(rota, at(24, 11, 59)) == OnCall("bob", "carol", "dana")
    # carol was secondary: bob, displaced, covers as secondary.
    assert on_call(rota, at(24, 12)) == OnCall("carol", "bob", "dana")
    assert on_call(rota, at(24, 14)) == OnCall("bob", "carol", "dana")


def test_recipients_per_level() -> None:
    now = OnCall("alice", "bob", "dana")
    assert recipients(now, "warning") == ("alice",)
    assert recipients(now, "breach") == ("alice", "bob")
    assert recipients(now, "escalation") == ("dana",)
    assert recipients(OnCall("alice", None, None), "breach") == ("alice",)
    assert recipients(OnCall("alice", "bob", None), "escalation") == ("alice", "bob")


def test_storage_round_trip() -> None:
    assert rota_from_dict(rota_to_dict(DAILY)) == DAILY


@pytest.mark.parametrize(("change", "message"), [
    ({"members": []}, "at least one member"),
    ({"shift": 0}, "longer than zero"),
    ({"timezone": "Mars/Base"}, "unknown time zone"),
    ({"overrides": [{"start": "2026-01-02T00:00:00+00:00", "end": "2026-01-01T00:00:00+00:00",
                     "agent": "x"}]}, "end after it starts"),
    ({"overrides": [{"start": "2026-01-01T00:00:00", "end": "2026-01-02T00:00:00",
                     "agent": "x"}]}, "timezone-aware"),
])
def test_invalid_rotas_are_refused_clearly(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rota_from_dict({**rota_to_dict(DAILY), **change})


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 1, 1),
                    timezones=st.just(UTC)),
       st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=4, unique=True),
       st.integers(min_value=3600, max_value=7 * 86400))
def test_the_primary_is_always_a_member_and_never_their_own_backup(moment, members,
                                                                   shift) -> None:
    rota = Rota(team="t", members=tuple(members), shift=timedelta(seconds=shift),
                handoff=time(9, 0), timezone="Europe/London", starts_on=date(2026, 1, 1))
    current = on_call(rota, moment)
    assert current.primary in members
    assert current.secondary != current.primary


def test_the_next_change_is_the_next_hand_off_in_local_time_even_across_dst() -> None:
    # London moves its clocks on 29 March 2026: the hand-off stays at 09:00 local.
    assert next_change(DAILY, at(28, 10)) == at(29, 9)
    assert next_change(DAILY, at(29, 8, 59)) == at(29, 9)
    assert on_call(DAILY, at(29, 9)).primary != on_call(DAILY, at(29, 8, 59)).primary


def test_an_override_moves_the_next_change_to_its_start_and_end() -> None:
    cover = Override(start=at(24, 12), end=at(24, 14), agent_id="erin")
    rota = Rota(**{**DAILY.__dict__, "overrides": (cover,)})
    assert next_change(rota, at(24, 10)) == at(24, 12)
    assert next_change(rota, at(24, 13)) == at(24, 14)


def test_a_hand_off_that_changes_nobody_is_not_a_change() -> None:
    alone = Rota(team="night", members=("zoe",), shift=timedelta(hours=12), handoff=time(8),
                 timezone="UTC", starts_on=date(2026, 1, 1))
    noon = datetime(2026, 1, 2, 12, tzinfo=UTC)
    assert next_handoff(alone, noon) == datetime(2026, 1, 2, 20, tzinfo=UTC)
    assert next_change(alone, noon) is None
