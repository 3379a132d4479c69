"""The local poller behaves like Lambda's SQS event source mapping."""

from __future__ import annotations

import json
import time
from itertools import pairwise
from typing import Any

from infrastructure.local.aws import Built, EmbeddedAws
from infrastructure.local.pollers import QueuePoller


def _queue(aws: EmbeddedAws, name: str, max_receive: int = 2) -> tuple[str, str]:
    sqs = aws.client("sqs")
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=name, Attributes={
        "VisibilityTimeout": "1",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                     "maxReceiveCount": str(max_receive)})})["QueueUrl"]
    return url, dlq


def _poller(aws: EmbeddedAws, url: str, handler: Any, batch_size: int) -> QueuePoller:
    sqs = aws.client("sqs")
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    return QueuePoller(name="fn", sqs=sqs, queue_url=url, queue_arn=arn, region="us-east-1",
                       handler=handler, batch_size=batch_size, wait_seconds=0)


def _count(aws: EmbeddedAws, url: str) -> int:
    attrs = aws.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                      "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"])


def test_batches_respect_batch_size_and_successes_are_deleted(
        embedded_aws: tuple[EmbeddedAws, Built]) -> None:
    aws, _ = embedded_aws
    url, _ = _queue(aws, "poller-ok")
    for i in range(5):
        aws.client("sqs").send_message(QueueUrl=url, MessageBody=str(i))
    sizes: list[int] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        sizes.append(len(event["Records"]))
        assert context.function_name == "fn"
        assert event["Records"][0]["eventSource"] == "aws:sqs"
        return {"batchItemFailures": []}

    poller = _poller(aws, url, handler, batch_size=2)
    while poller.poll_once():
        pass
    assert max(sizes) <= 2
    assert sum(sizes) == 5
    assert _count(aws, url) == 0


def test_partial_failures_are_retried_then_redriven_to_the_dlq(
        embedded_aws: tuple[EmbeddedAws, Built]) -> None:
    aws, _ = embedded_aws
    url, dlq = _queue(aws, "poller-partial", max_receive=2)
    sqs = aws.client("sqs")
    sqs.send_message(QueueUrl=url, MessageBody="good")
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    seen: list[str] = []

    def handler(event: dict[str, Any], _: Any) -> dict[str, Any]:
        seen.extend(r["body"] for r in event["Records"])
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]}
                                      for r in event["Records"] if r["body"] == "poison"]}

    poller = _poller(aws, url, handler, batch_size=10)
    deadline = time.monotonic() + 15
    while _count(aws, dlq) == 0 and time.monotonic() < deadline:
        poller.poll_once()
        time.sleep(0.3)
    assert seen.count("good") == 1  # a success is deleted, never delivered again
    assert seen.count("poison") == 2  # retried up to maxReceiveCount…
    moved = sqs.receive_message(QueueUrl=dlq)["Messages"]
    assert [m["Body"] for m in moved] == ["poison"]  # …then parked in the DLQ
    assert _count(aws, url) == 0


def test_a_raising_handler_leaves_the_whole_batch_for_retry(
        embedded_aws: tuple[EmbeddedAws, Built]) -> None:
    aws, _ = embedded_aws
    url, _ = _queue(aws, "poller-raise", max_receive=5)
    aws.client("sqs").send_message(QueueUrl=url, MessageBody="x")
    calls = 0

    def handler(event: dict[str, Any], _: Any) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("store down")
        return {}

    poller = _poller(aws, url, handler, batch_size=10)
    poller.poll_once()
    assert _count(aws, url) == 1
    time.sleep(1.2)
    poller.poll_once()
    assert calls == 2
    assert _count(aws, url) == 0


def test_a_failed_record_hidden_by_its_handler_comes_back_after_that_wait(
        embedded_aws: tuple[EmbeddedAws, Built]) -> None:
    """What handlers._retry_soon does on AWS (ChangeMessageVisibility from the receive count)
    the local poller honours too: the record is not redelivered before its backoff is over,
    and it is redelivered after, whatever the queue's own visibility timeout."""
    from chalicelib.adapters.sqs_queue import SqsRedelivery
    from chalicelib.domain.retries import backoff

    aws, _ = embedded_aws
    url, _ = _queue(aws, "poller-backoff", max_receive=5)
    sqs = aws.client("sqs")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "60"})
    sqs.send_message(QueueUrl=url, MessageBody="flaky")
    redelivery = SqsRedelivery(sqs)
    waits: list[int] = []
    seen: list[float] = []

    def handler(event: dict[str, Any], _: Any) -> dict[str, Any]:
        seen.append(time.monotonic())
        record = event["Records"][0]
        receives = int(record["attributes"]["ApproximateReceiveCount"])
        waits.append(backoff(receives, 1, 2, draw=lambda: 0.0))
        assert redelivery.retry_in(record["eventSourceARN"], record["receiptHandle"],
                                   waits[-1])
        return {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}

    poller = _poller(aws, url, handler, batch_size=10)
    deadline = time.monotonic() + 12
    while len(seen) < 3 and time.monotonic() < deadline:
        poller.poll_once()
        time.sleep(0.1)
    assert waits == [1, 2, 2]  # growing, capped
    gaps = [later - earlier for earlier, later in pairwise(seen)]
    assert 0.9 <= gaps[0] < 3 and 1.9 <= gaps[1] < 4  # not the queue's 60 s, not at once
