"""Plain dicts <-> DynamoDB attribute values, and ClientError -> domain errors."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domain.errors import StoreUnavailable

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _prepare(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, Mapping):
        return {k: _prepare(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_prepare(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return sorted(_plain(v) for v in value)
    return value


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    """None values are left out: DynamoDB has no use for them and they cost bytes."""
    return {k: _serializer.serialize(v) for k, v in _prepare(values).items()}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def value(v: Any) -> dict[str, Any]:
    return dict(_serializer.serialize(_prepare(v)))


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


@contextmanager
def aws_errors(operation: str) -> Iterator[None]:
    """Faults in AWS become StoreUnavailable (answered 5xx so the platform retries)."""
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("ConditionalCheckFailedException", "TransactionCanceledException"):
            raise
        raise StoreUnavailable(f"{operation}: {code}") from error
    except BotoCoreError as error:
        raise StoreUnavailable(f"{operation}: {type(error).__name__}") from error
