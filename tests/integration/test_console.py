"""The console's routes in the Chalice app against moto: cookies, headers, assets, revocation."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.adapters.dynamodb.sessions import DynamoSessions
from chalicelib.console import sessions
from chalicelib.webhooks.signatures import x_signature
from infrastructure.local.aws import Built
from tests.integration.conftest import SECRETS, run_inbound_worker
from tests.integration.test_agent_api import messenger, post_meta
from tests.unit.webhooks.conftest import fixture

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def client(aws: Built) -> Iterator[Client]:
    import app

    with Client(app.app) as test_client:
        yield test_client


def _sign_in(client: Client, **headers: str) -> dict[str, str]:
    answer = client.http.post("/console/sign-in", headers={
        **FORM, "Sec-Fetch-Site": "same-origin", **headers},
                              body=f"token={SECRETS['admin_token']}&next=/console")
    assert answer.status_code == 303, answer.body
    return dict(answer.headers)


def test_in_aws_the_cookie_is_secure_and_links_keep_the_stage_prefix(
        aws: Built, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLYWINDOW_PUBLIC_URL", "https://abc.execute-api.example/api")
    bootstrap.reset()
    import app

    with Client(app.app) as client:
        headers = _sign_in(client)
        cookie = headers["Set-Cookie"]
        assert "; Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        # __Host-: Secure, Path=/ (which covers the /api stage too) and no Domain, so no
        # sibling subdomain can set or shadow it.
        assert cookie.startswith("__Host-rw_session=") and "; Path=/;" in cookie
        assert "Domain" not in cookie
        assert headers["Location"] == "/api/console"
        page = client.http.get("/console", headers={"Cookie": cookie.split(";", 1)[0]})
        assert b'href="/api/console/static/console.css"' in page.body
        # Over https a session cookie without the prefix (one a subdomain could plant) is
        # not taken.
        planted = cookie.split(";", 1)[0].removeprefix("__Host-")
        assert client.http.get("/console", headers={"Cookie": planted}).status_code == 303


def test_locally_the_cookie_is_not_secure_and_pages_carry_a_strict_csp(
        client: Client) -> None:
    cookie = _sign_in(client)["Set-Cookie"]
    assert "Secure" not in cookie and "Max-Age=43200" in cookie
    assert cookie.startswith("rw_session=")  # plain http: no __Host- prefix possible
    page = client.http.get("/console", headers={"Cookie": cookie.split(";", 1)[0]})
    assert page.status_code == 200
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["Cache-Control"] == "no-store"
    assert b"<script>" not in page.body and b"style=" not in page.body


def test_a_sign_in_posted_from_another_site_or_from_nowhere_is_refused(client: Client) -> None:
    """Login CSRF: a sign-in must say it comes from this site (Origin, or Sec-Fetch-Site)."""
    for headers in ({"Origin": "https://evil.example"}, {},
                    {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
                    {"Origin": "https://evil.example", "Sec-Fetch-Site": "same-origin"}):
        answer = client.http.post("/console/sign-in", headers={**FORM, **headers},
                                  body=f"token={SECRETS['admin_token']}")
        assert answer.status_code == 403, headers
        assert "Set-Cookie" not in answer.headers
    for headers in ({"Sec-Fetch-Site": "same-origin"},
                    {"Origin": "http://console.example", "Host": "console.example"}):
        answer = client.http.post("/console/sign-in", headers={**FORM, **headers},
                                  body=f"token={SECRETS['admin_token']}")
        assert answer.status_code == 303, headers


def test_assets_are_served_and_nothing_else_is(client: Client) -> None:
    script = client.http.get("/console/static/console.js")
    assert script.status_code == 200
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert client.http.get("/console/static/console.css").status_code == 200
    for name in ("routes.py", "..%2Froutes.py", "templates"):
        assert client.http.get(f"/console/static/{name}").status_code == 404


def test_revoking_an_agents_sessions_deletes_every_one_of_them(client: Client) -> None:
    store = DynamoSessions(bootstrap.dynamodb(), bootstrap.settings().table)
    deps = sessions.SessionDeps(store=store, now=bootstrap.now)
    from chalicelib.services.auth import Principal

    started = [sessions.start(Principal("erin", "agent"), deps) for _ in range(3)]
    kept = sessions.start(Principal("frank", "agent"), deps)
    refused = client.http.delete("/api/agents/erin/sessions")
    assert refused.status_code == 401
    answer = client.http.delete("/api/agents/erin/sessions", headers={
        "Authorization": f"Bearer {SECRETS['admin_token']}"})
    assert answer.status_code == 200
    assert answer.json_body == {"agent": "erin", "revoked": 3}
    assert all(sessions.resume(s.id, deps) is None for s in started)
    assert sessions.resume(kept.id, deps) is not None


def test_without_a_public_url_the_stage_and_https_come_from_api_gateways_request(
        aws: Built, monkeypatch: pytest.MonkeyPatch) -> None:
    """The packaged API function has no REPLYWINDOW_PUBLIC_URL unless the operator sets
    PublicUrl: its cookie must still be Secure and its links keep the `/api` stage."""
    monkeypatch.setenv("REPLYWINDOW_PUBLIC_URL", "")
    bootstrap.reset()
    import app

    event = {"resource": "/console/sign-in", "path": "/console/sign-in", "httpMethod": "POST",
             "headers": {**FORM, "Host": "abc.execute-api.us-east-1.amazonaws.com",
                         "X-Forwarded-Proto": "https",
                         "Origin": "https://abc.execute-api.us-east-1.amazonaws.com"},
             "multiValueHeaders": {}, "queryStringParameters": None,
             "multiValueQueryStringParameters": None, "pathParameters": None,
             "stageVariables": None, "isBase64Encoded": False,
             "body": f"token={SECRETS['admin_token']}&next=/console",
             "requestContext": {"resourcePath": "/console/sign-in", "httpMethod": "POST",
                                "path": "/api/console/sign-in", "stage": "api",
                                "requestId": "r1", "identity": {"sourceIp": "203.0.113.9"}}}
    answer = app.app(event, None)
    assert answer["statusCode"] == 303, answer
    headers = {k.lower(): v for k, v in answer["headers"].items()}
    assert headers["location"] == "/api/console"
    assert "; Secure" in headers["set-cookie"] and "HttpOnly" in headers["set-cookie"]
    assert headers["set-cookie"].startswith("__Host-rw_session=")


def _admin_cookie(client: Client) -> str:
    return _sign_in(client)["Set-Cookie"].split(";", 1)[0]


def test_the_conversation_pages_reply_box_knows_the_platforms_rules(client: Client) -> None:

    cookie = _admin_cookie(client)
    post_meta(client, messenger("PSID1", "m_old", datetime.now(UTC) - timedelta(hours=30)))
    written = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    post_meta(client, messenger("PSID2", "m_new", written))
    payload = copy.deepcopy(fixture("twitter/xaa_post_reply_create.json"))
    payload["data"]["payload"]["entities"] = {}  # no @mention of the brand: no public reply
    body = json.dumps(payload).encode()
    assert client.http.post("/webhooks/x", body=body, headers={
        "x-twitter-webhooks-signature": x_signature(SECRETS["x_consumer_secret"], body),
        "Content-Type": "application/json"}).status_code == 200
    run_inbound_worker()

    def page(conversation: str) -> str:
        answer = client.http.get(f"/console/conversations/{conversation}",
                                 headers={"Cookie": cookie})
        assert answer.status_code == 200, answer.body[:300]
        return answer.body.decode()

    closed = page("messenger.dm-PAGE1-PSID1")
    assert "No reply can be sent now" in closed and "24-hour" in closed
    assert "<textarea" not in closed
    open_ = page("messenger.dm-PAGE1-PSID2")
    assert 'maxlength="2000" data-limit="2000"' in open_ and "0 of 2000 characters" in open_
    closes = written + timedelta(hours=24)
    assert f'The window closes at <time datetime="{closes.isoformat()}">' in open_
    dm = page("x.t-2090000000000000001")
    assert 'maxlength="280"' in dm and 'name="private" value="on"' in dm
    assert "goes as a direct message" in dm
    assert 'type="checkbox" name="private"' not in dm  # no choice: it can only be a DM


def test_a_refused_console_form_is_a_page_with_the_way_back_not_json(client: Client) -> None:
    cookie = _admin_cookie(client)
    back = {"Referer": "http://localhost/console/conversations/x.t-1?status=resolved"}
    for headers, body, status, words in (
            ({"Origin": "https://evil.example"}, "csrf=x", 403, "from another site"),
            ({}, "csrf=wrong", 403, "out of date"),
            ({}, "csrf=x&text=" + "a" * 70_000, 400, "could not be read")):
        answer = client.http.post("/console/conversations/x.t-1/resolve", headers={
            **FORM, **back, **headers, "Cookie": cookie}, body=body)
        assert answer.status_code == status, (words, answer.body[:200])
        assert answer.headers["Content-Type"].startswith("text/html")
        page = answer.body.decode()
        assert words in page
        assert ('<a href="/console/conversations/x.t-1?status=resolved">Reload the page and '
                'try again</a>') in page
