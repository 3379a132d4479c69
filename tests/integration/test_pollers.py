"""The local poller behaves like Lambda's SQS event source mapping."""

from __future__ import annotations

import json
import threading
import time
import uuid
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


def _poller(aws: EmbeddedAws, url: str, handler: Any, batch_size: int,
            concurrency: int = 1) -> QueuePoller:
    sqs = aws.client("sqs")
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    return QueuePoller(name="fn", sqs=sqs, queue_url=url, queue_arn=arn, region="us-east-1",
                       handler=handler, batch_size=batch_size, wait_seconds=0,
                       concurrency=concurrency)


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


def _fifo(aws: EmbeddedAws, name: str, max_receive: int = 2) -> tuple[str, str]:
    sqs = aws.client("sqs")
    dlq = sqs.create_queue(QueueName=f"{name}-dlq.fifo", Attributes={
        "FifoQueue": "true"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=f"{name}.fifo", Attributes={
        "FifoQueue": "true", "VisibilityTimeout": "1",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                     "maxReceiveCount": str(max_receive)})})["QueueUrl"]
    return url, dlq


def _send(aws: EmbeddedAws, url: str, group: str, body: str) -> None:
    aws.client("sqs").send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group,
                                   MessageDeduplicationId=uuid.uuid4().hex)


def _run_until(poller: QueuePoller, done: Any, timeout: float = 20) -> None:
    poller.start()
    try:
        deadline = time.monotonic() + timeout
        while not done() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        poller.stop()
        poller.join(timeout=10)
    assert done(), "the poller did not finish the queue in time"


def test_distinct_groups_run_side_by_side_and_each_group_in_order(
        embedded_aws: tuple[EmbeddedAws, Built]) -> None:
    aws, _ = embedded_aws
    url, _ = _fifo(aws, "poller-groups")
    groups = {g: [f"{g}-{i}" for i in range(6)] for g in ("a", "b", "c")}
    for i in range(6):  # interleaved, as a burst arrives
        for group, bodies in groups.items():
            _send(aws, url, group, bodies[i])
    lock = threading.Lock()
    running: dict[str, int] = {}  # group -> batches of it in flight now
    overlap = 0  # the most distinct groups ever in flight at once
    seen: dict[str, list[str]] = {g: [] for g in groups}
    alongside_itself: list[str] = []  # recorded, not raised: the poller would swallow it

    def handler(event: dict[str, Any], _: Any) -> dict[str, Any]:
        nonlocal overlap
        batch_groups = {r["attributes"]["MessageGroupId"] for r in event["Records"]}
        with lock:
            for group in batch_groups:
                if running.get(group, 0):
                    alongside_itself.append(group)
                running[group] = 1
            overlap = max(overlap, sum(running.values()))
        time.sleep(0.3)  # long enough for another worker to pick up another group
        with lock:
            for r in event["Records"]:
                seen[r["attributes"]["MessageGroupId"]].append(r["body"])
            for group in batch_groups:
                running[group] = 0
        return {"batchItemFailures": []}

    poller = _poller(aws, url, handler, batch_size=2, concurrency=3)
    _run_until(poller, lambda: sum(map(len, seen.values())) == 18)
    assert seen == groups  # every group in the order it was sent, each message once
    assert alongside_itself == []
    assert overlap >= 2  # distinct groups were processed at the same time
    assert poller.peak_concurrency <= 3  # never beyond the function's concurrency
    assert _count(aws, url) == 0


def test_one_worker_processes_batches_one_at_a_time(
        embedded_aws: tuple[EmbeddedAws, Built]) -> None:
    aws, _ = embedded_aws
    url, _ = _fifo(aws, "poller-one")
    for i in range(6):
        _send(aws, url, f"g{i}", str(i))
    seen: list[str] = []
    poller = _poller(aws, url, lambda e, _: seen.extend(r["body"] for r in e["Records"]),
                     batch_size=2, concurrency=1)
    _run_until(poller, lambda: len(seen) == 6)
    assert poller.peak_concurrency == 1


def test_a_failed_item_holds_its_group_back_and_is_redriven_while_others_flow(
        embedded_aws: tuple[EmbeddedAws, Built]) -> None:
    aws, _ = embedded_aws
    url, dlq = _fifo(aws, "poller-fifo-fail", max_receive=2)
    _send(aws, url, "bad", "poison")
    _send(aws, url, "bad", "after-poison")
    for i in range(4):
        _send(aws, url, f"ok{i}", f"ok{i}")
    seen: list[str] = []
    lock = threading.Lock()

    def handler(event: dict[str, Any], _: Any) -> dict[str, Any]:
        with lock:
            seen.extend(r["body"] for r in event["Records"])
        # As SqsFifoPartialProcessor answers: the failed record and the rest of its group.
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]}
                                      for r in event["Records"]
                                      if r["attributes"]["MessageGroupId"] == "bad"
                                      and r["body"] in ("poison", "after-poison")
                                      and seen.count("poison") <= 2]}

    poller = _poller(aws, url, handler, batch_size=10, concurrency=4)
    _run_until(poller, lambda: _count(aws, dlq) >= 1 and _count(aws, url) == 0, timeout=30)
    assert all(f"ok{i}" in seen for i in range(4))
    assert seen.count("poison") == 2  # retried up to maxReceiveCount, then parked
    assert seen.index("poison") < seen.index("after-poison")  # never ahead of it
    moved = aws.client("sqs").receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)
    assert "poison" in [m["Body"] for m in moved["Messages"]]


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


def test_each_invocation_is_metered_with_its_handlers_cpu(
        embedded_aws: tuple[EmbeddedAws, Built]) -> None:
    from infrastructure.local.metering import Meter, current_function

    aws, _ = embedded_aws
    url, _ = _queue(aws, "poller-metered")
    for i in range(3):
        aws.client("sqs").send_message(QueueUrl=url, MessageBody=str(i))
    running: list[str | None] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        running.append(current_function())
        end = time.thread_time() + 0.02
        while time.thread_time() < end:  # the handler's own CPU
            pass
        return {"batchItemFailures": []}

    poller = _poller(aws, url, handler, batch_size=1)
    poller.meter = Meter()
    while poller.poll_once():
        pass
    use = poller.meter.uses()["fn"]
    assert use.invocations == poller.invocations == 3
    assert 0.06 <= use.cpu_seconds < 0.3  # the three spins, on a shared machine
    assert running == ["fn"] * 3
