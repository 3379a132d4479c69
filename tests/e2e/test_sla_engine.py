"""The SLA engine on the running local stack, with windows of seconds
(tests/fixtures/policies/seconds.yaml): a complaint is warned about, breached and escalated on
time; an answer or an acknowledgement stops what it should."""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from tests.e2e.conftest import LocalStack, wait_for

pytestmark = pytest.mark.e2e

PAGE_ID = "1000000001"


def messenger(psid: str, text: str, *, echo: bool = False) -> dict[str, Any]:
    mid = f"m_{uuid.uuid4().hex}"
    sender, recipient = (PAGE_ID, psid) if echo else (psid, PAGE_ID)
    message: dict[str, Any] = {"mid": mid, "text": text}
    if echo:
        message["is_echo"] = True
    return {"object": "page", "entry": [{"id": PAGE_ID, "time": int(time.time() * 1000),
                                         "messaging": [{
                                             "sender": {"id": sender},
                                             "recipient": {"id": recipient},
                                             "timestamp": int(time.time() * 1000),
                                             "message": message}]}]}


def conversation(stack: LocalStack, psid: str) -> dict[str, Any]:
    item = wait_for(lambda: (i := stack.item(f"CONV#messenger#dm-{PAGE_ID}-{psid}", "META"))
                    and "due_at" in i and i, what="triaged conversation")
    return {k: next(iter(v.values())) for k, v in item.items()}


def alerts_for(stack: LocalStack, psid: str) -> list[dict[str, Any]]:
    conv_id = f"messenger.dm-{PAGE_ID}-{psid}"
    return [d for d in stack.deliveries() if d["conversation"] == conv_id]


def sms(deliveries: list[dict[str, Any]], level: str) -> list[dict[str, Any]]:
    return [d for d in deliveries if d["level"] == level and d["protocol"] == "sms"]


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_an_unanswered_complaint_is_warned_breached_then_escalated_on_time(
        stack: LocalStack) -> None:
    psid = "7001"
    assert stack.post_meta(messenger(psid, "My refund never arrived, this is awful")).ok
    conv = conversation(stack, psid)
    warn_at, due_at = _at(conv["warn_at"]), _at(conv["due_at"])
    resolution = 1.0  # timer_resolution in seconds.yaml

    warning = wait_for(lambda: sms(alerts_for(stack, psid), "warning"), timeout=30,
                       what="warning SMS")
    seen_at = datetime.now(UTC)
    assert (seen_at - warn_at).total_seconds() <= resolution + 2 + 0.5  # polling slack
    assert [d["to"] for d in warning] == ["+15550100001"]  # the primary only
    assert len(warning[0]["text"]) <= 160 and "/ack/" in warning[0]["text"]

    # Primary and secondary: two publishes, a moment apart.
    breach = wait_for(lambda: len(b := sms(alerts_for(stack, psid), "breach")) >= 2 and b,
                      timeout=30, what="breach SMS to both")
    assert sorted(d["to"] for d in breach) == ["+15550100001", "+15550100002"]
    assert datetime.now(UTC) >= due_at
    escalation = wait_for(lambda: sms(alerts_for(stack, psid), "escalation"), timeout=30,
                          what="escalation SMS")
    assert [d["to"] for d in escalation] == ["+15550100003"]  # the lead
    # Email goes to the same people with the conversation's latest messages.
    emails = [d for d in alerts_for(stack, psid) if d["protocol"] == "email"]
    assert {d["to"] for d in emails} == {"alice@example.com", "bob@example.com",
                                         "dana@example.com"}


