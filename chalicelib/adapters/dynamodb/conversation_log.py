"""The inbound worker's conversation log (services/inbound.py `ConversationLog`): what a
message needs read to join its conversation, its commit, the bookkeeping after it, and the
platform's edits and deletions of stored messages.

`read` asks for every item whose key it knows in one BatchGetItem (each item is billed as a
GetItem), then for those whose key the answer gives: an X reply's conversation is the thread
of the tweet index it answers, an X post's own item is where its own tweet index says, and a
message with a claim (a brand message, a Meta comment) where its claim says."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from chalicelib.adapters.dynamodb.batch_read import get_many
from chalicelib.adapters.dynamodb.codec import aws_errors, from_item, key, value
from chalicelib.adapters.dynamodb.messages import (
    OnMessages,
    has_claim,
    is_x_post,
    message_keys,
    seen_from,
)
from chalicelib.adapters.dynamodb.records import (
    ERASED_SK,
    MESSAGE,
    META,
    PROFILE,
    TWEET_SK,
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
from chalicelib.domain.events import Direction, MessageDeleted, MessageEvent, Platform
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
            applied = self._seen(event, look)
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

    @staticmethod
    def _seen(event: MessageEvent,
              look: Callable[[Key], tuple[bool, dict[str, Any] | None]]) -> SeenMessage | None:
        """`Messages.seen` from what is read: None while a key it needs is unread (`look`
        wants it) or when the message is not applied."""
        claim: dict[str, Any] | None = {}  # None: unread; {} also for a message with none
        if has_claim(event):
            claim_read, item = look(_key(claim_key(event.platform, event.message_id)))
            claim = (item or {}) if claim_read else None
            if claim is None and event.direction is Direction.OUT and not is_x_post(event):
                # A brand message with no claim is where its own time puts it: read it with
                # the claim (a Meta comment without one is new: no guess for it, it costs).
                look((conversation_pk(event.platform, event.thread), event_sk(event)))
        if claim is not None and (claim.get("elsewhere") or claim.get("erased")):
            return SeenMessage(conversation="", facts=None)  # done with, stored nowhere
        if claim == {} and has_claim(event) and event.direction is Direction.IN:
            return None  # a Meta comment is claimed before its commit: not applied
        index: dict[str, Any] | None = {}  # None: unread
        # A tweet index is an X post's (Messages.index_tweet): an X DM has none.
        if is_x_post(event) and (claim is None or "conversation_pk" not in claim):
            index_read, item = look((tweet_pk(event.message_id), TWEET_SK))
            index = (item or {}) if index_read else None
        if claim is None or index is None:
            return None
        unread = False  # the first place found wins: each before it must be read
        for item_key in message_keys(event, claim, index):
            read, item = look(_key(item_key))
            unread = unread or not read
            if item is not None and not unread:
                return seen_from(item)
        return None

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
        is rare; it carries no time of the message it changes). What is known upfront (the
        claim, the tweet index, the message at the event's thread and time) is one request."""
        claim_at = _key(claim_key(platform, message_id))
        index_at = (tweet_pk(message_id), TWEET_SK)
        wanted = [claim_at]
        if platform is Platform.X:
            wanted.append(index_at)
        if thread and sk:
            wanted.append((conversation_pk(platform, thread), sk))
        found = {_key(i): from_item(i) for i in get_many(
            self.client, self.table, [key(*at) for at in wanted], "find message")}
        claim = found.get(claim_at) or {}
        if claim.get("elsewhere") or claim.get("erased"):
            return None  # a brand message outside any conversation, or an erased customer's
        index = found.get(index_at) or {}
        pk = (str(claim["conversation_pk"]) if "conversation_pk" in claim
              else conversation_pk(platform, str(index["thread"])) if index
              else conversation_pk(platform, thread) if thread else None)
        if pk is None:
            return None
        for known in dict.fromkeys(str(s) for s in (claim.get("message_sk"),
                                                    index.get("message_sk"), sk) if s):
            item = (found.get((pk, known)) if (pk, known) in wanted
                    else self.messages.get(key(pk, known), "read message"))
            if item is not None:
                return key(pk, known)
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


def _profile(platform: Platform, user_id: str, item: Mapping[str, Any]) -> CustomerProfile:
    first_seen = item.get("first_seen")
    return CustomerProfile(
        platform=platform, user_id=user_id, handle=item.get("handle"),
        followers=item.get("followers"), complaints=int(item.get("complaints", 0)),
        first_seen=datetime.fromisoformat(first_seen) if first_seen else None)
