"""One poller per `@app.on_sqs_message` handler, behaving like Lambda's SQS event source mapping:
batches up to the handler's batch size, up to the function's concurrency of them at once (a
FIFO queue's distinct message groups side by side, each group in order), the queue's visibility
timeout, delete on success, partial batch failures (`batchItemFailures`), and redrive to the DLQ
after maxReceiveCount (the queue's RedrivePolicy, which moto applies on receive)."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from infrastructure.local.metering import Meter

log = logging.getLogger("replywindow.local")
logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request lines drown the output

Handler = Callable[[dict[str, Any], Any], Any]

# With batches in flight and nothing receivable, how long the poller waits for one to finish
# before asking again (a new group's first message needs no batch to finish).
_BUSY_POLL_SECONDS = 0.05


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
    """Lambda's event source mapping for one queue: up to `concurrency` batches in flight at
    once, each invoking the handler on a worker thread.

    On a FIFO queue, order within a message group comes from the queue itself, as on AWS: a
    receive never returns a message whose group has a message in flight (received, neither
    deleted nor visible again), so a group is never processed alongside itself while distinct
    groups run side by side. moto applies that lock from the in-flight set as it stands when a
    receive starts; this poller is the queue's only receiver, so that set is exact for a
    receive that does not wait. A receive that waits keeps its start's set for up to
    `wait_seconds` (and spins on a queue whose visible messages are all locked), so the
    poller long-polls only while no batch is in flight, and otherwise asks again as soon as a
    batch finishes."""

    def __init__(self, *, name: str, sqs: Any, queue_url: str, queue_arn: str, region: str,
                 handler: Handler, batch_size: int, wait_seconds: int = 1,
                 memory_mb: int = 512, timeout_seconds: int = 60, concurrency: int = 1,
                 meter: Meter | None = None) -> None:
        super().__init__(name=f"poller-{name}", daemon=True)
        self.meter = meter or Meter()
        if concurrency < 1:
            raise ValueError(f"{name}: concurrency must be at least 1, not {concurrency}")
        self.memory_mb, self.timeout_seconds = memory_mb, timeout_seconds
        self.sqs, self.queue_url, self.queue_arn, self.region = sqs, queue_url, queue_arn, region
        self.handler, self.batch_size, self.wait_seconds = handler, batch_size, wait_seconds
        self.function_name, self.concurrency = name, concurrency
        self._stop_event = threading.Event()
        self._slots = threading.BoundedSemaphore(concurrency)
        self._finished = threading.Event()  # a batch finished: its groups may be free again
        self._lock = threading.Lock()
        self._in_flight = 0
        self.invocations = 0
        self.peak_concurrency = 0  # the most batches ever in flight at once

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        with ThreadPoolExecutor(self.concurrency,
                                thread_name_prefix=self.function_name) as workers:
            while not self._stop_event.is_set():
                if not self._slots.acquire(timeout=0.2):
                    continue  # every worker busy: wait for one (or for stop)
                try:
                    submitted = self._dispatch(workers)
                except Exception:  # a poller must outlive any one bad receive, like Lambda's
                    log.exception("poller %s: receive failed", self.function_name)
                    submitted = False
                    self._stop_event.wait(1)
                if not submitted:
                    self._slots.release()

    def _dispatch(self, workers: ThreadPoolExecutor) -> bool:
        with self._lock:
            busy = self._in_flight
        self._finished.clear()  # before receiving: a batch finishing meanwhile is not missed
        messages = self._receive(0 if busy else self.wait_seconds)
        if not messages:
            if busy:
                self._finished.wait(_BUSY_POLL_SECONDS)
            return False
        with self._lock:
            self._in_flight += 1
            self.invocations += 1
            self.peak_concurrency = max(self.peak_concurrency, self._in_flight)
        workers.submit(self._work, messages)
        return True

    def _work(self, messages: list[dict[str, Any]]) -> None:
        try:
            self._invoke(messages)
        except Exception:  # e.g. the delete failed: the messages come back, as on AWS
            log.exception("poller %s: batch of %d not settled", self.function_name,
                          len(messages))
        finally:
            with self._lock:
                self._in_flight -= 1
            self._slots.release()
            self._finished.set()

    def poll_once(self) -> int:
        """One receive and one invocation on the calling thread (tests drive this)."""
        messages = self._receive(self.wait_seconds)
        if not messages:
            return 0
        with self._lock:
            self.invocations += 1
        self._invoke(messages)
        return len(messages)

    def _receive(self, wait_seconds: int) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=min(self.batch_size, 10),
            WaitTimeSeconds=wait_seconds, AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    def _invoke(self, messages: list[dict[str, Any]]) -> None:
        event = to_lambda_event(messages, self.queue_arn, self.region)
        try:
            with self.meter.invocation(self.function_name):
                result = self.handler(event, LambdaContext(self.function_name, self.memory_mb,
                                                           self.timeout_seconds))
        except Exception:
            # The whole batch failed: nothing is deleted, the visibility timeout brings it back.
            log.exception("handler %s raised: batch of %d left for retry",
                          self.function_name, len(messages))
            return
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


class ScheduleRunner(threading.Thread):
    """What EventBridge does for an `@app.schedule` handler: call it every `every` seconds."""

    def __init__(self, *, name: str, handler: Handler, every: float, memory_mb: int = 512,
                 timeout_seconds: int = 60, meter: Meter | None = None) -> None:
        super().__init__(name=f"schedule-{name}", daemon=True)
        self.meter = meter or Meter()
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
                with self.meter.invocation(self.function_name):
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


class LogSubscriptionPoller(threading.Thread):
    """What a CloudWatch Logs subscription filter does for a Lambda destination: each new
    event of the group that matches the filter pattern is handed to the function, as Lambda
    receives it (`awslogs.data`: gzip, then base64), one invocation per stream's batch."""

    def __init__(self, *, name: str, logs: Any, log_group: str, filter_name: str,
                 pattern: str, handler: Handler, every: float = 0.5, memory_mb: int = 512,
                 timeout_seconds: int = 60, owner: str = "123456789012",
                 meter: Meter | None = None) -> None:
        super().__init__(name=f"logs-{name}", daemon=True)
        self.meter = meter or Meter()
        self.logs, self.log_group, self.filter_name = logs, log_group, filter_name
        self.matches = log_pattern(pattern)
        self.handler, self.every, self.function_name = handler, every, name
        self.memory_mb, self.timeout_seconds, self.owner = memory_mb, timeout_seconds, owner
        self._stop_event = threading.Event()
        self._seen: set[str] = set()
        self.invocations = 0

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        while not self._stop_event.wait(self.every):
            try:
                self.poll_once()
            except Exception:  # like the service: the next poll tries again
                log.exception("log subscription %s failed", self.function_name)

    def poll_once(self) -> int:
        """Deliver the events not delivered yet; how many. A failed invocation's events are
        delivered again on the next poll (Lambda retries an asynchronous invocation)."""
        by_stream: dict[str, list[dict[str, Any]]] = {}
        for page in self.logs.get_paginator("filter_log_events").paginate(
                logGroupName=self.log_group):
            for event in page.get("events", []):
                if event["eventId"] in self._seen or not self.matches(event["message"]):
                    continue
                by_stream.setdefault(event["logStreamName"], []).append(event)
        delivered = 0
        for stream, events in by_stream.items():
            self.invocations += 1
            event = self.awslogs_event(stream, events)
            with self.meter.invocation(self.function_name):
                self.handler(event, LambdaContext(self.function_name, self.memory_mb,
                                                  self.timeout_seconds))
            self._seen.update(e["eventId"] for e in events)
            delivered += len(events)
        return delivered

    def awslogs_event(self, stream: str, events: list[dict[str, Any]]) -> dict[str, Any]:
        import base64
        import gzip
        import json

        data = {"messageType": "DATA_MESSAGE", "owner": self.owner, "logGroup": self.log_group,
                "logStream": stream, "subscriptionFilters": [self.filter_name],
                "logEvents": [{"id": e["eventId"], "timestamp": e["timestamp"],
                               "message": e["message"]} for e in events]}
        packed = gzip.compress(json.dumps(data).encode())
        return {"awslogs": {"data": base64.b64encode(packed).decode()}}


_JSON_EQUALS = re.compile(r'^\{\s*\$\.([A-Za-z0-9_.]+)\s*=\s*"?([^"}]*?)"?\s*\}$')


def log_pattern(pattern: str) -> Callable[[str], bool]:
    """CloudWatch Logs' filter pattern, for the forms the template uses: empty (everything)
    and one JSON equality, `{ $.a.b = "value" }`. Anything else stops the start."""
    import json

    if not pattern.strip():
        return lambda _message: True
    found = _JSON_EQUALS.match(pattern.strip())
    if found is None:
        raise ValueError(f"the local runtime runs only `{{ $.field = \"value\" }}` filter "
                         f"patterns, not {pattern!r}")
    path, wanted = found.group(1).split("."), found.group(2)

    def matches(message: str) -> bool:
        try:
            node: Any = json.loads(message)
            for part in path:
                node = node[part]
        except (ValueError, KeyError, TypeError):
            return False
        return str(node) == wanted

    return matches
