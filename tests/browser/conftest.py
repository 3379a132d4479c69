"""The console in a real browser: Debian's Chromium driven by Playwright, against the whole
local stack (started by tests/e2e/conftest.py's fixtures) and the fake platforms.

`make test` installs /usr/bin/chromium when it is missing; here a missing browser is an error,
never a skip. Screenshots of every page land in build/screenshots/ (gitignored)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import axe_playwright_python  # type: ignore[import-untyped]
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    ViewportSize,
    sync_playwright,
)

from tests.e2e import conftest as e2e
from tests.e2e.conftest import LocalStack, wait_for

# The local stack and fake platforms, shared with the end-to-end tests rather than copied.
platforms = e2e.platforms
stack = e2e.stack

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 360, "height": 740}
# axe-core as the package ships it: nothing is fetched while the tests run.
AXE = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()
PAGE_ID = "1000000001"  # the Messenger page the local stack's fixtures use


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield launched
    launched.close()


def _context(browser: Browser, stack: LocalStack, viewport: ViewportSize,
             **options: Any) -> BrowserContext:
    context = browser.new_context(viewport=viewport, base_url=stack.api, **options)
    context.set_default_timeout(15_000)
    return context


@pytest.fixture
def desktop(browser: Browser, stack: LocalStack) -> Iterator[Page]:
    context = _context(browser, stack, DESKTOP)
    yield context.new_page()
    context.close()


@pytest.fixture
def phone(browser: Browser, stack: LocalStack) -> Iterator[Page]:
    context = _context(browser, stack, PHONE, is_mobile=True, has_touch=True)
    yield context.new_page()
    context.close()


@pytest.fixture
def browser_no_js(browser: Browser, stack: LocalStack) -> Iterator[Page]:
    context = _context(browser, stack, DESKTOP, java_script_enabled=False)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="session")
def agent(stack: LocalStack) -> dict[str, str]:
    """An agent created through the admin API, as an admin would: its id and token."""
    agent_id = f"carol-{uuid.uuid4().hex[:6]}"
    created = stack.admin("POST", "/api/agents", json={
        "id": agent_id, "name": "Carol", "email": f"{agent_id}@example.com"})
    assert created.status_code == 201, created.text
    return {"id": agent_id, "token": created.json()["token"]}


def sign_in(page: Page, token: str, *, here: bool = False) -> None:
    """Sign in on the sign-in page (`here`: the one the browser was sent to)."""
    if not here:
        page.goto("/console/sign-in")
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def shoot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def accessibility_problems(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now."""
    # Evaluated through the driver, which the page's CSP does not govern (a script tag would be
    # refused by it, as any injected script should be).
    page.evaluate(AXE)
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): {v['help']} at "
            f"{[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def complaint(stack: LocalStack, text: str = "my order never arrived, refund please") -> str:
    """A customer's Messenger DM (signed as Meta signs it), triaged into the support team's
    inbox; returns the conversation id."""
    psid = uuid.uuid4().hex[:10]
    body = {"object": "page", "entry": [{"id": PAGE_ID, "time": 1, "messaging": [{
        "sender": {"id": psid}, "recipient": {"id": PAGE_ID},
        "timestamp": int(time.time() * 1000),
        "message": {"mid": f"m_{psid}", "text": text}}]}]}
    assert stack.post_meta(body).ok
    wait_for(lambda: (i := stack.item(f"CONV#messenger#dm-{PAGE_ID}-{psid}", "META"))
             and "priority" in i, what="the complaint triaged")
    return f"messenger.dm-{PAGE_ID}-{psid}"
