"""The ingest path against DynamoDB and SQS (moto): atomic writes, races, faults."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from chalicelib import bootstrap
from chalicelib.domain.errors import QueueUnavailable, StoreUnavailable
from chalicelib.domain.events import Channel, Direction, MessageEvent, Person, Platform
from chalicelib.services.ingest import ingest
from infrastructure.local.aws import Built

NOW = datetime.now(UTC).replace(microsecond=0)
ANN = Person(id="42", handle="ann", followers=50)
BRAND = Person(id="999", handle="AcmeHelp")


def dm(mid: str, author: Person = ANN) -> MessageEvent:
    direction = Direction.OUT if author is BRAND else Direction.IN
    return MessageEvent(platform=Platform.MESSENGER, thread="dm-999-42", message_id=mid,
                        direction=direction, channel=Channel.PRIVATE, brand_id="999",
                        customer=ANN, author=author, text="where is my parcel",
                        created_at=NOW - timedelta(seconds=30))


def table_items(pk_prefix: str) -> list[dict]:
    ddb = bootstrap.dynamodb()
    items = ddb.scan(TableName=bootstrap.settings().table)["Items"]
    return [i for i in items if i["PK"]["S"].startswith(pk_prefix)]


def queued() -> list[dict]:
    sqs = bootstrap.sqs()
    url = sqs.get_queue_url(QueueName=bootstrap.settings().inbound_queue)["QueueUrl"]
    messages = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return messages
        messages.extend(json.loads(m["Body"]) for m in batch)


def test_a_message_is_committed_with_its_conversation_customer_and_turn(aws: Built) -> None:
    ingest([dm("m1")], bootstrap.ingest_deps())
    conv = bootstrap.ingest_store().load(Platform.MESSENGER, "dm-999-42")
    assert conv is not None and conv.turn == 1 and conv.version == 1
    keys = {(i["PK"]["S"], i["SK"]["S"].split("#")[0]) for i in table_items("")}
    assert ("CONV#messenger#dm-999-42", "META") in keys
    assert ("CONV#messenger#dm-999-42", "MSG") in keys
    assert ("CONV#messenger#dm-999-42", "TURN") in keys
    assert ("MSGID#messenger#m1", "MSGID") in keys
    assert ("CUST#messenger#42", "PROFILE") in keys
    profile = bootstrap.ingest_store().customer(Platform.MESSENGER, "42")
    assert profile is not None and profile.complaints == 1 and profile.followers == 50
    assert [m["outcome"] for m in queued()] == ["turn_opened"]


def test_racing_first_messages_make_one_conversation(aws: Built) -> None:
    """Two deliveries of a customer's first messages at once: one conversation, one turn."""
    deps = bootstrap.ingest_deps()
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def deliver(mid: str) -> None:
        barrier.wait()
        try:
            ingest([dm(mid)], deps)
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=deliver, args=(f"m{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(table_items("CONV#messenger#dm-999-42")) == 1 + 4 + 1  # META, 4 MSG, 1 TURN
    conv = bootstrap.ingest_store().load(Platform.MESSENGER, "dm-999-42")
    assert conv is not None and conv.turn == 1 and conv.version == 4
    outcomes = sorted(m["outcome"] for m in queued())
    assert outcomes == ["follow_up", "follow_up", "follow_up", "turn_opened"]


def test_a_redelivery_writes_nothing_and_queues_nothing_new(aws: Built) -> None:
    ingest([dm("m1")], bootstrap.ingest_deps())
    before = table_items("")
    report = ingest([dm("m1")], bootstrap.ingest_deps())
    assert report.counts == {"duplicate": 1}
    assert table_items("") == before
    assert len(queued()) == 1


def test_an_sqs_fault_is_finished_by_the_retry(aws: Built, monkeypatch) -> None:
    real_send = bootstrap.sqs().send_message
    calls = {"n": 0}

    def flaky(**kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ClientError({"Error": {"Code": "ServiceUnavailable"}}, "SendMessage")
        return real_send(**kwargs)

    monkeypatch.setattr(bootstrap.sqs(), "send_message", flaky)
    with pytest.raises(QueueUnavailable):
        ingest([dm("m1")], bootstrap.ingest_deps())
    assert queued() == []
    assert ingest([dm("m1")], bootstrap.ingest_deps()).counts == {"duplicate": 1}
    assert ingest([dm("m1")], bootstrap.ingest_deps()).counts == {"duplicate": 1}
    assert [m["message_id"] for m in queued()] == ["m1"]
    assert len(table_items("CONV#")) == 3  # META, MSG, TURN: exactly once


def test_a_dynamodb_fault_leaves_no_partial_write(aws: Built, monkeypatch) -> None:
    def throttled(**kwargs):
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}},
                          "TransactWriteItems")

    with monkeypatch.context() as patch:
        patch.setattr(bootstrap.dynamodb(), "transact_write_items", throttled)
        with pytest.raises(StoreUnavailable):
            ingest([dm("m1")], bootstrap.ingest_deps())
    assert table_items("") == []
    assert queued() == []
