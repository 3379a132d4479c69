"""What each local function's invocations used: their count and the CPU seconds of the thread
that ran the handler (our code and botocore's client side; the emulator answers on threads of
its own, so its work is not counted). The bench prices Lambda's duration from these
(bench/cost/prices.py) instead of assuming it.

Which function a thread is running is kept thread-locally while its handler runs, so a hook on
that thread (the bench's request recorder) can attribute its AWS requests to it, and take its
own work out of the handler's CPU time with `uncounted()`."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

_current = threading.local()


@dataclass
class FunctionUse:
    invocations: int = 0
    cpu_seconds: float = 0.0


class Meter:
    """Every function's use so far, by function name (the handler's name in app.py)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._uses: dict[str, FunctionUse] = {}

    @contextmanager
    def invocation(self, function: str) -> Iterator[None]:
        """Around one handler call, on the thread that makes it."""
        outer = getattr(_current, "function", None), getattr(_current, "uncounted", 0.0)
        _current.function, _current.uncounted = function, 0.0
        started = time.thread_time()
        try:
            yield
        finally:
            cpu = time.thread_time() - started - _current.uncounted
            _current.function, _current.uncounted = outer
            with self._lock:
                use = self._uses.setdefault(function, FunctionUse())
                use.invocations += 1
                use.cpu_seconds += max(0.0, cpu)

    def uses(self) -> dict[str, FunctionUse]:
        """A copy of every function's use so far."""
        with self._lock:
            return {name: FunctionUse(u.invocations, u.cpu_seconds)
                    for name, u in self._uses.items()}


def current_function() -> str | None:
    """The function whose handler this thread is running, if any."""
    function: str | None = getattr(_current, "function", None)
    return function


@contextmanager
def uncounted() -> Iterator[None]:
    """Work done on a handler's thread that is not the function's (a measuring hook's own)."""
    started = time.thread_time()
    try:
        yield
    finally:
        if getattr(_current, "function", None) is not None:
            _current.uncounted += time.thread_time() - started
