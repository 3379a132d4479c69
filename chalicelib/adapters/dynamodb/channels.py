"""Each channel's health (`CHANNEL#<platform>` / `STATE`): the silent failures support teams
discover too late — a revoked app, an expired page token — are recorded where /health and the
operators can see them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.dynamodb.codec import aws_errors, from_item, value

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoChannels:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client, self.table = client, table

    def record(self, platform: str, state: str, detail: str, at: datetime) -> None:
        field = "last_ok_at" if state == "healthy" else "last_problem_at"
        with aws_errors("record channel health"):
            self.client.update_item(
                TableName=self.table, Key={"PK": {"S": f"CHANNEL#{platform}"},
                                           "SK": {"S": "STATE"}},
                UpdateExpression=f"SET #s = :s, detail = :d, {field} = :at, platform = :p",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":s": value(state), ":d": value(detail[:300]),
                                           ":at": value(at.isoformat()),
                                           ":p": value(platform)})

    def all(self) -> dict[str, dict[str, Any]]:
        with aws_errors("read channel health"):
            items = self.client.scan(
                TableName=self.table, FilterExpression="begins_with(PK, :c)",
                ExpressionAttributeValues={":c": value("CHANNEL#")})["Items"]
        return {str(i["platform"]): {k: v for k, v in i.items()
                                     if k not in ("PK", "SK", "platform")}
                for i in (from_item(x) for x in items)}
