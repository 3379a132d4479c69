"""Fixes to the emulator, not to ReplyWindow: applied by the local runtime and the tests.

1. moto 5.2's Wait state truncates the seconds left until a timestamp (`int()`), so a Wait
   ends up to a second early; Step Functions never wakes before the timestamp. Round up.
2. moto 5.2's TransactWriteItems snapshots the whole table and, when a condition fails, restores
that snapshot: any write another thread made in between is silently undone (and the snapshot
makes every transaction slower as the table grows). Real DynamoDB
transactions are item-level, so ReplyWindow relies on them under concurrency. Serialising
moto's DynamoDB writes behind one lock makes the emulator honour that contract.
"""

from __future__ import annotations

import datetime
import functools
import math
import threading
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function import timestamp

_LOCK = threading.RLock()
_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items",
           "batch_write_item")
_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
    for name in _WRITES:
        original = getattr(DynamoDBBackend, name, None)
        if original is None:
            continue

        @functools.wraps(original)
        def locked(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with _LOCK:
                return __original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, locked)
    timestamp.Timestamp._get_wait_seconds = _wait_seconds_rounded_up  # type: ignore[method-assign]
    _applied = True


def _wait_seconds_rounded_up(self: Any, env: Any) -> int:
    self.string.eval(env=env)
    timestamp_str: str = env.stack.pop()
    at = self._from_timestamp_string(timestamp=timestamp_str)
    if at is None:
        raise FailureEventException(self._create_failure_event(env, timestamp_str))
    seconds: float = (at - datetime.datetime.now()).total_seconds()
    return max(0, math.ceil(seconds))


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """TransactWriteItems as DynamoDB does it: every condition is checked first, then every
    write is applied; nothing is snapshotted (moto deep-copies the whole table per call, which
    makes each transaction cost grow with the table: an emulator artifact that would distort
    the benchmarks). Runs under the write lock, so the check-then-apply is atomic."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    seen: set[tuple[str, str]] = set()
    plan: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    errors: list[Any] = []
    for item in transact_items:
        if len(item) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(item.items()))
        table = self.get_table(op["TableName"])
        if op_type == "Put":
            key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
            if table.range_key_attr is not None:
                key[table.range_key_attr] = op["Item"][table.range_key_attr]
        else:
            key = op["Key"]
        marker = (str(op["TableName"]), str(dict(sorted(key.items()))))
        if marker in seen:
            raise MultipleTransactionsException()
        seen.add(marker)
        condition = op.get("ConditionExpression")
        if condition is not None:
            current = self.get_item(op["TableName"], key)
            check = get_filter_expression(condition, op.get("ExpressionAttributeNames"),
                                          op.get("ExpressionAttributeValues"))
            if not check.expr(current):
                errors.append(("ConditionalCheckFailed",
                               str(ConditionalCheckFailed().message), None))
                continue
        errors.append((None, None, None))
        plan.append((op_type, op, key))
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)
    for op_type, op, key in plan:
        names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        if op_type == "Put":
            self.put_item(op["TableName"], op["Item"])
        elif op_type == "Delete":
            self.delete_item(op["TableName"], key)
        elif op_type == "Update":
            self.update_item(op["TableName"], key, update_expression=op["UpdateExpression"],
                             expression_attribute_names=names,
                             expression_attribute_values=values)
