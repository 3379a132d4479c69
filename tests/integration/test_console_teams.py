"""The console keeps each team's work to its team: an agent of another team gets exactly what a
conversation that does not exist gets, and the team pages show none of another team's numbers
or rota. Two teams: `social` takes Messenger, `support` everything else."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from infrastructure.local.aws import Built
from tests.integration.conftest import SECRETS
from tests.integration.test_agent_api import make_agent, messenger, post_meta

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
ADMIN = {"Authorization": f"Bearer {SECRETS['admin_token']}",
         "Content-Type": "application/json"}
SOCIAL_CONV = "messenger.dm-PAGE1-PSID90"


@pytest.fixture
def client(aws: Built, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Client]:
    from chalicelib.config import DEFAULT_POLICIES

    policies = tmp_path / "policies.yaml"
    policies.write_text(DEFAULT_POLICIES.read_text()
                        + "teams:\n  social:\n    platforms: [messenger]\n")
    monkeypatch.setenv("REPLYWINDOW_POLICIES", str(policies))
    bootstrap.reset()
    import app

    with Client(app.app) as test_client:
        yield test_client


def _token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def signed_in(client: Client, token: str) -> tuple[str, str]:
    """A session cookie and the CSRF token its pages carry."""
    answer = client.http.post("/console/sign-in", headers={**FORM, "Sec-Fetch-Site": "same-origin"},
                              body=f"token={token}")
    assert answer.status_code == 303, answer.body
    cookie = answer.headers["Set-Cookie"].split(";", 1)[0]
    page = client.http.get("/console/oncall", headers={"Cookie": cookie}).body.decode()
    return cookie, page.split('name="csrf" value="', 1)[1].split('"', 1)[0]


@pytest.fixture
def teams(client: Client) -> dict[str, tuple[str, str]]:
    """Sam (social) and Alice (support) signed in; a Messenger conversation of social's, and
    social's rota."""
    sam = _token(make_agent(client, "sam", ["social"]))
    alice = _token(make_agent(client, "alice", ["support"]))
    rota = client.http.put("/api/teams/social/rota", headers=ADMIN, body=json.dumps(
        {"members": ["sam"], "starts_on": "2026-01-01"}))
    assert rota.status_code == 200, rota.body
    post_meta(client, messenger("PSID90", "m_90", datetime.now(UTC)))
    return {"sam": signed_in(client, sam), "alice": signed_in(client, alice)}


def test_another_teams_agent_gets_404_on_the_conversation_and_every_action(
        client: Client, teams: dict[str, tuple[str, str]]) -> None:
    cookie, csrf = teams["alice"]
    page = f"/console/conversations/{SOCIAL_CONV}"
    own = client.http.get(page, headers={"Cookie": teams["sam"][0]})
    assert own.status_code == 200 and b"PSID90" in own.body
    seen = client.http.get(page, headers={"Cookie": cookie})
    missing = client.http.get("/console/conversations/messenger.dm-PAGE1-NOPE",
                              headers={"Cookie": cookie})
    assert (seen.status_code, missing.status_code) == (404, 404)
    # Exactly what a conversation that does not exist gets: existence does not leak.
    assert seen.body == missing.body.replace(b"NOPE", b"PSID90")
    for action, form in (("reply", "text=hello"), ("assign", "agent=alice"),
                         ("resolve", ""), ("reopen", "")):
        answer = client.http.post(f"{page}/{action}", headers={
            **FORM, "Cookie": cookie}, body=f"csrf={csrf}&{form}")
        assert answer.status_code == 404, (action, answer.status_code, answer.body[:200])
    shown = bootstrap.conversations().get(SOCIAL_CONV)
    assert shown is not None
    assert (shown.status.value, shown.assignee) == ("awaiting_agent", None)  # nothing changed


def test_another_teams_inbox_is_404_and_her_own_does_not_list_it(
        client: Client, teams: dict[str, tuple[str, str]]) -> None:
    cookie, _ = teams["alice"]
    for path in ("/console/inbox.json?team=social", "/console?team=social"):
        answer = client.http.get(path, headers={"Cookie": cookie})
        assert answer.status_code == 404, (path, answer.status_code, answer.body[:200])
        assert b"PSID90" not in answer.body
    own = client.http.get("/console/inbox.json", headers={"Cookie": cookie})
    assert own.status_code == 200
    assert json.loads(own.body)["conversations"] == []
    page = client.http.get("/console", headers={"Cookie": cookie}).body.decode()
    assert SOCIAL_CONV not in page
    sams = json.loads(client.http.get("/console/inbox.json",
                                      headers={"Cookie": teams["sam"][0]}).body)
    assert [c["id"] for c in sams["conversations"]] == [SOCIAL_CONV]


def test_nonsense_in_the_inbox_poll_is_never_a_500(
        client: Client, teams: dict[str, tuple[str, str]]) -> None:
    cookie, _ = teams["sam"]
    for query in ("team=nope", "status=bogus", "platform=myspace", "cursor=forged.AAAA",
                  "show=lots", "show=-5"):
        answer = client.http.get(f"/console/inbox.json?{query}", headers={"Cookie": cookie})
        assert answer.status_code in (200, 400, 404), (query, answer.status_code)


def test_the_team_pages_show_nothing_of_another_team(
        client: Client, teams: dict[str, tuple[str, str]]) -> None:
    cookie, csrf = teams["alice"]
    oncall = client.http.get("/console/oncall", headers={"Cookie": cookie}).body.decode()
    assert 'id="team-support"' in oncall
    assert "social" not in oncall and "sam" not in oncall
    sams = client.http.get("/console/oncall", headers={"Cookie": teams["sam"][0]}).body.decode()
    assert 'id="team-social"' in sams and "sam" in sams  # the rota is there to be hidden

    def turns(page: str) -> str:
        found = re.search(r"<dt>Turns</dt><dd>(\d+) ", page)
        assert found is not None, page[:500]
        return found.group(1)

    reports = client.http.get("/console/reports", headers={"Cookie": cookie}).body.decode()
    api = json.loads(client.http.get("/api/reports/sla", headers={
        "Authorization": f"Bearer {SECRETS['admin_token']}"}).body)
    assert api["overall"]["turns"] == 1  # social's turn is counted for the admin
    assert turns(reports) == "0"
    assert turns(client.http.get("/console/reports", headers={
        "Cookie": teams["sam"][0]}).body.decode()) == "1"
    assert client.http.get("/console/reports?team=social",
                           headers={"Cookie": cookie}).status_code == 404
    for path in ("/console/oncall/social/overrides", "/console/oncall/social/overrides/remove"):
        refused = client.http.post(path, headers={**FORM, "Cookie": cookie},
                                   body=f"csrf={csrf}&agent=alice&start=2026-12-01T09:00"
                                        "&end=2026-12-01T10:00")
        assert refused.status_code == 403, (path, refused.status_code)
    rota = bootstrap.oncall().rota("social")
    assert rota is not None and rota.overrides == ()
