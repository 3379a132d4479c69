"""Replay and forgery: a signature only ever vouches for its own body on its own platform; an
acknowledge link only ever acts for its own agent, turn and lifetime; and every secret is
compared in constant time (read from the code itself)."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.domain.ports import AckGrant
from chalicelib.webhooks.signatures import meta_signature, x_signature
from infrastructure.local.aws import Built
from tests.integration.conftest import SECRETS, run_inbound_worker
from tests.unit.webhooks.conftest import fixture

CHALICELIB = Path(__file__).resolve().parents[2] / "chalicelib"
META, X = SECRETS["meta_app_secret"], SECRETS["x_consumer_secret"]


@pytest.fixture
def client(aws: Built) -> Iterator[Client]:
    import app

    with Client(app.app) as test_client:
        yield test_client


def _items() -> list[dict]:
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
    assert _items() == []
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
