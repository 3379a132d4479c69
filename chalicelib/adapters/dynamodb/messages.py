"""The ingest path's items as its two adapters share them (conversation_log.py for the inbound
worker, reply_log.py for the agent's reply).

Applying a message is single writes, not a transaction (a transaction bills every item twice):
the conversation's versioned put is the commit (it names its last message and what that did),
then idempotent bookkeeping (the turn, the customer, and last the message itself, which marks
it done). A customer's message is kept where its own time puts it (`event_sk`), so nothing but
the message says it was applied: the webhook writes no claim. An agent's reply writes a claim
saying where it is kept (its echo carries another time); an X post's thread is in the tweet
index the worker writes. The worker runs each conversation's messages in FIFO order, so a stop
anywhere is finished by the redelivery.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.dynamodb.codec import aws_errors, from_item, key, to_item, value
from chalicelib.adapters.dynamodb.records import (
    PROFILE,
    TWEET_SK,
    claim_item,
    claim_key,
    conversation_pk,
    customer_pk,
    event_sk,
    facts_from,
    facts_item,
    message_item,
    message_sk,
    opened_turn,
    plan_fields,
    tweet_pk,
)
from chalicelib.adapters.dynamodb.writes import put_conversation, update_turn
from chalicelib.domain.conversations import Conversation, Outcome
from chalicelib.domain.errors import VersionConflict
from chalicelib.domain.events import Channel, Direction, MessageEvent, Platform
from chalicelib.domain.facts import Facts, Planned
from chalicelib.domain.ports import NewMessage, SeenMessage

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class Messages:
    def __init__(self, client: DynamoDBClient, table: str, retention: timedelta,
                 now: Callable[[], datetime]) -> None:
        self.client, self.table, self.retention, self.now = client, table, retention, now

    def expires_at(self) -> int:
        return int((self.now() + self.retention).timestamp())

    def get(self, item_key: dict[str, Any], operation: str) -> dict[str, Any] | None:
        with aws_errors(operation):
            item = self.client.get_item(TableName=self.table, Key=item_key,
                                        ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    def claim(self, platform: Platform, message_id: str) -> dict[str, Any]:
        """The message id's claim, or {} when it has none."""
        return self.get(claim_key(platform, message_id), "read claim") or {}

    def tweet_index(self, tweet_id: str) -> dict[str, Any]:
        """An applied X post's thread and (since written with it) `message_sk`, or {}."""
        return self.get(key(tweet_pk(tweet_id), TWEET_SK), "read tweet index") or {}

    def stored(self, event: MessageEvent, claim: Mapping[str, Any]) -> dict[str, Any] | None:
        """The message's item if the worker finished it (it is written last), else None. It
        is looked for where its claim says, or an X post's tweet index (a post read by
        listening and delivered by webhook may carry its time to another precision), and
        where its own time puts it (they differ for an agent's reply and its echo, which
        carries the platform's time)."""
        index = (self.tweet_index(event.message_id)
                 if is_x_post(event) and "conversation_pk" not in claim else {})
        for item_key in message_keys(event, claim, index):
            item = self.get(item_key, "read message")
            if item is not None:
                return item
        return None

    def claim_where(self, m: NewMessage, expires_at: int) -> None:
        """Before the commit, a Meta comment's claim says where it is kept: the same comment
        comes by the Page's feed and as a mention, under two threads (and an Instagram
        mention carries no time of its own), so only its id finds it. A claim already saying
        elsewhere means the other copy is being applied: VersionConflict, and the queue's
        retry finds that copy applied."""
        event, c = m.event, m.conversation
        if not has_claim(event) or event.direction is Direction.OUT:
            return
        where = {"conversation_pk": conversation_pk(c.platform, c.thread),
                 "message_sk": message_sk(m.facts.message_id, m.facts.message_at)}
        with aws_errors("store claim"):
            try:
                self.client.put_item(
                    TableName=self.table, Item=to_item(claim_item(
                        event.platform, event.message_id, expires_at,
                        received_at=m.received_at.isoformat(), **where)),
                    ConditionExpression="attribute_not_exists(PK) OR "
                                        "(conversation_pk = :pk AND message_sk = :sk)",
                    ExpressionAttributeValues={":pk": value(where["conversation_pk"]),
                                               ":sk": value(where["message_sk"])})
            except self.client.exceptions.ConditionalCheckFailedException as error:
                raise VersionConflict(f"{event.platform}:{event.message_id} kept elsewhere"
                                      ) from error

    def seen(self, event: MessageEvent) -> SeenMessage | None:
        # A customer's message is kept where its own time puts it: no claim read. A brand
        # message may be an agent's reply, kept where the agent API's claim says, or a post
        # done with elsewhere; else it too is where its own time puts it.
        if not has_claim(event):
            claim: dict[str, Any] = {}
        else:
            claim = self.claim(event.platform, event.message_id)
            if claim.get("elsewhere") or claim.get("erased"):
                return SeenMessage(conversation="", facts=None)
            if event.direction is Direction.IN and not claim:
                return None  # a Meta comment is claimed before its commit: not applied
        stored = self.stored(event, claim)
        return None if stored is None else seen_from(stored)

    def index_tweet(self, m: NewMessage, expires_at: int) -> None:
        """Before the commit, an X post's thread: harmless without it (a retry writes it
        again)."""
        event, c = m.event, m.conversation
        if is_x_post(event):
            with aws_errors("store tweet index"):
                self.client.put_item(TableName=self.table, Item=to_item({
                    "PK": tweet_pk(event.message_id), "SK": TWEET_SK, "thread": c.thread,
                    "conversation": c.id, "expires_at": expires_at,
                    # Where the post will be kept: its deletion knows nothing else of it.
                    "message_sk": message_sk(m.facts.message_id, m.facts.message_at)}))

    def commit(self, m: NewMessage, expires_at: int) -> None:
        """The conversation's versioned put: the message is applied once this succeeds."""
        with aws_errors("store conversation"):
            put_conversation(self.client, self.table, m.conversation, expires_at,
                             m.expected_version, applying=m.event.message_id)

    def finish(self, event: MessageEvent, c: Conversation, facts: Facts,
               expires_at: int) -> None:
        """After the commit, each write idempotent: the turn's record, the customer's profile,
        and last the message, where its claim says (its presence marks it done)."""
        turn, pk = facts.turn, conversation_pk(c.platform, c.thread)
        with aws_errors("store message"):
            if facts.outcome is Outcome.TURN_OPENED:
                self._count_complaint(c, facts, expires_at)
                update_turn(self.client, self.table, pk, turn,
                            opened_turn(c, facts, expires_at))
            elif facts.outcome is Outcome.FOLLOW_UP and facts.planned is Planned.YES:
                update_turn(self.client, self.table, pk, turn, plan_fields(facts))
            elif facts.outcome is Outcome.TURN_ANSWERED:
                update_turn(self.client, self.table, pk, turn, {
                    "answered_at": facts.answered_at.isoformat() if facts.answered_at
                    else None, "response_seconds": facts.response_seconds,
                    "answered_by": "echo" if event.author.id == event.brand_id
                    else event.author.id})
            self.client.put_item(TableName=self.table, Item=to_item(
                message_item(event, c, message_sk(facts.message_id, facts.message_at),
                             facts.received_at, expires_at)
                | {"turn": turn, "facts": facts_item(facts)}))

    def _count_complaint(self, c: Conversation, facts: Facts, expires_at: int) -> None:
        """One more complaint, once per turn: the profile keeps the last turn it counted."""
        person = c.customer
        now = facts.received_at.isoformat()
        counted = f"{c.id}#{facts.turn}"
        names = {"#h": "handle", "#n": "name", "#f": "followers"}
        sets = ["first_seen = if_not_exists(first_seen, :now)", "last_seen = :now",
                "expires_at = :exp", "last_turn = :counted"]
        values: dict[str, Any] = {":now": value(now), ":one": value(1),
                                  ":exp": value(expires_at), ":counted": value(counted),
                                  ":conv": {"SS": [c.id]}}
        for placeholder, field_value in (("#h", person.handle), ("#n", person.name),
                                         ("#f", person.followers)):
            if field_value is not None:
                token = ":" + names[placeholder][0] + "v"
                sets.append(f"{placeholder} = {token}")
                values[token] = value(field_value)
        used = {p: n for p, n in names.items() if any(s.startswith(p) for s in sets)}
        # A failed condition: counted before this worker stopped, a redelivery.
        with contextlib.suppress(self.client.exceptions.ConditionalCheckFailedException):
            self.client.update_item(
                TableName=self.table, Key=key(customer_pk(c.platform, person.id), PROFILE),
                # The profile lists the customer's conversations: erasure and export find them.
                UpdateExpression="SET " + ", ".join(sets) + " ADD complaints :one, "
                                 "conversations :conv",
                ConditionExpression="attribute_not_exists(last_turn) OR last_turn <> :counted",
                ExpressionAttributeValues=values,
                **({"ExpressionAttributeNames": used} if used else {}))  # type: ignore[arg-type]


