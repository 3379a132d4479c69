"""The console keeps each team's work to its team: an agent of another team gets exactly what a
conversation that does not exist gets, and the team pages show none of another team's numbers
or rota. Two teams: `social` takes Messenger and WhatsApp, `support` everything else."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from infrastructure.local.aws import Built
from tests.integration.conftest import SECRETS
from tests.integration.test_agent_api import make_agent, messenger, post_meta, whatsapp
from tests.unit.webhooks.conftest import fixture

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
ADMIN = {"Authorization": f"Bearer {SECRETS['admin_token']}",
         "Content-Type": "application/json"}
SOCIAL_CONV = "messenger.dm-PAGE1-PSID90"


@pytest.fixture
def client(aws: Built, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Client]:
    from chalicelib.config import DEFAULT_POLICIES

    policies = tmp_path / "policies.yaml"
    policies.write_text(DEFAULT_POLICIES.read_text()
                        + "teams:\n  social:\n    platforms: [messenger, whatsapp]\n")
    monkeypatch.setenv("REPLYWINDOW_POLICIES", str(policies))
    bootstrap.reset()
    import app

    with Client(app.app) as test_client:
        yield test_client


def _token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def signed_in(client: Client, token: str) -> tuple[str, str]:
    """A session cookie and the CSRF token its pages carry."""
    answer = client.http.post("/console/sign-in", body=f"token={token}",
                              headers={**FORM, "Sec-Fetch-Site": "same-origin"})
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


def test_the_inbox_merges_every_team_filters_before_the_cut_and_says_what_is_left(
        client: Client) -> None:
    """27 waiting for social (26 Messenger DMs, then one WhatsApp chat, the latest deadline)
    and an Instagram comment for support: an agent of both sees both teams in one list, a
    platform filter finds the WhatsApp chat behind the 26 DMs, and a cut list says so."""
    both = _token(make_agent(client, "pat", ["social", "support"]))
    start = datetime.now(UTC) - timedelta(minutes=40)
    dms = messenger("PSID00", "m_00", start)
    dms["entry"][0]["messaging"] = [
        messenger(f"PSID{n:02d}", f"m_{n:02d}", start + timedelta(seconds=n))[
            "entry"][0]["messaging"][0] for n in range(26)]
    post_meta(client, dms)
    post_meta(client, whatsapp("447700900009", "wamid.9", datetime.now(UTC)))
    post_meta(client, fixture("instagram/restfb_ig_comment_dashboard_sample.json"))
    cookie, _ = signed_in(client, both)

    def poll(query: str = "") -> dict[str, object]:
        answer = client.http.get(f"/console/inbox.json?{query}", headers={"Cookie": cookie})
        assert answer.status_code == 200, answer.body
        return dict(json.loads(answer.body))

    first = poll()
    rows = first["conversations"]
    assert isinstance(rows, list) and len(rows) == 25
    dues = [r["due_at"] for r in rows]
    assert None not in dues and dues == sorted(dues)  # one list, earliest deadline first
    # Each poll reads only a little more than it shows: "at least", never "nothing more".
    assert first["more"] == "At least 2 more waiting beyond these"
    page = client.http.get("/console", headers={"Cookie": cookie}).body.decode()
    assert "At least 2 more waiting beyond these" in page and 'href="/console?show=50"' in page
    everything = poll("show=50")["conversations"]
    assert isinstance(everything, list) and len(everything) == 28
    assert {r["team"] for r in everything} == {"social", "support"}
    assert [r["id"] for r in everything if r["team"] == "support"] == ["instagram.c-987654321"]
    chats = poll("platform=whatsapp")
    assert [r["id"] for r in chats["conversations"]] == [  # type: ignore[attr-defined]
        "whatsapp.wa-106540352242922-447700900009"]
    assert chats["more"] == ""
    only = poll("team=support")["conversations"]
    assert [r["id"] for r in only] == ["instagram.c-987654321"]  # type: ignore[attr-defined]
    filters = client.http.get("/console", headers={"Cookie": teams_cookie(client)}).body
    assert b'<option value="support"' not in filters  # sam: his own team only in the filter
    assert b'<option value="social"' in filters


def teams_cookie(client: Client) -> str:
    return signed_in(client, _token(make_agent(client, "sol", ["social"])))[0]


def test_replacing_an_agents_token_ends_their_console_sessions(
        client: Client, teams: dict[str, tuple[str, str]]) -> None:
    cookie, _ = teams["alice"]
    other_cookie, _ = teams["sam"]
    assert client.http.get("/console", headers={"Cookie": cookie}).status_code == 200
    replaced = client.http.post("/api/agents", headers=ADMIN, body=json.dumps(
        {"id": "alice", "name": "Alice", "phone": "+15550100002", "teams": ["support"]}))
    assert replaced.status_code == 201
    gone = client.http.get("/console", headers={"Cookie": cookie})
    assert gone.status_code == 303 and gone.headers["Location"].startswith("/console/sign-in")
    assert client.http.get("/console/inbox.json", headers={"Cookie": cookie}).status_code == 401
    assert client.http.get("/console", headers={"Cookie": other_cookie}).status_code == 200
    assert bootstrap.dynamodb().query(  # and the table holds none of alice's sessions
        TableName=bootstrap.settings().table, IndexName="GSI1",
        KeyConditionExpression="GSI1PK = :p",
        ExpressionAttributeValues={":p": {"S": "SESSIONS#alice"}})["Count"] == 0
    new_cookie, _ = signed_in(client, json.loads(replaced.body)["token"])
    assert client.http.get("/console", headers={"Cookie": new_cookie}).status_code == 200


def test_a_change_of_teams_keeps_the_session_and_applies_at_once(
        client: Client, teams: dict[str, tuple[str, str]]) -> None:
    cookie, _ = teams["sam"]
    moved = client.http.put("/api/agents/sam/teams", headers=ADMIN,
                            body=json.dumps({"teams": ["support"]}))
    assert moved.status_code == 200
    assert client.http.get("/console", headers={"Cookie": cookie}).status_code == 200
    assert client.http.get(f"/console/conversations/{SOCIAL_CONV}",
                           headers={"Cookie": cookie}).status_code == 404  # teams apply now
