"""An agent's flow in the console: inbox earliest deadline first, a new complaint appearing
without a reload, the conversation, a reply reaching the platform, resolve and reopen."""

from __future__ import annotations

from datetime import datetime

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    accessibility_problems,
    complaint,
    shoot,
    sign_in,
)
from tests.e2e.conftest import LocalStack, wait_for

pytestmark = pytest.mark.e2e


def _deadlines(page: Page) -> list[datetime]:
    shown = page.locator("#inbox tbody time.countdown").evaluate_all(
        "nodes => nodes.map(n => n.getAttribute('datetime'))")
    return [datetime.fromisoformat(d) for d in shown if d]


def test_an_agent_works_a_complaint_from_the_inbox_to_the_platform_and_resolves_it(
        desktop: Page, stack: LocalStack, agent: dict[str, str]) -> None:
    first, second = complaint(stack), complaint(stack, "still nothing, this is awful")
    sign_in(desktop, agent["token"])
    expect(desktop.get_by_role("heading", name="Inbox")).to_be_visible()
    ids = desktop.locator("#inbox tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.id)")
    assert first in ids and second in ids
    deadlines = _deadlines(desktop)
    assert deadlines == sorted(deadlines), "the inbox must put the earliest deadline first"
    assert accessibility_problems(desktop) == []
    shoot(desktop, "desktop-inbox")

    # A new complaint shows up while the page is open: no reload, and it is highlighted.
    desktop.evaluate("window.stillTheSamePage = true")
    third = complaint(stack, "hello? anyone? I want my money back")
    row = desktop.locator(f'#inbox tbody tr[data-id="{third}"]')
    expect(row).to_be_visible(timeout=30_000)
    expect(row).to_have_class("changed")
    assert desktop.evaluate("window.stillTheSamePage") is True
    expect(desktop.get_by_role("status")).to_contain_text("new or changed")

    row.get_by_role("link").click()
    expect(desktop.get_by_text("hello? anyone? I want my money back")).to_be_visible()
    expect(desktop.locator(".thread .tag").first).to_have_text("Private")  # a Messenger DM
    assert accessibility_problems(desktop) == []
    shoot(desktop, "desktop-conversation")

    before = len(stack.platforms.requests)
    desktop.get_by_label("Reply").fill("So sorry! The refund is on its way today.")
    desktop.get_by_role("button", name="Send reply").click()
    expect(desktop.get_by_role("status")).to_contain_text("Reply sent on messenger")
    sent = wait_for(lambda: stack.platforms.requests[before:], what="the reply on Messenger")
    assert sent[0]["path"].endswith("/messages")  # the Send API, as the Page
    assert sent[0]["json"]["recipient"] == {"id": third.rsplit("-", 1)[1]}
    assert sent[0]["json"]["message"]["text"] == "So sorry! The refund is on its way today."
    expect(desktop.locator(".thread .msg-out")).to_contain_text("refund is on its way")
    expect(desktop.locator(".facts")).to_contain_text("awaiting customer")

    desktop.get_by_role("button", name="Assign to me").click()
    expect(desktop.locator(".facts")).to_contain_text(agent["id"])
    desktop.get_by_role("button", name="Resolve").click()
    expect(desktop.get_by_role("status")).to_contain_text("Resolved.")
    expect(desktop.locator(".facts")).to_contain_text("resolved")
    desktop.get_by_role("button", name="Reopen").click()
    expect(desktop.get_by_role("status")).to_contain_text("Reopened.")


def test_a_refused_reply_says_why(desktop: Page, stack: LocalStack,
                                  agent: dict[str, str]) -> None:
    """Messenger's 24-hour window closes while the agent writes: the reply is refused by the
    service (409) and the page says so instead of pretending it was sent; opened again, the
    page says up front that no reply can be sent, with no box to write in."""
    conversation = complaint(stack, "where is my parcel")
    before = len(stack.platforms.requests)
    sign_in(desktop, agent["token"])
    desktop.goto(f"/console/conversations/{conversation}")
    desktop.get_by_label("Reply").fill("Sorry for the wait")
    stack.client("dynamodb").update_item(
        TableName="replywindow-dev",
        Key={"PK": {"S": "CONV#" + conversation.replace(".", "#", 1)}, "SK": {"S": "META"}},
        UpdateExpression="SET last_customer_at = :old",
        ExpressionAttributeValues={":old": {"S": "2020-01-01T00:00:00+00:00"}})
    desktop.get_by_role("button", name="Send reply").click()
    expect(desktop.get_by_role("alert")).to_contain_text("Not sent:")
    assert stack.platforms.requests[before:] == []
    desktop.goto(f"/console/conversations/{conversation}")
    expect(desktop.get_by_text("No reply can be sent now")).to_be_visible()
    expect(desktop.get_by_label("Reply")).to_have_count(0)


