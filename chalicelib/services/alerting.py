"""Ringing a bucket: every due check in it becomes an alert to whoever is on call now."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.timers import DueChecks
from chalicelib.services import alarm


@dataclass(frozen=True)
class AlertingDeps:
    due_checks: DueChecks


def ring_bucket(bucket: int, deps: AlertingDeps) -> int:
    """Returns how many checks the bucket held."""
    checks = alarm.ring(bucket, store=deps.due_checks)
    return len(checks)
