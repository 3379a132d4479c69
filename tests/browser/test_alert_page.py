"""From the SMS to the platform on a phone (360x740): the warning's link opens the alert page;
Acknowledge stops the escalation; signing in from the page and sending a reply reaches the
customer's thread on the stand-in platform and stops the clock."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import accessibility_problems, complaint, shoot, sign_in
from tests.e2e.conftest import LocalStack, wait_for

pytestmark = pytest.mark.e2e

LEAD = "+15550100003"  # the demo rota's lead: the escalation's recipient


def _alerts(stack: LocalStack, conversation: str, level: str) -> list[dict[str, Any]]:
    return [d for d in stack.deliveries() if d["conversation"] == conversation
            and d["level"] == level and d["protocol"] == "sms"]


def _warning_link(stack: LocalStack, conversation: str) -> str:
    warning = wait_for(lambda: _alerts(stack, conversation, "warning"), timeout=30,
                       what="the warning SMS")
    link = re.search(r"https?://\S+/ack/\S+", warning[0]["text"])
    assert link is not None, warning[0]["text"]
    return link.group(0)


def _meta(stack: LocalStack, conversation: str) -> dict[str, str]:
    item = stack.item("CONV#" + conversation.replace(".", "#", 1), "META")
    assert item is not None
    return {k: str(next(iter(v.values()))) for k, v in item.items()}


def _sleep_until(moment: str, extra: float) -> None:
    left = (datetime.fromisoformat(moment) - datetime.now(UTC)).total_seconds()
    time.sleep(max(0.0, left) + extra)


def test_the_warning_link_opens_the_alert_page_and_acknowledge_stops_the_escalation(
        phone: Page, stack: LocalStack) -> None:
    words = "my order never arrived and nobody answers, refund please"
    conversation = complaint(stack, words)
    link = _warning_link(stack, conversation)
    phone.goto(link)
    expect(phone.get_by_role("heading", level=1)).to_contain_text("Warning")
    shoot(phone, "phone-alert")  # first: the seconds-long window soon runs out
    expect(phone.get_by_text(words)).to_be_visible()
    clock = phone.locator("time.countdown")
    expect(clock).to_be_visible()
    # The countdown runs on the page (JavaScript), from the deadline the server rendered.
    assert clock.get_attribute("datetime") == _meta(stack, conversation)["due_at"]
    first = clock.inner_text()
    expect(clock).not_to_have_text(first, timeout=3_000)
    expect(phone.get_by_role("link", name="Sign in to reply")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    assert accessibility_problems(phone) == []

    phone.get_by_role("button", name="Acknowledge").click()
    expect(phone.get_by_role("status")).to_contain_text(
        "Acknowledged: no more alerts for this turn")
    expect(phone.get_by_role("button", name="Acknowledge")).to_have_count(0)
    meta = _meta(stack, conversation)
    assert meta["acked_by"] == "alice"  # the agent the link was sent to

    # Past the escalation time: the lead was never paged about this conversation.
    _sleep_until(meta["escalate_at"], 3)
    assert _alerts(stack, conversation, "breach") == []
    assert _alerts(stack, conversation, "escalation") == []
    assert [d for d in stack.deliveries() if d["conversation"] == conversation
            and d["to"] == LEAD] == []


def test_signing_in_from_the_alert_page_then_send_reply_reaches_the_thread_and_stops_the_clock(
        phone: Page, stack: LocalStack, agent: dict[str, str]) -> None:
    # A calm question (low priority): its longer window leaves time to sign in on the phone.
    conversation = complaint(stack, "Hello! I love your shop, thanks so much. Is the blue "
                                    "one back soon?")
    psid = conversation.rsplit("-", 1)[1]
    link = _warning_link(stack, conversation)
    phone.goto(link)
    expect(phone.get_by_label("Reply")).to_have_count(0)  # not signed in on this device
    expect(phone.get_by_text("you need to be signed in")).to_be_visible()
    phone.get_by_role("link", name="Sign in to reply").click()
    sign_in(phone, agent["token"], here=True)
    assert phone.url.startswith(link)  # back on the alert page, now with the reply box
    before = len(stack.platforms.requests)
    phone.get_by_label("Reply").fill("So sorry for the wait! The blue one is back Friday.")
    expect(phone.get_by_text("51 of 2000 characters")).to_be_visible()
    phone.get_by_role("button", name="Send reply").click()
    expect(phone.get_by_role("status")).to_contain_text("Reply sent on messenger")

    sent = wait_for(lambda: stack.platforms.requests[before:], what="the reply on Messenger")
    assert sent[0]["json"]["recipient"] == {"id": psid}  # the customer's own thread
    assert sent[0]["json"]["message"]["text"] == ("So sorry for the wait! The blue one is "
                                                  "back Friday.")
    meta = _meta(stack, conversation)
    assert meta["status"] == "awaiting_customer"  # the clock stopped
    # Past the deadline: no breach was alerted about this turn.
    due = meta.get("due_at") or datetime.now(UTC).isoformat()
    _sleep_until(due, 3)
    assert _alerts(stack, conversation, "breach") == []
