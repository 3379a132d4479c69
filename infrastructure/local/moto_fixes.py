"""Fixes to the emulator, not to ReplyWindow: applied by the local runtime and the tests.

1. moto 5.2's Wait state truncates the seconds left until a timestamp (`int()`), so a Wait
   ends up to a second early; Step Functions never wakes before the timestamp. Round up.
2. moto's DynamoDB backend checks a write's condition and then applies it with no lock, so on
   the threaded server two conditional writes to one item can both pass; DynamoDB applies
   each item's conditional write atomically, and ReplyWindow relies on that under concurrency
   (the webhook's claim, the conversation's versioned commit). Serialising moto's DynamoDB
   writes behind one lock makes the emulator honour that contract.
3. moto's Query and Scan walk a table's item dict while, on the threaded server, a write may
   add to it: the read fails with "dictionary changed size during iteration" (a 500 that
   DynamoDB never returns for that). They take the writes' lock too; with the local event
   source running batches side by side, the alert worker's index queries meet the inbound
   worker's writes.
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
    _applied = True


def _wait_seconds_rounded_up(self: Any, env: Any) -> int:
    self.string.eval(env=env)
    timestamp_str: str = env.stack.pop()
    at = self._from_timestamp_string(timestamp=timestamp_str)
    if at is None:
        raise FailureEventException(self._create_failure_event(env, timestamp_str))
    seconds: float = (at - datetime.datetime.now()).total_seconds()
    return max(0, math.ceil(seconds))

