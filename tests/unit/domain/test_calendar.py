"""Business-hours calendars: the clock runs only while the team is open, across DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.calendar import BusinessCalendar, CalendarError

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
OFFICE = BusinessCalendar.parse("Europe/London", "mon-fri 08:00-20:00",
                                holidays=[date(2026, 12, 25)])
NY = BusinessCalendar.parse("America/New_York", ["mon-fri 09:00-17:00", "sat 10:00-14:00"])
ALWAYS = BusinessCalendar.parse()

instants = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31),
                        timezones=st.just(UTC))
work = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=5))
calendars = st.sampled_from([OFFICE, NY, ALWAYS])


def test_24x7_is_plain_elapsed_time() -> None:
    start = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    assert ALWAYS.add(start, timedelta(hours=2)) == start + timedelta(hours=2)


def test_a_friday_evening_complaint_is_due_on_monday_morning() -> None:
    friday = datetime(2026, 11, 27, 19, 30, tzinfo=LONDON)
    assert OFFICE.add(friday, timedelta(hours=1)) == datetime(2026, 11, 30, 8, 30,
                                                              tzinfo=LONDON)


def test_outside_hours_the_clock_starts_at_the_next_opening() -> None:
    night = datetime(2026, 11, 24, 23, 0, tzinfo=LONDON)
    assert OFFICE.add(night, timedelta(minutes=15)) == datetime(2026, 11, 25, 8, 15,
                                                                tzinfo=LONDON)


def test_holidays_are_skipped() -> None:
    christmas_eve = datetime(2026, 12, 24, 19, 0, tzinfo=LONDON)
    # 1h of work: 19:00-20:00 on the 24th; the 25th is a holiday, so nothing left for the 28th.
    assert OFFICE.add(christmas_eve, timedelta(hours=2)) == datetime(
        2026, 12, 28, 9, 0, tzinfo=LONDON)  # Sat 26, Sun 27 closed; Mon 28 08:00 + 1h


def test_spring_forward_keeps_wall_clock_opening_hours() -> None:
    # Sunday 2026-03-29 01:00 GMT -> 02:00 BST. A 24x7 London calendar counts real time;
    # office hours open at 08:00 local (07:00 UTC) on Monday.
    monday = datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    friday_close = datetime(2026, 3, 27, 20, 0, tzinfo=LONDON)
    assert OFFICE.add(friday_close, timedelta(minutes=1)) == monday + timedelta(minutes=1)
    assert OFFICE.elapsed(friday_close, monday + timedelta(hours=1)) == timedelta(hours=1)


def test_fall_back_day_is_25_hours_long_in_real_time() -> None:
    london_24x7 = BusinessCalendar.parse("Europe/London", "mon-sun 00:00-24:00")
    start = datetime(2026, 10, 25, 0, 0, tzinfo=LONDON)
    end = datetime(2026, 10, 26, 0, 0, tzinfo=LONDON)
    assert london_24x7.elapsed(start, end) == timedelta(hours=25)


def test_new_york_dst_change_moves_opening_with_the_local_clock() -> None:
    # 2026-03-08: EST -> EDT. Monday 9:00 EDT is 13:00 UTC, the Friday before 14:00 UTC.
    assert NY.add(datetime(2026, 3, 6, 17, 1, tzinfo=NEW_YORK), timedelta(0)) == datetime(
        2026, 3, 7, 15, 0, tzinfo=UTC)  # Saturday 10:00 EST
    assert NY.add(datetime(2026, 3, 7, 14, 0, tzinfo=NEW_YORK), timedelta(minutes=1)) == (
        datetime(2026, 3, 9, 13, 1, tzinfo=UTC))


def test_is_open() -> None:
    assert OFFICE.is_open(datetime(2026, 11, 24, 12, 0, tzinfo=LONDON))
    assert not OFFICE.is_open(datetime(2026, 11, 24, 21, 0, tzinfo=LONDON))
    assert not OFFICE.is_open(datetime(2026, 12, 25, 12, 0, tzinfo=LONDON))


@pytest.mark.parametrize(("hours", "message"), [
    ("weekdays 9-5", "expected e.g."),
    ("mon-fri 20:00-08:00", "overnight"),
    ("fri-mon 08:00-10:00", "runs forward"),
    ("mon-fri 08:00-25:00", "not a time of day"),
])
def test_bad_hours_are_refused_clearly(hours: str, message: str) -> None:
    with pytest.raises(CalendarError, match=message):
        BusinessCalendar.parse("UTC", hours)


def test_unknown_time_zones_and_naive_datetimes_are_refused() -> None:
    with pytest.raises(CalendarError, match="unknown time zone"):
        BusinessCalendar.parse("Mars/Olympus")
    with pytest.raises(ValueError, match="timezone-aware"):
        OFFICE.add(datetime(2026, 1, 1), timedelta(1))


@settings(max_examples=200, deadline=None)
@given(calendars, instants, work)
def test_a_deadline_is_never_before_its_start(calendar, start, amount) -> None:
    assert calendar.add(start, amount) >= start


@settings(max_examples=200, deadline=None)
@given(calendars, instants, work)
def test_elapsed_business_time_to_a_deadline_is_the_work_asked_for(calendar, start,
                                                                   amount) -> None:
    assert calendar.elapsed(start, calendar.add(start, amount)) == amount


@settings(max_examples=200, deadline=None)
@given(calendars, instants, work, work)
def test_pausing_and_resuming_neither_loses_nor_gains_clock_time(calendar, start, a,
                                                                 b) -> None:
    # Including pauses that end exactly at closing time.
    assert calendar.add(calendar.add(start, a), b) == calendar.add(start, a + b)


@settings(max_examples=200, deadline=None)
@given(calendars, instants, instants)
def test_business_time_is_monotonic(calendar, x, y) -> None:
    early, late = sorted((x, y))
    assert calendar.elapsed(early, late) <= late - early
    assert calendar.elapsed(early, late + timedelta(hours=1)) >= calendar.elapsed(early, late)


def test_work_ending_exactly_at_closing_resumes_at_the_next_opening() -> None:
    monday = datetime(2026, 11, 23, 8, 0, tzinfo=LONDON)
    at_close = OFFICE.add(monday, timedelta(hours=12))
    assert at_close == datetime(2026, 11, 23, 20, 0, tzinfo=LONDON)
    assert OFFICE.add(at_close, timedelta(minutes=1)) == datetime(2026, 11, 24, 8, 1,
                                                                  tzinfo=LONDON)
