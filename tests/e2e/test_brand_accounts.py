"""Brand accounts end to end on a local stack of their own (its policies declare two X
accounts, two Pages and two WhatsApp numbers, windows of seconds): each account's complaint
reaches its team's on-call by SMS on time, its reply goes out with its own credentials, and an
undeclared account's delivery is counted and stored nowhere."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ROOT, SECRETS, LocalStack, running_stack, wait_for
from tests.platform_fake import FakePlatforms
from tests.unit.test_account_senders import SECRET as ACCOUNT_SECRET

SECONDS = (ROOT / "tests" / "fixtures" / "policies" / "seconds.yaml").read_text()
ACCOUNTS = (ROOT / "tests" / "fixtures" / "policies" / "accounts.yaml").read_text()
# Who is on call for each team (set through the admin API): the account decides who is texted.
ONCALL = {"uk": ("erin", "+15550100011"), "us": ("finn", "+15550100012")}


@pytest.fixture(scope="module")
def accounts_stack(tmp_path_factory: pytest.TempPathFactory,
                   platforms: FakePlatforms) -> Iterator[LocalStack]:
    policies: Path = tmp_path_factory.mktemp("policies") / "accounts.yaml"
    # seconds.yaml's windows and clock, accounts.yaml's teams and accounts.
    head = SECONDS.split("default_team:", 1)[0]
    tail = "default_team:" + ACCOUNTS.split("default_team:", 1)[1].split("listening:", 1)[0]
    policies.write_text(head + tail)
    keys = {f"REPLYWINDOW_{k.upper()}": v for k, v in ACCOUNT_SECRET.items()
            if k.startswith(("x_main", "x_help", "page_", "wa_"))}
    with running_stack(tmp_path_factory.mktemp("accounts-stack"), platforms, policies,
                       keys) as local:
        for team, (agent, phone) in ONCALL.items():
            made = local.admin("POST", "/api/agents", json={
                "id": agent, "name": agent, "phone": phone, "teams": [team]})
            assert made.status_code == 201, made.text
            rota = local.admin("PUT", f"/api/teams/{team}/rota", json={
                "members": [agent], "shift": 86400, "handoff": "09:00", "timezone": "UTC",
                "starts_on": datetime.now(UTC).date().isoformat(), "lead": "dana"})
            assert rota.status_code in (200, 201), rota.text
        yield local


def page_dm(page: str, psid: str, text: str) -> dict[str, Any]:
    now = int(time.time() * 1000)
    return {"object": "page", "entry": [{"id": page, "time": now, "messaging": [{
        "sender": {"id": psid}, "recipient": {"id": page}, "timestamp": now,
        "message": {"mid": f"m_{uuid.uuid4().hex}", "text": text}}]}]}


def test_each_pages_complaint_texts_its_own_teams_on_call_and_is_answered_as_that_page(
        accounts_stack: LocalStack) -> None:
    stack = accounts_stack
    for page, psid in (("2001", "8101"), ("2002", "8102")):
        assert stack.post_meta(page_dm(page, psid, "My refund never arrived, awful")).ok
    for page, psid, team in (("2001", "8101", "uk"), ("2002", "8102", "us")):
        conv = f"messenger.dm-{page}-{psid}"
        warning = wait_for(lambda c=conv: [d for d in stack.deliveries()  # type: ignore[misc]
                                           if d["conversation"] == c and d["level"] ==
                                           "warning" and d["protocol"] == "sms"],
                           timeout=30, what=f"{team}'s warning SMS")
        assert [d["to"] for d in warning] == [ONCALL[team][1]]
    before = len(stack.platforms.requests)
    sent = stack.admin("POST", "/api/conversations/messenger.dm-2002-8102/replies",
                       json={"text": "Sorry - looking now."})
    assert sent.status_code == 201, sent.text
    [request] = stack.platforms.requests[before:]
    assert (request["token"], request["as_account"]) == ("page-us-token", "2002")


def test_an_undeclared_pages_delivery_is_counted_and_stored_nowhere(
        accounts_stack: LocalStack) -> None:
    stack = accounts_stack
    answer = stack.post_meta(page_dm("2999", "8199", "hello?"))
    assert answer.status_code == 200 and answer.json()["events"] == {"unknown_account": 1}
    channels = wait_for(lambda: stack.admin("GET", "/health").json()["channels"].get(
        "messenger", {}).get("unknown_accounts"), what="the count on /health")
    assert channels == {"2999": 1}
    assert stack.item("CONV#messenger#dm-2999-8199", "META") is None
    shown = subprocess.run(
        [sys.executable, "-m", "replywindow_cli", "--api", stack.api, "--token",
         SECRETS["admin_token"], "channels"], cwd=ROOT, capture_output=True, text=True,
        timeout=60, check=True, env={**os.environ, "COLUMNS": "300"}).stdout
    assert "undeclared accounts" in shown and "2999: 1" in shown
