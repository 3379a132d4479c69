"""The ingest path's DynamoDB store: one transaction per accepted message."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.dynamodb.codec import aws_errors, from_item, key, to_item, value
from chalicelib.adapters.dynamodb.records import (
    conversation_from,
    conversation_item,
    conversation_pk,
    customer_pk,
    dedupe_pk,
    message_item,
    turn_sk,
    tweet_pk,
)
from chalicelib.domain.conversations import Conversation, Outcome
from chalicelib.domain.errors import StoreUnavailable
from chalicelib.domain.events import Channel, Platform
from chalicelib.domain.ports import (
    AlreadyStored,
    CustomerProfile,
    NewMessage,
    SeenMessage,
    VersionConflict,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef


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

    def accept(self, platform: Platform, message_id: str, received_at: datetime) -> None:
        """The webhook's one write: claim the id. On a redelivery, the old record (returned by
        the failed condition, no extra read) tells whether the worker has applied it."""
        with aws_errors("accept message"):
            try:
                self.client.put_item(
                    TableName=self.table, Item=to_item({
                        "PK": dedupe_pk(platform, message_id), "SK": "MSGID",
                        "received_at": received_at.isoformat(),
                        "expires_at": self._expires_at()}),
                    ConditionExpression="attribute_not_exists(PK)",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD")
            except self.client.exceptions.ConditionalCheckFailedException as error:
                old: dict[str, Any] = dict(error.response.get("Item") or {})  # type: ignore[call-overload]
                raise AlreadyStored(message_id, applied="message_sk" in old) from error

    def seen(self, platform: Platform, message_id: str) -> SeenMessage | None:
        item = self._get(dedupe_pk(platform, message_id), "MSGID", "read dedupe record")
        if item is None or "message_sk" not in item:
            return None
        return SeenMessage(conversation=item["conversation"], message_sk=item["message_sk"],
                           facts=item.get("facts") or None)

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

    def record(self, message: NewMessage) -> None:
        items = self._transaction(message)
        with aws_errors("store message"):
            try:
                self.client.transact_write_items(TransactItems=items)
            except self.client.exceptions.TransactionCanceledException as error:
                reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    raise AlreadyStored(message.event.message_id) from error
                if (len(reasons) > 2 and reasons[2] == "ConditionalCheckFailed") or (
                        "TransactionConflict" in reasons):
                    # Another writer got there first (or is writing now): re-read, re-apply.
                    raise VersionConflict(message.conversation.id) from error
                raise StoreUnavailable(f"store message: {reasons}") from error

    def _transaction(self, m: NewMessage) -> list[TransactWriteItemTypeDef]:
        c, event = m.conversation, m.event
        expires_at = self._expires_at()
        stored = conversation_item(c, expires_at) | {"version": c.version + 1}
        dedupe = {"PK": dedupe_pk(event.platform, event.message_id), "SK": "MSGID",
                  "conversation": c.id, "conversation_pk": conversation_pk(c.platform, c.thread),
                  "message_sk": m.message_sk, "facts": dict(m.facts) or None,
                  "expires_at": expires_at}
        if m.expected_version is None:
            conv_put: TransactWriteItemTypeDef = {"Put": {
                "TableName": self.table, "Item": to_item(stored),
                "ConditionExpression": "attribute_not_exists(PK)"}}
        else:
            conv_put = {"Put": {
                "TableName": self.table, "Item": to_item(stored),
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": {":v": value(m.expected_version)}}}
        # Order is relied on by record(): dedupe first, conversation third. The webhook created
        # the dedupe record; applying it fills in where the message went, once.
        items: list[TransactWriteItemTypeDef] = [
            {"Put": {"TableName": self.table, "Item": to_item(dedupe),
                     "ConditionExpression": "attribute_not_exists(message_sk)"}},
            {"Put": {"TableName": self.table, "Item": to_item(
                message_item(event, c, m.message_sk, m.received_at, expires_at))}},
            conv_put,
        ]
        if event.platform is Platform.X and event.channel is Channel.PUBLIC:
            items.append({"Put": {"TableName": self.table, "Item": to_item({
                "PK": tweet_pk(event.message_id), "SK": "TWEET", "thread": c.thread,
                "conversation": c.id, "expires_at": expires_at})}})
        if m.outcome is Outcome.TURN_OPENED:
            items.append(self._customer_update(m, expires_at))
            items.append({"Put": {"TableName": self.table, "Item": to_item(
                self._turn(m, expires_at))}})
        elif m.outcome is Outcome.TURN_ANSWERED:
            items.append(self._turn_answered(m))
        return items

    def _customer_update(self, m: NewMessage, expires_at: int) -> TransactWriteItemTypeDef:
        person = m.conversation.customer
        now = m.received_at.isoformat()
        names = {"#h": "handle", "#n": "name", "#f": "followers"}
        sets = ["first_seen = if_not_exists(first_seen, :now)", "last_seen = :now",
                "expires_at = :exp"]
        values: dict[str, Any] = {":now": value(now), ":one": value(1),
                                  ":exp": value(expires_at),
                                  ":conv": {"SS": [m.conversation.id]}}
        for placeholder, field_value in (("#h", person.handle), ("#n", person.name),
                                         ("#f", person.followers)):
            if field_value is not None:
                token = ":" + names[placeholder][0] + "v"
                sets.append(f"{placeholder} = {token}")
                values[token] = value(field_value)
        used = {p: n for p, n in names.items() if any(s.startswith(p) for s in sets)}
        update: dict[str, Any] = {
            "TableName": self.table, "Key": key(customer_pk(m.event.platform, person.id),
                                                "PROFILE"),
            # The profile lists the customer's conversations: erasure and export find them all.
            "UpdateExpression": "SET " + ", ".join(sets) + " ADD complaints :one, "
                                "conversations :conv",
            "ExpressionAttributeValues": values,
        }
        if used:
            update["ExpressionAttributeNames"] = used
        return {"Update": update}  # type: ignore[typeddict-item]

    def _turn(self, m: NewMessage, expires_at: int) -> dict[str, Any]:
        c = m.conversation
        opened = c.turn_opened_at or m.received_at
        return {
            "PK": conversation_pk(c.platform, c.thread), "SK": turn_sk(c.turn),
            "GSI1PK": f"TURNS#{opened.date().isoformat()}",
            "GSI1SK": f"{opened.isoformat()}#{c.id}#{c.turn}",
            "conversation": c.id, "turn": c.turn, "platform": c.platform.value,
            "channel": c.channel.value, "opened_at": opened.isoformat(),
            "first": c.turn == 1, "expires_at": expires_at,
        }

    def _turn_answered(self, m: NewMessage) -> TransactWriteItemTypeDef:
        c = m.conversation
        return {"Update": {
            "TableName": self.table, "Key": key(conversation_pk(c.platform, c.thread),
                                                turn_sk(c.turn)),
            "UpdateExpression": "SET answered_at = :at, response_seconds = :s, answered_by = :by",
            "ExpressionAttributeValues": {
                ":at": value(c.answered_at.isoformat() if c.answered_at else None),
                ":s": value(m.response_seconds),
                ":by": value("echo" if m.event.author.id == m.event.brand_id
                             else m.event.author.id)},
        }}

    def _message_key(self, platform: Platform, message_id: str) -> dict[str, Any] | None:
        item = self._get(dedupe_pk(platform, message_id), "MSGID", "read dedupe record")
        if item is None:
            return None
        if "message_sk" not in item:
            # Accepted, still in the queue: the platform's retry finds it applied.
            raise StoreUnavailable("message accepted but not applied yet")
        return key(item["conversation_pk"], item["message_sk"])

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
