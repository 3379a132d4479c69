"""Listening cursors in DynamoDB: `LISTEN#<query key>` / `CURSOR`, one item per query, written
under a version condition so two overlapping runs never both move a cursor. No TTL: a quiet
query must keep its place however long nobody posts."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.dynamodb.codec import aws_errors, from_item, key, to_item, value
from chalicelib.domain.listening import CursorConflict, ListenState

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_SK = "CURSOR"


def _pk(query_key: str) -> str:
    return f"LISTEN#{query_key}"


def _at(raw: Any) -> datetime | None:
    return datetime.fromisoformat(str(raw)) if raw else None


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


class DynamoListenCursors:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client, self.table = client, table

    def load(self, query_key: str) -> ListenState | None:
        with aws_errors("read listening cursor"):
            item = self.client.get_item(TableName=self.table, Key=key(_pk(query_key), _SK),
                                        ConsistentRead=True).get("Item")
        if not item:
            return None
        raw = from_item(item)
        return ListenState(
            since_id=raw.get("since_id"), next_token=raw.get("next_token"),
            sweep_newest=raw.get("sweep_newest"), sweep_start=_at(raw.get("sweep_start")),
            last_run=_at(raw.get("last_run")), day=str(raw.get("day", "")),
            requests=int(raw.get("requests", 0)), blocked_until=_at(raw.get("blocked_until")),
            version=int(raw.get("version", 0)))

    def save(self, query_key: str, state: ListenState) -> ListenState:
        saved = replace(state, version=state.version + 1)
        item = to_item({
            "PK": _pk(query_key), "SK": _SK, "since_id": saved.since_id,
            "next_token": saved.next_token, "sweep_newest": saved.sweep_newest,
            "sweep_start": _iso(saved.sweep_start), "last_run": _iso(saved.last_run),
            "day": saved.day or None, "requests": saved.requests,
            "blocked_until": _iso(saved.blocked_until), "version": saved.version})
        condition = ("attribute_not_exists(PK)" if state.version == 0
                     else "version = :v")
        extra: dict[str, Any] = {} if state.version == 0 else {
            "ExpressionAttributeValues": {":v": value(state.version)}}
        try:
            with aws_errors("save listening cursor"):
                self.client.put_item(TableName=self.table, Item=item,
                                     ConditionExpression=condition, **extra)
        except self.client.exceptions.ConditionalCheckFailedException as error:
            raise CursorConflict(query_key) from error
        return saved
