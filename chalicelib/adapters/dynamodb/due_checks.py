"""Due checks in DynamoDB: `DUE#<bucket>` / `<conv>#<turn>#<level>`, plus a `RANG` marker."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.dynamodb.codec import aws_errors, key, to_item
from chalicelib.adapters.dynamodb.records import due_pk
from chalicelib.domain.timers import DueCheck

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_RANG = "~RANG"  # sorts after every check key; marks a bucket whose alarm has gone off
_DONE = "~DONE"  # sorts after every check key too: every check the ring returned was handled


class DynamoDueChecks:
    def __init__(self, client: DynamoDBClient, table: str, ttl_seconds: int = 30 * 86400) -> None:
        self.client, self.table, self.ttl_seconds = client, table, ttl_seconds

    def add(self, bucket: int, check: DueCheck) -> bool:
        pk = due_pk(bucket)
        item = to_item({
            "PK": pk, "SK": check.key, "conversation": check.conversation, "turn": check.turn,
            "level": check.level, "due_at": check.due_at.isoformat(),
            "expires_at": bucket + self.ttl_seconds,
        })
        with aws_errors("add due check"):
            self.client.put_item(TableName=self.table, Item=item)
            # Put first, then look for the ring's marker. A ring marks first and reads after,
            # so either the ring's read sees this check, or this read sees the marker and the
            # caller files the check in a later bucket too (the alert log makes a second
            # sighting harmless). No check is lost to the race.
            rang = self.client.get_item(TableName=self.table, Key=key(pk, _RANG),
                                        ConsistentRead=True,
                                        ProjectionExpression="PK").get("Item")
        return not rang

    def ring(self, bucket: int) -> list[DueCheck]:
        pk = due_pk(bucket)
        with aws_errors("ring bucket"):
            self.client.put_item(TableName=self.table, Item=to_item(
                {"PK": pk, "SK": _RANG, "expires_at": bucket + self.ttl_seconds}))
            checks: list[DueCheck] = []
            paginator = self.client.get_paginator("query")
            for page in paginator.paginate(
                TableName=self.table, ConsistentRead=True,
                # Below both markers ("~DONE" sorts before "~RANG"): a redelivered ring of a
                # finished bucket must not read its DONE marker as a check.
                KeyConditionExpression="PK = :pk AND SK < :m",
                ExpressionAttributeValues={":pk": {"S": pk}, ":m": {"S": "~"}},
            ):
                checks.extend(_check(item) for item in page.get("Items", []))
        return checks

    def done(self, bucket: int) -> None:
        with aws_errors("finish bucket"):
            self.client.put_item(TableName=self.table, Item=to_item(
                {"PK": due_pk(bucket), "SK": _DONE, "expires_at": bucket + self.ttl_seconds}))

    def unfinished(self, bucket: int) -> list[DueCheck]:
        pk = due_pk(bucket)
        with aws_errors("read bucket"):
            # The two highest keys are the markers when both exist: one small read tells a
            # finished (or empty) bucket, which is nearly all of them.
            last = self.client.query(
                TableName=self.table, ScanIndexForward=False, Limit=2,
                KeyConditionExpression="PK = :pk",
                ExpressionAttributeValues={":pk": {"S": pk}})["Items"]
            if not last or any(i["SK"]["S"] == _DONE for i in last):
                return []
            checks: list[DueCheck] = []
            for page in self.client.get_paginator("query").paginate(
                    TableName=self.table, KeyConditionExpression="PK = :pk AND SK < :m",
                    ExpressionAttributeValues={":pk": {"S": pk}, ":m": {"S": "~"}}):
                checks.extend(_check(item) for item in page.get("Items", []))
        return checks


def _check(item: dict[str, Any]) -> DueCheck:
    return DueCheck(conversation=item["conversation"]["S"], turn=int(item["turn"]["N"]),
                    level=item["level"]["S"], due_at=datetime.fromisoformat(item["due_at"]["S"]))