class OnMessages:
    """Each caller's adapter: its own methods over the shared items."""

    def __init__(self, messages: Messages) -> None:
        self.messages = messages
        self.client, self.table = messages.client, messages.table


def seen_from(stored: Mapping[str, Any]) -> SeenMessage:
    """An applied message, from its item."""
    facts = facts_from(stored.get("facts"))
    return SeenMessage(conversation=facts.conversation if facts else "", facts=facts)


def message_keys(event: MessageEvent, claim: Mapping[str, Any],
                 tweet_index: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Where an applied message's item is, in the order to look (`Messages.stored`): in the
    conversation its claim says, or else the one its X post's tweet index says, or else its
    own thread's; at the claim's sort key, then the index's, then its own time's."""
    if "conversation_pk" in claim:
        pk = str(claim["conversation_pk"])
    elif tweet_index:
        pk = conversation_pk(event.platform, str(tweet_index["thread"]))
    elif not is_x_post(event):
        pk = conversation_pk(event.platform, event.thread)  # no claim: where it would go
    else:
        return []  # an X post with no tweet index: not applied
    return [key(pk, sk) for sk in dict.fromkeys(
        str(s) for s in (claim.get("message_sk"), tweet_index.get("message_sk"),
                         event_sk(event)) if s)]


def has_claim(event: MessageEvent) -> bool:
    """Whether the message may have a claim saying where it is: a brand message (an agent's
    reply, or a post done with elsewhere) and a comment on Facebook or Instagram (the worker
    claims it: the feed and a mention deliver it under two threads). Others are found where
    their own time puts them."""
    return event.direction is Direction.OUT or (
        event.channel is Channel.PUBLIC and event.platform in (Platform.FACEBOOK,
                                                               Platform.INSTAGRAM))


def is_x_post(event: MessageEvent) -> bool:
    """A public X post: its conversation is the thread of the tweet it answers, which only the
    worker knows (it writes the tweet index before its commit)."""
    return event.platform is Platform.X and event.channel is Channel.PUBLIC
