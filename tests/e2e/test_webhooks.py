"""Signed published payloads POSTed to the running local stack: every customer message is in
DynamoDB, was queued, and the triage worker picked it up from the queue."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from chalicelib.adapters.dynamodb.records import event_sk
from chalicelib.domain.events import MessageEvent
from chalicelib.webhooks.signatures import x_crc_response
from chalicelib.webhooks.x_parser import parse_x
from tests.e2e.conftest import SECRETS, LocalStack, wait_for

pytestmark = pytest.mark.e2e
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def envelopes(platform: str) -> list[Path]:
    """The fixtures that are whole POST bodies (docs samples of single items are not, nor is
    a recent-search response, whose `data` is a list: what the listening poller reads)."""
    paths = sorted((FIXTURES / platform).glob("*.json"))
    return [p for p in paths if "object" in json.loads(p.read_text())
            or "for_user_id" in json.loads(p.read_text())
            or isinstance(json.loads(p.read_text()).get("data"), dict)]


def test_handshakes_answer_with_the_seeded_secrets(stack: LocalStack) -> None:
    token = "M2RkODJkZmMtYjlkYi00NmQ4LTk0MGUtM2JjYzkwM2Q4MjQ0"  # X's shape: base64 of a UUID
    crc = requests.get(f"{stack.webhooks}/webhooks/x", params={"crc_token": token}, timeout=5)
    assert crc.json() == {"response_token": x_crc_response(SECRETS["x_consumer_secret"], token)}
    hub = requests.get(f"{stack.webhooks}/webhooks/meta", timeout=5, params={
        "hub.mode": "subscribe", "hub.verify_token": SECRETS["meta_verify_token"],
        "hub.challenge": "42"})
    assert (hub.status_code, hub.text) == (200, "42")
    assert hub.headers["Content-Type"].startswith("text/plain")


def _inbound_depth(stack: LocalStack) -> int:
    sqs = stack.client("sqs")
    url = sqs.get_queue_url(QueueName="replywindow-dev-inbound.fifo")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return sum(int(attributes[name]) for name in (
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"))


@pytest.mark.parametrize("front", ["webhooks", "api"])
def test_the_crc_cannot_be_made_to_sign_a_forged_delivery(stack: LocalStack, front: str) -> None:
    """The attack: ask the unauthenticated CRC to "answer" a DM body, then POST that body with
    the answer as its signature. The function URL's CRC refuses and the forged POST is a 401;
    the REST API serves no webhook at all (403, as API Gateway answers a path its RestAPI does
    not declare). Nothing is stored or queued either way."""
    base = getattr(stack, front)
    payload = json.loads((FIXTURES / "twitter" / "xaa_dm_received.json").read_text())
    dm = payload["data"]["payload"]["direct_message_events"][0]
    customer = "9999000000000000001" if front == "webhooks" else "9999000000000000002"
    dm["id"], dm["message_create"]["sender_id"] = f"forged-via-{front}", customer
    body = json.dumps(payload)
    queued_before = _inbound_depth(stack)

    crc = requests.get(f"{base}/webhooks/x", params={"crc_token": body}, timeout=5)
    refused = 400 if front == "webhooks" else 403  # the REST API: no such path
    assert crc.status_code == refused
    assert "response_token" not in crc.json() and "sha256=" not in crc.text
    # The forger signs with whatever the CRC gave them (had it answered, the body's very
    # delivery signature).
    signature = crc.json().get("response_token", "sha256=")
    forged = requests.post(f"{base}/webhooks/x", data=body.encode(), timeout=5, headers={
        "Content-Type": "application/json", "x-twitter-webhooks-signature": signature})
    assert forged.status_code == (401 if front == "webhooks" else 403)
    time.sleep(1)  # what a worker would have done with it, had it been queued
    assert stack.item(f"MSGID#x#forged-via-{front}", "MSGID") is None
    assert stack.item(f"CONV#x#dm-1111111111111111111-{customer}", "META") is None
    assert _inbound_depth(stack) == queued_before


def test_every_published_envelope_is_accepted(stack: LocalStack) -> None:
    x_bodies = envelopes("twitter")
    meta_bodies = [p for platform in ("messenger", "facebook", "instagram", "whatsapp")
                   for p in envelopes(platform)]
    assert len(x_bodies) >= 12 and len(meta_bodies) >= 20
    for path in x_bodies:
        response = stack.post_x(json.loads(path.read_text()))
        assert response.status_code == 200, (path.name, response.text)
    for path in meta_bodies:
        response = stack.post_meta(json.loads(path.read_text()))
        assert response.status_code == 200, (path.name, response.text)


def test_a_signed_dm_is_stored_queued_and_triaged(stack: LocalStack) -> None:
    payload = json.loads((FIXTURES / "twitter" / "xaa_dm_received.json").read_text())
    payload["data"]["payload"]["direct_message_events"][0]["id"] = "e2e-dm-1"
    assert stack.post_x(payload).status_code == 200
    [event] = parse_x(payload, datetime.now(UTC))
    assert isinstance(event, MessageEvent)
    # Kept where its own time puts it, which is how the worker knows it applied it: the
    # webhook wrote no claim.
    where = "CONV#x#dm-1111111111111111111-2222222222222222222", event_sk(event)
    stored = wait_for(lambda: stack.item(*where), what="stored message")
    assert stack.item("MSGID#x#e2e-dm-1", "MSGID") is None
    assert stored["message_id"]["S"] == "e2e-dm-1"
    conv = wait_for(lambda: (i := stack.item(
        "CONV#x#dm-1111111111111111111-2222222222222222222", "META")) and "priority" in i
        and i, what="triaged conversation")
    assert conv["status"]["S"] == "awaiting_agent"
    assert conv["customer"]["M"]["handle"]["S"] == "OtherUser"


def test_a_forged_post_is_refused_and_leaves_nothing(stack: LocalStack) -> None:
    payload = json.loads((FIXTURES / "whatsapp" / "pywa_text.json").read_text())
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = "wamid.forged"
    response = requests.post(f"{stack.webhooks}/webhooks/meta", json=payload, timeout=5,
                             headers={"X-Hub-Signature-256": "sha256=" + "0" * 64})
    assert response.status_code == 401
    assert stack.item("MSGID#whatsapp#wamid.forged", "MSGID") is None
