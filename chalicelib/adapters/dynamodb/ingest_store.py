"""The ingest path's DynamoDB store: the webhook's claim, and the worker's apply.

Applying a message is single writes, not a transaction (a transaction bills every item twice):
the conversation's versioned put is the commit (it names its last message and what that did),
then idempotent bookkeeping (the turn, the customer, and last the message itself, which marks
it done). The webhook's claim already says where the message will be (its conversation, or for
an X post the tweet index the worker writes), so finishing needs no write to it; an agent's
reply records where it is before its commit, so its echo finishes it there. The worker runs
each conversation's messages in FIFO order, so a stop anywhere is finished by the redelivery.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.dynamodb.codec import aws_errors, from_item, key, to_item, value
from chalicelib.adapters.dynamodb.records import (
    TOMBSTONE,
    conversation_from,
    conversation_item,
    conversation_pk,
    customer_pk,
    dedupe_pk,
    erased_pk,
    message_item,
    turn_sk,
    tweet_pk,
)
from chalicelib.domain.conversations import Conversation, Outcome
from chalicelib.domain.errors import StoreUnavailable
from chalicelib.domain.events import Channel, Direction, MessageEvent, Platform
from chalicelib.domain.facts import Facts, Planned, TurnPlan, committed
from chalicelib.domain.ports import (
    AlreadyStored,
    CustomerProfile,
    NewMessage,
    SeenMessage,
    VersionConflict,
    message_sk,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoIngestStore:
    def __init__(self, client: DynamoDBClient, table: str, retention: timedelta,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.client, self.table, self.retention, self.now = client, table, retention, now

    def _expires_at(self) -> int:
        return int((self.now() + self.retention).timestamp())

    def _get(self, pk: str, sk: str, operation: str) -> dict[str, Any] | None:
        with aws_errors(operation):
            item = self.client.get_item(TableName=self.table, Key=key(pk, sk),
                                        ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    def accept(self, event: MessageEvent, received_at: datetime) -> None:
        """The webhook's one write: claim the id, with where the message will be stored. On a
        redelivery, the old record (returned by the failed condition) finds out whether the
        worker has applied it."""
        with aws_errors("accept message"):
            try:
                self.client.put_item(
                    TableName=self.table,
                    Item=_dedupe_item(event, received_at, _location(event), self._expires_at()),
                    ConditionExpression="attribute_not_exists(PK)",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD")
            except self.client.exceptions.ConditionalCheckFailedException as error:
                old = from_item(error.response.get("Item") or {})  # type: ignore[arg-type]
                # An erased message's claim is its tombstone: its redelivery stores nothing.
                applied = ("elsewhere" in old or "erased" in old
                           or self._stored(event, old) is not None)
                raise AlreadyStored(event.message_id, applied=applied) from error

    def _claim(self, platform: Platform, message_id: str) -> dict[str, Any]:
        return self._get(dedupe_pk(platform, message_id), "MSGID", "read dedupe record") or {}

    def _conversation_pk(self, platform: Platform, message_id: str,
                         claim: Mapping[str, Any]) -> str | None:
        """Where the claim says; an X post's claim cannot say (only the worker knows its
        thread): the tweet index it writes before its commit does."""
        if "conversation_pk" in claim:
            return str(claim["conversation_pk"])
        thread = self.thread_of_tweet(message_id) if platform is Platform.X else None
        return conversation_pk(platform, thread) if thread else None

    def _where(self, event: MessageEvent, claim: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Where the message may be kept: where its claim says, and where its own time puts
        it (they differ for an agent's reply and its echo, which carries the platform's time)."""
        pk = self._conversation_pk(event.platform, event.message_id, claim)
        if pk is None and not _is_x_post(event):
            pk = conversation_pk(event.platform, event.thread)  # no claim: where it would go
        if pk is None:
            return []
        sks = dict.fromkeys([str(claim.get("message_sk") or message_sk(event)),
                             message_sk(event)])
        return [key(pk, sk) for sk in sks]

    def _item(self, where: dict[str, Any]) -> dict[str, Any] | None:
        with aws_errors("read message"):
            item = self.client.get_item(TableName=self.table, Key=where,
                                        ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    def _stored(self, event: MessageEvent, claim: Mapping[str, Any]) -> dict[str, Any] | None:
        """The message's item if the worker finished it (it is written last), else None."""
        for where in self._where(event, claim):
            item = self._item(where)
            if item is not None:
                return item
        return None

    def seen(self, event: MessageEvent) -> SeenMessage | None:
        # A customer's message is kept where its own time puts it: no claim read. A brand
        # message may be an agent's reply, kept where the agent API's claim says.
        if event.direction is Direction.IN:
            claim: dict[str, Any] = {}
        else:
            claim = self._claim(event.platform, event.message_id)
            if not claim:
                return None
        stored = self._stored(event, claim)
        if stored is None:
            return None
        facts = facts_from(stored.get("facts"))
        return SeenMessage(conversation=facts.conversation if facts else "",
                           message_sk=str(stored["SK"]), facts=facts)

    def thread_of_tweet(self, tweet_id: str) -> str | None:
        item = self._get(tweet_pk(tweet_id), "TWEET", "read tweet index")
        return str(item["thread"]) if item else None

    def load(self, platform: Platform, thread: str) -> Conversation | None:
        item = self._get(conversation_pk(platform, thread), "META", "read conversation")
        return conversation_from(item) if item else None

    def customer(self, platform: Platform, user_id: str) -> CustomerProfile | None:
        item = self._get(customer_pk(platform, user_id), "PROFILE", "read customer")
        if item is None:
            return None
        first_seen = item.get("first_seen")
        return CustomerProfile(
            platform=platform, user_id=user_id, handle=item.get("handle"),
            followers=item.get("followers"), complaints=int(item.get("complaints", 0)),
            first_seen=datetime.fromisoformat(first_seen) if first_seen else None)

    def erased_at(self, platform: Platform, user_id: str) -> datetime | None:
        item = self._get(erased_pk(platform, user_id), "ERASED", "read tombstone")
        return datetime.fromisoformat(item["erased_at"]) if item else None

    def record(self, message: NewMessage) -> None:
        m, c, event = message, message.conversation, message.event
        expires_at = self._expires_at()
        # Before the commit, only the tweet index: harmless without it (a retry writes it again).
        if _is_x_post(event):
            with aws_errors("store tweet index"):
                self.client.put_item(TableName=self.table, Item=to_item({
                    "PK": tweet_pk(event.message_id), "SK": "TWEET", "thread": c.thread,
                    "conversation": c.id, "expires_at": expires_at}))
        if not m.claimed:
            self._locate(m, expires_at)
        try:
            self._commit(m, expires_at)
        except StoreUnavailable:
            if not m.claimed:  # not stored after all: its echo, when it comes, says where
                with contextlib.suppress(StoreUnavailable), aws_errors("drop dedupe record"):
                    self.client.delete_item(TableName=self.table, Key=key(
                        dedupe_pk(event.platform, event.message_id), "MSGID"))
            raise
        self._finish(event, c, m.facts, expires_at)

    def _locate(self, m: NewMessage, expires_at: int) -> None:
        """An agent's reply, before its commit: where it is kept, so that its echo, even one
        that races the rest of this write, finishes it there."""
        c = m.conversation
        where = {"conversation_pk": conversation_pk(c.platform, c.thread),
                 "message_sk": m.message_sk}
        with aws_errors("store dedupe record"):
            self.client.put_item(TableName=self.table, Item=_dedupe_item(
                m.event, m.received_at, where, expires_at))

    def _commit(self, m: NewMessage, expires_at: int) -> None:
        """The conversation's versioned put: the message is applied once this succeeds."""
        c = m.conversation
        stored = conversation_item(c, expires_at) | {"version": c.version + 1}
        if m.expected_version is None:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(PK)"}
        else:
            condition = {"ConditionExpression": "version = :v",
                         "ExpressionAttributeValues": {":v": value(m.expected_version)}}
        with aws_errors("store conversation"):
            try:
                self.client.put_item(TableName=self.table, Item=to_item(stored),
                                     ReturnValuesOnConditionCheckFailure="ALL_OLD", **condition)
            except self.client.exceptions.ConditionalCheckFailedException as error:
                old = from_item(error.response.get("Item") or {})  # type: ignore[arg-type]
                if old.get("last_message_id") == m.event.message_id and (
                        int(old.get("version", -1)) == c.version + 1):
                    return  # our own write, its answer lost and the call retried
                raise VersionConflict(c.id) from error

    def finish_applied(self, event: MessageEvent, conversation: Conversation) -> Facts | None:
        claim = self._claim(event.platform, event.message_id)
        stored = self._stored(event, claim)
        if stored is not None:
            return facts_from(stored.get("facts"))  # finished after all
        c = conversation
        if c.last_outcome is None:
            return None
        # The committed conversation holds what its last message did; the claim, when and
        # where (an agent's reply is where the agent API put it, not where its echo says).
        received = claim.get("received_at")
        facts = committed(Outcome(c.last_outcome), event.message_id,
                          str(claim.get("message_sk") or message_sk(event)), c,
                          datetime.fromisoformat(str(received)) if received
                          else c.last_customer_at or c.created_at)
        self._finish(event, c, facts, self._expires_at())
        return facts

    def _finish(self, event: MessageEvent, c: Conversation, facts: Facts,
                expires_at: int) -> None:
        """After the commit, each write idempotent: the turn's record, the customer's profile,
        and last the message, where its claim says (its presence marks it done)."""
        turn = facts.turn
        with aws_errors("store message"):
            if facts.outcome is Outcome.TURN_OPENED:
                self._count_complaint(c, facts, expires_at)
                self._set_turn(c, turn, self._opened_turn(c, facts, expires_at))
            elif facts.outcome is Outcome.FOLLOW_UP and facts.planned is Planned.YES:
                self._set_turn(c, turn, _plan_fields(facts))
            elif facts.outcome is Outcome.TURN_ANSWERED:
                self._set_turn(c, turn, {
                    "answered_at": _iso(facts.answered_at),
                    "response_seconds": facts.response_seconds,
                    "answered_by": "echo" if event.author.id == event.brand_id
                    else event.author.id})
            self.client.put_item(TableName=self.table, Item=to_item(
                message_item(event, c, facts.message_sk, facts.received_at, expires_at)
                | {"turn": turn, "facts": facts_item(facts)}))

    def _set_turn(self, c: Conversation, turn: int, fields: Mapping[str, Any]) -> None:
        """An update, not a put: the agent API may have written the answer already."""
        present = {k: v for k, v in fields.items() if v is not None}
        self.client.update_item(
            TableName=self.table, Key=key(conversation_pk(c.platform, c.thread), turn_sk(turn)),
            UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(present))),
            ExpressionAttributeNames={f"#f{i}": k for i, k in enumerate(present)},
            ExpressionAttributeValues={f":v{i}": value(v)
                                       for i, v in enumerate(present.values())})

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
                TableName=self.table, Key=key(customer_pk(c.platform, person.id), "PROFILE"),
                # The profile lists the customer's conversations: erasure and export find them.
                UpdateExpression="SET " + ", ".join(sets) + " ADD complaints :one, "
                                 "conversations :conv",
                ConditionExpression="attribute_not_exists(last_turn) OR last_turn <> :counted",
                ExpressionAttributeValues=values,
                **({"ExpressionAttributeNames": used} if used else {}))  # type: ignore[arg-type]

    def _opened_turn(self, c: Conversation, facts: Facts, expires_at: int) -> dict[str, Any]:
        turn = facts.turn
        opened = (facts.opened_at or facts.received_at).isoformat()
        return {
            "GSI1PK": f"TURNS#{opened[:10]}", "GSI1SK": f"{opened}#{c.id}#{turn}",
            "conversation": c.id, "turn": turn, "platform": c.platform.value,
            "channel": c.channel.value, "opened_at": opened, "first": turn == 1,
            "expires_at": expires_at, **_plan_fields(facts),
            # Only when true: the report gives turns found by listening their own line.
            "found_by_listening": c.found_by_listening or None,
        }

    def _message_key(self, platform: Platform, message_id: str) -> dict[str, Any] | None:
        claim = self._claim(platform, message_id)
        if not claim or claim.get("elsewhere") or claim.get("erased"):
            return None  # unknown, a brand message outside any conversation, or erased
        pk = self._conversation_pk(platform, message_id, claim)
        where = key(pk, str(claim["message_sk"])) if pk and "message_sk" in claim else None
        if where is None or self._item(where) is None:
            # Accepted, still in the queue: the platform's retry finds it applied.
            raise StoreUnavailable("message accepted but not applied yet")
        return where

    def pass_over(self, platform: Platform, message_id: str) -> None:
        with aws_errors("store dedupe record"):
            self.client.update_item(
                TableName=self.table, Key=key(dedupe_pk(platform, message_id), "MSGID"),
                UpdateExpression="SET elsewhere = :t, expires_at = :exp",
                ExpressionAttributeValues={":t": value(True), ":exp": value(self._expires_at())})

    def bury(self, platform: Platform, message_id: str) -> None:
        with aws_errors("store dedupe record"):
            self.client.put_item(TableName=self.table, Item=to_item({
                "PK": dedupe_pk(platform, message_id), "SK": "MSGID", "erased": True,
                "expires_at": int((self.now() + TOMBSTONE).timestamp())}))

    def edit(self, platform: Platform, message_id: str, text: str) -> bool:
        message_key = self._message_key(platform, message_id)
        if message_key is None:
            return False
        with aws_errors("edit message"):
            self.client.update_item(TableName=self.table, Key=message_key,
                                    UpdateExpression="SET #t = :t, edited = :e",
                                    ExpressionAttributeNames={"#t": "text"},
                                    ExpressionAttributeValues={":t": value(text),
                                                               ":e": value(True)})
        return True

    def erase(self, platform: Platform, message_id: str, deleted_at: datetime) -> bool:
        message_key = self._message_key(platform, message_id)
        if message_key is None:
            return False
        with aws_errors("erase message"):
            # The customer withdrew it: keep that it existed (the turn's clock), not its words.
            self.client.update_item(
                TableName=self.table, Key=message_key,
                UpdateExpression="SET #t = :empty, deleted = :d, deleted_at = :at "
                                 "REMOVE attachments",
                ExpressionAttributeNames={"#t": "text"},
                ExpressionAttributeValues={":empty": value(""), ":d": value(True),
                                           ":at": value(deleted_at.isoformat())})
        return True


