"""The console's team pages in the Chalice app against moto: on call (admins add and remove
overrides with the CSRF token), the reports page's figures are the API's, the channels page
says what to do, and every link an alert carries opens one of these pages."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from infrastructure.local.aws import Built
from tests.integration.conftest import SECRETS, seed_support_team

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
ADMIN = {"Authorization": f"Bearer {SECRETS['admin_token']}",
         "Content-Type": "application/json"}


@pytest.fixture
def client(aws: Built) -> Iterator[Client]:
    import app

    with Client(app.app) as test_client:
        seed_support_team(test_client, {agent: {"email": f"{agent}@example.com"}
                                        for agent in ("alice", "bob", "erin")})
        yield test_client


def _signed_in(client: Client, token: str = SECRETS["admin_token"]) -> tuple[str, str]:
    """A session cookie and the CSRF token the pages carry."""
    answer = client.http.post("/console/sign-in", headers={**FORM, "Sec-Fetch-Site":
                                                           "same-origin"}, body=f"token={token}")
    assert answer.status_code == 303
    cookie = answer.headers["Set-Cookie"].split(";", 1)[0]
    page = client.http.get("/console/oncall", headers={"Cookie": cookie}).body.decode()
    return cookie, page.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def _page(client: Client, path: str, cookie: str) -> str:
    answer = client.http.get(path, headers={"Cookie": cookie})
    assert answer.status_code == 200, (path, answer.status_code, answer.body[:300])
    assert answer.headers["Content-Type"].startswith("text/html")
    return answer.body.decode()


def test_an_admin_adds_and_removes_an_override_and_the_page_shows_who_is_on_call(
        client: Client) -> None:
    cookie, csrf = _signed_in(client)
    page = _page(client, "/console/oncall", cookie)
    assert "Primary now" in page and "alice" in page and "erin" in page  # erin: the lead
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
    end = start + timedelta(hours=2)
    form = (f"csrf={csrf}&agent=erin&start={start:%Y-%m-%dT%H:%M}"
            f"&end={end:%Y-%m-%dT%H:%M}")
    missing = client.http.post("/console/oncall/support/overrides", headers={
        **FORM, "Cookie": cookie}, body=form.replace(f"csrf={csrf}", "csrf=0"))
    assert missing.status_code == 403
    added = client.http.post("/console/oncall/support/overrides",
                             headers={**FORM, "Cookie": cookie}, body=form)
    assert added.status_code == 303
    assert "Override+added" in added.headers["Location"]
    rota = bootstrap.oncall().rota("support")
    assert rota is not None and [o.agent_id for o in rota.overrides] == ["erin"]
    page = _page(client, "/console/oncall", cookie)
    assert re.search(r"<dt>Primary now</dt><dd>erin</dd>", page)  # the override applies now
    assert f"{end:%Y-%m-%d %H:%M}" in page  # and says when it ends

    removed = client.http.post("/console/oncall/support/overrides/remove", headers={
        **FORM, "Cookie": cookie}, body=f"csrf={csrf}&agent=erin&start={start.isoformat()}"
                                        f"&end={end.isoformat()}".replace("+", "%2B"))
    assert removed.status_code == 303 and "Override+removed" in removed.headers["Location"]
    rota = bootstrap.oncall().rota("support")
    assert rota is not None and rota.overrides == ()


def test_an_agent_sees_the_rota_but_cannot_change_it(client: Client) -> None:
    made = client.http.post("/api/agents", headers=ADMIN, body=json.dumps(
        {"id": "carol", "name": "Carol", "email": "carol@example.com", "teams": ["support"]}))
    cookie, csrf = _signed_in(client, json.loads(made.body)["token"])
    page = _page(client, "/console/oncall", cookie)
    assert "Primary now" in page and "Add override" not in page
    refused = client.http.post("/console/oncall/support/overrides",
                               headers={**FORM, "Cookie": cookie},
                               body=f"csrf={csrf}&agent=carol&start=2026-12-01T09:00"
                                    "&end=2026-12-01T10:00")
    assert refused.status_code == 403
    rota = bootstrap.oncall().rota("support")
    assert rota is not None and rota.overrides == ()


def test_the_reports_page_shows_the_apis_attainment(client: Client) -> None:
    cookie, _ = _signed_in(client)
    api = json.loads(client.http.get("/api/reports/sla", headers=ADMIN).body)
    page = _page(client, "/console/reports", cookie)
    shown = re.search(r'id="attainment" data-value="([^"]*)"', page)
    assert shown is not None
    assert shown.group(1) == ("" if api["overall"]["attainment"] is None
                              else str(api["overall"]["attainment"]))
    assert page.count("<svg") == 4 and "<title" in page


def test_every_link_an_alert_carries_opens_a_page(client: Client) -> None:
    """Digest: the inbox filtered to what it covers; channel alert: the channels page (both pages
    for a person, never JSON); signed out, each leads to sign-in and back."""
    cookie, _ = _signed_in(client)
    digest_link = "/console?team=support&platform=x"
    inbox = _page(client, digest_link, cookie)
    for chosen in ("support", "x"):
        assert f'<option value="{chosen}" selected>' in inbox
    channels = _page(client, "/console/channels", cookie)
    assert "<h1>Channels</h1>" in channels
    for path in (digest_link, "/console/channels"):
        away = client.http.get(path)
        assert away.status_code == 303
        assert away.headers["Location"].startswith("/console/sign-in?next=")


def test_a_channel_down_says_what_to_do_and_only_an_admin_sees_the_platforms_error(
        client: Client) -> None:
    bootstrap.channels().record("instagram", "unhealthy", "instagram: token rejected (190)",
                                bootstrap.now())
    admin_cookie, _ = _signed_in(client)
    shown = _page(client, "/console/channels", admin_cookie)
    assert "instagram: <span class=\"state\">unhealthy</span>" in shown
    assert "What to do:" in shown and "Generate a new Page or system-user token" in shown
    assert "token rejected (190)" in shown
    made = client.http.post("/api/agents", headers=ADMIN, body=json.dumps(
        {"id": "carol", "name": "Carol", "email": "carol@example.com", "teams": ["support"]}))
    agent_cookie, _ = _signed_in(client, json.loads(made.body)["token"])
    seen = _page(client, "/console/channels", agent_cookie)
    assert "What to do:" in seen and "token rejected (190)" not in seen


def _watch_rows(page: str) -> dict[str, str]:
    section = page.split('id="self-watch"', 1)[1].split("</section>", 1)[0]
    return {check: re.sub(r"</?strong>", "", state) for check, state in re.findall(
        r"<tr class=\"\w+\"><td>([^<]+)</td><td>(.+?)</td></tr>", section)}


def test_the_channels_page_shows_an_admin_what_doctor_shows_and_an_agent_nothing_of_it(
        client: Client) -> None:
    """Dead letters, alarm states and the alarm clock's failures, as on /health's admin view
    and in `replywindow doctor`: admins only (queue and alarm names map the deployment)."""
    admin_cookie, _ = _signed_in(client)
    clear = _page(client, "/console/channels", admin_cookie)
    assert _watch_rows(clear)["dead letters: alerts"] == "none"
    assert "All clear." in clear
    sqs = bootstrap.sqs()
    dlq = sqs.get_queue_url(QueueName="replywindow-dev-alerts-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"bucket": 1}))
    bootstrap.cloudwatch().set_alarm_state(AlarmName="replywindow-dev-alerts-dead-letters",
                                           StateValue="ALARM", StateReason="test")
    shown = _page(client, "/console/channels", admin_cookie)
    rows = _watch_rows(shown)
    health = json.loads(client.http.get("/health", headers=ADMIN).body)
    assert rows["dead letters: alerts"] == "1 waiting (replywindow dlq alerts)"
    assert rows["dead letters: inbound"] == "none"
    assert {k.removeprefix("alarm: "): v for k, v in rows.items()
            if k.startswith("alarm: ")} == {a["name"]: a["state"] for a in health["alarms"]}
    assert rows["alarm: replywindow-dev-alerts-dead-letters"] == "ALARM"
    assert rows["alarm clock executions"] == "0 failed, 0 timed out, 0 aborted"
    assert ("Needs attention:</strong> dead letters: alerts, "
            "alarm: replywindow-dev-alerts-dead-letters.") in shown
    made = client.http.post("/api/agents", headers=ADMIN, body=json.dumps(
        {"id": "carol", "name": "Carol", "email": "carol@example.com", "teams": ["support"]}))
    agent_cookie, _ = _signed_in(client, json.loads(made.body)["token"])
    seen = _page(client, "/console/channels", agent_cookie)
    assert 'id="self-watch"' not in seen and "dead letters" not in seen
    assert "replywindow-dev-alerts" not in seen
