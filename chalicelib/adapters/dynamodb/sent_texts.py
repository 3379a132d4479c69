"""Alert publishes by SNS MessageId, and the failed texts SNS reports back, each handled once.

A record lives a week: SNS writes a text's delivery status within 72 hours."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from chalicelib.adapters.dynamodb.codec import aws_errors, key, to_item, value
from chalicelib.adapters.dynamodb.records import SMS_FAILED_PK, sent_text_pk

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_KEEP_SECONDS = 7 * 86400
_COVERED = ("agent", "team", "level", "conversation")  # labels only: never a phone number
_COUNT_KEEP_SECONDS = 400 * 86400  # a month's count outlives the month (the doctor, reports)


def _day(at: datetime | date) -> str:
    return at.strftime("%Y-%m-%d")


class DynamoSentTexts:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client, self.table = client, table

    def published(self, message_id: str, covered: Mapping[str, str], at: datetime) -> None:
        item = {"PK": sent_text_pk(message_id), "SK": "SMS", "sent_at": at.isoformat(),
                "expires_at": int(at.timestamp()) + _KEEP_SECONDS,
                **{k: covered[k] for k in _COVERED if covered.get(k)}}
        with aws_errors("record publish"):
            self.client.put_item(TableName=self.table, Item=to_item(item))

    def claim_failure(self, message_id: str, at: datetime,
                      lease: timedelta) -> dict[str, str] | None:
        # Upsert: a failure whose publish is unknown here (expired, or not ours) is still
        # handled, and counted, once.
        with aws_errors("claim failed text"):
            try:
                attributes = self.client.update_item(
                    TableName=self.table, Key=key(sent_text_pk(message_id), "SMS"),
                    UpdateExpression="SET claimed_until = :until, "
                                     "expires_at = if_not_exists(expires_at, :exp)",
                    ConditionExpression="attribute_not_exists(resent_at) AND "
                                        "(attribute_not_exists(claimed_until) OR "
                                        "claimed_until <= :now)",
                    ExpressionAttributeValues={
                        ":until": value(int((at + lease).timestamp())),
                        ":now": value(int(at.timestamp())),
                        ":exp": value(int(at.timestamp()) + _KEEP_SECONDS)},
                    ReturnValues="ALL_NEW")["Attributes"]
            except self.client.exceptions.ConditionalCheckFailedException:
                return None
        return {k: attributes[k]["S"] for k in _COVERED if "S" in attributes.get(k, {})}

    def release(self, message_id: str) -> None:
        with aws_errors("release failed text"), suppress(
                self.client.exceptions.ConditionalCheckFailedException):
            self.client.update_item(
                TableName=self.table, Key=key(sent_text_pk(message_id), "SMS"),
                UpdateExpression="REMOVE claimed_until",
                ConditionExpression="attribute_not_exists(resent_at)")

    def failed(self, message_id: str, at: datetime, team: str) -> None:
        with aws_errors("mark failed text"):
            self.client.update_item(
                TableName=self.table, Key=key(sent_text_pk(message_id), "SMS"),
                UpdateExpression="SET resent_at = :at REMOVE claimed_until",
                ExpressionAttributeValues={":at": value(at.isoformat())})
            self.client.update_item(
                TableName=self.table, Key=key(SMS_FAILED_PK, f"{_day(at)}#{team}"),
                UpdateExpression="ADD texts :one SET expires_at = :exp",
                ExpressionAttributeValues={
                    ":one": value(1), ":exp": value(int(at.timestamp()) + _COUNT_KEEP_SECONDS)})

    def failed_in_month(self, at: datetime) -> int:
        first = at.date().replace(day=1)
        return sum(self.failed_between(first, at.date()).values())

    def failed_between(self, start: date, end: date) -> dict[str, int]:
        """Per team, the texts reported failed from `start` to `end` (days, both included)."""
        counts: dict[str, int] = {}
        with aws_errors("read failed texts"):
            for page in self.client.get_paginator("query").paginate(
                    TableName=self.table, KeyConditionExpression="PK = :pk AND SK BETWEEN "
                                                                 ":start AND :end",
                    ExpressionAttributeValues={":pk": value(SMS_FAILED_PK),
                                               ":start": value(_day(start)),
                                               ":end": value(f"{_day(end)}#~")}):
                for item in page.get("Items", []):
                    team = item["SK"]["S"].partition("#")[2]
                    counts[team] = counts.get(team, 0) + int(item["texts"]["N"])
        return counts