def test_an_echo_reply_before_the_warning_means_no_alert_at_all(stack: LocalStack) -> None:
    psid = "7002"
    assert stack.post_meta(messenger(psid, "Where is my parcel? Not happy")).ok
    conv = conversation(stack, psid)
    assert stack.post_meta(messenger(psid, "Sorry! It ships today.", echo=True)).ok
    item = wait_for(lambda: (i := stack.item(f"CONV#messenger#dm-{PAGE_ID}-{psid}", "META"))
                    and i["status"]["S"] == "awaiting_customer", what="answered")
    assert item
    # Wait past the escalation point: nothing may have been sent about this conversation.
    escalate_at = _at(conv["escalate_at"])
    time.sleep(max(0.0, (escalate_at - datetime.now(UTC)).total_seconds()) + 3)
    assert alerts_for(stack, psid) == []


def test_an_acknowledgement_stops_the_breach_and_the_escalation(stack: LocalStack) -> None:
    psid = "7003"
    assert stack.post_meta(messenger(psid, "Your app is down and I can't log in")).ok
    conv = conversation(stack, psid)
    warning = wait_for(lambda: sms(alerts_for(stack, psid), "warning"), timeout=30,
                       what="warning SMS")
    link = re.search(r"https?://\S+/ack/\S+", warning[0]["text"])
    assert link is not None
    page = requests.get(link.group(0), timeout=10)  # opening it shows the alert
    assert page.status_code == 200 and ">Acknowledge</button>" in page.text
    done = requests.post(link.group(0), data=b"", timeout=10, headers={  # the page's button
        "Content-Type": "application/x-www-form-urlencoded"})
    assert done.status_code == 200 and "Acknowledged" in done.text
    assert ">Acknowledge</button>" not in done.text  # nothing left to press
    escalate_at = _at(conv["escalate_at"])
    time.sleep(max(0.0, (escalate_at - datetime.now(UTC)).total_seconds()) + 3)
    assert sms(alerts_for(stack, psid), "breach") == []
    assert sms(alerts_for(stack, psid), "escalation") == []
    item = stack.item(f"CONV#messenger#dm-{PAGE_ID}-{psid}", "META")
    assert item is not None and item["acked_by"]["S"] == "alice"


BROWSER = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/124.0 Mobile Safari/537.36")
SCANNERS = ("Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0; Pro)",  # Safe Links
            "Mozilla/5.0 (compatible; proofpoint-urldefense)",
            "WhatsApp/2.23.20.0 A", "facebookexternalhit/1.1", "Slackbot-LinkExpanding 1.0")


def test_opening_the_alert_link_acknowledges_nothing_so_breach_and_escalation_follow(
        stack: LocalStack) -> None:
    """Mail link scanners and chat previews fetch every link before the agent sees it: had that
    acknowledged, the lead would never be paged about a turn nobody is on."""
    psid = "7005"
    assert stack.post_meta(messenger(psid, "Refund <b>now</b> & I mean it, this is awful")).ok
    warning = wait_for(lambda: sms(alerts_for(stack, psid), "warning"), timeout=30,
                       what="warning SMS")
    link = re.search(r"https?://\S+/ack/\S+", warning[0]["text"])
    assert link is not None
    for agent in (BROWSER, *SCANNERS, BROWSER):
        page = requests.get(link.group(0), headers={"User-Agent": agent}, timeout=10)
        assert page.status_code == 200, agent
        assert '<form method="post"><button type="submit">Acknowledge</button>' in page.text
        assert "Refund &lt;b&gt;now&lt;/b&gt; &amp; I mean it" in page.text  # escaped
        assert "<b>now</b>" not in page.text
        assert page.headers["Referrer-Policy"] == "same-origin"
        assert page.headers["Cache-Control"] == "no-store"
    wait_for(lambda: sms(alerts_for(stack, psid), "breach"), timeout=30, what="breach SMS")
    wait_for(lambda: sms(alerts_for(stack, psid), "escalation"), timeout=30,
             what="escalation SMS after the link was only opened")
    item = stack.item(f"CONV#messenger#dm-{PAGE_ID}-{psid}", "META")
    assert item is not None and "acked_by" not in item


