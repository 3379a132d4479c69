"""The webhook's claims (services/ingest.py `Claims`): one conditional put a message, and the
platform's edits and deletions of messages already applied."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.adapters.dynamodb.codec import aws_errors, from_item, key, to_item, value
from chalicelib.adapters.dynamodb.messages import OnMessages, is_x_post
from chalicelib.adapters.dynamodb.records import claim_item, conversation_pk, event_sk
from chalicelib.domain.errors import AlreadyStored, StoreUnavailable
from chalicelib.domain.events import MessageEvent, Platform


class DynamoClaims(OnMessages):
    def accept(self, event: MessageEvent, received_at: datetime) -> None:
        """The webhook's one write: the claim, with where the message will be stored. On a
        redelivery, the old claim (returned by the failed condition) finds out whether the
        worker has applied it."""
        # An X post's conversation is not known here: the tweet index will say.
        conversation = None if is_x_post(event) else conversation_pk(event.platform,
                                                                     event.thread)
        with aws_errors("accept message"):
            try:
                self.client.put_item(
                    TableName=self.table,
                    Item=to_item(claim_item(event.platform, event.message_id,
                                            self.messages.expires_at(),
                                            received_at=received_at.isoformat(),
                                            conversation_pk=conversation,
                                            message_sk=event_sk(event))),
                    ConditionExpression="attribute_not_exists(PK)",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD")
            except self.client.exceptions.ConditionalCheckFailedException as error:
                old = from_item(error.response.get("Item") or {})  # type: ignore[arg-type]
                # An erased message's claim is its tombstone: its redelivery stores nothing.
                applied = ("elsewhere" in old or "erased" in old
                           or self.messages.stored(event, old) is not None)
                raise AlreadyStored(event.message_id, applied=applied) from error

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

    def _message_key(self, platform: Platform, message_id: str) -> dict[str, Any] | None:
        claim = self.messages.claim(platform, message_id)
        if not claim or claim.get("elsewhere") or claim.get("erased"):
            return None  # unknown, a brand message outside any conversation, or erased
        pk = self.messages.conversation_pk(platform, message_id, claim)
        message = key(pk, str(claim["message_sk"])) if pk and "message_sk" in claim else None
        if message is None or self.messages.get(message, "read message") is None:
            # Accepted, still in the queue: the platform's retry finds it applied.
            raise StoreUnavailable("message accepted but not applied yet")
        return message
