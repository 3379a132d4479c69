"""Fixes to the emulator, not to ReplyWindow: applied by the local runtime and the tests.

1. moto 5.2's Wait state truncates the seconds left until a timestamp (`int()`), so a Wait
   ends up to a second early; Step Functions never wakes before the timestamp. Round up.
2. moto's DynamoDB backend checks a write's condition and then applies it with no lock, so on
   the threaded server two conditional writes to one item can both pass; DynamoDB applies
   each item's conditional write atomically, and ReplyWindow relies on that under concurrency
   (a Meta comment's claim, the conversation's versioned commit). Serialising moto's DynamoDB
   writes behind one lock makes the emulator honour that contract.
3. moto's Query and Scan walk a table's item dict while, on the threaded server, a write may
   add to it: the read fails with "dictionary changed size during iteration" (a 500 that
   DynamoDB never returns for that). They take the writes' lock too; with the local event
   source running batches side by side, the alert worker's index queries meet the inbound
   worker's writes.
4. moto's Query walks and sorts every item of the table to find one partition (a GSI query
   too, comparing each item through its typed values), under the lock of fix 2: on a table
   that holds a few thousand items, one alert ring's query stalls every write behind it. The
   query is handed only the candidates (the partition; for an index, the items whose index
   hash key matches by value); moto filters and sorts them exactly as before.
5. moto's server lists its package directory from disk on every request to route it, and
   lists each response class's methods (`inspect.getmembers`) on every request to dispatch
   it: both are read once.
"""

from __future__ import annotations

import datetime
import functools
import inspect
import math
import threading
from typing import Any

from moto import backends
from moto.core import responses
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function import timestamp

_LOCK = threading.RLock()
_LOCKED = ("put_item", "update_item", "delete_item", "batch_write_item", "query", "scan")
_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    for name in _LOCKED:
        original = getattr(DynamoDBBackend, name, None)
        if original is None:
            continue

        @functools.wraps(original)
        def locked(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with _LOCK:
                return __original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, locked)
    timestamp.Timestamp._get_wait_seconds = _wait_seconds_rounded_up  # type: ignore[method-assign]
    Table.query = _query_candidates_only(Table.query)  # type: ignore[method-assign]
    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    responses.method_names_from_class = functools.cache(  # type: ignore[attr-defined]
        responses.method_names_from_class)  # type: ignore[attr-defined]
    _applied = True


class _Candidates:
    """The table as one Query sees it: every attribute is the table's, but `all_items` is only
    the items the query can match (moto then filters and sorts them as for the whole table)."""

    def __init__(self, table: Any, items: list[Any]) -> None:
        self._table, self._items = table, items

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)

    def all_items(self) -> list[Any]:
        return self._items


def _query_candidates_only(original: Any) -> Any:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = signature.bind(self, *args, **kwargs)
        index_name = call.arguments.get("index_name")
        conditions = call.arguments.get("hash_key_conditions") or []
        hash_key = call.arguments.get("hash_key")
        if index_name is None and hash_key is not None:
            partition = self.items.get(hash_key)
            items = list(partition.values()) if isinstance(partition, dict) else (
                [partition] if partition is not None else [])
        elif index_name is not None and conditions:
            wanted = [(name, value.value) for name, value in conditions]
            items = [item for hash_set in list(self.items.values())
                     for item in (hash_set.values() if isinstance(hash_set, dict)
                                  else [hash_set])
                     if all(getattr(item.attrs.get(name), "value", None) == v
                            for name, v in wanted)]
        else:
            return original(*call.args, **call.kwargs)
        return original(_Candidates(self, items), *call.args[1:], **call.kwargs)

    return query


def _wait_seconds_rounded_up(self: Any, env: Any) -> int:
    self.string.eval(env=env)
    timestamp_str: str = env.stack.pop()
    at = self._from_timestamp_string(timestamp=timestamp_str)
    if at is None:
        raise FailureEventException(self._create_failure_event(env, timestamp_str))
    seconds: float = (at - datetime.datetime.now()).total_seconds()
    return max(0, math.ceil(seconds))