def test_a_forged_ack_link_gets_a_clear_403_page(stack: LocalStack) -> None:
    for method in ("GET", "POST"):
        page = requests.request(method, f"{stack.api}/ack/AAAAAAAA.BBBBBBBBBBBB", timeout=10)
        assert page.status_code == 403
        assert "invalid or has expired" in page.text
        assert "Acknowledge</button>" not in page.text


def test_a_redelivered_bucket_sends_no_second_alert(stack: LocalStack) -> None:
    psid = "7004"
    assert stack.post_meta(messenger(psid, "Charged twice!! refund please")).ok
    wait_for(lambda: sms(alerts_for(stack, psid), "warning"), timeout=30, what="warning SMS")
    conv = conversation(stack, psid)
    warn_bucket = -(-int(_at(conv["warn_at"]).timestamp()) // 1)
    sqs = stack.client("sqs")
    url = sqs.get_queue_url(QueueName="replywindow-dev-alerts")["QueueUrl"]
    for bucket in range(warn_bucket - 1, warn_bucket + 2):  # the bucket rings again
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"bucket": bucket}))
    time.sleep(3)
    warnings = sms(alerts_for(stack, psid), "warning")
    assert len(warnings) == 1


def mention(post_id: str, text: str) -> dict[str, Any]:
    return {"data": {"event_uuid": post_id, "filter": {"user_id": "1111111111111111111"},
                     "event_type": "post.mention.create", "payload": {
                         "id": post_id, "author_id": f"9{post_id[-6:]}", "text": text,
                         "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                         "entities": {"mentions": [{"id": "1111111111111111111"}]}}}}


def test_a_rota_hand_off_routes_the_next_alert_to_the_next_agent(stack: LocalStack) -> None:
    # Agents of their own: the demo agents may be getting digests from other tests' floods.
    phones = {"erin": "+15550100011", "frank": "+15550100012"}
    for agent, phone in phones.items():
        created = stack.admin("POST", "/api/agents", json={"id": agent, "name": agent.title(),
                                                            "phone": phone})
        assert created.status_code == 201, created.text
        assert created.json()["token"].startswith("rw_")
    today = datetime.now(UTC).date().isoformat()
    rota = stack.admin("PUT", "/api/teams/social/rota", json={
        "members": ["frank", "erin"], "shift": 10, "handoff": "00:00", "timezone": "UTC",
        "starts_on": today, "lead": "dana"})
    assert rota.status_code == 200, rota.text
    expected = []
    for n in range(2):
        # Start one second into a 10-second shift: the warning (~3-4 s later) is mid-shift.
        while int(time.time()) % 10 != 1:
            time.sleep(0.05)
        shift = int(time.time()) // 10 - int(datetime.fromisoformat(today + "T00:00:00+00:00")
                                             .timestamp()) // 10
        expected.append(phones[("frank", "erin")[shift % 2]])
        post = f"{int(time.time())}{n}000042"
        assert stack.post_x(mention(post, "@ExampleUser my order is late")).ok
        time.sleep(2)
    got = wait_for(lambda: (w := {c: [d["to"] for d in stack.deliveries()
                                      if d["conversation"] == c and d["level"] == "warning"
                                      and d["protocol"] == "sms"]
                                  for c in sorted({d["conversation"] or "" for d in
                                                   stack.deliveries()})
                                  if c.endswith("000042")})
                   and len(w) == 2 and all(w.values()) and w, timeout=30,
                   what="two warnings")
    assert [v[0] for v in got.values()] == expected
    assert expected[0] != expected[1]


def test_admin_routes_need_the_admin_token(stack: LocalStack) -> None:
    anonymous = requests.put(f"{stack.api}/api/teams/support/rota", json={}, timeout=5)
    assert anonymous.status_code == 401
    wrong = requests.get(f"{stack.api}/api/teams/support/oncall", timeout=5,
                         headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    now = stack.admin("GET", "/api/teams/support/oncall")
    assert now.status_code == 200
    assert now.json()["lead"] == "dana"
