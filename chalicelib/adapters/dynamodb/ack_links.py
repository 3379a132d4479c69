"""Acknowledge links short enough for an SMS: `<code>.<signature>`.

The code names a stored grant (conversation, turn, agent, expiry); the signature (HMAC of the
code with the ack signing key) lets a forged token be refused before any read. Both parts are
needed, and the grant expires.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from chalicelib.adapters.dynamodb.codec import aws_errors, from_item, key, to_item
from chalicelib.domain.ports import AckGrant

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class DynamoAckLinks:
    def __init__(self, client: DynamoDBClient, table: str,
                 signing_key: Callable[[], str]) -> None:
        self.client, self.table, self.signing_key = client, table, signing_key

    def _sign(self, code: str) -> str:
        digest = hmac.new(self.signing_key().encode(), code.encode(), hashlib.sha256).digest()
        return _b64(digest[:9])  # 72 bits: enough against guessing within a link's lifetime

    def issue(self, grant: AckGrant) -> str:
        code = _b64(secrets.token_bytes(6))
        with aws_errors("store ack link"):
            self.client.put_item(TableName=self.table, Item=to_item({
                "PK": f"ACK#{code}", "SK": "ACK", "conversation": grant.conversation,
                "turn": grant.turn, "agent": grant.agent,
                "expires": grant.expires_at.isoformat(),
                "expires_at": int(grant.expires_at.timestamp())}))
        return f"{code}.{self._sign(code)}"

    def redeem(self, token: str, now: datetime) -> AckGrant | None:
        code, _, signature = token.partition(".")
        if not code or not signature or len(token) > 64:
            return None
        if not hmac.compare_digest(self._sign(code).encode(), signature.encode()):
            return None
        with aws_errors("read ack link"):
            item = self.client.get_item(TableName=self.table, Key=key(f"ACK#{code}", "ACK"),
                                        ConsistentRead=True).get("Item")
        if not item:
            return None
        stored = from_item(item)
        grant = AckGrant(conversation=stored["conversation"], turn=int(stored["turn"]),
                         agent=stored["agent"],
                         expires_at=datetime.fromisoformat(stored["expires"]))
        return grant if now < grant.expires_at else None
