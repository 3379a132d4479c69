"""X's recent search (`GET /2/tweets/search/recent`) for the listening poller: the only place
that knows its HTTP. App-only auth: the bearer token of the app (`x_bearer_token` in the
platform secret), never a user's token, so listening spends no account's user-context limits.

A read is safe to repeat, so unlike a reply a failure here is only "try again next run": a 429
tells the poller when (`x-rate-limit-reset`, epoch seconds), anything else is PlatformFailed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from chalicelib.domain.errors import ChannelAuthFailed, NotConfigured, PlatformFailed
from chalicelib.domain.listening import RateLimited, SearchPage
from chalicelib.domain.policies import ListeningQuery
from chalicelib.webhooks.x_parser import parse_search

PATH = "/2/tweets/search/recent"
MAX_RESULTS = 100  # the most X returns per request: fewest requests for a burst
TWEET_FIELDS = ("created_at,author_id,conversation_id,in_reply_to_user_id,referenced_tweets,"
                "entities")
USER_FIELDS = "public_metrics,username,name"
TIMEOUT = (3.05, 10.0)
# Recent search reaches 7 days back and refuses a since_id or start_time beyond that (400):
# a poller paused longer (a budget, an outage) resumes from the oldest moment it may ask for.
WINDOW = timedelta(days=7) - timedelta(minutes=5)
_SNOWFLAKE_EPOCH_MS = 1288834974657  # X ids carry their creation time (ms) above bit 22


class XRecentSearch:
    def __init__(self, bearer: Callable[[], str], base_url: str, *,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 session: requests.Session | None = None) -> None:
        self.bearer = bearer
        self.url = base_url.rstrip("/") + PATH
        self.now = now
        self.session = session or requests.Session()

    def search(self, query: ListeningQuery, *, since_id: str | None, next_token: str | None,
               start_time: datetime | None) -> SearchPage:
        token = self.bearer()
        if not token:
            raise NotConfigured("X listening is not configured: set x_bearer_token in the "
                                "platform secret")
        params: dict[str, Any] = {
            "query": query.query, "max_results": MAX_RESULTS, "tweet.fields": TWEET_FIELDS,
            "expansions": "author_id", "user.fields": USER_FIELDS}
        oldest = self.now() - WINDOW
        if since_id and _created(since_id) < oldest:
            since_id, start_time = None, oldest  # the cursor fell out of X's window
        if since_id:
            params["since_id"] = since_id
        elif start_time is not None:
            params["start_time"] = max(start_time, oldest).astimezone(UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ")
        if next_token:
            params["next_token"] = next_token
        try:
            response = self.session.get(self.url, params=params, timeout=TIMEOUT,
                                        headers={"Authorization": f"Bearer {token}"})
        except requests.RequestException as error:
            raise PlatformFailed("x", f"search unreachable ({type(error).__name__})") from error
        if response.status_code == 429:
            raise RateLimited(_reset(response.headers.get("x-rate-limit-reset")))
        if response.status_code in (401, 403):
            raise ChannelAuthFailed("x", f"search refused the bearer token "
                                         f"({response.status_code}): {_detail(response)}")
        if not response.ok:
            raise PlatformFailed("x", f"search answered {response.status_code}: "
                                      f"{_detail(response)}")
        try:
            body = response.json()
        except ValueError as error:
            raise PlatformFailed("x", "search answered something that is not JSON") from error
        if not isinstance(body, dict):
            raise PlatformFailed("x", "search answered something that is not an object")
        meta: dict[str, Any] = body["meta"] if isinstance(body.get("meta"), dict) else {}
        try:
            events = parse_search(body, query.account, self.now(), query.account_id)
        except (ValueError, TypeError) as error:  # MalformedPayload is a ValueError
            raise PlatformFailed("x", f"search answered an unexpected shape: {error}") from error
        count = meta.get("result_count")
        return SearchPage(events=events, newest_id=_id(meta.get("newest_id")),
                          next_token=_id(meta.get("next_token")),
                          result_count=count if isinstance(count, int) else len(events))


def _created(post_id: str) -> datetime:
    """When X made a post id (ids are snowflakes: milliseconds since X's epoch, shifted)."""
    try:
        return datetime.fromtimestamp(((int(post_id) >> 22) + _SNOWFLAKE_EPOCH_MS) / 1000, UTC)
    except ValueError:
        return datetime.max.replace(tzinfo=UTC)  # not a snowflake: leave it to X


def _reset(value: str | None) -> datetime | None:
    if value and value.isdigit():
        return datetime.fromtimestamp(int(value), UTC)
    return None


def _id(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _detail(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason or ""
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or "")[:200]
    return ""
