"""The agent's reply, kept in its conversation (services/agent_api.py `ReplyLog`).

The reply has no webhook claim: before its commit it writes one saying where it is kept, so
that its echo, even one that races the rest of this write, finds it there (the echo carries
the platform's time, not the agent API's)."""

from __future__ import annotations

import contextlib

from chalicelib.adapters.dynamodb.codec import aws_errors, to_item
from chalicelib.adapters.dynamodb.messages import OnMessages
from chalicelib.adapters.dynamodb.records import (
    claim_item,
    claim_key,
    conversation_pk,
    message_sk,
)
from chalicelib.domain.errors import StoreUnavailable
from chalicelib.domain.events import MessageEvent
from chalicelib.domain.ports import NewMessage, SeenMessage


class DynamoReplyLog(OnMessages):
    def seen(self, sent: MessageEvent) -> SeenMessage | None:
        return self.messages.seen(sent)

    def record(self, message: NewMessage) -> None:
        m, c, event = message, message.conversation, message.event
        expires_at = self.messages.expires_at()
        self.messages.index_tweet(m, expires_at)
        with aws_errors("store claim"):
            self.client.put_item(TableName=self.table, Item=to_item(claim_item(
                event.platform, event.message_id, expires_at,
                received_at=m.received_at.isoformat(),
                conversation_pk=conversation_pk(c.platform, c.thread),
                message_sk=message_sk(m.facts.message_id, m.facts.message_at))))
        try:
            self.messages.commit(m, expires_at)
        except StoreUnavailable:
            # Not stored after all: its echo, when it comes, says where.
            with contextlib.suppress(StoreUnavailable), aws_errors("drop claim"):
                self.client.delete_item(TableName=self.table,
                                        Key=claim_key(event.platform, event.message_id))
            raise
        self.messages.finish(event, c, m.facts, expires_at)
