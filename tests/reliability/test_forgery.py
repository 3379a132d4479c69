"""Replay and forgery: a signature only ever vouches for its own body on its own platform; the
subscription handshakes sign or echo nothing a forger chose; an acknowledge link only ever acts
for its own agent, turn and lifetime, and only when its button is pressed (not when a link
scanner opens it); and every secret is compared in constant time (read from the code itself)."""

from __future__ import annotations

import ast
import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from chalice.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import bootstrap
from chalicelib.domain.ports import AckGrant
from chalicelib.webhooks.signatures import meta_signature, x_signature
from infrastructure.local.aws import Built
from tests.integration.conftest import SECRETS, run_inbound_worker
from tests.integration.test_webhook_routes import function_url_event
from tests.unit.webhooks.conftest import fixture

CHALICELIB = Path(__file__).resolve().parents[2] / "chalicelib"
META, X = SECRETS["meta_app_secret"], SECRETS["x_consumer_secret"]


@pytest.fixture
def client(aws: Built) -> Iterator[Client]:
    import app

    with Client(app.app) as test_client:
        yield test_client


def _items() -> list[dict[str, Any]]:
    return bootstrap.dynamodb().scan(TableName=bootstrap.settings().table)["Items"]


def _meta(client: Client, body: bytes, signature: str) -> int:
    return int(client.http.post("/webhooks/meta", body=body, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": signature}).status_code)


def _x(client: Client, body: bytes, signature: str) -> int:
    return int(client.http.post("/webhooks/x", body=body, headers={
        "Content-Type": "application/json", "x-twitter-webhooks-signature": signature}
    ).status_code)


def test_a_signature_vouches_only_for_its_own_body_and_platform(client: Client) -> None:
    whatsapp = json.dumps(fixture("whatsapp/pywa_text.json")).encode()
    x_dm = json.dumps(fixture("twitter/aaa_docs_direct_message_events.json")).encode()
    signed = meta_signature(META, whatsapp)
    tampered = whatsapp.replace(b'"text"', b'"text" ', 1)
    assert tampered != whatsapp
    assert _meta(client, tampered, signed) == 401  # one byte changed, old signature reused
    assert _x(client, whatsapp, signed.removeprefix("sha256=")) == 401  # Meta's on X's door
    assert _x(client, x_dm, x_signature(META, x_dm)) == 401  # right scheme, other app's key
    assert _meta(client, x_dm, "sha256=" + x_signature(X, x_dm)[7:]) == 401
    # Nothing of the bodies is kept, only each channel's count of failed signatures.
    assert [i for i in _items() if i["PK"]["S"] != "CHANNELS"] == []
    # A replayed delivery (same body, same signature) is accepted once and stored once.
    assert _meta(client, whatsapp, signed) == 200
    stored = _items()
    assert _meta(client, whatsapp, signed) == 200
    assert _items() == stored


def _conversation(client: Client) -> str:
    body = json.dumps(fixture("whatsapp/pywa_text.json")).encode()
    assert _meta(client, body, meta_signature(META, body)) == 200
    run_inbound_worker()
    conversations = [i for i in _items() if i["SK"]["S"] == "META"]
    assert len(conversations) == 1
    return str(conversations[0]["id"]["S"])


def _ack(client: Client, token: str) -> int:
    return int(client.http.post(f"/ack/{token}").status_code)


def test_forged_swapped_expired_or_stale_ack_links_do_nothing(client: Client) -> None:
    conversation = _conversation(client)
    links, now = bootstrap.ack_links(), datetime.now(UTC)
    alice = links.issue(AckGrant(conversation, 1, "alice", now + timedelta(hours=1)))
    bob = links.issue(AckGrant(conversation, 1, "bob", now + timedelta(hours=1)))
    expired = links.issue(AckGrant(conversation, 1, "bob", now - timedelta(seconds=1)))
    stale = links.issue(AckGrant(conversation, 0, "bob", now + timedelta(hours=1)))
    code_a, sig_a = alice.split(".")
    code_b, sig_b = bob.split(".")
    forged = [f"{code_a}.{sig_b}", f"{code_b}.{sig_a}",  # halves of two real links
              f"{code_a}.", code_a, f"{code_a}.{'A' * len(sig_a)}", f"{code_a}x.{sig_a}",
              f"{code_a}.{sig_a}{'A' * 60}", expired]
    for token in forged:
        assert _ack(client, token) == 403, token
    assert bootstrap.conversations().get(conversation).acked_turn is None  # type: ignore[union-attr]
    assert _ack(client, stale) == 200  # a link for an old turn acknowledges nothing now
    assert bootstrap.conversations().get(conversation).acked_turn is None  # type: ignore[union-attr]
    # Bob's link acts for Bob only; Alice's link, later, cannot take the turn from him.
    assert _ack(client, bob) == 200
    assert _ack(client, alice) == 200
    after = bootstrap.conversations().get(conversation)
    assert after is not None and (after.acked_by, after.acked_turn) == ("bob", 1)


HANDSHAKES: Counter[str] = Counter()
_bodies = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                               max_size=3), max_leaves=8)


