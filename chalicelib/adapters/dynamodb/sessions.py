"""Console sign-in sessions in DynamoDB (`SESSION#<hash>`/`SESSION`).

Only the SHA-256 of the session id is stored: a leaked table holds no working cookie. GSI1
(`SESSIONS#<agent>`) finds an agent's sessions so an admin can revoke them all; `expires_at`
is the table's TTL attribute, so old sessions disappear on their own.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.dynamodb.codec import aws_errors, from_item, key, to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoSessions:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client, self.table = client, table

    def put(self, digest: str, agent: str, role: str, created: datetime,
            expires: datetime, credential: str = "") -> None:
        with aws_errors("store session"):
            self.client.put_item(TableName=self.table, Item=to_item({
                "PK": f"SESSION#{digest}", "SK": "SESSION", "agent": agent, "role": role,
                "credential": credential, "created": created.isoformat(),
                "expires": expires.isoformat(),
                "expires_at": int(expires.timestamp()),
                "GSI1PK": f"SESSIONS#{agent}", "GSI1SK": digest}))

    def get(self, digest: str) -> dict[str, Any] | None:
        with aws_errors("read session"):
            item = self.client.get_item(TableName=self.table, Key=key(f"SESSION#{digest}",
                                                                      "SESSION"),
                                        ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    def delete(self, digest: str) -> None:
        with aws_errors("delete session"):
            self.client.delete_item(TableName=self.table,
                                    Key=key(f"SESSION#{digest}", "SESSION"))

    def delete_for(self, agent: str) -> int:
        """Every session of `agent`; returns how many were deleted."""
        deleted, start = 0, None
        while True:
            params: dict[str, Any] = {
                "TableName": self.table, "IndexName": "GSI1",
                "KeyConditionExpression": "GSI1PK = :p",
                "ExpressionAttributeValues": {":p": {"S": f"SESSIONS#{agent}"}},
                "ProjectionExpression": "PK"}
            if start:
                params["ExclusiveStartKey"] = start
            with aws_errors("find sessions"):
                page = self.client.query(**params)
            for item in page["Items"]:
                with aws_errors("delete session"):
                    self.client.delete_item(TableName=self.table,
                                            Key={"PK": item["PK"], "SK": {"S": "SESSION"}})
                deleted += 1
            start = page.get("LastEvaluatedKey")
            if not start:
                return deleted
