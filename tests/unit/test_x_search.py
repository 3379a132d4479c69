"""The recent-search adapter against the stand-in X over HTTP: what it asks, and how each of
X's answers reaches the poller."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters.platforms.x_search import XRecentSearch
from chalicelib.domain.errors import ChannelAuthFailed, NotConfigured, PlatformFailed
from chalicelib.domain.listening import RateLimited
from chalicelib.domain.policies import ListeningQuery
from tests.platform_fake import X_BEARER, FakePlatforms, fake_platforms, snowflake

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
QUERY = ListeningQuery('"scruffy mcgee" -is:retweet', "ScruffyMcG", timedelta(minutes=15), 10)


@pytest.fixture
def x() -> Iterator[FakePlatforms]:
    with fake_platforms() as fake:
        yield fake


def search(x: FakePlatforms, token: str = X_BEARER) -> XRecentSearch:
    return XRecentSearch(lambda: token, x.url, now=lambda: NOW)


def test_the_request_names_the_query_its_fields_and_the_cursor(x: FakePlatforms) -> None:
    x.users["42"] = {"id": "42", "username": "ann"}
    cursor, post_id = snowflake(NOW - timedelta(hours=1)), snowflake(NOW - timedelta(minutes=1))
    x.post(post_id, "scruffy mcgee lost it", "42", "2026-11-24T11:59:00.000Z")
    page = search(x).search(QUERY, since_id=cursor, next_token=None, start_time=NOW)
    [asked] = x.searches()
    assert asked["query"]["query"] == QUERY.query and asked["query"]["since_id"] == cursor
    assert "start_time" not in asked["query"]  # the cursor wins over a start time
    assert asked["headers"]["Authorization"] == f"Bearer {X_BEARER}"
    assert (page.newest_id, page.next_token, page.result_count) == (post_id, None, 1)
    assert [e.message_id for e in page.events] == [post_id]  # type: ignore[union-attr]


def test_a_cursor_or_a_start_older_than_xs_7_days_is_moved_to_the_oldest_it_may_ask(
        x: FakePlatforms) -> None:
    """X refuses (400) a since_id or start_time beyond its 7 days: a poller paused longer
    resumes from there instead of failing every run."""
    old = snowflake(NOW - timedelta(days=8))
    search(x).search(QUERY, since_id=old, next_token=None, start_time=None)
    search(x).search(QUERY, since_id=None, next_token=None,
                     start_time=NOW - timedelta(days=10))
    oldest = (NOW - timedelta(days=7) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for asked in x.searches():
        assert "since_id" not in asked["query"] and asked["query"]["start_time"] == oldest


def test_each_answer_of_x_becomes_what_the_poller_acts_on(x: FakePlatforms) -> None:
    reset = int((NOW + timedelta(minutes=9)).timestamp())
    x.search_failures += [(429, {"x-rate-limit-reset": str(reset)}), (429, {}), (503, {})]
    with pytest.raises(RateLimited) as limited:
        search(x).search(QUERY, since_id=None, next_token=None, start_time=None)
    assert limited.value.reset_at == NOW + timedelta(minutes=9)
    with pytest.raises(RateLimited) as unsaid:
        search(x).search(QUERY, since_id=None, next_token=None, start_time=None)
    assert unsaid.value.reset_at is None
    with pytest.raises(PlatformFailed, match="503"):
        search(x).search(QUERY, since_id=None, next_token=None, start_time=None)
    with pytest.raises(ChannelAuthFailed, match="401"):
        search(x, "a-user-token").search(QUERY, since_id=None, next_token=None, start_time=None)
    with pytest.raises(NotConfigured, match="x_bearer_token"):
        search(x, "").search(QUERY, since_id=None, next_token=None, start_time=None)
    empty = search(x).search(QUERY, since_id=None, next_token=None, start_time=NOW)
    assert (empty.events, empty.newest_id, empty.result_count) == ([], None, 0)
