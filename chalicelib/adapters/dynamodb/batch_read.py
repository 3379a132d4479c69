"""Items by key, many at a time: GSI1 holds only keys (see resources.yaml), so a query on it is
followed by one BatchGetItem per hundred keys for the items themselves."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.dynamodb.codec import aws_errors
from chalicelib.domain.errors import StoreUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_BATCH = 100  # BatchGetItem's limit
_ATTEMPTS = 6  # unprocessed keys (throttling) are asked again, with backoff, this many times


def _ident(item: dict[str, Any]) -> tuple[str, str]:
    return item["PK"]["S"], item["SK"]["S"]


def get_many(client: DynamoDBClient, table: str, keys: Sequence[dict[str, Any]],
             operation: str = "read items") -> list[dict[str, Any]]:
    """The items (attribute values) at `keys`, in the keys' order; keys with no item are left
    out (the item went between the index read and this one, or never was)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    wanted = [{"PK": k["PK"], "SK": k["SK"]} for k in keys]
    for start in range(0, len(wanted), _BATCH):
        pending: list[dict[str, Any]] = wanted[start:start + _BATCH]
        for attempt in range(_ATTEMPTS):
            with aws_errors(operation):
                page = client.batch_get_item(RequestItems={
                    table: {"Keys": pending, "ConsistentRead": True}})
            for item in page.get("Responses", {}).get(table, []):
                found[_ident(item)] = dict(item)
            unprocessed = page.get("UnprocessedKeys", {}).get(table)
            pending = [dict(k) for k in unprocessed["Keys"]] if unprocessed else []
            if not pending:
                break
            time.sleep(0.05 * 2 ** attempt)
        if pending:
            raise StoreUnavailable(f"{operation}: {len(pending)} keys unprocessed")
    return [found[i] for i in (_ident(k) for k in wanted) if i in found]
