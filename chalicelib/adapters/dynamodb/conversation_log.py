"""The inbound worker's conversation log (services/inbound.py `ConversationLog`): what a
message needs read to join its conversation, its commit, the bookkeeping after it, and the
platform's edits and deletions of stored messages."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from chalicelib.adapters.dynamodb.codec import aws_errors, from_item, key, value
from chalicelib.adapters.dynamodb.messages import OnMessages, has_claim
from chalicelib.adapters.dynamodb.records import (
    ERASED_SK,
    MESSAGE,
    META,
    PROFILE,
    claim_key,
    conversation_from,
    conversation_pk,
    customer_pk,
    erased_pk,
    event_sk,
    facts_from,
    message_at,
)
from chalicelib.domain.conversations import Conversation, Outcome
from chalicelib.domain.events import MessageDeleted, MessageEvent, Platform
from chalicelib.domain.facts import Facts, committed
from chalicelib.domain.ports import CustomerProfile, NewMessage, SeenMessage


class DynamoConversationLog(OnMessages):
    def seen(self, event: MessageEvent) -> SeenMessage | None:
        return self.messages.seen(event)

    def thread_of_tweet(self, tweet_id: str) -> str | None:
        return self.messages.thread_of_tweet(tweet_id)

    def load(self, platform: Platform, thread: str) -> Conversation | None:
        item = self.messages.get(key(conversation_pk(platform, thread), META),
                                 "read conversation")
        return conversation_from(item) if item else None

    def customer(self, platform: Platform, user_id: str) -> CustomerProfile | None:
        item = self.messages.get(key(customer_pk(platform, user_id), PROFILE), "read customer")
        if item is None:
            return None
        first_seen = item.get("first_seen")
        return CustomerProfile(
            platform=platform, user_id=user_id, handle=item.get("handle"),
            followers=item.get("followers"), complaints=int(item.get("complaints", 0)),
            first_seen=datetime.fromisoformat(first_seen) if first_seen else None)

    def erased_at(self, platform: Platform, user_id: str) -> datetime | None:
        item = self.messages.get(key(erased_pk(platform, user_id), ERASED_SK), "read tombstone")
        return datetime.fromisoformat(item["erased_at"]) if item else None

    def record(self, message: NewMessage) -> None:
        expires_at = self.messages.expires_at()
        self.messages.index_tweet(message, expires_at)
        self.messages.claim_where(message, expires_at)
        self.messages.commit(message, expires_at)
        self.messages.finish(message.event, message.conversation, message.facts, expires_at)

    def finish_applied(self, event: MessageEvent, conversation: Conversation,
                       received_at: datetime) -> Facts | None:
        # An agent's reply's claim says where the agent API put it (not where its echo says),
        # a Meta comment's where the worker did; others are where their own time puts them.
        claim = (self.messages.claim(event.platform, event.message_id) if has_claim(event)
                 else {})
        stored = self.messages.stored(event, claim)
        if stored is not None:
            return facts_from(stored.get("facts"))  # finished after all
        c = conversation
        if c.last_outcome is None:
            return None
        # The committed conversation holds what its last message did; the claim or the queued
        # body, when and where.
        received = claim.get("received_at")
        facts = committed(Outcome(c.last_outcome), event.message_id,
                          message_at(str(claim["message_sk"])) if claim.get("message_sk")
                          else event.created_at, c,
                          datetime.fromisoformat(str(received)) if received else received_at)
        self.messages.finish(event, c, facts, self.messages.expires_at())
        return facts

    def pass_over(self, platform: Platform, message_id: str) -> None:
        # The one claim the worker writes, for brand messages only (rare against inbound).
        with aws_errors("store claim"):
            self.client.update_item(
                TableName=self.table, Key=claim_key(platform, message_id),
                UpdateExpression="SET elsewhere = :t, expires_at = :exp",
                ExpressionAttributeValues={":t": value(True),
                                           ":exp": value(self.messages.expires_at())})

    def edit(self, event: MessageEvent) -> bool:
        message = self._find(event.platform, event.message_id, event.thread,
                             event_sk(event))
        if message is None:
            return False
        with aws_errors("edit message"), contextlib.suppress(
                self.client.exceptions.ConditionalCheckFailedException):
            # A withdrawn message keeps no text: a late edit must not bring it back.
            self.client.update_item(TableName=self.table, Key=message,
                                    UpdateExpression="SET #t = :t, edited = :e",
                                    ConditionExpression="attribute_exists(PK) AND "
                                                        "attribute_not_exists(deleted)",
                                    ExpressionAttributeNames={"#t": "text"},
                                    ExpressionAttributeValues={":t": value(event.text),
                                                               ":e": value(True)})
        return True

    def erase(self, deleted: MessageDeleted) -> bool:
        message = self._find(deleted.platform, deleted.message_id, deleted.thread, None)
        if message is None:
            return False
        with aws_errors("erase message"), contextlib.suppress(
                self.client.exceptions.ConditionalCheckFailedException):
            # The customer withdrew it: keep that it existed (the turn's clock), not its words.
            self.client.update_item(
                TableName=self.table, Key=message,
                UpdateExpression="SET #t = :empty, deleted = :d, deleted_at = :at "
                                 "REMOVE attachments",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeNames={"#t": "text"},
                ExpressionAttributeValues={":empty": value(""), ":d": value(True),
                                           ":at": value(deleted.deleted_at.isoformat())})
        return True

    def _find(self, platform: Platform, message_id: str, thread: str | None,
              sk: str | None) -> dict[str, Any] | None:
        """A stored message's key. Its conversation: an agent reply's claim, an X post's tweet
        index, else the thread the event names. Its sort key: the claim's, the index's, the
        event's own time, else the conversation's messages are searched (an edit or a deletion
        is rare; it carries no time of the message it changes)."""
        claim = self.messages.claim(platform, message_id)
        if claim.get("elsewhere") or claim.get("erased"):
            return None  # a brand message outside any conversation, or an erased customer's
        index = self.messages.tweet_index(message_id) if platform is Platform.X else {}
        pk = (str(claim["conversation_pk"]) if "conversation_pk" in claim
              else conversation_pk(platform, str(index["thread"])) if index
              else conversation_pk(platform, thread) if thread else None)
        if pk is None:
            return None
        for known in dict.fromkeys(s for s in (claim.get("message_sk"),
                                               index.get("message_sk"), sk) if s):
            if self.messages.get(key(pk, str(known)), "read message") is not None:
                return key(pk, str(known))
        return self._search(pk, message_id)

    def _search(self, pk: str, message_id: str) -> dict[str, Any] | None:
        request: dict[str, Any] = {
            "TableName": self.table, "ConsistentRead": True,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :msg)",
            "FilterExpression": "message_id = :id", "ProjectionExpression": "PK, SK",
            "ExpressionAttributeValues": {":pk": value(pk), ":msg": value(MESSAGE),
                                          ":id": value(message_id)}}
        with aws_errors("find message"):
            while True:
                page = self.client.query(**request)
                if page.get("Items"):
                    item = from_item(page["Items"][0])
                    return key(str(item["PK"]), str(item["SK"]))
                if "LastEvaluatedKey" not in page:
                    return None
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
