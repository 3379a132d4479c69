"""Everything ReplyWindow holds about one customer: exported on request, erased on request
(GDPR access and erasure). The customer's profile lists their conversations; each
conversation's items, dedupe records, tweet-index entries and alert records go with it.

An erasure is complete or fails loudly: a tombstone first (a message of theirs still queued, or
redelivered late by the platform, stores nothing), then every deletion, retried while AWS
leaves some unprocessed, and only then the profile. A request cut short keeps the profile, so
the same request, retried, finds everything that is left.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.dynamodb.batch_write import write_all
from chalicelib.adapters.dynamodb.codec import aws_errors, from_item, key, to_item, value
from chalicelib.adapters.dynamodb.records import (
    ERASED_SK,
    MESSAGE,
    META,
    PROFILE,
    TOMBSTONE,
    TURN,
    TWEET_SK,
    alert_log_key,
    claim_item,
    conversation_pk,
    customer_pk,
    due_pk,
    erased_pk,
    tweet_pk,
)
from chalicelib.domain.conversations import split_conversation_id
from chalicelib.domain.errors import ErasureIncomplete
from chalicelib.domain.timers import DueCheck, bucket_of, bucket_time

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

LEVELS = ("warning", "breach", "escalation")


class DynamoCustomerData:
    def __init__(self, client: DynamoDBClient, table: str, resolution: timedelta,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.client, self.table, self.resolution = client, table, resolution
        self.now, self.sleep = now, sleep

    def _profile(self, platform: str, user_id: str) -> dict[str, Any] | None:
        with aws_errors("read customer"):
            item = self.client.get_item(TableName=self.table,
                                        Key=key(customer_pk(platform, user_id), PROFILE),
                                        ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    def _conversation_items(self, conversation_id: str) -> list[dict[str, Any]]:
        platform, thread = split_conversation_id(conversation_id)
        items: list[dict[str, Any]] = []
        with aws_errors("read conversation"):
            for page in self.client.get_paginator("query").paginate(
                    TableName=self.table, KeyConditionExpression="PK = :pk",
                    ExpressionAttributeValues={":pk": value(conversation_pk(platform, thread))}):
                items.extend(from_item(i) for i in page.get("Items", []))
        return items

    def export(self, platform: str, user_id: str) -> dict[str, Any] | None:
        profile = self._profile(platform, user_id)
        if profile is None:
            return None
        conversations = {}
        for conversation_id in sorted(profile.get("conversations", [])):
            items = self._conversation_items(conversation_id)
            conversations[conversation_id] = {
                "messages": [{k: i.get(k) for k in ("message_id", "direction", "text",
                                                    "created_at", "author", "attachments")}
                             for i in items if str(i["SK"]).startswith(MESSAGE)],
                "status": next((i.get("status") for i in items if i["SK"] == META), None)}
        return {"customer": {k: v for k, v in profile.items()
                             if k not in ("PK", "SK", "conversations", "expires_at")},
                "conversations": conversations}

    def erase(self, platform: str, user_id: str) -> dict[str, int] | None:
        profile = self._profile(platform, user_id)
        if profile is None:
            return None
        erased_at = self.now()
        expires_at = int((erased_at + TOMBSTONE).timestamp())
        self._tombstone(platform, user_id, erased_at, expires_at)
        # What is found through the conversations' items goes before them: a retry after a
        # failure finds it again only while those items are there.
        found: list[dict[str, Any]] = []
        held: list[dict[str, Any]] = []
        conversations = sorted(profile.get("conversations", []))
        messages = 0
        for conversation_id in conversations:
            items = self._conversation_items(conversation_id)
            turns = 0
            for item in items:
                held.append(_delete(key(item["PK"], item["SK"])))
                sk = str(item["SK"])
                if sk.startswith(MESSAGE):
                    messages += 1
                    # The message id's claim becomes its tombstone: a redelivery is a duplicate.
                    found.append({"PutRequest": {"Item": to_item(claim_item(
                        platform, item["message_id"], expires_at, erased=True))}})
                    if platform == "x":
                        found.append(_delete(key(tweet_pk(item["message_id"]), TWEET_SK)))
                elif sk.startswith(TURN):
                    turns += 1
                elif sk == META:
                    found += [_delete(k) for k in self._due_checks(conversation_id, item)]
            found += [_delete(alert_log_key(f"{conversation_id}#{turn}#{level}"))
                      for turn in range(1, turns + 1) for level in LEVELS]
        total = len(found) + len(held) + 1
        for writes in (found, held):
            left = write_all(self.client, self.table, writes, "erase customer", self.sleep)
            if left:
                raise ErasureIncomplete(len(left), total)
        with aws_errors("erase customer"):  # last: until now, a retry finds everything left
            self.client.delete_item(TableName=self.table,
                                    Key=key(customer_pk(platform, user_id), PROFILE))
        return {"conversations": len(conversations), "messages": messages,
                "items_deleted": total}

    def _tombstone(self, platform: str, user_id: str, erased_at: datetime,
                   expires_at: int) -> None:
        """Before anything is deleted: from now on the worker stores none of the customer's
        messages written before `erased_at` (queued, or redelivered late by the platform)."""
        with aws_errors("erase customer"):
            self.client.put_item(TableName=self.table, Item=to_item({
                "PK": erased_pk(platform, user_id), "SK": ERASED_SK,
                "erased_at": erased_at.isoformat(), "expires_at": expires_at}))

    def _due_checks(self, conversation_id: str, meta: dict[str, Any]) -> list[dict[str, Any]]:
        """The open turn's due checks hold the conversation id (and so the customer's): they
        go too. A check that was moved to a later bucket finds no conversation and is skipped."""
        found = []
        for level, field in (("warning", "warn_at"), ("breach", "due_at"),
                             ("escalation", "escalate_at")):
            if meta.get(field):
                bucket = bucket_of(datetime.fromisoformat(meta[field]), self.resolution)
                check = DueCheck(conversation_id, int(meta["turn"]), level, bucket_time(bucket))
                found.append(key(due_pk(bucket), check.key))
        return found

    def audit(self, action: str, platform: str, user_id: str, by: str, at: datetime,
              outcome: dict[str, Any]) -> None:
        """Who asked for whose data, when, and what was done: kept, without the data."""
        with aws_errors("audit"):
            self.client.put_item(TableName=self.table, Item=to_item({
                "PK": f"AUDIT#{at.date().isoformat()}", "SK": f"{at.isoformat()}#{action}",
                "action": action, "platform": platform, "customer": user_id, "by": by,
                "outcome": outcome}))


def _delete(item_key: dict[str, Any]) -> dict[str, Any]:
    return {"DeleteRequest": {"Key": item_key}}
