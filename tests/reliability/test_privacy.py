"""GDPR: export everything about a customer, then erase it, leaving nothing but the audit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.services import inbound
from chalicelib.webhooks.signatures import x_signature
from infrastructure.local.aws import Built
from tests.integration.conftest import SECRETS
from tests.unit.webhooks.conftest import fixture

ADMIN = {"Authorization": f"Bearer {SECRETS['admin_token']}"}
CUSTOMER = "2222222222222222222"


@pytest.fixture
def client(aws: Built) -> Iterator[Client]:
    import app

    with Client(app.app) as test_client:
        yield test_client


def _post_x(client: Client, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    assert client.http.post("/webhooks/x", body=body, headers={
        "Content-Type": "application/json",
        "x-twitter-webhooks-signature": x_signature(SECRETS["x_consumer_secret"], body),
    }).status_code == 200


def _items() -> list[dict[str, Any]]:
    return bootstrap.dynamodb().scan(TableName=bootstrap.settings().table)["Items"]


def test_export_then_erase_a_customer(client: Client) -> None:
    _post_x(client, fixture("twitter/xaa_post_mention_create.json"))  # public, t-…
    _post_x(client, fixture("twitter/xaa_dm_received.json"))          # private, dm-…
    sqs = bootstrap.sqs()
    url = sqs.get_queue_url(QueueName=bootstrap.settings().inbound_queue)["QueueUrl"]
    for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]:
        inbound.handle(json.loads(m["Body"]), bootstrap.inbound_deps())  # timers are set
    path = f"/api/customers/x/{CUSTOMER}"
    assert client.http.get(path).status_code == 401
    exported = json.loads(client.http.get(path, headers=ADMIN).body)
    assert exported["customer"]["complaints"] == 2
    texts = sorted(m["text"] for c in exported["conversations"].values()
                   for m in c["messages"])
    assert texts == ["hello!", "hey @ExampleUser"]

    dues = [i for i in _items() if i["PK"]["S"].startswith("DUE#")]
    # Two open turns, a warning each (a ringing level files the next one).
    assert sorted(i["level"]["S"] for i in dues) == ["warning", "warning"]
    erased = json.loads(client.http.delete(path, headers=ADMIN).body)["erased"]
    assert (erased["conversations"], erased["messages"]) == (2, 2)
    # Left: the audit trail, and due checks filed in a later bucket than their deadline's
    # (these carry only a conversation id, expire by TTL, and alert nobody: below).
    kept = [i for i in _items() if not i["PK"]["S"].startswith(("AUDIT#", "DUE#"))]
    assert CUSTOMER not in json.dumps(kept)
    left = json.dumps(_items())
    assert "hello!" not in left and "hey @ExampleUser" not in left
    audits = [i for i in _items() if i["PK"]["S"].startswith("AUDIT#")]
    assert sorted(i["action"]["S"] for i in audits) == ["erase", "export"]
    assert client.http.get(path, headers=ADMIN).status_code == 404
    # Their timers stop: the buckets' checks are gone, and ringing them alerts nobody.
    from chalicelib.services import alerting

    for bucket in {int(i["PK"]["S"].split("#")[1]) for i in dues}:
        assert alerting.ring_bucket(bucket, bootstrap.alerting_deps()).sent == 0
