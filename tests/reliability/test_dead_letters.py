"""A message that always fails reaches the DLQ after maxReceiveCount without blocking its FIFO
group forever, and an operator can list and redrive it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from infrastructure.local.aws import Built, EmbeddedAws
from infrastructure.local.pollers import QueuePoller
from tests.integration.conftest import SECRETS

ADMIN = {"Authorization": f"Bearer {SECRETS['admin_token']}"}


@pytest.fixture
def client(aws: Built) -> Iterator[Client]:
    import app

    with Client(app.app) as test_client:
        yield test_client


def test_a_poison_message_is_parked_and_its_group_moves_on(
        embedded_aws: tuple[EmbeddedAws, Built]) -> None:
    aws, built = embedded_aws
    sqs = aws.client("sqs")
    url = built.refs["InboundQueue"]
    # Compressed: a one-second visibility and five receives instead of the template's ladder.
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "RedrivePolicy"])["Attributes"]["RedrivePolicy"])
    sqs.set_queue_attributes(QueueUrl=url, Attributes={
        "VisibilityTimeout": "1", "RedrivePolicy": json.dumps({**policy, "maxReceiveCount": 5})})
    for n, body in enumerate(["poison", "good"]):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="x.t-1",
                         MessageDeduplicationId=f"d{n}")
    handled: list[str] = []

    def handler(event: dict[str, Any], _: Any) -> dict[str, Any]:
        failures: list[dict[str, str]] = []
        for record in event["Records"]:
            if record["body"] == "poison" or failures:  # FIFO: the rest of the group waits
                failures.append({"itemIdentifier": record["messageId"]})
            else:
                handled.append(record["body"])
        return {"batchItemFailures": failures}

    poller = QueuePoller(name="inbound_worker", sqs=sqs, queue_url=url,
                         queue_arn=built.attrs["InboundQueue"]["Arn"], region="us-east-1",
                         handler=handler, batch_size=10, wait_seconds=0)
    dlq = built.refs["InboundDeadLetterQueue"]
    parked: list[str] = []
    deadline = time.monotonic() + 40
    while not (handled and parked) and time.monotonic() < deadline:
        poller.poll_once()
        time.sleep(0.5)
        parked += [m["Body"] for m in sqs.receive_message(
            QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])]
    assert handled == ["good"]  # not blocked forever behind the poison
    assert parked == ["poison"]  # parked after maxReceiveCount, not lost


def test_an_operator_lists_and_redrives_dead_letters(client: Client) -> None:
    sqs = bootstrap.sqs()
    dlq = sqs.get_queue_url(QueueName="replywindow-dev-inbound-dlq.fifo")["QueueUrl"]
    body = json.dumps({"outcome": "turn_opened", "conversation": "x.t-9", "turn": 1})
    sqs.send_message(QueueUrl=dlq, MessageBody=body, MessageGroupId="x.t-9",
                     MessageDeduplicationId="dead-1")
    assert client.http.get("/api/dlq/inbound").status_code == 401
    listed = json.loads(client.http.get("/api/dlq/inbound", headers=ADMIN).body)
    assert [m["body"] for m in listed["messages"]] == [body]
    assert listed["messages"][0]["group"] == "x.t-9"
    time.sleep(2.1)  # the peek hid it for two seconds
    moved = json.loads(client.http.post("/api/dlq/inbound/redrive", headers=ADMIN).body)
    assert moved == {"queue": "inbound", "redriven": 1}
    inbound = sqs.get_queue_url(QueueName="replywindow-dev-inbound.fifo")["QueueUrl"]
    back = sqs.receive_message(QueueUrl=inbound, AttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in back] == [body]
    assert back[0]["Attributes"]["MessageGroupId"] == "x.t-9"
    assert client.http.get("/api/dlq/nope", headers=ADMIN).status_code == 404
