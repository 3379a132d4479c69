"""The alert page behind an acknowledge link, through Chalice's test client against moto:
opening it shows the alert and writes nothing, whoever fetches it; only its button (a POST)
acknowledges; a bad link is a bare 403."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.domain.ports import AckGrant
from chalicelib.webhooks.signatures import meta_signature
from infrastructure.local.aws import Built
from tests.integration.conftest import SECRETS, run_inbound_worker
from tests.unit.webhooks.conftest import fixture

WORDS = "<script>alert(1)</script> Where is my refund? Tom & Jerry's \"order\""
ESCAPED = ("&lt;script&gt;alert(1)&lt;/script&gt; Where is my refund? Tom &amp; Jerry&#39;s "
           "&#34;order&#34;")
AGENTS = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile",
          "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0)",
          "Mozilla/5.0 (compatible; proofpoint-urldefense)", "facebookexternalhit/1.1",
          "WhatsApp/2.23.20.0 A", "")


@pytest.fixture
def client(aws: Built) -> Iterator[Client]:
    import app

    with Client(app.app) as test_client:
        yield test_client


def _table() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = bootstrap.dynamodb().scan(
        TableName=bootstrap.settings().table, ConsistentRead=True)["Items"]
    return sorted(items, key=lambda i: (i["PK"]["S"], i["SK"]["S"]))


def _complaint(client: Client) -> str:
    """A WhatsApp customer writes WORDS; the worker triages the turn. Its conversation id."""
    payload = copy.deepcopy(fixture("whatsapp/pywa_text.json"))
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message["text"]["body"], message["timestamp"] = WORDS, str(int(time.time()))
    body = json.dumps(payload).encode()
    assert client.http.post("/webhooks/meta", body=body, headers={
        "Content-Type": "application/json",
        "X-Hub-Signature-256": meta_signature(SECRETS["meta_app_secret"], body)}
    ).status_code == 200
    run_inbound_worker()
    ids = [i["id"]["S"] for i in _table() if i["SK"]["S"] == "META"]
    assert len(ids) == 1
    return str(ids[0])


def _link(conversation: str, agent: str = "alice", lifetime: float = 3600) -> str:
    now = datetime.now(UTC)
    return bootstrap.ack_links().issue(AckGrant(conversation, 1, agent,
                                                now + timedelta(seconds=lifetime)))


def test_opening_the_link_shows_the_alert_and_writes_nothing_whoever_fetches_it(
        client: Client) -> None:
    conversation = _complaint(client)
    token = _link(conversation)
    before = _table()
    for agent in AGENTS * 2:
        page = client.http.get(f"/ack/{token}", headers={"User-Agent": agent})
        assert page.status_code == 200, agent
        html = page.body.decode()
        assert ESCAPED in html and "<script>" not in html  # the customer's words, inert
        assert "Warning" in html and "WhatsApp" in html and "Test Name" in html
        assert " left" in html and "Not acknowledged yet" in html
        assert '<form method="post"><button type="submit">Acknowledge</button></form>' in html
    # A link scanner's visits changed nothing: no acknowledgement, no other write at all.
    assert _table() == before
    after = bootstrap.conversations().get(conversation)
    assert after is not None and after.acked_by is None and after.assignee is None


def test_the_page_forbids_leaking_framing_caching_and_scripts(client: Client) -> None:
    page = client.http.get(f"/ack/{_link(_complaint(client))}")
    headers = page.headers
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    csp = dict(d.strip().split(" ", 1) for d in headers["Content-Security-Policy"].split(";"))
    assert csp["default-src"] == "'none'" and csp["form-action"] == "'self'"
    # The console's policy: only the app's own stylesheet and script, nothing inline.
    assert csp["frame-ancestors"] == "'none'" and csp["style-src"] == "'self'"
    assert csp["script-src"] == "'self'" and "unsafe-inline" not in csp["script-src"]
    body = page.body.decode()
    scripts = [tag for tag in body.split("<script")[1:]]
    assert all(tag.lstrip().startswith('src="/console/static/console.js"') for tag in scripts)
    assert (headers["X-Frame-Options"], headers["Referrer-Policy"], headers["Cache-Control"]) \
        == ("DENY", "same-origin", "no-store")
    assert 'name="viewport" content="width=device-width,initial-scale=1"' in page.body.decode()


def test_the_button_acknowledges_and_shows_the_page_again(client: Client) -> None:
    conversation = _complaint(client)
    token = _link(conversation)
    # A browser's form submit: an empty urlencoded body, no session, no CSRF field.
    done = client.http.post(f"/ack/{token}", body=b"",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert done.status_code == 200
    html = done.body.decode()
    assert "Acknowledged: no more alerts for this turn; it is yours, alice." in html
    assert "Acknowledged by alice" in html and ESCAPED in html
    assert "Acknowledge</button>" not in html  # nothing left to press
    acked = bootstrap.conversations().get(conversation)
    assert acked is not None and (acked.acked_by, acked.acked_turn) == ("alice", 1)
    # Opening the link again says so; pressing again changes nothing.
    assert "Acknowledged by alice" in client.http.get(f"/ack/{token}").body.decode()
    again = client.http.post(f"/ack/{token}")
    assert again.status_code == 200 and "Already acknowledged" in again.body.decode()


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_forged_or_expired_link_gets_a_bare_403(client: Client, method: str) -> None:
    conversation = _complaint(client)
    real, expired = _link(conversation), _link(conversation, "bob", lifetime=-1)
    code, signature = real.split(".")
    before = _table()
    for token in (expired, f"{code}.{'A' * len(signature)}", f"{code}x.{signature}", code,
                  "AAAAAAAA.BBBBBBBBBBBB"):
        form = {"Content-Type": "application/x-www-form-urlencoded"} if method == "POST" else {}
        page = client.http.request(method, f"/ack/{token}", body=b"", headers=form)
        assert page.status_code == 403, token
        html = page.body.decode()
        assert "invalid or has expired" in html
        assert "refund" not in html and conversation not in html and "Test Name" not in html
        assert "Acknowledge</button>" not in html
        assert page.headers["Referrer-Policy"] == "same-origin"
    assert _table() == before


class _BrokenLinks:
    """A link store failing in a way nobody planned for, quoting what it was given."""

    def issue(self, grant: AckGrant) -> str:
        raise RuntimeError("not used here")

    def redeem(self, token: str, now: datetime) -> AckGrant | None:
        raise RuntimeError(f"unexpected: {token}")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_fault_is_a_page_that_says_try_again_and_the_token_is_never_logged(
        client: Client, method: str, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    import dataclasses
    import logging

    conversation = _complaint(client)
    token = _link(conversation)
    caplog.set_level(logging.DEBUG)
    form = {"Content-Type": "application/x-www-form-urlencoded"} if method == "POST" else {}
    real = bootstrap.ack_deps()
    monkeypatch.setattr(bootstrap, "ack_deps",
                        lambda: dataclasses.replace(real, links=_BrokenLinks()))
    broken = client.http.request(method, f"/ack/{token}", body=b"", headers=form)
    assert broken.status_code == 500
    assert broken.headers["Content-Type"].startswith("text/html")
    assert "try again in a minute" in broken.body.decode()
    monkeypatch.setattr(bootstrap, "ack_deps", lambda: real)
    bootstrap.dynamodb().delete_table(TableName=bootstrap.settings().table)  # AWS fails
    down = client.http.request(method, f"/ack/{token}", body=b"", headers=form)
    assert down.status_code == 503
    assert down.headers["Content-Type"].startswith("text/html")
    assert "try again in a minute" in down.body.decode()
    assert down.headers["Retry-After"] == "60"
    logged = caplog.text + "".join(capsys.readouterr()) + "".join(
        repr(vars(record)) for record in caplog.records)
    assert any(getattr(record, "error", None) == "RuntimeError"  # it is logged...
               for record in caplog.records if record.getMessage() == "alert page failed")
    assert token not in logged and "Caught exception" not in logged  # ...without the token
    assert token.split(".")[0] not in logged
