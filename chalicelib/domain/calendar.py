"""Business-hours calendars: the SLA clock runs only while the team is open.

Opening hours are wall-clock times in the calendar's time zone, so a DST change moves them with
the local clock; holidays are whole local days off. "24x7" is plain elapsed time. Work is
counted interval by interval (at most one or two per day), never minute by minute.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^(?P<days>[a-z]{3}(?:-[a-z]{3})?(?:,[a-z]{3}(?:-[a-z]{3})?)*)\s+"
                    r"(?P<start>\d{2}:\d{2})-(?P<end>\d{2}:\d{2})$")
_MAX_DAYS = 366 * 3  # a window this far out means the calendar is never open: refuse


class CalendarError(ValueError):
    pass


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("business calendars need timezone-aware datetimes")
    return at.astimezone(UTC)


def _clock(text: str) -> time:
    hours, minutes = (int(p) for p in text.split(":"))
    if hours == 24 and minutes == 0:
        return time.max
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise CalendarError(f"{text}: not a time of day")
    return time(hours, minutes)


def _days(spec: str) -> set[int]:
    days: set[int] = set()
    for part in spec.split(","):
        first, _, last = part.partition("-")
        if first not in _DAYS or (last and last not in _DAYS):
            raise CalendarError(f"{part}: days are mon, tue, wed, thu, fri, sat, sun")
        a, b = _DAYS.index(first), _DAYS.index(last or first)
        if b < a:
            raise CalendarError(f"{part}: a day range runs forward (e.g. mon-fri)")
        days.update(range(a, b + 1))
    return days


@dataclass(frozen=True)
class BusinessCalendar:
    timezone: str = "UTC"
    # weekday (0 = Monday) -> opening intervals as (start, end) local times, end exclusive
    hours: dict[int, tuple[tuple[time, time], ...]] | None = None  # None: 24x7
    holidays: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, timezone: str = "UTC", hours: str | Sequence[str] = "24x7",
              holidays: Sequence[date | str] = ()) -> BusinessCalendar:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise CalendarError(f"{timezone}: unknown time zone") from error
        days_off = frozenset(d if isinstance(d, date) else date.fromisoformat(str(d))
                             for d in holidays)
        specs = [hours] if isinstance(hours, str) else list(hours)
        if specs == ["24x7"] and not days_off:
            return cls(timezone=timezone)
        table: dict[int, list[tuple[time, time]]] = {d: [] for d in range(7)}
        for spec in specs:
            if spec == "24x7":
                for d in range(7):
                    table[d].append((time(0, 0), time.max))
                continue
            match = _RANGE.match(spec.strip().lower())
            if not match:
                raise CalendarError(f"{spec!r}: expected e.g. 'mon-fri 08:00-20:00' or '24x7'")
            start, end = _clock(match["start"]), _clock(match["end"])
            if end <= start:
                raise CalendarError(f"{spec!r}: overnight ranges are not supported; "
                                    "split them at midnight")
            for d in _days(match["days"]):
                table[d].append((start, end))
        if not any(table.values()):
            raise CalendarError("the calendar is never open")
        return cls(timezone=timezone, holidays=days_off,
                   hours={d: tuple(sorted(v)) for d, v in table.items()})

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def _open_intervals(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Opening intervals (UTC-comparable aware datetimes) from the local day of `start`."""
        assert self.hours is not None
        zone = self.zone
        day = start.astimezone(zone).date()
        for offset in range(_MAX_DAYS):
            current = day + timedelta(days=offset)
            if current in self.holidays:
                continue
            for opens, closes in self.hours[current.weekday()]:
                begin = datetime.combine(current, opens, zone)
                end = (datetime.combine(current + timedelta(days=1), time(0, 0), zone)
                       if closes == time.max else datetime.combine(current, closes, zone))
                # Same-zone datetimes compare and subtract as wall clocks (ignoring DST):
                # hand out UTC so every sum below is real elapsed time.
                yield begin.astimezone(UTC), end.astimezone(UTC)
        raise CalendarError("no opening hours within three years")

    def add(self, start: datetime, work: timedelta) -> datetime:
        """When `work` of business time has passed after `start`."""
        start = _aware(start)
        if work < timedelta(0):
            raise ValueError("work must not be negative")
        if self.hours is None:
            return start + work
        left = work
        for begin, end in self._open_intervals(start):
            if end < start:
                continue
            begin = max(begin, start)
            span = end - begin
            if left <= span:
                return begin + left
            left -= span
        raise CalendarError("unreachable")  # pragma: no cover

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Business time between two instants (zero if `end` is not after `start`)."""
        start, end = _aware(start), _aware(end)
        if end <= start:
            return timedelta(0)
        if self.hours is None:
            return end - start
        total = timedelta(0)
        for begin, close in self._open_intervals(start):
            if begin >= end:
                break
            lo, hi = max(begin, start), min(close, end)
            if hi > lo:
                total += hi - lo
        return total

    def is_open(self, at: datetime) -> bool:
        at = _aware(at)
        if self.hours is None:
            return True
        for begin, end in self._open_intervals(at - timedelta(days=1)):
            if begin > at:
                return False
            if begin <= at < end:
                return True
        return False