def _is_x_post(event: MessageEvent) -> bool:
    """A public X post: its conversation is the thread of the tweet it answers, which only the
    worker knows (it writes the tweet index before its commit)."""
    return event.platform is Platform.X and event.channel is Channel.PUBLIC


def _location(event: MessageEvent) -> dict[str, Any]:
    """Where the worker will store `event` (an X post's conversation: the tweet index says)."""
    where: dict[str, Any] = {"message_sk": message_sk(event)}
    if not _is_x_post(event):
        where["conversation_pk"] = conversation_pk(event.platform, event.thread)
    return where


def _dedupe_item(event: MessageEvent, received_at: datetime, where: Mapping[str, Any],
                 expires_at: int) -> dict[str, Any]:
    """The message id's record: when it came, and where its message is (to be) kept."""
    return to_item({"PK": dedupe_pk(event.platform, event.message_id), "SK": "MSGID",
                    "received_at": received_at.isoformat(), **where,
                    "expires_at": expires_at})


def _plan_fields(facts: Facts) -> dict[str, Any]:
    """What the turn's record (the SLA report's row) keeps of its plan."""
    p = facts.plan
    return {"team": p.team, "priority": p.priority, "due_at": p.due_at.isoformat(),
            "warn_at": p.warn_at.isoformat(),
            # Only when true: the report tells these turns apart.
            "late_delivery": p.late_delivery or None} if p else {}


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def facts_item(facts: Facts) -> dict[str, Any]:
    """The one place `Facts` become the map kept on the message item (no text: never stored).
    `planned` is kept as True, False or no key, as records have always had it."""
    plan = _plan_fields(facts)
    return {
        "outcome": facts.outcome.value, "conversation": facts.conversation,
        "turn": facts.turn, "message_id": facts.message_id, "message_sk": facts.message_sk,
        "received_at": facts.received_at.isoformat(), "opened_at": _iso(facts.opened_at),
        "complaints_before": facts.complaints_before,
        "response_seconds": facts.response_seconds, "answered_at": _iso(facts.answered_at),
        "planned": {Planned.YES: True, Planned.UNCHANGED: False}.get(facts.planned),
        **plan}


