"""The two writes more than one adapter makes: the conversation's versioned put and the update
of a turn's record. Each caller wraps them in its own `aws_errors`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.dynamodb.codec import from_item, key, to_item, value
from chalicelib.adapters.dynamodb.records import conversation_item, turn_sk
from chalicelib.domain.conversations import Conversation
from chalicelib.domain.errors import VersionConflict

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def put_conversation(client: DynamoDBClient, table: str, c: Conversation, expires_at: int,
                     expected_version: int | None, *, applying: str | None = None) -> None:
    """Write `c` as version `c.version + 1` if the stored one is still `expected_version`
    (None: there must be none yet); VersionConflict otherwise. `applying`: the message this
    write applies, so that a retry of a write whose answer was lost is recognised as done."""
    item = conversation_item(c, expires_at) | {"version": c.version + 1}
    if expected_version is None:
        condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(PK)"}
    else:
        condition = {"ConditionExpression": "version = :v",
                     "ExpressionAttributeValues": {":v": value(expected_version)}}
    if applying is not None:
        condition["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    try:
        client.put_item(TableName=table, Item=to_item(item), **condition)
    except client.exceptions.ConditionalCheckFailedException as error:
        old = from_item(error.response.get("Item") or {})  # type: ignore[arg-type]
        if applying is not None and old.get("last_message_id") == applying and (
                int(old.get("version", -1)) == c.version + 1):
            return  # our own write, its answer lost and the call retried
        raise VersionConflict(c.id) from error


def update_turn(client: DynamoDBClient, table: str, conversation: str, turn: int,
                fields: Mapping[str, Any]) -> None:
    """Set `fields` on the turn's record (the SLA report's row) of the conversation whose
    partition key is `conversation`; None values are left alone. An update, not a put: the
    worker and the agent API each write their part of it."""
    present = {k: v for k, v in fields.items() if v is not None}
    client.update_item(
        TableName=table, Key=key(conversation, turn_sk(turn)),
        UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(present))),
        ExpressionAttributeNames={f"#f{i}": k for i, k in enumerate(present)},
        ExpressionAttributeValues={f":v{i}": value(v) for i, v in enumerate(present.values())})
