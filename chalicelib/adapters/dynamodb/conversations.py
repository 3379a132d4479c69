"""Conversations for the SLA engine and the agent API: read, and save with optimistic locking."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.dynamodb.batch_read import get_many
from chalicelib.adapters.dynamodb.codec import aws_errors, from_item, key, to_item, value
from chalicelib.adapters.dynamodb.records import (
    MESSAGE,
    META,
    UNSURE,
    conversation_from,
    conversation_pk,
    queue_pk,
    turns_pk,
    unsure_sk,
)
from chalicelib.adapters.dynamodb.writes import put_conversation, update_turn
from chalicelib.domain.conversations import Conversation, Status, split_conversation_id

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoConversations:
    def __init__(self, client: DynamoDBClient, table: str, retention: timedelta,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.client, self.table, self.retention, self.now = client, table, retention, now

    def _pk(self, conversation_id: str) -> str:
        platform, thread = split_conversation_id(conversation_id)
        return conversation_pk(platform, thread)

    def get(self, conversation_id: str) -> Conversation | None:
        try:
            pk = self._pk(conversation_id)
        except ValueError:
            return None
        with aws_errors("read conversation"):
            item = self.client.get_item(TableName=self.table, Key=key(pk, META),
                                        ConsistentRead=True).get("Item")
        return conversation_from(from_item(item)) if item else None

    def save(self, conversation: Conversation) -> None:
        expires_at = int((self.now() + self.retention).timestamp())
        with aws_errors("save conversation"):
            put_conversation(self.client, self.table, conversation, expires_at,
                             conversation.version)

    def update_turn(self, conversation_id: str, turn: int, fields: dict[str, Any]) -> None:
        """Facts about a turn for the SLA report (priority, team, deadlines, breach, answer)."""
        with aws_errors("update turn"):
            update_turn(self.client, self.table, self._pk(conversation_id), turn, fields)

    def recent(self, conversation_id: str, limit: int) -> list[tuple[str, str]]:
        with aws_errors("read messages"):
            items = self.client.query(
                TableName=self.table, ScanIndexForward=False, Limit=limit,
                KeyConditionExpression="PK = :pk AND begins_with(SK, :msg)",
                ExpressionAttributeValues={":pk": value(self._pk(conversation_id)),
                                           ":msg": value(MESSAGE)})["Items"]
        out = []
        for item in reversed([from_item(i) for i in items]):
            author = item.get("author", {})
            who = "brand" if item.get("direction") == "out" else (
                "@" + author["handle"] if author.get("handle") else "customer")
            out.append((who, "(withdrawn)" if item.get("deleted") else str(item.get("text", ""))))
        return out

    def awaiting_due_between(self, team: str, start: datetime,
                             end: datetime) -> list[Conversation]:
        """A team's open turns whose deadline falls between `start` and `end` (GSI1 sorts the
        awaiting queue by deadline): what the sweeper reads, however many turns are open."""
        queue = queue_pk(team, Status.AWAITING_AGENT.value)
        keys: list[dict[str, Any]] = []
        with aws_errors("read due turns"):
            paginator = self.client.get_paginator("query")
            for page in paginator.paginate(
                    TableName=self.table, IndexName="GSI1",
                    KeyConditionExpression="GSI1PK = :q AND GSI1SK BETWEEN :a AND :b",
                    ExpressionAttributeValues={
                        ":q": value(queue), ":a": value(start.astimezone(UTC).isoformat()),
                        # "~" sorts after the "#<id>" that follows the deadline in the key.
                        ":b": value(end.astimezone(UTC).isoformat() + "~")}):
                keys.extend(page.get("Items", []))
        return [conversation_from(item) for item in map(from_item, get_many(
            self.client, self.table, keys)) if item.get("GSI1PK") == queue]

    def inbox(self, team: str, status: str, limit: int, cursor: str | None
              ) -> tuple[list[Conversation], str | None]:
        """A team's conversations in one status, earliest deadline first (GSI1)."""
        kwargs: dict[str, Any] = {}
        if cursor:
            kwargs["ExclusiveStartKey"] = _decode_cursor(cursor)
        with aws_errors("read inbox"):
            page = self.client.query(
                TableName=self.table, IndexName="GSI1", Limit=limit,
                KeyConditionExpression="GSI1PK = :q",
                ExpressionAttributeValues={":q": value(queue_pk(team, status))}, **kwargs)
        queue = queue_pk(team, status)
        # The index holds keys only; an item that left this queue since is left out.
        found = [conversation_from(item) for item in map(from_item, get_many(
            self.client, self.table, page.get("Items", []))) if item.get("GSI1PK") == queue]
        last = page.get("LastEvaluatedKey")
        return found, _encode_cursor(last) if last else None

    def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        with aws_errors("read messages"):
            paginator = self.client.get_paginator("query")
            for page in paginator.paginate(
                    TableName=self.table, KeyConditionExpression="PK = :pk AND "
                    "begins_with(SK, :msg)", ExpressionAttributeValues={
                        ":pk": value(self._pk(conversation_id)), ":msg": value(MESSAGE)}):
                out.extend(from_item(i) for i in page.get("Items", []))
        return out


    def unsure(self, conversation_id: str, key_: str, attempt: dict[str, Any]) -> None:
        """A reply that may have been sent, one item per idempotency key: a retry keeps the
        first attempt's time, which its echo is matched against. Kept, and erased, with the
        conversation's other items."""
        expires_at = int((self.now() + self.retention).timestamp())
        with aws_errors("record reply that may have been sent"), suppress(
                self.client.exceptions.ConditionalCheckFailedException):
            self.client.put_item(TableName=self.table, Item=to_item({
                **attempt, "PK": self._pk(conversation_id), "SK": unsure_sk(key_),
                "expires_at": expires_at}), ConditionExpression="attribute_not_exists(SK)")

    def unsure_replies(self, conversation_id: str) -> list[dict[str, Any]]:
        with aws_errors("read replies that may have been sent"):
            items = self.client.query(
                TableName=self.table, KeyConditionExpression="PK = :pk AND "
                "begins_with(SK, :u)", ExpressionAttributeValues={
                    ":pk": value(self._pk(conversation_id)), ":u": value(UNSURE)})["Items"]
        return [from_item(i) for i in items]

    def turns(self, start: date, end: date) -> list[dict[str, Any]]:
        """Turn records opened between two days (inclusive), from the GSI1 day partitions."""
        out: list[dict[str, Any]] = []
        day = start
        with aws_errors("read turns"):
            paginator = self.client.get_paginator("query")
            while day <= end:
                for page in paginator.paginate(
                        TableName=self.table, IndexName="GSI1",
                        KeyConditionExpression="GSI1PK = :d",
                        ExpressionAttributeValues={":d": value(turns_pk(day.isoformat()))}):
                    out.extend(map(from_item, get_many(self.client, self.table,
                                                       page.get("Items", []))))
                day += timedelta(days=1)
        return out


def _encode_cursor(key_: dict[str, Any]) -> str:
    import base64
    import json

    return base64.urlsafe_b64encode(json.dumps(from_item(key_)).encode()).decode()


def _decode_cursor(cursor: str) -> dict[str, Any]:
    import base64
    import binascii
    import json

    from chalicelib.domain.errors import BadRequest

    try:
        plain = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(plain, dict) or set(plain) != {"PK", "SK", "GSI1PK", "GSI1SK"}:
            raise ValueError(cursor)
        return to_item(plain)
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise BadRequest("cursor: not one this API returned") from error