def facts_from(item: Mapping[str, Any] | None) -> Facts | None:
    """The stored map back into `Facts` (None for a message stored without any)."""
    if not item:
        return None

    def at(name: str) -> datetime | None:
        return datetime.fromisoformat(str(item[name])) if item.get(name) else None

    plan = None
    if all(item.get(k) for k in ("team", "priority", "due_at", "warn_at")):
        plan = TurnPlan(team=str(item["team"]), priority=str(item["priority"]),
                        due_at=datetime.fromisoformat(str(item["due_at"])),
                        warn_at=datetime.fromisoformat(str(item["warn_at"])),
                        late_delivery=bool(item.get("late_delivery")))
    stored = item.get("planned")  # True, False, or no key
    planned = (Planned.NOT_TRIAGED if stored is None
               else Planned.YES if stored else Planned.UNCHANGED)
    if planned is Planned.YES and plan is None:
        planned = Planned.NOT_TRIAGED  # YES always comes with its plan
    seconds = item.get("response_seconds")
    return Facts(
        outcome=Outcome(item["outcome"]), conversation=str(item["conversation"]),
        turn=int(item["turn"]), message_id=str(item["message_id"]),
        message_sk=str(item["message_sk"]),
        received_at=datetime.fromisoformat(str(item["received_at"])),
        opened_at=at("opened_at"), complaints_before=int(item.get("complaints_before", 0)),
        response_seconds=float(seconds) if seconds is not None else None,
        answered_at=at("answered_at"), planned=planned, plan=plan)
