"""Per-record handlers for the SQS-triggered Lambdas, run by powertools' batch processors so a
failed record is reported alone (`batchItemFailures`) and retried, never the whole batch.

A failed record comes back after a growing delay (2, 4, 8 s ... capped at 5 minutes, jittered;
chalicelib/domain/retries.py) rather than the queue's visibility timeout: a throttled alert
retried in seconds is still on time, and an outage of an hour is outlasted before the record is
dead-lettered (resources.yaml sizes maxReceiveCount for it). Even a batch where every record
failed is answered this way, not raised, for the same reason.

A bucket whose alerts are held for the inbound backlog (services/alerting.py `ChecksHeld`) is
reported the same way, not as a failure: it climbs the same ladder, but never waits past its
hold's end (domain/retries.py `held_wait`), so a one-minute hold takes a few receives."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    SqsFifoPartialProcessor,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib import bootstrap, observability
from chalicelib.config import settings
from chalicelib.domain.errors import StoreUnavailable
from chalicelib.domain.retries import backoff, held_wait
from chalicelib.services import (
    alerting,
    inbound,
    listening,
    oncall_admin,
    self_watch,
    sms_failures,
    sweeper,
)
from chalicelib.services import channel_watch as watch

logger = Logger(child=True)


# A processor holds its batch's records and outcomes: one per invocation, never shared, so
# invocations running side by side (threads of the local runtime) cannot mix their batches.
def _alerts_processor() -> BatchProcessor:
    return BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _inbound_processor() -> SqsFifoPartialProcessor:
    # FIFO: after a failure, the rest of that group's batch is failed too, so order is kept.
    processor = SqsFifoPartialProcessor(skip_group_on_error=True)
    processor.raise_on_entire_batch_failure = False  # not a constructor argument here
    return processor


def _ring_records(holds: dict[str, datetime]) -> Callable[[SQSRecord], None]:
    """Rings one record's bucket; a held one is noted (message id -> its hold's end) for
    `_retry_soon`, then reported like a failure so the queue brings it back."""

    def ring(record: SQSRecord) -> None:
        bucket = int(json.loads(record.body)["bucket"])
        try:
            alerting.ring_bucket(bucket, bootstrap.alerting_deps())
        except alerting.ChecksHeld as held:
            holds[record.message_id] = held.until
            raise

    return ring


def _inbound_record(record: SQSRecord) -> None:
    receives = int(record.raw_event.get("attributes", {}).get("ApproximateReceiveCount", "1"))
    inbound.handle(json.loads(record.body), bootstrap.inbound_deps(), receives)


def _retry_soon(event: dict[str, Any], response: dict[str, Any],
                holds: dict[str, datetime] | None = None) -> dict[str, Any]:
    failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
    base, cap = settings().retry_base_seconds, settings().retry_cap_seconds
    for record in event.get("Records", []):
        if record.get("messageId") in failed:
            receives = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
            until = (holds or {}).get(record["messageId"])
            wait = backoff(receives, base, cap) if until is None else held_wait(
                receives, base, cap, (until - bootstrap.now()).total_seconds())
            bootstrap.redelivery().retry_in(record["eventSourceARN"], record["receiptHandle"],
                                            wait)
    return response


@observability.flushes_metrics
def ring_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    holds: dict[str, datetime] = {}  # this invocation's own: batches run side by side
    return _retry_soon(event, dict(process_partial_response(
        event=event, record_handler=_ring_records(holds), processor=_alerts_processor(),
        context=context)), holds)


@observability.flushes_metrics
def inbound_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _retry_soon(event, dict(process_partial_response(
        event=event, record_handler=_inbound_record, processor=_inbound_processor(),
        context=context)))


@observability.flushes_metrics
def channel_watch() -> dict[str, str]:
    return watch.check(bootstrap.channel_deps())


@observability.flushes_metrics
def sweep() -> dict[str, int]:
    report = sweeper.sweep(bootstrap.sweep_deps()).as_dict()
    # The sweep's period also carries the on-call check: an agent on call now or within
    # two hours with no confirmed channel is named to the admins, once per slot. Its
    # failure must not fail the sweep (the next one tries again).
    try:
        warned = oncall_admin.warn_unreachable(bootstrap.admin_deps(), bootstrap.oncall(),
                                               bootstrap.notifier().notify_admins)
    except StoreUnavailable as error:
        logger.warning("on-call channel check failed", extra={"error": str(error)})
        warned = []
    report["unreachable_warned"] = len(warned)
    # After a deploy, within one sweep, rather than at the first failed text (SNS takes
    # minutes to apply a changed filter).
    try:
        bootstrap.sms_filters_checked()
    except StoreUnavailable as error:
        logger.warning("sms filter policies not checked", extra={"error": str(error)})
    return report


@observability.flushes_metrics
def listen(context: Any = None) -> dict[str, int]:
    from dataclasses import replace

    deps = bootstrap.listening_deps()
    if context is not None:  # Lambda's clock: stop between pages, well before the timeout
        deps = replace(deps, seconds_left=lambda: context.get_remaining_time_in_millis() / 1000)
    report = listening.poll(deps)
    observability.listening(report)
    return report


@observability.flushes_metrics
def ops_alarm(event: dict[str, Any]) -> None:
    """A CloudWatch alarm changed state: tell the admins (a failed publish raises, and SNS
    retries the delivery to this function)."""
    for record in event.get("Records", []):
        self_watch.relay(record["Sns"]["Message"], bootstrap.notifier().notify_admins)


@observability.flushes_metrics
def sms_failures_batch(event: dict[str, Any]) -> dict[str, int]:
    """SNS's failed texts, from its log group's subscription filter: each agent's email
    follows (a follow-up not sent raises, and Lambda retries the batch)."""
    return sms_failures.follow_up(sms_failures.parse(event),
                                  bootstrap.sms_failure_deps()).as_dict()
