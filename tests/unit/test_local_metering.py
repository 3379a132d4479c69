"""infrastructure/local/metering.py: each function's invocations and its handler thread's CPU
seconds, the function a thread is running, and a hook's own work left out."""

from __future__ import annotations

import threading
import time

from infrastructure.local.metering import Meter, current_function, uncounted


def _spin(seconds: float) -> None:
    """Burn this thread's CPU for about `seconds` (sleeping would cost none)."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_an_invocation_counts_its_threads_cpu_and_not_its_waiting() -> None:
    meter = Meter()
    with meter.invocation("worker"):
        _spin(0.05)
        time.sleep(0.1)  # waiting on the network: no CPU, as on AWS where it is billed apart
    with meter.invocation("worker"):
        _spin(0.05)
    use = meter.uses()["worker"]
    assert use.invocations == 2
    assert 0.1 <= use.cpu_seconds < 0.15


def test_other_threads_cpu_is_not_the_handlers() -> None:
    meter = Meter()
    other = threading.Thread(target=_spin, args=(0.1,))
    with meter.invocation("webhook"):
        other.start()
        other.join()  # e.g. the emulator answering on its own thread
    assert meter.uses()["webhook"].cpu_seconds < 0.05


def test_a_hooks_own_work_is_left_out_and_the_function_is_known_only_inside() -> None:
    meter = Meter()
    assert current_function() is None
    seen: list[str | None] = []
    with meter.invocation("ring"):
        seen.append(current_function())
        with uncounted():
            _spin(0.1)
        _spin(0.02)
    seen.append(current_function())
    assert seen == ["ring", None]
    assert 0.02 <= meter.uses()["ring"].cpu_seconds < 0.06


def test_a_raising_handler_is_still_counted() -> None:
    meter = Meter()
    try:
        with meter.invocation("worker"):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert meter.uses()["worker"].invocations == 1
    assert current_function() is None
