"""Agents on the running local stack: reply on the platform, the CLI, reports."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import SECRETS, LocalStack, wait_for

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def cli(stack: LocalStack, *args: str, token: str = SECRETS["admin_token"],
        ok: bool = True) -> str:
    result = subprocess.run([sys.executable, "-m", "replywindow_cli", "--api", stack.api,
                             "--token", token, *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=False)
    assert (result.returncode == 0) is ok, result.stderr
    return result.stdout + result.stderr


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


def test_an_agent_sees_the_teams_an_admin_gives_and_no_channel_details(
        stack: LocalStack) -> None:
    agent = f"temp{uuid.uuid4().hex[:6]}"
    created = stack.admin("POST", "/api/agents", json={
        "id": agent, "name": agent, "email": f"{agent}@example.com", "teams": []})
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    assert "of no team" in cli(stack, "inbox", token=token)
    assert "support" in cli(stack, "teams", agent, "support")  # the admin's CLI
    assert "of support" in cli(stack, "inbox", token=token)
    assert "needs the admin token" in cli(stack, "channels", token=token, ok=False)


def test_an_unauthenticated_agent_call_is_refused(stack: LocalStack) -> None:
    assert requests.get(f"{stack.api}/api/conversations", timeout=5).status_code == 401


def test_a_revoked_x_app_pages_the_admin_and_shows_in_the_cli_until_a_reply_works(
        stack: LocalStack) -> None:
    revoke = json.loads((ROOT / "tests" / "fixtures" / "twitter" / "aaa_docs_user_event.json")
                        .read_text())
    assert stack.post_x(revoke).ok

    def admin_sms(prefix: str) -> list[dict[str, Any]]:
        return [d for d in stack.deliveries() if d["protocol"] == "sms"
                and d["to"] == "+15550100003" and d["text"].startswith(prefix)]

    wait_for(lambda: admin_sms("CHANNEL DOWN x: revoked"), timeout=15, what="admin paged")
    assert "revoked" in cli(stack, "channels")
    post = f"31{int(time.time())}7"
    assert stack.post_x({"data": {"filter": {"user_id": "1111111111111111111"},
                                  "event_type": "post.mention.create", "payload": {
                                      "id": post, "author_id": "556", "text": "@ExampleUser hi",
                                      "created_at": datetime.now(UTC).isoformat(),
                                      "entities": {"mentions": [{"id": "1111111111111111111"}]}}}}
                        ).ok
    wait_for(lambda: stack.item(f"CONV#x#t-{post}", "META"), what="stored")
    cli(stack, "reply", f"x.t-{post}", "On it!")  # the reconnected app sends again
    wait_for(lambda: admin_sms("CHANNEL OK x"), timeout=15, what="recovery told")
    time.sleep(2)
    assert len(admin_sms("CHANNEL DOWN x")) == 1 and len(admin_sms("CHANNEL OK x")) == 1
    assert "revoked" not in cli(stack, "channels")


def test_the_cli_acknowledges_an_alert_link(stack: LocalStack) -> None:
    # Given a warning SMS about a Messenger complaint
    page_id, psid = "1000000001", "7101"
    now = int(time.time() * 1000)
    assert stack.post_meta({"object": "page", "entry": [{"id": page_id, "time": now, "messaging": [{
        "sender": {"id": psid}, "recipient": {"id": page_id}, "timestamp": now,
        "message": {"mid": f"m_cli_{now}", "text": "My order is lost, this is awful"}}]}]}).ok
    conv = f"messenger.dm-{page_id}-{psid}"
    warning = wait_for(lambda: [d for d in stack.deliveries() if d["conversation"] == conv
                                and d["level"] == "warning" and d["protocol"] == "sms"],
                       timeout=30, what="warning SMS")
    link = warning[0]["text"].rsplit(" ", 1)[-1]
    # When the agent runs `ack LINK`, the turn is theirs (a GET would only show the page)
    assert "acknowledged" in cli(stack, "ack", link)
    item = stack.item(f"CONV#messenger#dm-{page_id}-{psid}", "META")
    assert item is not None and item["acked_by"]["S"] == "alice"


def test_doctor_shows_dead_letters_alarms_and_the_alarm_clock(stack: LocalStack) -> None:
    out = cli(stack, "doctor")
    for check in ("dead letters: inbound", "dead letters: alerts",
                  "replywindow-dev-alerts-dead-letters", "replywindow-dev-Sweeper-errors",
                  "alarm clock executions", "sms sandbox", "sms spend this month",
                  "All clear."):
        assert check in out, out
    sqs = stack.client("sqs")
    dlq = sqs.get_queue_url(QueueName="replywindow-dev-alerts-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"bucket": 1}))
    try:
        out = cli(stack, "doctor")
        assert "1 waiting" in out
        assert "Needs attention: dead letters: alerts" in " ".join(out.split()), out
    finally:
        sqs.purge_queue(QueueUrl=dlq)
    assert "needs the admin token" in cli(stack, "doctor", token="nope", ok=False)
