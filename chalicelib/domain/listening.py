"""Listening: searching a platform for the brand where nobody tagged it. Where each query is
(its cursor), whether it is due, and what it may still spend today. Pure: no I/O.

A search sweep reads from the newest post back to the cursor (`since_id`), page by page. Only a
finished sweep moves the cursor, to the newest post its first page saw; a sweep stopped midway
(429, the daily budget, the page limit of one run) keeps its next page and resumes there, so
nothing between the old cursor and the new one is skipped. A post read twice is harmless: the
inbound worker applies each message id once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from chalicelib.domain.events import WebhookEvent
from chalicelib.domain.policies import ListeningQuery

# The scheduled function and the query's period tick on different clocks: a query due "now"
# is not skipped for a run that starts a few seconds early.
EARLY = timedelta(seconds=30)
RATE_LIMIT_WAIT = timedelta(minutes=15)  # X's rate-limit window, when it names no reset


@dataclass(frozen=True)
class ListenState:
    since_id: str | None = None  # the newest post of the last finished sweep
    next_token: str | None = None  # a sweep stopped midway: its next page
    sweep_newest: str | None = None  # that sweep's newest post: the cursor once it finishes
    sweep_start: datetime | None = None  # a first sweep (no cursor) reads from here
    last_run: datetime | None = None
    day: str = ""  # the UTC day `requests` counts
    requests: int = 0
    blocked_until: datetime | None = None  # rate limited: the platform said when to come back
    version: int = 0  # optimistic lock: two overlapping runs never both move the cursor


def due(query: ListeningQuery, state: ListenState, now: datetime) -> str | None:
    """None when the query should search now, else why not."""
    if state.blocked_until is not None and now < state.blocked_until:
        return "rate_limited"
    if state.next_token is None and state.last_run is not None and (
            now + EARLY < state.last_run + query.period):
        return "not_due"
    if spent(query, state, now):
        return "budget_spent"
    return None


def spent(query: ListeningQuery, state: ListenState, now: datetime) -> bool:
    return state.day == now.date().isoformat() and state.requests >= query.daily_requests


def counted(state: ListenState, now: datetime) -> ListenState:
    """One more request today (a new UTC day starts the count again)."""
    today = now.date().isoformat()
    return replace(state, day=today, requests=(state.requests if state.day == today else 0) + 1)


@dataclass(frozen=True)
class SearchPage:
    events: list[WebhookEvent]  # the hits, normalised as a webhook's would be
    newest_id: str | None  # the newest post of the whole result (X: meta.newest_id)
    next_token: str | None  # another page of this result
    result_count: int


class RateLimited(Exception):
    """The platform said 429: come back at `reset_at` (None when it did not say)."""

    def __init__(self, reset_at: datetime | None) -> None:
        super().__init__(f"rate limited until {reset_at.isoformat() if reset_at else '?'}")
        self.reset_at = reset_at


class RecentSearch(Protocol):
    """A platform's search for recent posts (adapters/platforms/x_search.py)."""

    def search(self, query: ListeningQuery, *, since_id: str | None, next_token: str | None,
               start_time: datetime | None) -> SearchPage: ...


class CursorConflict(Exception):
    """Another run saved this query's cursor first: this run leaves the query to it."""


class ListenCursors(Protocol):
    def load(self, key: str) -> ListenState | None: ...

    def save(self, key: str, state: ListenState) -> ListenState:
        """Save if still at `state.version` (CursorConflict otherwise); the saved state, at
        its new version."""
        ...
