"""Listening on the running local stack: the scheduled poller searches the stand-in X every
few seconds (tests/fixtures/policies/seconds.yaml), and Meta's mention fields come by webhook.
A complaint that never tagged the brand reaches the inbox and its warning SMS on time."""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.e2e.conftest import LocalStack, wait_for
from tests.platform_fake import snowflake
from tests.unit.webhooks.conftest import fixture

pytestmark = pytest.mark.e2e


def _inbox_row(stack: LocalStack, conversation: str, team: str) -> dict[str, Any]:
    def row() -> dict[str, Any] | None:
        listed = stack.admin("GET", f"/api/conversations?team={team}").json()
        return next((c for c in listed["conversations"] if c["id"] == conversation), None)

    found: dict[str, Any] = wait_for(row, timeout=30, what=f"{conversation} in the inbox")
    return found


def _warning(stack: LocalStack, conversation: str) -> dict[str, Any]:
    found: dict[str, Any] = wait_for(lambda: next(
        (d for d in stack.deliveries() if d["conversation"] == conversation
         and d["level"] == "warning" and d["protocol"] == "sms"), None),
        timeout=40, what=f"warning SMS for {conversation}")
    return found


def test_an_untagged_complaint_found_by_listening_reaches_the_inbox_and_its_warning_sms(
        stack: LocalStack) -> None:
    x = stack.platforms
    x.users["7700"] = {"id": "7700", "username": "unhappy_ann", "name": "Ann",
                       "public_metrics": {"followers_count": 5400}}
    posted = datetime.now(UTC)
    post_id = snowflake(posted, 7701)
    x.post(post_id, "Scruffy McGee lost my parcel AGAIN. Never ordering from them.", "7700",
           posted.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z")
    conversation = f"x.t-{post_id}"
    row = _inbox_row(stack, conversation, "social")  # X is the social team's (seconds.yaml)
    assert row["found_by_listening"] is True and row["customer"]["handle"] == "unhappy_ann"
    warning = _warning(stack, conversation)
    assert "(found by listening)" in warning["text"] and len(warning["text"]) <= 160
    # On time: a few seconds of polling (every 3 s) plus the window's warning point.
    assert (datetime.now(UTC) - posted).total_seconds() < 30
    searched = [r for r in x.searches() if r["headers"].get("Authorization") ==
                "Bearer x-app-bearer-token"]
    assert searched and all(r["query"]["query"] == "scruffy -is:retweet" for r in searched)


def test_an_instagram_mention_and_a_page_mention_reach_the_inbox_and_their_warnings(
        stack: LocalStack) -> None:
    stamp = int(time.time())
    ig = copy.deepcopy(fixture("instagram/restfb_ig_mentions.json"))
    ig["entry"][0]["changes"][0]["value"] = {"comment_id": f"{stamp}01", "media_id":
                                             f"{stamp}02"}
    page = copy.deepcopy(fixture("facebook/restfb_mention_post_add.json"))
    page["entry"][0]["changes"][0]["value"].update(
        post_id=f"1234567890321_{stamp}03", created_time=stamp,
        message="Scruffy McGee broke my sofa and nobody answers")
    assert stack.post_meta(ig).ok and stack.post_meta(page).ok
    for conversation in (f"instagram.mention-{stamp}02_{stamp}01",
                         f"facebook.p-1234567890321_{stamp}03"):
        assert _inbox_row(stack, conversation, "support")["found_by_listening"] is True
        assert "(found by listening)" in _warning(stack, conversation)["text"]
