"""Channel health against moto: the silent failures (a rotated app secret, a revoked app, a
refused token) reach the admins' phones once per incident and once on recovery, and /health
shows each channel's state. Forged POSTs, which anyone can send, page nobody while the
channel's real deliveries keep verifying, and one channel pages at most once an hour."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import bootstrap, handlers
from chalicelib.webhooks.signatures import meta_signature, x_signature
from infrastructure.local import outbox
from infrastructure.local.aws import Built
from tests.integration.conftest import SECRETS
from tests.integration.test_agent_api import mention, whatsapp
from tests.unit.webhooks.conftest import fixture

ADMIN = {"Authorization": f"Bearer {SECRETS['admin_token']}"}


class Clock:
    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The functions' clock (bootstrap.now), moved by the test: minutes pass in no time."""
    fake = Clock()
    monkeypatch.setattr(bootstrap, "now", fake)
    return fake


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


def _valid(http: Client, n: int, at: datetime) -> None:
    body = json.dumps(whatsapp("447700900123", f"wamid.real{n}", at)).encode()
    assert _meta(http, body, meta_signature(SECRETS["meta_app_secret"], body)) == 200


def test_forged_posts_among_valid_deliveries_page_nobody(client, clock) -> None:
    http, deliveries = client
    forged = json.dumps(fixture("whatsapp/pywa_text.json")).encode()
    sent = 0
    for group in range(10):  # 50 forged POSTs over 25 minutes, a real delivery after every 5
        for _ in range(5):
            clock.at += timedelta(seconds=30)
            assert _meta(http, forged, meta_signature("a-guess", forged)) == 401
            sent += 1
        _valid(http, group, clock.at)
        assert handlers.channel_watch() == {}
    assert sent == 50
    assert _sms(deliveries) == []
    assert _health(http)["meta"]["state"] != "signature_failures"
    print(f"{sent} forged POSTs among valid deliveries: {len(_sms(deliveries))} pages")


def test_a_rotated_app_secret_pages_the_admins_once_then_recovers(client, clock) -> None:
    http, deliveries = client
    _valid(http, 0, clock.at)
    body = json.dumps(fixture("whatsapp/pywa_text.json")).encode()
    stale = meta_signature("last-years-app-secret", body)
    for minute in range(1, 11):  # a failure a minute, nothing verified
        clock.at += timedelta(minutes=1)
        assert _meta(http, body, stale) == 401
        # Not before the run has lasted 10 minutes (the policies' default): five in a row
        # could be a probe, not an outage.
        assert handlers.channel_watch() == {}, minute
    clock.at += timedelta(minutes=1)
    assert _meta(http, body, stale) == 401
    assert handlers.channel_watch() == {"meta": "down: signature_failures"}
    assert handlers.channel_watch() == {}
    assert _health(http)["meta"]["state"] == "signature_failures"
    clock.at += timedelta(minutes=1)
    _valid(http, 1, clock.at)
    assert handlers.channel_watch() == {"meta": "recovered"}
    sms = _sms(deliveries)
    assert [to for to, _ in sms] == ["+15550100010", "+15550100010"]  # the admin, not Alice
    assert sms[0][1].startswith("CHANNEL DOWN meta: 11 deliveries failed their signature")
    assert sms[1][1].startswith("CHANNEL OK meta: working again")
    assert _health(http)["whatsapp"]["last_event_at"] is not None
    print(f"forged run of 11 over 10 minutes, nothing verified: "
          f"{sum(t.startswith('CHANNEL DOWN') for _, t in sms)} page")

    # Down again 20 minutes later: the admins were paged about meta less than an hour ago.
    for _ in range(12):
        clock.at += timedelta(minutes=1)
        assert _meta(http, body, stale) == 401
    assert handlers.channel_watch() == {"meta": "held: signature_failures"}
    bootstrap.reset()  # another container: the limit is in DynamoDB, not in memory
    clock.at += timedelta(minutes=20)
    assert _meta(http, body, stale) == 401
    assert handlers.channel_watch() == {"meta": "held: signature_failures"}
    assert len(_sms(deliveries)) == 2
    clock.at += timedelta(minutes=30)  # 63 minutes after the first page, still down: told now
    assert _meta(http, body, stale) == 401
    assert handlers.channel_watch() == {"meta": "down: signature_failures"}
    assert handlers.channel_watch() == {}
    assert len(_sms(deliveries)) == 3


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


def _x(http: Client, body: bytes, signature: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["x-twitter-webhooks-signature"] = signature
    return int(http.http.post("/webhooks/x", body=body, headers=headers).status_code)


def _hourly_rhythm(http: Client, clock: Clock) -> None:
    """A quiet X channel: a verified delivery an hour for a day (its silence threshold: 3 h)."""
    for n in range(24):
        clock.at += timedelta(hours=1)
        body = json.dumps(mention(f"20807658135781918{n:02d}")).encode()
        assert _x(http, body, x_signature(SECRETS["x_consumer_secret"], body)) == 200
    assert handlers.channel_watch() == {}
    assert _health(http)["x"]["silence_alert_after_s"] == 3 * 3600


def test_junk_posts_at_night_on_a_quiet_channel_page_nobody(client, clock) -> None:
    http, deliveries = client
    _hourly_rhythm(http, clock)
    clock.at += timedelta(minutes=20)
    junk = json.dumps(fixture("twitter/aaa_docs_direct_message_events.json")).encode()
    for n in range(5):  # 5 signed-looking junk POSTs over 11 minutes, the watch every few
        assert _x(http, junk, x_signature("a-guess", junk)) == 401
        assert handlers.channel_watch() == {}, n
        clock.at += timedelta(minutes=2, seconds=45)
    for signature in (None, "", "sha256=nothing-like-one"):  # not a signature at all: junk
        clock.at += timedelta(minutes=1)
        assert _x(http, junk, signature) == 401
    assert handlers.channel_watch() == {}
    assert _sms(deliveries) == []
    x = _health(http)["x"]
    assert x["state"] == "ok" and x["unsigned_posts"] == 3
    item = bootstrap.channels().all()
    assert [s.bad_count for s in item if s.channel == "x"] == [5]  # the signed-looking ones
    print("5 junk POSTs over 11 minutes on an hourly channel, 3 unsigned: "
          f"{len(_sms(deliveries))} pages")


def test_a_rotated_x_secret_on_a_quiet_channel_pages_once_past_its_silence(client,
                                                                          clock) -> None:
    http, deliveries = client
    _hourly_rhythm(http, clock)
    pages = []
    for n in range(1, 11):  # X's deliveries (and retries) every 20 minutes, all failing
        clock.at += timedelta(minutes=20)
        body = json.dumps(mention(f"20807658135781919{n:02d}")).encode()
        assert _x(http, body, x_signature("last-years-consumer-secret", body)) == 401
        pages.append(handlers.channel_watch())
    # Quiet 3 h 20 min with failures throughout: the secret, not the customers.
    assert pages == [{}] * 9 + [{"x": "down: signature_failures"}]
    [(to, text)] = _sms(deliveries)
    assert to == "+15550100010" and text.startswith("CHANNEL DOWN x: 10 deliveries failed")
    print(f"a rotated secret on an hourly channel: {len(_sms(deliveries))} page, after 3h20m")
