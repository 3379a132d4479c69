"""Due checks and the alarm clock's time buckets (docs/architecture.md#alarm-clock).

A turn's warning, breach and escalation are due checks. Each goes into the time bucket that
rings at or after its due time; one Step Functions execution per bucket rings them all, so the
cost does not grow with the number of conversations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol


@dataclass(frozen=True, order=True)
class DueCheck:
    conversation: str  # conversation id, e.g. "x.t-1234"
    turn: int
    level: str  # warning | breach | escalation
    due_at: datetime

    @property
    def key(self) -> str:
        return f"{self.conversation}#{self.turn}#{self.level}"


def bucket_of(at: datetime, resolution: timedelta) -> int:
    """Epoch second of the bucket ringing at or after `at`: an alert is at most one bucket late."""
    step = int(resolution.total_seconds())
    return math.ceil(at.timestamp() / step) * step


def bucket_time(bucket: int) -> datetime:
    return datetime.fromtimestamp(bucket, UTC)


class DueChecks(Protocol):
    """Where due checks wait for their bucket (port)."""

    def add(self, bucket: int, check: DueCheck) -> bool:
        """Store the check in the bucket; False if that bucket may already have rung without
        it (the caller then files it in a later bucket as well)."""
        ...

    def ring(self, bucket: int) -> list[DueCheck]:
        """Mark the bucket rung, then return every check in it: a check added before the mark
        is returned here, one added after is reported by `add` (so none is lost to the race)."""
        ...

    def done(self, bucket: int) -> None:
        """Every check the bucket's ring returned was handled."""
        ...

    def unfinished(self, bucket: int) -> list[DueCheck]:
        """The bucket's checks if it was never finished (it never rang, or its ring failed:
        the alarm clock lost it, or its queue record was dead-lettered); [] otherwise."""
        ...


class AlarmClock(Protocol):
    """The per-bucket alarm (port): setting the same bucket twice is harmless."""

    def set(self, bucket: int) -> None: ...
