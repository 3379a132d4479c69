"""Per-record handlers for the SQS-triggered Lambdas, run by powertools' batch processors so a
failed record is reported alone (`batchItemFailures`) and retried, never the whole batch."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    SqsFifoPartialProcessor,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib import bootstrap, observability
from chalicelib.services import alerting, turns

_alerts_processor = BatchProcessor(event_type=EventType.SQS)
# FIFO: after a failure, the rest of that group's batch is failed too, so order is kept.
_inbound_processor = SqsFifoPartialProcessor(skip_group_on_error=True)


def _ring_record(record: SQSRecord) -> None:
    bucket = int(json.loads(record.body)["bucket"])
    alerting.ring_bucket(bucket, bootstrap.alerting_deps())


def _inbound_record(record: SQSRecord) -> None:
    turns.handle(json.loads(record.body), bootstrap.turn_deps())


def ring_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        return dict(process_partial_response(event=event, record_handler=_ring_record,
                                             processor=_alerts_processor,
                                             context=context))
    finally:
        observability.flush()


def inbound_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dict(process_partial_response(event=event, record_handler=_inbound_record,
                                         processor=_inbound_processor, context=context))
