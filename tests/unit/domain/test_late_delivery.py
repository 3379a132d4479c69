"""A message delivered long after its platform timestamp (Meta retries for ~36 hours) opens a
turn that is honest about it: marked late, started at most LATE_FLOOR before the receipt, so
its warning, breach and escalation do not all fire on arrival."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chalicelib.domain import conversations
from chalicelib.domain.conversations import LATE_FLOOR, Outcome
from chalicelib.domain.events import Channel, Direction, MessageEvent, Person, Platform
from chalicelib.domain.policies import load_policies
from chalicelib.domain.reports import sla_report
from chalicelib.domain.timers import bucket_of

RECEIVED = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
POLICIES = load_policies(Path(__file__).resolve().parents[3] / "chalicelib" / "policies.yaml")


def message(late: timedelta, mid: str = "m1") -> MessageEvent:
    ann = Person(id="42", name="Ann")
    return MessageEvent(platform=Platform.MESSENGER, message_id=mid, thread="dm-1-42",
                        channel=Channel.PRIVATE, direction=Direction.IN, brand_id="1",
                        author=ann, customer=ann, text="where is my order",
                        created_at=RECEIVED - late)


def opened(late: timedelta) -> conversations.Conversation:
    event = message(late)
    t = conversations.apply(conversations.start(event, "dm-1-42"), event, RECEIVED)
    assert t.outcome is Outcome.TURN_OPENED
    return t.conversation


def test_a_message_36_hours_late_opens_its_turn_at_the_floor_and_says_so() -> None:
    c = opened(timedelta(hours=36))
    assert c.turn_opened_at == RECEIVED - LATE_FLOOR
    assert c.late_delivery
    assert c.last_customer_at == RECEIVED - timedelta(hours=36)  # messaging windows: platform


def test_a_message_within_the_floor_keeps_its_own_timestamp() -> None:
    c = opened(timedelta(minutes=4))
    assert c.turn_opened_at == RECEIVED - timedelta(minutes=4)
    assert not c.late_delivery


@pytest.mark.parametrize("priority", ["urgent", "high", "normal", "low"])
def test_a_late_turn_never_warns_breaches_and_escalates_in_consecutive_buckets(
        priority: str) -> None:
    c = opened(timedelta(hours=36))
    assert c.turn_opened_at is not None
    plan = POLICIES.for_team("support").plan(c.turn_opened_at, priority, first=True)
    step = POLICIES.timer_resolution
    buckets = [bucket_of(at, step) for at in (plan.warn_at, plan.due_at, plan.escalate_at)]
    assert plan.warn_at > RECEIVED  # not even the warning fires on arrival
    assert buckets[2] - buckets[0] > 2 * step.total_seconds()


def test_the_report_counts_late_deliveries() -> None:
    turns = [{"team": "support", "due_at": RECEIVED.isoformat(), "late_delivery": True},
             {"team": "support", "due_at": RECEIVED.isoformat()}]
    assert sla_report(turns, RECEIVED)["overall"]["late_deliveries"] == 1
