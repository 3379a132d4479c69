"""The retry ladder of a failed queue record: growing, capped, jittered, and long enough."""

from __future__ import annotations

from chalicelib.domain.retries import backoff, longest_ladder, shortest_ladder, step


def test_waits_double_from_the_base_up_to_the_cap() -> None:
    assert [step(n, 2, 300) for n in range(1, 11)] == [2, 4, 8, 16, 32, 64, 128, 256, 300,
                                                       300]
    assert step(10_000, 2, 300) == 300  # no overflow however often it failed


def test_jitter_only_shortens_a_wait_by_up_to_a_quarter() -> None:
    assert backoff(9, 2, 300, draw=lambda: 0.0) == 300
    assert backoff(9, 2, 300, draw=lambda: 0.999999) == 225
    assert backoff(1, 0, 300, draw=lambda: 0.5) == 1  # never zero: SQS counts whole seconds
    assert len({backoff(9, 2, 300) for _ in range(200)}) > 10  # spread out, not in lockstep


def test_the_ladder_is_bounded_both_ways() -> None:
    assert shortest_ladder(24, 2, 300) == 0.75 * longest_ladder(24, 2, 300)
    assert 3600 < shortest_ladder(24, 2, 300) < longest_ladder(24, 2, 300) < 5400
