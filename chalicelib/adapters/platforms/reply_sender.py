"""A reply sent at most once per idempotency key: the platform senders behind powertools
Idempotency (records in the app's table), with its outcomes translated into the domain's
errors. The agent API's `send` port (chalicelib/services/agent_api.py:AgentDeps)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from chalicelib.domain.errors import IdempotencyKeyReused, ReplyMaybeSent, ReplyRefused
from chalicelib.domain.events import Platform
from chalicelib.domain.replies import ReplyRoute

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Powertools names a record after the function it guards (`<Lambda name>.<module>.<qualname>#
# <hash>`). These are the names the function had when bootstrap built it: a retry that spans a
# deploy still finds its record and is not sent twice.
_RECORD_MODULE = "chalicelib.bootstrap"
_RECORD_QUALNAME = "reply_sender.<locals>.send_reply"


def idempotency_config() -> IdempotencyConfig:
    # A key already used for another text or route (public vs DM) is refused, never answered
    # with the first reply's result.
    return IdempotencyConfig(event_key_jmespath="key", payload_validation_jmespath="[text, route]",
                             expires_after_seconds=86400)


class IdempotentReplySender:
    """`send(route, text, key)` posts through `platform` once per key and returns the
    platform's message id; a retry with the key gets the first answer, never a second post."""

    def __init__(self, platform: Callable[[ReplyRoute, str], str], dynamodb: DynamoDBClient,
                 table: str, config: IdempotencyConfig) -> None:
        self._platform = platform
        self.config = config
        persistence = DynamoDBPersistenceLayer(
            table_name=table, key_attr="PK", sort_key_attr="SK", expiry_attr="expires_at",
            boto3_client=dynamodb)

        def send_reply(request: dict[str, Any]) -> dict[str, str]:
            return self._post(request)

        send_reply.__module__, send_reply.__qualname__ = _RECORD_MODULE, _RECORD_QUALNAME
        self._once: Callable[..., dict[str, str]] = idempotent_function(
            data_keyword_argument="request", persistence_store=persistence,
            config=config)(send_reply)

    def lambda_context(self, context: Any) -> None:
        """Idempotency needs the time left in this invocation to expire an in-progress
        record (one left by an invocation that timed out)."""
        if context is not None:
            self.config.register_lambda_context(context)

    def send(self, route: ReplyRoute, text: str, key: str) -> str:
        sent: dict[str, str | None] = {
            "platform": route.platform.value, "kind": route.kind,
            "recipient": route.recipient, "brand_id": route.brand_id, "tag": route.tag}
        if route.comment_id:  # only where set: other routes' requests keep their old shape
            sent["comment_id"] = route.comment_id
        request = {"key": key, "text": text, "route": sent}
        try:
            result = self._once(request=request)
        except IdempotencyAlreadyInProgressError as error:
            raise ReplyRefused("this reply is already being sent") from error
        except IdempotencyValidationError as error:
            raise IdempotencyKeyReused(
                "Idempotency-Key: already used for a different reply on this conversation; "
                "use a new key for a new reply") from error
        if "maybe_sent" in result:
            raise ReplyMaybeSent(result["channel"], result["maybe_sent"],
                                 timed_out=bool(result["timed_out"]))
        return str(result["id"])

    def _post(self, request: dict[str, Any]) -> dict[str, str]:
        route = ReplyRoute(**{**request["route"], "platform": Platform(
            request["route"]["platform"])})
        try:
            return {"id": self._platform(route, request["text"])}
        except ReplyMaybeSent as unsure:
            # Kept as this key's result (powertools deletes the record of a call that
            # raised): a retry with the same key gets the same answer and never posts again.
            return {"maybe_sent": unsure.detail, "channel": unsure.channel,
                    "timed_out": "yes" if unsure.timed_out else ""}
