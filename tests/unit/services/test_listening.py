"""The listening poller with in-memory fakes: X's recent search is the stand-in's own search
logic (tests/platform_fake.py) run without HTTP, each hit goes through the real ingest into a
fake store and queue."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.errors import ChannelAuthFailed
from chalicelib.domain.listening import RateLimited, SearchPage
from chalicelib.domain.policies import ListeningQuery, Policies, parse_policies
from chalicelib.services.ingest import IngestDeps, ingest
from chalicelib.services.listening import ListeningDeps, poll
from chalicelib.webhooks.x_parser import parse_search
from tests.fakes import FakeChannelLog, FakeListenCursors, FakeQueue
from tests.platform_fake import FakePlatforms, _search
from tests.unit.domain.test_policies import MINIMAL

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
BASE = MINIMAL + """listening:
  - {query: '"scruffy mcgee" -is:retweet', account: ScruffyHelp, period_minutes: 15,
     daily_requests: %d}
"""


def policies(budget: int = 100) -> Policies:
    return parse_policies(BASE % budget)


@dataclass
class StandInSearch:
    """RecentSearch over the stand-in X's search (no HTTP): what it was asked, answered with
    the real parser."""

    x: FakePlatforms
    now: datetime
    asked: list[dict[str, str]] = field(default_factory=list)
    rate_limited_until: datetime | None = None

    def search(self, query: ListeningQuery, *, since_id: str | None, next_token: str | None,
               start_time: datetime | None) -> SearchPage:
        params = {"query": query.query, "max_results": "100"}
        if since_id:
            params["since_id"] = since_id
        elif start_time:
            params["start_time"] = start_time.strftime("%Y-%m-%dT%H:%M:%SZ")
        if next_token:
            params["next_token"] = next_token
        self.asked.append(params)
        if self.rate_limited_until:
            raise RateLimited(self.rate_limited_until)
        body = _search(self.x, params)
        meta: dict[str, Any] = body["meta"]
        return SearchPage(parse_search(body, query.account, self.now), meta.get("newest_id"),
                          meta.get("next_token"), meta["result_count"])


@dataclass
class World:
    x: FakePlatforms = field(default_factory=FakePlatforms)
    queue: FakeQueue = field(default_factory=FakeQueue)
    channels: FakeChannelLog = field(default_factory=FakeChannelLog)
    cursors: FakeListenCursors = field(default_factory=FakeListenCursors)
    now: datetime = T0
    budget: int = 100
    page_size: int | None = None  # smaller pages than max_results, to make pagination happen
    search: StandInSearch | None = None

    def __post_init__(self) -> None:
        self.x.page_size = self.page_size
        self.x.users["42"] = {"id": "42", "username": "ann", "name": "Ann",
                              "public_metrics": {"followers_count": 1200}}
        self.search = StandInSearch(self.x, self.now)

    def ingest_deps(self) -> IngestDeps:
        return IngestDeps(queue=self.queue, now=lambda: self.now,
                          channels=self.channels)

    def run(self, at: datetime | None = None) -> dict[str, int]:
        if at is not None:
            self.now = at
        assert self.search is not None
        self.search.now = self.now
        search = self.search
        return poll(ListeningDeps(search=lambda: search, cursors=self.cursors,
                                  ingest=self.ingest_deps, policies=lambda: policies(self.budget),
                                  now=lambda: self.now, max_pages=5))

    def tweet(self, post_id: int, at: datetime, text: str = "scruffy mcgee lost my parcel"
              ) -> None:
        self.x.post(str(post_id), text, "42", at.strftime("%Y-%m-%dT%H:%M:%S.000Z"))

    def tweets(self, first: int, count: int, start: datetime) -> None:
        """`count` posts with ids from `first`, a minute apart from `start`, oldest first."""
        for i in range(count):
            self.tweet(first + i, start + timedelta(minutes=i))

    def queued(self) -> list[str]:
        return [dedupe for _, dedupe, _ in self.queue.sent]

    def cursor(self) -> Any:
        return self.cursors.states[policies().listening[0].key]


def test_a_first_run_reads_only_since_its_period_and_queues_each_hit_as_found_by_listening(
) -> None:
    world = World()
    world.tweet(100, T0 - timedelta(days=2))  # before listening began: not a new complaint
    world.tweet(101, T0 - timedelta(minutes=3))
    report = world.run()
    assert world.search and world.search.asked[0]["start_time"] == "2026-11-24T11:45:00Z"
    assert report == {"requests": 1, "accepted": 1}
    assert world.queued() == ["x:101"]
    event = world.queue.sent[0][2]["event"]
    assert event["found_by_listening"] is True and event["summoned"] is False
    assert event["brand_id"] == "ScruffyHelp" and event["customer"]["handle"] == "ann"
    assert world.cursor().since_id == "101"
    # The poller's hits are not the platform calling: a silent webhook stays silent.
    assert ("seen", "x") not in world.channels.traces


def test_pages_are_followed_back_to_the_cursor_and_the_next_sweep_starts_after_the_newest(
) -> None:
    world = World(page_size=2)
    world.tweets(200, 5, T0 - timedelta(minutes=10))
    assert world.run()["accepted"] == 5
    assert world.search and len(world.search.asked) == 3
    assert [a.get("next_token") for a in world.search.asked] == [None, "nt-2", "nt-4"]
    assert world.cursor().since_id == "204" and world.cursor().next_token is None
    # Not due again before its period; then only what is newer than the cursor.
    assert world.run(T0 + timedelta(minutes=5)) == {"not_due": 1}
    world.tweet(205, T0 + timedelta(minutes=12))
    assert world.run(T0 + timedelta(minutes=15))["accepted"] == 1
    assert world.search.asked[-1]["since_id"] == "204"
    # Each page is queued oldest first, as a webhook would have brought its posts.
    assert world.queued() == ["x:203", "x:204", "x:201", "x:202", "x:200", "x:205"]


def test_an_empty_result_keeps_the_cursor_and_costs_one_request() -> None:
    world = World()
    assert world.run() == {"requests": 1}
    assert world.cursor().since_id is None
    world.tweet(300, T0 + timedelta(minutes=10))
    assert world.run(T0 + timedelta(minutes=15))["accepted"] == 1
    # No cursor yet: the second sweep read from the first one's run, not a week back.
    assert world.search and world.search.asked[-1]["start_time"] == "2026-11-24T12:00:00Z"


def test_a_429_stops_the_query_until_the_reset_and_the_sweep_resumes_where_it_stopped(
) -> None:
    world = World(page_size=1)
    world.tweets(400, 3, T0 - timedelta(minutes=5))
    assert world.search
    world.run()  # 5 pages allowed, 3 posts: done
    world.tweet(403, T0 + timedelta(minutes=1))
    world.tweet(404, T0 + timedelta(minutes=2))
    world.search.rate_limited_until = T0 + timedelta(minutes=40)
    assert world.run(T0 + timedelta(minutes=15)) == {"rate_limited": 1}
    assert world.cursor().blocked_until == T0 + timedelta(minutes=40)
    world.search.rate_limited_until = None
    asked = len(world.search.asked)
    assert world.run(T0 + timedelta(minutes=30)) == {"rate_limited": 1}  # waits, asks nothing
    assert len(world.search.asked) == asked
    report = world.run(T0 + timedelta(minutes=41))
    assert report["accepted"] == 2 and world.cursor().since_id == "404"
    assert world.cursor().blocked_until is None


def test_the_daily_budget_stops_a_sweep_midway_and_the_next_day_resumes_its_pages() -> None:
    world = World(budget=2, page_size=1)
    world.tweets(500, 4, T0 - timedelta(minutes=8))
    report = world.run()
    assert report["requests"] == 2 and report["accepted"] == 2 and report["budget_spent"] == 1
    assert world.cursor().since_id is None and world.cursor().next_token == "nt-2"
    assert world.run(T0 + timedelta(hours=3)) == {"budget_spent": 1}
    tomorrow = T0 + timedelta(days=1)
    report = world.run(tomorrow)
    assert report["accepted"] == 2
    # The sweep that finished moves the cursor to the newest post its FIRST page saw.
    assert world.cursor().since_id == "503" and world.cursor().requests == 2
    assert sorted(world.queued()) == [f"x:{500 + i}" for i in range(4)]


def test_a_post_also_delivered_by_webhook_is_stored_once_whichever_comes_first() -> None:
    world = World()
    world.tweet(600, T0 - timedelta(minutes=2))
    webhook_copy = parse_search(_search(world.x, {"max_results": "10"}), "ScruffyHelp", T0)
    ingest(webhook_copy, world.ingest_deps())  # the webhook had it first
    assert world.run()["accepted"] == 1  # sent again: the queue's deduplication id drops it
    assert world.queued() == ["x:600"]


def test_a_mention_of_the_account_allows_a_public_reply() -> None:
    world = World()
    world.tweet(700, T0 - timedelta(minutes=1), text="@scruffyhelp where is my parcel")
    world.tweet(701, T0 - timedelta(minutes=1), text="me@scruffyhelp.com bounced")
    world.run()
    summoned = {body["event"]["message_id"]: body["event"]["summoned"]
                for _, _, body in world.queue.sent}
    assert summoned == {"700": True, "701": False}


def test_a_refused_bearer_token_stops_the_run_and_says_so() -> None:
    class Refusing:
        def search(self, *args: Any, **kwargs: Any) -> SearchPage:
            raise ChannelAuthFailed("x", "search refused the bearer token (401)")

    world = World()
    report = poll(ListeningDeps(search=lambda: Refusing(), cursors=world.cursors,
                                ingest=world.ingest_deps, policies=policies,
                                now=lambda: T0))
    assert report == {"auth_failed": 1}


def test_nothing_declared_searches_nothing() -> None:
    world = World()

    def no_search() -> Any:
        pytest.fail("no query: no search")

    deps = ListeningDeps(search=no_search, cursors=world.cursors, ingest=world.ingest_deps,
                         policies=lambda: parse_policies(BASE.split("listening:")[0]),
                         now=lambda: T0)
    assert poll(deps) == {}


def test_a_run_near_its_timeout_stops_between_pages_and_the_next_resumes() -> None:
    world = World(page_size=1)
    world.tweets(800, 3, T0 - timedelta(minutes=3))
    left = iter([60.0, 60.0, 60.0, 5.0])  # the query, page 1, page 2, then too little

    search = world.search
    assert search is not None
    deps = ListeningDeps(search=lambda: search, cursors=world.cursors,
                         ingest=world.ingest_deps, policies=policies, now=lambda: T0,
                         seconds_left=lambda: next(left, 5.0))
    report = poll(deps)
    assert report == {"requests": 2, "accepted": 2, "out_of_time": 1}
    assert world.cursor().next_token == "nt-2"
    assert world.run(T0 + timedelta(minutes=1))["accepted"] == 1
    assert world.cursor().since_id == "802"


def test_a_run_that_asked_nothing_leaves_the_query_due() -> None:
    world = World()
    world.tweet(900, T0 - timedelta(minutes=1))
    search = world.search
    assert search is not None
    left = iter([60.0, 5.0])  # time for the query's turn, none for its first request
    poll(ListeningDeps(search=lambda: search, cursors=world.cursors, ingest=world.ingest_deps,
                       policies=policies, now=lambda: T0,
                       seconds_left=lambda: next(left, 5.0)))
    assert search.asked == []
    assert world.run(T0 + timedelta(minutes=1))["accepted"] == 1  # not "not_due"
