"""GDPR: export everything about a customer, then erase it, leaving nothing but the audit."""

from __future__ import annotations

import copy
import json
import time
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


def _drain() -> int:
    """Run the worker on what the webhook queued; how many messages it ran."""
    sqs = bootstrap.sqs()
    url = sqs.get_queue_url(QueueName=bootstrap.settings().inbound_queue)["QueueUrl"]
    ran = 0
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                          VisibilityTimeout=0).get("Messages", []):
        for m in messages:
            inbound.handle(json.loads(m["Body"]), bootstrap.inbound_deps())
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            ran += 1
    return ran


def _customer_held() -> list[dict[str, Any]]:
    """Items that carry the customer's id or words: the audit trail aside, and due checks
    filed in a later bucket than their deadline's (the test above: they alert nobody)."""
    return [i for i in _items() if not i["PK"]["S"].startswith(("AUDIT#", "DUE#")) and (
        CUSTOMER in json.dumps(i) or "hello!" in json.dumps(i)
        or "hey @ExampleUser" in json.dumps(i))]


def _audits() -> list[str]:
    return sorted(i["action"]["S"] for i in _items() if i["PK"]["S"].startswith("AUDIT#"))


class Throttle:
    """A throttled table, as BatchWriteItem answers one: of each batch, only the first
    `keep` requests reach the table and the rest come back as UnprocessedItems (DynamoDB's
    own answer, through botocore's events: nothing of ReplyWindow is replaced)."""

    def __init__(self, keep: int, calls: int | None) -> None:
        self.keep, self.calls, self.seen = keep, calls, 0  # calls=None: every call
        self._held: list[dict[str, Any]] = []
        events = bootstrap.dynamodb().meta.events
        events.register("before-parameter-build.dynamodb.BatchWriteItem", self._hold)
        events.register("after-call.dynamodb.BatchWriteItem", self._answer)

    def _hold(self, params: dict[str, Any], **_: Any) -> None:
        self.seen += 1
        if self.calls is not None and self.seen > self.calls:
            return
        (table, requests), = params["RequestItems"].items()
        params["RequestItems"][table], self._held = requests[:self.keep], requests[self.keep:]

    def _answer(self, parsed: dict[str, Any], **_: Any) -> None:
        if self._held:
            parsed["UnprocessedItems"] = {bootstrap.settings().table: self._held}
            self._held = []

    def stop(self) -> None:
        events = bootstrap.dynamodb().meta.events
        events.unregister("before-parameter-build.dynamodb.BatchWriteItem", self._hold)
        events.unregister("after-call.dynamodb.BatchWriteItem", self._answer)


def _complain(client: Client) -> None:
    _post_x(client, fixture("twitter/xaa_post_mention_create.json"))
    _post_x(client, fixture("twitter/xaa_dm_received.json"))
    assert _drain() == 2


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


def test_leftovers_of_a_throttled_table_are_retried_until_all_are_deleted(
        client: Client) -> None:
    _complain(client)
    throttle = Throttle(keep=4, calls=3)  # three rounds of leftovers, then the table recovers
    try:
        answer = client.http.delete(f"/api/customers/x/{CUSTOMER}", headers=ADMIN)
    finally:
        throttle.stop()
    assert answer.status_code == 200, answer.body
    assert throttle.seen >= 4  # it took the retries
    assert _customer_held() == []
    assert _audits() == ["erase"]
    erased = json.loads(answer.body)["erased"]
    print(f"erasure through 3 rounds of leftovers: {erased['items_deleted']} items, "
          f"{throttle.seen} BatchWriteItem calls, 0 left")


def test_an_erasure_that_cannot_finish_fails_loudly_and_is_not_audited(
        client: Client, capsys: pytest.CaptureFixture[str]) -> None:
    _complain(client)
    path = f"/api/customers/x/{CUSTOMER}"
    throttle = Throttle(keep=1, calls=None)  # the table stays throttled
    try:
        answer = client.http.delete(path, headers=ADMIN)
    finally:
        throttle.stop()
    assert answer.status_code == 503
    reason = json.loads(answer.body)["error"]
    assert "erasure incomplete" in reason
    assert _audits() == []  # never audited as done
    assert "ErasuresIncomplete" in capsys.readouterr().out  # the metric (EMF) is out
    # The profile is kept: the same request, retried when the table recovers, finishes.
    assert client.http.get(path, headers=ADMIN).status_code == 200
    assert client.http.delete(path, headers=ADMIN).status_code == 200
    assert _customer_held() == []
    assert _audits() == ["erase", "export"]
    print(f"always throttled: 503 ({reason}), {throttle.seen} BatchWriteItem calls, "
          "0 audited; retried after: complete")


def test_a_late_redelivery_does_not_bring_erased_words_back(client: Client) -> None:
    _complain(client)
    # A follow-up written before the erasure, still queued when the erasure runs.
    queued = fixture("twitter/xaa_dm_received.json")
    event = queued["data"]["payload"]["direct_message_events"][0]
    event["id"], event["message_create"]["message_data"]["text"] = "2080765901528535097", \
        "hello again!"
    _post_x(client, queued)
    assert client.http.delete(f"/api/customers/x/{CUSTOMER}", headers=ADMIN).status_code == 200
    assert _drain() == 1
    # The platform redelivers the erased messages, signed as ever: answered 200 so it stops.
    _post_x(client, fixture("twitter/xaa_post_mention_create.json"))
    _post_x(client, fixture("twitter/xaa_dm_received.json"))
    _post_x(client, queued)
    # Queued again (SQS's deduplication lasts 5 minutes; the emulator forgets a consumed id
    # at once): the worker finds the customer's tombstone and stores nothing.
    _drain()
    assert _customer_held() == []
    assert "hello again!" not in json.dumps(_items())
    # The customer writes again after the erasure: a new contact, kept as any other.
    later = copy.deepcopy(queued)
    event = later["data"]["payload"]["direct_message_events"][0]
    event["id"], event["created_timestamp"] = "2080765901528535098", str(
        int(time.time() * 1000) + 1000)
    event["message_create"]["message_data"]["text"] = "it is me again"
    _post_x(client, later)
    assert _drain() == 1
    assert "it is me again" in json.dumps(_items())
    print("after an erasure: 1 queued message and 3 redeliveries stored nothing; "
          "1 message written after it was kept")
