"""One alert per (conversation, turn, level), and per-agent counts for the flood digest."""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from chalicelib.adapters.dynamodb.batch_read import get_many
from chalicelib.adapters.dynamodb.codec import aws_errors, key, value
from chalicelib.adapters.dynamodb.records import ALERT, alert_log_key
from chalicelib.domain.errors import AlertInFlight

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_KEEP_SECONDS = 90 * 86400


class DynamoAlertLog:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client, self.table = client, table

    def claim(self, alert_key: str, recipients: tuple[str, ...], at: datetime,
              lease: timedelta) -> frozenset[str] | None:
        with aws_errors("claim alert"):
            try:
                # A claim left pending (a publish failed, or its sender died) may be taken
                # again once its lease is over; the taker learns who has the alert already.
                attributes = self.client.update_item(
                    TableName=self.table, Key=alert_log_key(alert_key),
                    UpdateExpression="SET #s = :pending, recipients = :r, "
                                     "claimed_at = if_not_exists(claimed_at, :at), "
                                     "lease_until = :until, expires_at = :exp",
                    ConditionExpression="attribute_not_exists(PK) OR (#s = :pending AND "
                                        "(attribute_not_exists(lease_until) OR "
                                        "lease_until <= :now))",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={
                        ":pending": value("pending"), ":r": value(list(recipients)),
                        ":at": value(at.isoformat()),
                        ":now": value(int(at.timestamp())),
                        ":until": value(int((at + lease).timestamp())),
                        ":exp": value(int(at.timestamp()) + _KEEP_SECONDS)},
                    ReturnValues="ALL_NEW")["Attributes"]
            except self.client.exceptions.ConditionalCheckFailedException:
                status = self.client.get_item(
                    TableName=self.table, Key=alert_log_key(alert_key),
                    ConsistentRead=True, ProjectionExpression="#s",
                    ExpressionAttributeNames={"#s": "status"}).get("Item", {})
                if status.get("status", {}).get("S") == "sent":
                    return None
                raise AlertInFlight(alert_key) from None
        return frozenset(attributes.get("delivered", {}).get("SS", []))

    def release(self, alert_key: str) -> None:
        """The holder's send failed: a retry need not wait for the lease to run out."""
        # Sent after all, or gone: nothing to release.
        with aws_errors("release alert"), suppress(
                self.client.exceptions.ConditionalCheckFailedException):
            self.client.update_item(
                TableName=self.table, Key=alert_log_key(alert_key),
                UpdateExpression="REMOVE lease_until", ConditionExpression="#s = :pending",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":pending": value("pending")})

    def status(self, alert_keys: list[str]) -> dict[str, str]:
        """Each alert's state ("pending" or "sent"); an alert never claimed is left out."""
        keys = [alert_log_key(k) for k in alert_keys]
        with aws_errors("read alert log"):
            items = get_many(self.client, self.table, keys)
        return {i["PK"]["S"].removeprefix(ALERT): i.get("status", {}).get("S", "pending")
                for i in items}

    def delivered(self, alert_key: str, agent: str) -> None:
        with aws_errors("mark alert delivered"):
            self.client.update_item(
                TableName=self.table, Key=alert_log_key(alert_key),
                UpdateExpression="ADD delivered :a",
                ExpressionAttributeValues={":a": {"SS": [agent]}})

    def sent(self, alert_key: str, at: datetime) -> None:
        with aws_errors("mark alert sent"):
            self.client.update_item(
                TableName=self.table, Key=alert_log_key(alert_key),
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
