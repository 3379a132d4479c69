"""The inbound backlog against moto: the SQS adapter counts the messages no worker picked up,
and a ring during a backlog waits for the answer queued there instead of paging for it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import bootstrap, handlers
from chalicelib.adapters.sqs_queue import SqsInboundQueue
from chalicelib.domain.errors import QueueUnavailable
from chalicelib.domain.timers import DueCheck
from infrastructure.local.aws import Built
from infrastructure.local.pollers import to_lambda_event
from tests.integration import test_sweeper
from tests.integration.conftest import run_inbound_worker
from tests.integration.test_sweeper import Published, client, conv, deliver, published

__all__ = ["client", "published"]  # the fixtures


def test_the_inbound_queue_counts_the_messages_no_worker_picked_up(aws: Built) -> None:
    queue = bootstrap.inbound_queue()
    assert queue.waiting() == 0
    for n in range(3):
        queue.send({"n": n}, group=f"g{n}", dedupe_id=f"d{n}")
    assert queue.waiting() == 3
    sqs = bootstrap.sqs()
    taken = sqs.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=1)["Messages"]
    assert len(taken) == 1 and queue.waiting() == 2  # in flight: being applied now
    with pytest.raises(QueueUnavailable, match="count nowhere"):
        SqsInboundQueue(sqs, "nowhere.fifo").waiting()


def test_a_ring_during_a_backlog_waits_for_the_queued_answer(
        client: Client, published: Published, monkeypatch: pytest.MonkeyPatch) -> None:
    deliver(client, "q1")  # the complaint, applied
    monkeypatch.setattr(test_sweeper, "run_inbound_worker", lambda: 0)
    deliver(client, "q1", echo=True)  # the Page's answer, still in the inbound queue
    assert bootstrap.inbound_queue().waiting() == 1
    bucket = 10 * (int(datetime.now(UTC).timestamp()) // 10) + 7200  # no alarm rings it
    bootstrap.due_checks().add(bucket, DueCheck(conv("q1"), 1, "warning", datetime.now(UTC)))
    sqs = bootstrap.sqs()
    url = sqs.get_queue_url(QueueName=bootstrap.settings().alerts_queue)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"bucket": bucket}))

    def ring(wait: int) -> dict[str, Any]:
        messages = sqs.receive_message(QueueUrl=url, AttributeNames=["All"],
                                       WaitTimeSeconds=wait).get("Messages", [])
        assert len(messages) == 1
        return handlers.ring_batch(to_lambda_event([dict(m) for m in messages], arn,
                                                   "us-east-1"), None)

    assert len(ring(0)["batchItemFailures"]) == 1  # held: the bucket comes back soon
    assert published == []
    assert bootstrap.due_checks().unfinished(bucket) != []
    assert run_inbound_worker() == 1  # the answer is applied
    assert ring(5)["batchItemFailures"] == []  # back within its first backoff (2 s)
    assert published == []  # nobody paged for a turn answered before its warning
    assert bootstrap.due_checks().unfinished(bucket) == []