def test_a_state_change_without_the_csrf_token_or_from_another_site_is_refused(
        stack: LocalStack, agent: dict[str, str]) -> None:
    conversation = complaint(stack, "csrf check please")
    browser = requests.Session()
    signed = browser.post(f"{stack.api}/console/sign-in", data={"token": agent["token"]},
                          timeout=10, allow_redirects=False, headers={"Origin": stack.api})
    assert signed.status_code == 303 and "rw_session" in browser.cookies
    page = browser.get(f"{stack.api}/console/conversations/{conversation}", timeout=10).text
    csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    resolve = f"{stack.api}/console/conversations/{conversation}/resolve"

    missing = browser.post(resolve, data={"confirm": "yes"}, timeout=10, allow_redirects=False)
    wrong = browser.post(resolve, data={"csrf": "0" * 64}, timeout=10, allow_redirects=False)
    elsewhere = browser.post(resolve, data={"csrf": csrf}, timeout=10, allow_redirects=False,
                             headers={"Origin": "https://evil.example"})
    assert (missing.status_code, wrong.status_code, elsewhere.status_code) == (403, 403, 403)
    assert "CSRF" in missing.text and missing.headers["Content-Type"].startswith("text/html")
    meta = stack.item("CONV#" + conversation.replace(".", "#", 1), "META")
    assert meta is not None and meta["status"]["S"] == "awaiting_agent"  # nothing written

    done = browser.post(resolve, data={"csrf": csrf}, timeout=10, allow_redirects=False,
                        headers={"Origin": stack.api})
    assert done.status_code == 303


def test_the_inbox_poll_answers_304_while_nothing_changed(
        stack: LocalStack, agent: dict[str, str]) -> None:
    browser = requests.Session()
    browser.post(f"{stack.api}/console/sign-in", data={"token": agent["token"]}, timeout=10,
                 headers={"Origin": stack.api})
    first = browser.get(f"{stack.api}/console/inbox.json?status=resolved", timeout=10)
    assert first.status_code == 200 and first.headers["ETag"]
    again = browser.get(f"{stack.api}/console/inbox.json?status=resolved", timeout=10,
                        headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""
    assert requests.get(f"{stack.api}/console/inbox.json", timeout=10).status_code == 401


def test_without_javascript_an_agent_can_still_reply(
        browser_no_js: Page, stack: LocalStack, agent: dict[str, str]) -> None:
    conversation = complaint(stack, "no js here, help")
    sign_in(browser_no_js, agent["token"])
    browser_no_js.get_by_role("link", name=conversation.rsplit("-", 1)[1]).click()
    browser_no_js.get_by_label("Reply").fill("Replying from a plain page")
    browser_no_js.get_by_role("button", name="Send reply").click()
    expect(browser_no_js.get_by_role("status")).to_contain_text("Reply sent")


def test_on_a_phone_the_inbox_and_conversation_are_usable(
        phone: Page, stack: LocalStack, agent: dict[str, str]) -> None:
    # What a customer writes is shown as text, never run as markup.
    conversation = complaint(stack, "<img src=x onerror=alert(1)> my screen is small")
    phone.goto("/console/sign-in")
    assert accessibility_problems(phone) == []
    shoot(phone, "phone-sign-in")
    sign_in(phone, agent["token"])
    expect(phone.get_by_role("heading", name="Inbox")).to_be_visible()
    assert accessibility_problems(phone) == []
    shoot(phone, "phone-inbox")
    phone.goto(f"/console/conversations/{conversation}")
    expect(phone.get_by_role("button", name="Send reply")).to_be_visible()
    expect(phone.get_by_text("<img src=x onerror=alert(1)> my screen is small")).to_be_visible()
    assert phone.locator(".thread img").count() == 0
    assert accessibility_problems(phone) == []
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, "the conversation must not scroll sideways on a phone"
    shoot(phone, "phone-conversation")