@pytest.fixture(scope="module")
def rest_front() -> Iterator[str]:
    """The REST API as packaged (build/sam.json) and served locally: only its declared paths."""
    import threading

    import app
    from infrastructure.local.rest_front import rest_front as serve
    from infrastructure.local.runtime import free_port
    from infrastructure.package import packaged, rest_api_paths

    template, _ = packaged("dev")
    port = free_port()
    server = serve(app.app, rest_api_paths(template), "127.0.0.1", port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=st.dictionaries(st.text(max_size=8), _bodies, max_size=4)
       | st.lists(_bodies, max_size=4))
def test_the_crc_signs_no_forged_delivery_through_the_only_front(client: Client, rest_front: str,
                                                                 document: Any) -> None:
    """The CRC answer for a text is that text's delivery signature: a forger asks it to
    "answer" a body, then POSTs the body with the answer. The function URL refuses to answer,
    and the POST signed with whatever it gave is a 401 that stores nothing. The REST API does
    not serve the webhooks at all (403, as API Gateway answers an undeclared path): the
    function URL, with its own least-privileged role, is the only way in."""
    import app

    body = json.dumps(document)
    query = urlencode({"crc_token": body})
    rest = requests.get(f"{rest_front}/webhooks/x?{query}", timeout=10)
    assert rest.status_code == 403 and "sha256=" not in rest.text
    posted = requests.post(f"{rest_front}/webhooks/x", data=body.encode(), timeout=10, headers={
        "Content-Type": "application/json", "x-twitter-webhooks-signature": "sha256=AAAA"})
    assert posted.status_code == 403
    url = app.webhook_url(function_url_event("GET", "/webhooks/x", query=query), None)
    assert url["statusCode"] == 400 and "sha256=" not in url["body"]
    token = json.loads(url["body"]).get("response_token", "sha256=")
    forged = app.webhook_url(function_url_event("POST", "/webhooks/x", body.encode(), {
        "Content-Type": "application/json", "x-twitter-webhooks-signature": token}), None)
    assert forged["statusCode"] == 401
    HANDSHAKES["crc"] += 1
    # Nothing stored; only the channel's count of failed signatures (a forger at work) moved.
    assert [i for i in _items() if i["PK"]["S"] != "CHANNELS"] == []


@pytest.mark.parametrize("challenge", ["<script>alert(1)</script>", "<img src=x onerror=1>",
                                       '{"a":1}', "x" * 129, "1 2", "1158201444\r\n<b>"])
def test_the_meta_challenge_never_reflects_markup(client: Client, challenge: str) -> None:
    for token in ("verify-me", "wrong"):  # the right verify token, and a wrong one
        response = client.http.get("/webhooks/meta?" + urlencode({
            "hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": challenge}))
        assert response.status_code == (400 if token == "verify-me" else 403)
        assert challenge.encode() not in response.body
        HANDSHAKES["challenge"] += 1


SCANNERS = ("Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0)",  # Safe Links
            "Mozilla/5.0 (compatible; proofpoint-urldefense)", "facebookexternalhit/1.1",
            "WhatsApp/2.23.20.0 A", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148", "")


def test_link_scanners_opening_an_ack_link_acknowledge_nothing(client: Client) -> None:
    conversation = _conversation(client)
    link = bootstrap.ack_links().issue(AckGrant(conversation, 1, "alice",
                                                datetime.now(UTC) + timedelta(hours=1)))
    before = _items()
    fetches = 0
    for agent in SCANNERS * 3:
        assert client.http.get(f"/ack/{link}", headers={"User-Agent": agent}).status_code == 200
        fetches += 1
    assert _items() == before  # not one write
    assert _ack(client, link) == 200  # the button
    after = bootstrap.conversations().get(conversation)
    assert after is not None and (after.acked_by, after.acked_turn) == ("alice", 1)
    print(f"\nhandshakes: {HANDSHAKES['crc']} CRC forgeries refused by the function URL (the "
          f"REST API serves no webhook) and "
          f"{HANDSHAKES['challenge']} reflected challenges refused; link scanners: {fetches} "
          f"fetches by {len(SCANNERS)} user agents, 0 writes")


_SECRETISH = ("signature", "digest", "token", "secret", "expected", "mac")


def _names(node: ast.AST) -> list[str]:
    return [n.id if isinstance(n, ast.Name) else n.attr for n in ast.walk(node)
            if isinstance(n, ast.Name | ast.Attribute)]


def test_every_secret_is_compared_in_constant_time() -> None:
    """No `==` / `!=` between values named like secrets anywhere in chalicelib, and the three
    places that check one (webhook signatures, the admin token, ack links) use
    hmac.compare_digest."""
    offenders = []
    for path in sorted(CHALICELIB.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.Compare) or not any(
                    isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
                continue
            operands = [node.left, *node.comparators]
            if any(isinstance(o, ast.Constant) or (  # a literal or a module constant: no secret
                    isinstance(o, ast.Name | ast.Attribute) and _names(o)[0].isupper())
                   for o in operands):
                continue
            names = [n.lower() for o in operands for n in _names(o)]
            if any(s in n for n in names for s in _SECRETISH):
                offenders.append(f"{path.relative_to(CHALICELIB)}:{node.lineno}")
    assert offenders == []
    for checker in ("webhooks/signatures.py", "services/auth.py",
                    "adapters/dynamodb/ack_links.py", "services/webhooks.py"):
        assert "hmac.compare_digest(" in (CHALICELIB / checker).read_text(), checker
