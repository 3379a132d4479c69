"""The console's other pages in Chromium: the nav on every page (it fits a 360 px phone), on
call (an admin adds and removes an override), reports (the API's attainment, as charts) and
channels; axe-core on each, and a screenshot of each at desktop and phone size."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import accessibility_problems, complaint, shoot, sign_in
from tests.e2e.conftest import SECRETS, LocalStack, wait_for

pytestmark = pytest.mark.e2e

PAGES = (("On call", "/console/oncall", "On call"), ("Reports", "/console/reports", "SLA report"),
         ("Channels", "/console/channels", "Channels"), ("Inbox", "/console", "Inbox"))


def test_an_admin_moves_through_every_page_by_the_nav_on_a_phone_and_a_desk(
        desktop: Page, phone: Page, stack: LocalStack) -> None:
    complaint(stack, "my parcel is lost, please help")  # something on every page
    for page, size in ((desktop, "desktop"), (phone, "phone")):
        sign_in(page, SECRETS["admin_token"])
        nav = page.get_by_role("navigation", name="Console")
        for link, path, heading in PAGES:
            nav.get_by_role("link", name=link).click()
            expect(page.get_by_role("heading", level=1, name=heading)).to_be_visible()
            assert page.url.split("?")[0].endswith(path)
            expect(nav.get_by_role("link", name=link)).to_have_attribute("aria-current", "page")
            expect(page.get_by_role("button", name="Sign out")).to_be_visible()
            assert accessibility_problems(page) == [], (size, path)
            if size == "phone":
                assert page.evaluate("document.documentElement.scrollWidth") <= 360, path
            shoot(page, f"{size}-{path.strip('/').replace('/', '-')}")


def test_an_admin_adds_and_removes_an_override_on_the_on_call_page(
        desktop: Page, stack: LocalStack) -> None:
    sign_in(desktop, SECRETS["admin_token"])
    desktop.goto("/console/oncall")
    team = desktop.get_by_role("region", name="support")
    expect(team.locator(".now-on-call")).to_contain_text("Primary now")
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    end = start + timedelta(hours=1)
    team.get_by_label("Agent").fill("dana")  # a demo agent, the lead
    team.get_by_label("From (UTC)").fill(f"{start:%Y-%m-%dT%H:%M}")
    team.get_by_label("Until (UTC)").fill(f"{end:%Y-%m-%dT%H:%M}")
    team.get_by_role("button", name="Add override").click()
    expect(desktop.get_by_role("status")).to_contain_text("Override added: dana")
    team = desktop.get_by_role("region", name="support")
    expect(team.locator(".now-on-call dd").first).to_have_text("dana")  # on call right now
    shoot(desktop, "desktop-oncall-override")
    team.get_by_role("button", name="Remove dana's override").click()
    expect(desktop.get_by_role("status")).to_contain_text("Override removed")
    expect(desktop.get_by_role("region", name="support").locator(".now-on-call dd").first
           ).not_to_have_text("dana")


def test_the_reports_page_shows_the_same_attainment_as_the_api(
        desktop: Page, stack: LocalStack) -> None:
    conversation = complaint(stack, "refund please, it broke")
    answered = stack.admin("POST", f"/api/conversations/{conversation}/replies",
                           json={"text": "Sorry! Refund sent."})
    assert answered.status_code == 201, answered.text
    wait_for(lambda: stack.admin("GET", "/api/reports/sla").json()["overall"]["met"] >= 1,
             what="the answered turn in the report")
    sign_in(desktop, SECRETS["admin_token"])
    figure = desktop.locator("#attainment strong")

    def page_and_api_agree() -> bool:
        # Other tests' turns on this stack breach while it runs: compare the page with the
        # API only when the API read the same just before and just after the page.
        before = stack.admin("GET", "/api/reports/sla").json()["overall"]["attainment"]
        desktop.goto("/console/reports")
        shown = figure.inner_text()
        after = stack.admin("GET", "/api/reports/sla").json()["overall"]["attainment"]
        return before == after and shown == f"{after:.1%}"

    wait_for(page_and_api_agree, what="the reports page showing the API's attainment")
    for name in ("SLA attainment per day", "First response by platform",
                 "First response by priority", "Attainment: public posts and private messages"):
        expect(desktop.get_by_role("img", name=name)).to_be_visible()
    expect(desktop.get_by_role("table", name="By platform")).to_contain_text("messenger")
    assert accessibility_problems(desktop) == []
