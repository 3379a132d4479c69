"""Scheduling due checks into buckets and ringing a bucket."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from chalicelib.domain.timers import AlarmClock, DueCheck, DueChecks, bucket_of

# A bucket this close to ringing is treated as already rung: its execution may be sending now.
_SAFETY = timedelta(seconds=1)


def schedule(checks: Iterable[DueCheck], *, store: DueChecks, clock: AlarmClock,
             resolution: timedelta, now: Callable[[], datetime]) -> list[int]:
    """Put each check in the first bucket at or after its due time that has not rung yet, and
    make sure that bucket's alarm is set. Returns the buckets used."""
    used: list[int] = []
    step = int(resolution.total_seconds())
    for check in checks:
        bucket = max(bucket_of(check.due_at, resolution), bucket_of(now() + _SAFETY, resolution))
        while not store.add(bucket, check):
            bucket += step  # that bucket rang already: the next one will carry it
        if bucket not in used:
            clock.set(bucket)
            used.append(bucket)
    return used


def ring(bucket: int, *, store: DueChecks) -> list[DueCheck]:
    return store.ring(bucket)
