"""One alert per (conversation, turn, level), and per-agent counts for the flood digest."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from chalicelib.adapters.dynamodb.codec import aws_errors, key, value

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_KEEP_SECONDS = 90 * 86400


class DynamoAlertLog:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client, self.table = client, table

    def claim(self, alert_key: str, recipients: tuple[str, ...],
              at: datetime) -> frozenset[str] | None:
        with aws_errors("claim alert"):
            try:
                # A claim left pending (a publish failed) may be taken again by the retry,
                # which learns who has the alert already.
                attributes = self.client.update_item(
                    TableName=self.table, Key=key(f"ALERT#{alert_key}", "ALERT"),
                    UpdateExpression="SET #s = :pending, recipients = :r, "
                                     "claimed_at = if_not_exists(claimed_at, :at), "
                                     "expires_at = :exp",
                    ConditionExpression="attribute_not_exists(PK) OR #s = :pending",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={
                        ":pending": value("pending"), ":r": value(list(recipients)),
                        ":at": value(at.isoformat()),
                        ":exp": value(int(at.timestamp()) + _KEEP_SECONDS)},
                    ReturnValues="ALL_NEW")["Attributes"]
            except self.client.exceptions.ConditionalCheckFailedException:
                return None
        return frozenset(attributes.get("delivered", {}).get("SS", []))

    def delivered(self, alert_key: str, agent: str) -> None:
        with aws_errors("mark alert delivered"):
            self.client.update_item(
                TableName=self.table, Key=key(f"ALERT#{alert_key}", "ALERT"),
                UpdateExpression="ADD delivered :a",
                ExpressionAttributeValues={":a": {"SS": [agent]}})

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
