"""One alert per (conversation, turn, level), and per-agent counts for the flood digest."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from chalicelib.adapters.dynamodb.codec import aws_errors, key, to_item, value

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_KEEP_SECONDS = 90 * 86400


class DynamoAlertLog:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client, self.table = client, table

    def claim(self, alert_key: str, recipients: tuple[str, ...], at: datetime) -> bool:
        item = to_item({"PK": f"ALERT#{alert_key}", "SK": "ALERT", "status": "pending",
                        "recipients": list(recipients), "claimed_at": at.isoformat(),
                        "expires_at": int(at.timestamp()) + _KEEP_SECONDS})
        with aws_errors("claim alert"):
            try:
                # A claim left pending (the publish failed) may be taken again by the retry.
                self.client.put_item(
                    TableName=self.table, Item=item,
                    ConditionExpression="attribute_not_exists(PK) OR #s = :pending",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={":pending": value("pending")})
            except self.client.exceptions.ConditionalCheckFailedException:
                return False
        return True

    def sent(self, alert_key: str, at: datetime) -> None:
        with aws_errors("mark alert sent"):
            self.client.update_item(
                TableName=self.table, Key=key(f"ALERT#{alert_key}", "ALERT"),
                UpdateExpression="SET #s = :sent, sent_at = :at",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":sent": value("sent"), ":at": value(at.isoformat())})

    def count_recent(self, agent: str, at: datetime) -> int:
        minute = at.strftime("%Y%m%d%H%M")
        with aws_errors("count alerts"):
            response = self.client.update_item(
                TableName=self.table, Key=key(f"ALERTCOUNT#{agent}", minute),
                UpdateExpression="ADD alerts :one SET expires_at = :exp",
                ExpressionAttributeValues={":one": value(1),
                                           ":exp": value(int(at.timestamp()) + 3600)},
                ReturnValues="UPDATED_NEW")
        return int(response["Attributes"]["alerts"]["N"])
