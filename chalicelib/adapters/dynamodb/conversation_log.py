"""The inbound worker's conversation log (services/inbound.py `ConversationLog`): what a
message needs read to join its conversation, its commit, and the bookkeeping after it.

`read` asks for every item whose key it knows in one BatchGetItem (each item is billed as a
GetItem), then for those whose key the answer gives: an X reply's conversation is the thread
of the tweet index it answers, an X post's own item is where its own tweet index says, and a
brand message's where its claim says (usually where its own time puts it, which the first
request already looked at)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chalicelib.adapters.dynamodb.batch_read import get_many
from chalicelib.adapters.dynamodb.codec import aws_errors, from_item, key, to_item, value
from chalicelib.adapters.dynamodb.messages import OnMessages, is_x_post, message_keys, seen_from
from chalicelib.adapters.dynamodb.records import (
    ERASED_SK,
    META,
    PROFILE,
    TOMBSTONE,
    TWEET_SK,
    claim_item,
    claim_key,
    conversation_from,
    conversation_pk,
    customer_pk,
    erased_pk,
    event_sk,
    facts_from,
    message_at,
    tweet_pk,
)
from chalicelib.domain.conversations import Conversation, Outcome
from chalicelib.domain.events import Direction, MessageEvent, Platform
from chalicelib.domain.facts import Facts, committed
from chalicelib.domain.ports import CustomerProfile, NewMessage, SeenMessage, Snapshot

Key = tuple[str, str]  # PK, SK
_ROUNDS = 3  # the deepest chain: a brand message's claim, then where it says the message is


def _key(item_key: Mapping[str, Any]) -> Key:
    return str(item_key["PK"]["S"]), str(item_key["SK"]["S"])


class DynamoConversationLog(OnMessages):
    def read(self, event: MessageEvent, *, seen: bool, erasure: bool,
             customer: bool) -> Snapshot:
        got: dict[Key, dict[str, Any] | None] = {}
        for _ in range(_ROUNDS):
            wanted, snapshot = self._resolve(event, got, seen=seen, erasure=erasure,
                                             customer=customer)
            if snapshot is not None:
                return snapshot
            items = get_many(self.client, self.table,
                             [key(pk, sk) for pk, sk in wanted], "read message's conversation")
            found = {_key(i): from_item(i) for i in items}
            got.update((k, found.get(k)) for k in wanted)
        raise AssertionError(f"{event.message_id}: still reading after {_ROUNDS} requests")

    def _resolve(self, event: MessageEvent, got: Mapping[Key, dict[str, Any] | None], *,
                 seen: bool, erasure: bool, customer: bool
                 ) -> tuple[list[Key], Snapshot | None]:
        """The keys still to read given what `got` holds (those known now, plus a guess where
        the message is while its claim is unread), or the snapshot when nothing is left."""
        wanted: dict[Key, None] = {}

        def look(item_key: Key) -> tuple[bool, dict[str, Any] | None]:
            """(read yet, the item): an unread key is wanted."""
            if item_key in got:
                return True, got[item_key]
            wanted[item_key] = None
            return False, None

        x_reply = is_x_post(event) and event.reply_to is not None
        applied: SeenMessage | None = None
        if seen:  # Messages.seen's reads, together
            claim: dict[str, Any] | None = {}  # a customer's message has no claim to read
            claim_read = True
            if event.direction is Direction.OUT:
                claim_read, claim = look(_key(claim_key(event.platform, event.message_id)))
            if claim is not None or not claim_read:  # (a brand message with no claim: new)
                tweet_thread, tweet_read = None, True
                # A tweet index is an X post's (Messages.index_tweet): an X DM has none.
                if is_x_post(event) and (claim is None or "conversation_pk" not in claim):
                    tweet_read, index = look((tweet_pk(event.message_id), TWEET_SK))
                    tweet_thread = str(index["thread"]) if index else None
                if claim is None or not tweet_read:
                    # While a brand message's claim is read, where the webhook's claims say
                    # (its own time, its thread) is read with it: an X post's own thread is
                    # only what its tweet index says, and a post is new more often than not.
                    if not is_x_post(event):
                        look((conversation_pk(event.platform, event.thread), event_sk(event)))
                else:
                    unread = False  # the first place found wins: each before it is read
                    for item_key in message_keys(event, claim, tweet_thread):
                        read, item = look(_key(item_key))
                        unread = unread or not read
                        if item is not None and not unread:
                            applied = seen_from(item)
                            break
        thread: str | None = event.thread
        if x_reply:  # an X reply joins the conversation of the tweet it answers
            read, index = look((tweet_pk(str(event.reply_to)), TWEET_SK))
            thread = (str(index["thread"]) if index else event.thread) if read else None
        conversation_key = None if thread is None else (conversation_pk(event.platform, thread),
                                                        META)
        if conversation_key is not None:
            look(conversation_key)
        author = event.author.id
        erasure_key = (erased_pk(event.platform, author), ERASED_SK)
        customer_key = (customer_pk(event.platform, author), PROFILE)
        if erasure:
            look(erasure_key)
        if customer:
            look(customer_key)
        if wanted or thread is None or conversation_key is None:  # (the last two: for mypy)
            return list(wanted), None
        meta, tombstone = got[conversation_key], got.get(erasure_key)
        profile = got.get(customer_key)
        return [], Snapshot(
            seen=applied, thread=thread,
            conversation=conversation_from(meta) if meta else None,
            erased_at=datetime.fromisoformat(tombstone["erased_at"]) if tombstone else None,
            erasure_read=erasure,
            customer=_profile(event.platform, author, profile) if profile else None,
            customer_read=customer)

    # One item at a time, as the tests look at what the worker stored; the worker `read`s.
    def seen(self, event: MessageEvent) -> SeenMessage | None:
        return self.messages.seen(event)

    def load(self, platform: Platform, thread: str) -> Conversation | None:
        item = self.messages.get(key(conversation_pk(platform, thread), META),
                                 "read conversation")
        return conversation_from(item) if item else None

    def customer(self, platform: Platform, user_id: str) -> CustomerProfile | None:
        item = self.messages.get(key(customer_pk(platform, user_id), PROFILE), "read customer")
        return _profile(platform, user_id, item) if item else None

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


def _profile(platform: Platform, user_id: str, item: Mapping[str, Any]) -> CustomerProfile:
    first_seen = item.get("first_seen")
    return CustomerProfile(
        platform=platform, user_id=user_id, handle=item.get("handle"),
        followers=item.get("followers"), complaints=int(item.get("complaints", 0)),
        first_seen=datetime.fromisoformat(first_seen) if first_seen else None)
