"""Holding an alert while the inbound queue may hold its answer: the rule, and what it costs
the alerts queue's retry ladder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.backlog import DEFAULT_ALERT_HOLD, hold_until, holds
from chalicelib.domain.policies import MAX_ALERT_HOLD, PolicyError, parse_policies
from chalicelib.domain.retries import held_wait, shortest_ladder, step

DUE = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
HOLD = timedelta(seconds=60)


def test_a_check_is_held_only_while_messages_wait_and_its_hold_lasts() -> None:
    assert holds(DUE, DUE, backlog=3, hold=HOLD)
    assert holds(DUE, DUE + timedelta(seconds=59), backlog=1, hold=HOLD)
    assert not holds(DUE, DUE, backlog=0, hold=HOLD)  # nothing queued: no answer to wait for
    assert not holds(DUE, DUE + HOLD, backlog=500, hold=HOLD)  # out of patience: page
    assert not holds(DUE, DUE + timedelta(hours=1), backlog=500, hold=HOLD)
    assert not holds(DUE, DUE, backlog=9, hold=timedelta(0))  # alert_hold: 0s
    assert hold_until(DUE, HOLD) == DUE + HOLD


def test_a_held_record_climbs_the_ladder_but_never_waits_past_its_hold() -> None:
    longest = lambda: 0.0  # noqa: E731 (the un-jittered step)
    assert held_wait(1, 2, 300, seconds_left=59.2, draw=longest) == 2
    assert held_wait(5, 2, 300, seconds_left=59.2, draw=longest) == 32
    assert held_wait(6, 2, 300, seconds_left=13.1, draw=longest) == 14  # rounded up: after it
    assert held_wait(6, 2, 300, seconds_left=-3, draw=longest) == 1  # SQS counts whole seconds


@pytest.mark.parametrize("hold", [DEFAULT_ALERT_HOLD, MAX_ALERT_HOLD])
def test_a_hold_takes_a_few_receives_and_leaves_the_ladder_its_hour(hold: timedelta) -> None:
    """At the shortest jitter (the most receives): the receives a hold uses, then an outage
    from its end, on the queues' 24 receives (resources.yaml)."""
    shortest = lambda: 0.999999  # noqa: E731
    waited, receives = 0.0, 1
    while waited < hold.total_seconds():  # each receive finds the backlog still there
        waited += held_wait(receives, 2, 300, hold.total_seconds() - waited, draw=shortest)
        receives += 1
    assert receives <= (7 if hold == DEFAULT_ALERT_HOLD else 9)
    # The hold's end rings at receive `receives`; it fails from there until the DLQ.
    outage = sum(step(n, 2, 300) * 0.75 for n in range(receives, 25))
    assert waited + outage >= 3600 and shortest_ladder(24, 2, 300) >= 3600


POLICY = "priorities:\n" + "".join(
    f"  {p}: {{first_response: 1h, next_response: 1h, escalate_after: 1h}}\n"
    for p in ("urgent", "high", "normal", "low"))


def test_the_policy_file_sets_the_hold() -> None:
    assert parse_policies(POLICY).alert_hold == DEFAULT_ALERT_HOLD
    assert parse_policies(POLICY + "alert_hold: 2m\n").alert_hold == timedelta(minutes=2)
    assert parse_policies(POLICY + "alert_hold: 0s\n").alert_hold == timedelta(0)
    with pytest.raises(PolicyError, match="alert_hold: at most 300s"):
        parse_policies(POLICY + "alert_hold: 10m\n")
    with pytest.raises(PolicyError, match="alert_hold"):
        parse_policies(POLICY + "alert_hold: soon\n")
