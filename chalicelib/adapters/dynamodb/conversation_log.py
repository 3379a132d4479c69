"""The inbound worker's conversation log (services/inbound.py `ConversationLog`): what a
message needs read to join its conversation, its commit, and the bookkeeping after it."""

from __future__ import annotations

from datetime import datetime

from chalicelib.adapters.dynamodb.codec import aws_errors, key, to_item, value
from chalicelib.adapters.dynamodb.messages import OnMessages
from chalicelib.adapters.dynamodb.records import (
    ERASED_SK,
    META,
    PROFILE,
    TOMBSTONE,
    claim_item,
    claim_key,
    conversation_from,
    conversation_pk,
    customer_pk,
    erased_pk,
    facts_from,
    message_at,
)
from chalicelib.domain.conversations import Conversation, Outcome
from chalicelib.domain.events import MessageEvent, Platform
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
        """The webhook's claim already says where the message goes: no write to it."""
        expires_at = self.messages.expires_at()
        self.messages.index_tweet(message, expires_at)
        self.messages.commit(message, expires_at)
        self.messages.finish(message.event, message.conversation, message.facts, expires_at)

    def finish_applied(self, event: MessageEvent, conversation: Conversation) -> Facts | None:
        claim = self.messages.claim(event.platform, event.message_id)
        stored = self.messages.stored(event, claim)
        if stored is not None:
            return facts_from(stored.get("facts"))  # finished after all
        c = conversation
        if c.last_outcome is None:
            return None
        # The committed conversation holds what its last message did; the claim, when and
        # where (an agent's reply is where the agent API put it, not where its echo says).
        received = claim.get("received_at")
        facts = committed(Outcome(c.last_outcome), event.message_id,
                          message_at(str(claim["message_sk"])) if claim.get("message_sk")
                          else event.created_at, c,
                          datetime.fromisoformat(str(received)) if received
                          else c.last_customer_at or c.created_at)
        self.messages.finish(event, c, facts, self.messages.expires_at())
        return facts

    def pass_over(self, platform: Platform, message_id: str) -> None:
        with aws_errors("store claim"):
            self.client.update_item(
                TableName=self.table, Key=claim_key(platform, message_id),
                UpdateExpression="SET elsewhere = :t, expires_at = :exp",
                ExpressionAttributeValues={":t": value(True),
                                           ":exp": value(self.messages.expires_at())})

    def bury(self, platform: Platform, message_id: str) -> None:
        expires_at = int((self.messages.now() + TOMBSTONE).timestamp())
        with aws_errors("store claim"):
            self.client.put_item(TableName=self.table, Item=to_item(claim_item(
                platform, message_id, expires_at, erased=True)))
