"""One poller per `@app.on_sqs_message` handler, behaving like Lambda's SQS event source mapping:
batches up to the handler's batch size, the queue's visibility timeout, delete on success,
partial batch failures (`batchItemFailures`), and redrive to the DLQ after maxReceiveCount (the
queue's RedrivePolicy, which moto applies on receive)."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

log = logging.getLogger("replywindow.local")
logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request lines drown the output

Handler = Callable[[dict[str, Any], Any], Any]


class LambdaContext:
    """Just enough of Lambda's context object for powertools and Chalice: the function's
    memory and timeout as the template declares them."""

    def __init__(self, function_name: str, memory_mb: int = 512, timeout_seconds: int = 60
                 ) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:local:123456789012:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self._deadline = time.monotonic() + timeout_seconds
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def to_lambda_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


class QueuePoller(threading.Thread):
    def __init__(self, *, name: str, sqs: Any, queue_url: str, queue_arn: str, region: str,
                 handler: Handler, batch_size: int, wait_seconds: int = 1,
                 memory_mb: int = 512, timeout_seconds: int = 60) -> None:
        super().__init__(name=f"poller-{name}", daemon=True)
        self.memory_mb, self.timeout_seconds = memory_mb, timeout_seconds
        self.sqs, self.queue_url, self.queue_arn, self.region = sqs, queue_url, queue_arn, region
        self.handler, self.batch_size, self.wait_seconds = handler, batch_size, wait_seconds
        self.function_name = name
        self._stop_event = threading.Event()
        self.invocations = 0

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self.poll_once()
            except Exception:  # a poller must outlive any one bad batch, like Lambda's ESM
                log.exception("poller %s: batch failed", self.function_name)
                self._stop_event.wait(1)

    def poll_once(self) -> int:
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=min(self.batch_size, 10),
            WaitTimeSeconds=self.wait_seconds, AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        self.invocations += 1
        event = to_lambda_event(messages, self.queue_arn, self.region)
        try:
            result = self.handler(event, LambdaContext(self.function_name, self.memory_mb,
                                                       self.timeout_seconds))
        except Exception:
            # The whole batch failed: nothing is deleted, the visibility timeout brings it back.
            log.exception("handler %s raised: batch of %d left for retry",
                          self.function_name, len(messages))
            return len(messages)
        failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                         for i, m in enumerate(done)],
            )
        # Like Lambda, failed items are left alone: they come back when their visibility
        # expires (the handlers shorten it themselves, on AWS as here).
        return len(messages)


class ScheduleRunner(threading.Thread):
    """What EventBridge does for an `@app.schedule` handler: call it every `every` seconds."""

    def __init__(self, *, name: str, handler: Handler, every: float, memory_mb: int = 512,
                 timeout_seconds: int = 60) -> None:
        super().__init__(name=f"schedule-{name}", daemon=True)
        self.memory_mb, self.timeout_seconds = memory_mb, timeout_seconds
        self.handler, self.every, self.function_name = handler, every, name
        self._stop_event = threading.Event()
        self.invocations = 0

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        while not self._stop_event.wait(self.every):
            self.invocations += 1
            try:
                self.handler(_scheduled_event(), LambdaContext(
                    self.function_name, self.memory_mb, self.timeout_seconds))
            except Exception:  # like EventBridge: the next tick tries again
                log.exception("scheduled %s failed", self.function_name)


def _scheduled_event() -> dict[str, Any]:
    """The event EventBridge sends a scheduled rule's target."""
    from datetime import UTC, datetime

    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "123456789012",
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "region": "us-east-1",
            "resources": [], "detail": {}}


def schedule_seconds(expression: Any) -> float:
    """Seconds between runs of a Chalice Rate or a template's `rate(5 minutes)`
    (REPLYWINDOW_LOCAL_SCHEDULE_SECONDS overrides, so the demo and the tests need not wait
    minutes)."""
    override = os.environ.get("REPLYWINDOW_LOCAL_SCHEDULE_SECONDS")
    if override:
        return float(override)
    if isinstance(expression, str):
        found = re.fullmatch(r"rate\((\d+) (\w+?)s?\)", expression.strip())
        if found is None:
            raise ValueError(f"the local runtime runs rate() schedules only: {expression!r}")
        value, unit_name = found.groups()
    else:
        value, unit_name = expression.value, str(expression.unit).lower().rstrip("s")
    unit = {"minute": 60, "hour": 3600, "day": 86400}[unit_name]
    return float(value) * unit
