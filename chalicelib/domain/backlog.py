"""Holding an alert while its answer may still be in our own inbound queue (pure).

The ring's last look (is the turn still open?) sees only what the inbound worker has applied.
While messages wait in the inbound queue that no worker has picked up yet (a burst, a worker
behind), one of them may be the answer that closes the turn: paging now would wake an agent
for a turn already answered. So a check that would page is held while that backlog lasts, but
never longer than `hold` past its due time: after that it pages whatever the backlog (a stuck
worker must not silence alerts; the inbound-oldest-message alarm tells the admins about it).
"""

from __future__ import annotations

from datetime import datetime, timedelta

# The policy file's `alert_hold` when it says nothing: long enough for a burst to drain, short
# against any response window (a warning at 75% of 15 minutes still leaves minutes).
DEFAULT_ALERT_HOLD = timedelta(seconds=60)


def hold_until(due_at: datetime, hold: timedelta) -> datetime:
    """The latest a check due at `due_at` may be held."""
    return due_at + hold


def holds(due_at: datetime, now: datetime, backlog: int, hold: timedelta) -> bool:
    """Whether a check that would page is held now: messages wait unread in the inbound queue
    and its hold has not run out."""
    return backlog > 0 and now < hold_until(due_at, hold)
