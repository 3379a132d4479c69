"""How long a failed queue record waits before its next attempt (pure).

Exponential from `base`, capped at `cap`, with jitter that only shortens a wait by up to a
quarter: records failed together by one outage come back spread out, and the shortest possible
ladder is still known, so the template can size maxReceiveCount for "at least an hour"
(`shortest_ladder`, checked by tests/integration/test_reliability_template.py).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

JITTER = 0.25  # a wait is drawn from [75%, 100%] of its step


def step(receives: int, base: float, cap: float) -> float:
    """The un-jittered wait after the `receives`-th failed attempt (1-based)."""
    exponent = min(max(receives, 1) - 1, 62)  # beyond this the cap has long won
    return float(min(cap, base * 2 ** exponent))


def backoff(receives: int, base: float, cap: float,
            draw: Callable[[], float] = random.random) -> int:
    """Seconds to hide the record for, at least 1 (SQS counts whole seconds)."""
    wait = step(receives, base, cap) * (1 - JITTER * draw())
    return max(1, min(43_200, round(wait)))  # ChangeMessageVisibility allows up to 12 hours


def shortest_ladder(max_receives: int, base: float, cap: float) -> float:
    """Seconds from the first attempt until SQS dead-letters the record, at the shortest jitter:
    each of the `max_receives` attempts fails and waits before the next receive."""
    return sum(step(n, base, cap) * (1 - JITTER) for n in range(1, max_receives + 1))


def longest_ladder(max_receives: int, base: float, cap: float) -> float:
    return sum(step(n, base, cap) for n in range(1, max_receives + 1))


def held_wait(receives: int, base: float, cap: float, seconds_left: float,
              draw: Callable[[], float] = random.random) -> int:
    """Seconds to hide a record held for `seconds_left` more (an alert waiting out the inbound
    backlog, domain/backlog.py): the same growing ladder, so a hold takes a few receives of the
    queue's maxReceiveCount, but never past the hold's end, when it alerts whatever happens."""
    return max(1, min(backoff(receives, base, cap, draw), math.ceil(seconds_left)))
