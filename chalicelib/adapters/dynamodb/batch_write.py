"""Many writes at once, all of them or a count of what is left: BatchWriteItem answers a
throttled table with `UnprocessedItems` (a success, so the SDK does not retry them), and a
caller that ignored them would believe writes that never happened."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.dynamodb.codec import aws_errors

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_BATCH = 25  # BatchWriteItem's limit
# Leftovers are sent again this many times, after a wait that doubles (with jitter, so that
# several callers do not retry in step): at most ~1.6 s in all, far inside an API call's 29 s.
ROUNDS = 5
_FIRST_WAIT = 0.05


def write_all(client: DynamoDBClient, table: str, requests: Sequence[dict[str, Any]],
              operation: str, sleep: Callable[[float], None] = time.sleep
              ) -> list[dict[str, Any]]:
    """Send `requests` (PutRequest / DeleteRequest) in batches; the ones still unprocessed
    after every round, an empty list when all were written."""
    left: list[dict[str, Any]] = []
    for start in range(0, len(requests), _BATCH):
        left += _send(client, table, list(requests[start:start + _BATCH]), operation)
    for attempt in range(ROUNDS):
        if not left:
            break
        sleep(random.uniform(0.5, 1.0) * _FIRST_WAIT * 2 ** attempt)
        pending, left = left, []
        for start in range(0, len(pending), _BATCH):
            left += _send(client, table, pending[start:start + _BATCH], operation)
    return left


def _send(client: DynamoDBClient, table: str, batch: list[dict[str, Any]],
          operation: str) -> list[dict[str, Any]]:
    with aws_errors(operation):
        # Plain dicts, not the stubs' TypedDicts: the items come from codec.to_item.
        answer = client.batch_write_item(RequestItems={table: batch})  # type: ignore[dict-item]
    return [dict(r) for r in answer.get("UnprocessedItems", {}).get(table, [])]
