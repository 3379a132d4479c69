"""Agents on the running local stack: reply on the platform, the CLI, reports."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import SECRETS, LocalStack, wait_for

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def cli(stack: LocalStack, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "replywindow_cli", "--api", stack.api,
                             "--token", SECRETS["admin_token"], *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_an_agent_reply_to_an_x_mention_reaches_x_signed_and_stops_the_clock(
        stack: LocalStack) -> None:
    post = f"30{int(time.time())}7"
    payload = {"data": {"filter": {"user_id": "1111111111111111111"},
                        "event_type": "post.mention.create", "payload": {
                            "id": post, "author_id": "555", "text": "@ExampleUser help",
                            "created_at": datetime.now(UTC).isoformat(),
                            "entities": {"mentions": [{"id": "1111111111111111111"}]}}}}
    assert stack.post_x(payload).ok
    conv = f"x.t-{post}"
    wait_for(lambda: stack.item(f"CONV#x#t-{post}", "META"), what="stored")
    before = len(stack.platforms.requests)
    out = cli(stack, "reply", conv, "Sorry to hear that, DM us?")
    assert "public_reply" in out and "awaiting_customer" in out
    sent = stack.platforms.requests[before]
    assert sent["path"] == "/2/tweets"
    assert sent["oauth_valid"] is True
    assert sent["json"]["reply"] == {"in_reply_to_tweet_id": post}
    # No alert ever fires for an answered turn.
    time.sleep(8)
    assert [d for d in stack.deliveries() if d["conversation"] == conv] == []


def test_the_cli_shows_inbox_on_call_and_report(stack: LocalStack) -> None:
    psid = uuid.uuid4().hex[:8]
    body = {"object": "page", "entry": [{"id": "1000000001", "time": 1, "messaging": [{
        "sender": {"id": psid}, "recipient": {"id": "1000000001"},
        "timestamp": int(time.time() * 1000), "message": {"mid": f"m_{psid}",
                                                          "text": "refund please"}}]}]}
    assert stack.post_meta(body).ok
    wait_for(lambda: (i := stack.item(f"CONV#messenger#dm-1000000001-{psid}", "META"))
             and "priority" in i, what="triaged")
    inbox = cli(stack, "inbox")
    assert "Inbox (awaiting_agent)" in inbox
    assert "primary alice" in cli(stack, "oncall") or "primary bob" in cli(stack, "oncall")
    report = cli(stack, "report")
    assert "overall" in report and "fairness gap" in report


def test_an_unauthenticated_agent_call_is_refused(stack: LocalStack) -> None:
    assert requests.get(f"{stack.api}/api/conversations", timeout=5).status_code == 401
