"""The listening poller: for each declared query that is due, search for the brand, follow the
pages back to the query's cursor, and feed every hit through the same ingest as a webhook
delivery (the inbound queue, deduplicated by message id, then the worker's applied check). A
post that also comes by webhook is therefore stored once, whichever comes first.

A 429 stops the query until the platform's reset; the daily budget and the page limit of one
run stop it until the next run, which resumes from the page it stopped at (domain/listening.py).
The cursor is saved after every page, so a crash costs at most that page read again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from chalicelib.domain.errors import ChannelAuthFailed, NotConfigured, PlatformFailed
from chalicelib.domain.listening import (
    RATE_LIMIT_WAIT,
    CursorConflict,
    ListenCursors,
    ListenState,
    RateLimited,
    RecentSearch,
    counted,
    due,
    spent,
)
from chalicelib.domain.policies import ListeningQuery, Policies

if TYPE_CHECKING:
    from chalicelib.domain.ports import ChannelLog
    from chalicelib.services.ingest import IngestDeps

logger = Logger(child=True)

MAX_PAGES = 10  # per query and run: a burst of posts is read over several runs, not one
# A page of 100 hits is ~200 AWS calls: stop with this much of the invocation left, so the
# cursor is saved at a page boundary and the next run resumes, rather than timing out mid-page.
MIN_SECONDS_LEFT = 8.0


@dataclass(frozen=True)
class ListeningDeps:
    search: Callable[[], RecentSearch]  # built only when a query is due
    cursors: ListenCursors
    ingest: Callable[[], IngestDeps]
    policies: Callable[[], Policies]
    now: Callable[[], datetime]
    max_pages: int = MAX_PAGES
    seconds_left: Callable[[], float] = lambda: float("inf")  # of this invocation


def poll(deps: ListeningDeps) -> dict[str, int]:
    """One run over every declared query; what happened, counted (never any text)."""
    report: Counter[str] = Counter()
    now = deps.now()
    for query in deps.policies().listening:
        if deps.seconds_left() < MIN_SECONDS_LEFT:
            report["out_of_time"] += 1
            break
        try:
            report.update(_poll_query(query, deps, now))
        except CursorConflict:
            report["overlapping_run"] += 1  # another run has this query: leave it to it
        except NotConfigured as error:
            logger.warning("listening: not configured", extra={"error": str(error)})
            report["not_configured"] += 1
            break
        except ChannelAuthFailed as error:
            # The bearer token is wrong or revoked: every query will fail the same way.
            logger.error("listening: X refused the bearer token", extra={"error": str(error)})
            report["auth_failed"] += 1
            break
        except PlatformFailed as error:
            logger.warning("listening: search failed", extra={"query": query.key,
                                                              "error": str(error)})
            report["failed"] += 1
    return dict(report)


def _poll_query(query: ListeningQuery, deps: ListeningDeps, now: datetime) -> Counter[str]:
    report: Counter[str] = Counter()
    state = deps.cursors.load(query.key) or ListenState()
    why_not = due(query, state, now)
    if why_not is not None:
        report[why_not] += 1
        return report
    if state.next_token is None:
        # A new sweep. Without a cursor it reads from where the last one began reading (a
        # sweep stopped by a 429 before its first page keeps its start), else from the last
        # run, else one period back: listening starts now, not a week ago.
        start = None if state.since_id else (
            state.sweep_start or state.last_run or now - query.period)
        state = replace(state, sweep_start=start, sweep_newest=None)
    last_run = state.last_run
    state = replace(state, last_run=now, blocked_until=None)
    search = deps.search()
    for _ in range(deps.max_pages):
        if spent(query, state, now):
            report["budget_spent"] += 1
            break
        if deps.seconds_left() < MIN_SECONDS_LEFT:
            report["out_of_time"] += 1
            break
        first_page = state.next_token is None
        try:
            page = search.search(query, since_id=state.since_id, next_token=state.next_token,
                                 start_time=state.sweep_start)
        except RateLimited as limited:
            # Not a run of the query: it is due again as soon as the limit resets.
            state = deps.cursors.save(query.key, replace(
                counted(state, now), blocked_until=limited.reset_at or now + RATE_LIMIT_WAIT,
                last_run=last_run if first_page else now))
            report["rate_limited"] += 1
            return report
        state = counted(state, now)
        report["requests"] += 1
        if page.events:
            from chalicelib.services.ingest import ingest

            webhook_deps = deps.ingest()
            ingest_deps = replace(webhook_deps, channels=_NotTheWebhook(webhook_deps.channels))
            # Oldest first, as a webhook would have brought them: a reply queued before the
            # post it answers would find no conversation to join.
            for outcome, count in ingest(page.events[::-1], ingest_deps).counts.items():
                report[outcome] += count
        newest = page.newest_id if first_page else state.sweep_newest
        if page.next_token:
            state = deps.cursors.save(query.key, replace(
                state, next_token=page.next_token, sweep_newest=newest))
            continue
        # The sweep reached the cursor: the newest post it saw is where the next one stops.
        state = deps.cursors.save(query.key, replace(
            state, since_id=newest or state.since_id, next_token=None, sweep_newest=None,
            sweep_start=None))
        return report
    # The page limit, the budget or the clock: the next run resumes here. A run that asked
    # nothing is no run of the query: it stays due.
    deps.cursors.save(query.key, state if report["requests"] else replace(
        state, last_run=last_run))
    return report


class _NotTheWebhook:
    """The channel log as the poller's ingest sees it: a post found by searching says nothing
    about the webhook, so it must not count as the platform calling (a silent webhook would
    look alive)."""

    def __init__(self, log: ChannelLog) -> None:
        self.log = log

    def seen(self, channels: Iterable[str]) -> None:
        pass

    def signature(self, channel: str, ok: bool) -> None:
        pass

    def unsigned(self, channel: str) -> None:
        pass

    def problem(self, channel: str, state: str, detail: str) -> None:
        self.log.problem(channel, state, detail)

    def unknown_account(self, channel: str, account_id: str) -> None:
        self.log.unknown_account(channel, account_id)
