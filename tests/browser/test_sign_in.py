"""Signing in to the console: a token once per device becomes a session cookie."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.browser.conftest import accessibility_problems, complaint, shoot, sign_in
from tests.e2e.conftest import SECRETS, LocalStack

pytestmark = pytest.mark.e2e


def _session_cookie(page: Page) -> dict[str, object]:
    found = [c for c in page.context.cookies() if c["name"] == "rw_session"]
    assert found, "signing in gave no session cookie: the agent would sign in on every page"
    return dict(found[0])


def test_an_agent_signs_in_with_a_token_and_gets_a_strict_http_only_session(
        desktop: Page, stack: LocalStack, agent: dict[str, str]) -> None:
    desktop.goto("/console/sign-in")
    shoot(desktop, "desktop-sign-in")
    assert accessibility_problems(desktop) == []
    sign_in(desktop, agent["token"])
    expect(desktop.get_by_role("heading", name="Inbox")).to_be_visible()
    cookie = _session_cookie(desktop)
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/"
    assert cookie["secure"] is False  # the local stack is plain http; https URLs get Secure
    assert agent["token"] not in str(cookie["value"])
    # Stored hashed, with who signed in and when it ends (and the TTL attribute).
    digest = hashlib.sha256(str(cookie["value"]).encode()).hexdigest()
    stored = stack.item(f"SESSION#{digest}", "SESSION")
    assert stored is not None
    assert stored["agent"]["S"] == agent["id"] and stored["role"]["S"] == "agent"
    assert "expires_at" in stored and "created" in stored
    assert agent["token"] not in (stack.state_dir / "stack.log").read_text()


def test_a_wrong_token_is_refused_on_the_page_without_a_session(desktop: Page) -> None:
    sign_in(desktop, "rw_not-a-real-token")
    expect(desktop.get_by_role("alert")).to_contain_text("not valid")
    assert [c for c in desktop.context.cookies() if c["name"] == "rw_session"] == []


def test_the_admin_token_signs_in_as_an_admin(desktop: Page) -> None:
    sign_in(desktop, SECRETS["admin_token"])
    expect(desktop.get_by_text("admin (admin)")).to_be_visible()


def test_a_page_needing_sign_in_returns_there_after_signing_in(
        desktop: Page, agent: dict[str, str]) -> None:
    desktop.goto("/console?status=resolved")
    assert desktop.url.split("?")[0].endswith("/console/sign-in")
    sign_in(desktop, agent["token"], here=True)
    assert desktop.url.endswith("/console?status=resolved")


def test_next_never_leads_to_another_site(stack: LocalStack, agent: dict[str, str]) -> None:
    for hostile in ("//evil.example/", "https://evil.example/", "/\\evil.example",
                    "/console//evil.example"):
        answer = requests.post(f"{stack.api}/console/sign-in", timeout=10,
                               allow_redirects=False, headers={"Origin": stack.api},
                               data={"token": agent["token"], "next": hostile})
        assert answer.status_code == 303
        assert answer.headers["Location"] == "/console", hostile


def test_an_expired_session_is_sent_to_sign_in(
        desktop: Page, stack: LocalStack, agent: dict[str, str]) -> None:
    sign_in(desktop, agent["token"])
    digest = hashlib.sha256(str(_session_cookie(desktop)["value"]).encode()).hexdigest()
    past = datetime.now(UTC) - timedelta(minutes=1)
    # The TTL sweep lags by hours: an item still there but past its expiry must not work.
    stack.client("dynamodb").update_item(
        TableName="replywindow-dev", Key={"PK": {"S": f"SESSION#{digest}"},
                                          "SK": {"S": "SESSION"}},
        UpdateExpression="SET expires = :e", ExpressionAttributeValues={
            ":e": {"S": past.isoformat()}})
    desktop.goto("/console")
    expect(desktop.get_by_role("button", name="Sign in")).to_be_visible()


def test_an_admin_revokes_an_agents_sessions_and_sign_out_ends_one(
        desktop: Page, stack: LocalStack, agent: dict[str, str]) -> None:
    sign_in(desktop, agent["token"])
    expect(desktop.get_by_role("heading", name="Inbox")).to_be_visible()
    refused = requests.delete(f"{stack.api}/api/agents/{agent['id']}/sessions", timeout=10,
                              headers={"Authorization": f"Bearer {agent['token']}"})
    assert refused.status_code == 403  # an agent cannot revoke anyone
    revoked = stack.admin("DELETE", f"/api/agents/{agent['id']}/sessions")
    assert revoked.status_code == 200 and revoked.json()["revoked"] >= 1
    desktop.goto("/console")
    expect(desktop.get_by_role("button", name="Sign in")).to_be_visible()
    sign_in(desktop, agent["token"])
    desktop.get_by_role("button", name="Sign out").click()
    expect(desktop.get_by_role("button", name="Sign in")).to_be_visible()
    desktop.goto("/console")
    expect(desktop.get_by_role("button", name="Sign in")).to_be_visible()


def test_a_form_sent_after_the_session_ended_signs_in_and_returns_to_the_page(
        desktop: Page, stack: LocalStack, agent: dict[str, str]) -> None:
    conversation = complaint(stack, "my session test")
    sign_in(desktop, agent["token"])
    desktop.goto(f"/console/conversations/{conversation}")
    assert stack.admin("DELETE", f"/api/agents/{agent['id']}/sessions").ok
    desktop.get_by_role("button", name="Resolve").click()
    expect(desktop.get_by_role("button", name="Sign in")).to_be_visible()
    meta = stack.item("CONV#" + conversation.replace(".", "#", 1), "META")
    assert meta is not None and meta["status"]["S"] == "awaiting_agent"  # nothing changed
    sign_in(desktop, agent["token"], here=True)
    assert desktop.url.endswith(f"/console/conversations/{conversation}")


def test_a_reply_typed_when_the_session_ended_is_still_there_after_signing_in(
        desktop: Page, stack: LocalStack, agent: dict[str, str]) -> None:
    conversation = complaint(stack, "my reply survives sign in")
    sign_in(desktop, agent["token"])
    desktop.goto(f"/console/conversations/{conversation}")
    desktop.get_by_label("Reply").fill("Sorry about that, a refund is on its way.")
    assert stack.admin("DELETE", f"/api/agents/{agent['id']}/sessions").ok
    desktop.get_by_role("button", name="Send reply").click()
    expect(desktop.get_by_role("button", name="Sign in")).to_be_visible()
    sign_in(desktop, agent["token"], here=True)
    assert desktop.url.endswith(f"/console/conversations/{conversation}")
    expect(desktop.get_by_label("Reply")).to_have_value(
        "Sorry about that, a refund is on its way.")
    desktop.goto(f"/console/conversations/{conversation}")  # kept for the detour only
    expect(desktop.get_by_label("Reply")).to_have_value("")
