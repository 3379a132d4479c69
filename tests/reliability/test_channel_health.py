"""Channel health against moto: the silent failures (a rotated app secret, a revoked app, a
refused token) reach the admins' phones once per incident and once on recovery, and /health
shows each channel's state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import bootstrap, handlers
from chalicelib.webhooks.signatures import meta_signature, x_signature
from infrastructure.local import outbox
from infrastructure.local.aws import Built
from tests.integration.conftest import SECRETS
from tests.unit.webhooks.conftest import fixture

ADMIN = {"Authorization": f"Bearer {SECRETS['admin_token']}"}


@pytest.fixture
def client(aws: Built, tmp_path: Path) -> Iterator[tuple[Client, Path]]:
    import app

    deliveries = tmp_path / "outbox.jsonl"
    outbox.install(deliveries)
    with Client(app.app) as test_client:
        for agent in ({"id": "ops", "name": "Ops", "phone": "+15550100010", "role": "admin"},
                      {"id": "alice", "name": "Alice", "phone": "+15550100001"}):
            assert test_client.http.post("/api/agents", headers=ADMIN,
                                         body=json.dumps(agent)).status_code == 201
        yield test_client, deliveries


def _sms(deliveries: Path) -> list[tuple[str, str]]:
    if not deliveries.exists():
        return []
    return [(d["to"], d["text"]) for d in map(json.loads, deliveries.read_text().splitlines())
            if d["protocol"] == "sms"]


def _meta(client: Client, body: bytes, signature: str) -> int:
    return int(client.http.post("/webhooks/meta", body=body, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": signature}).status_code)


def _health(client: Client) -> dict[str, Any]:
    # The channels' details are for the admin's eyes only.
    return dict(json.loads(client.http.get("/health", headers=ADMIN).body)["channels"])


def test_a_rotated_app_secret_pages_the_admins_once_then_recovers(client) -> None:
    http, deliveries = client
    body = json.dumps(fixture("whatsapp/pywa_text.json")).encode()
    stale = meta_signature("last-years-app-secret", body)
    for _ in range(4):
        assert _meta(http, body, stale) == 401
    assert handlers.channel_watch() == {}  # four in a row could be a probe, not an outage
    assert _meta(http, body, stale) == 401
    assert handlers.channel_watch() == {"meta": "down: signature_failures"}
    assert handlers.channel_watch() == {}
    assert _health(http)["meta"]["state"] == "signature_failures"
    assert _meta(http, body, meta_signature(SECRETS["meta_app_secret"], body)) == 200
    assert handlers.channel_watch() == {"meta": "recovered"}
    sms = _sms(deliveries)
    assert [to for to, _ in sms] == ["+15550100010", "+15550100010"]  # the admin, not Alice
    assert sms[0][1].startswith("CHANNEL DOWN meta: deliveries fail their signature")
    assert sms[1][1].startswith("CHANNEL OK meta: working again")
    assert _health(http)["whatsapp"]["last_event_at"] is not None


def test_a_revoked_x_app_pages_the_admins(client) -> None:
    http, deliveries = client
    body = json.dumps(fixture("twitter/aaa_docs_user_event.json")).encode()
    assert http.http.post("/webhooks/x", body=body, headers={
        "Content-Type": "application/json",
        "x-twitter-webhooks-signature": x_signature(SECRETS["x_consumer_secret"], body),
    }).status_code == 200
    assert handlers.channel_watch() == {"x": "down: auth"}
    assert _health(http)["x"]["state"] == "revoked"
    [(to, text)] = _sms(deliveries)
    assert to == "+15550100010" and text.startswith("CHANNEL DOWN x: revoked")


def test_a_failed_admin_alert_is_sent_by_the_next_pass(client, monkeypatch) -> None:
    _, deliveries = client
    bootstrap.channels().record("instagram", "unhealthy", "instagram: token rejected (190)",
                                bootstrap.now())
    notifier = bootstrap.notifier()

    def down(*args: Any, **kwargs: Any) -> None:
        from chalicelib.domain.errors import StoreUnavailable

        raise StoreUnavailable("publish alert: ThrottlingException")

    monkeypatch.setattr(notifier, "notify", down)
    with pytest.raises(Exception, match="Throttling"):
        handlers.channel_watch()
    monkeypatch.undo()
    assert handlers.channel_watch() == {"instagram": "down: auth"}
    assert len(_sms(deliveries)) == 1
