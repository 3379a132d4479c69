"""A message delivered after its whole window had passed (Meta retries for ~36 hours) opens a
turn that is honest about it: marked late, started one window before its receipt, so it is due
on arrival instead of warning, breaching and escalating in three consecutive buckets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain import conversations
from chalicelib.domain.conversations import Conversation, Outcome
from chalicelib.domain.events import Channel, Direction, MessageEvent, Person, Platform
from chalicelib.domain.policies import load_policies
from chalicelib.domain.reports import sla_report
from chalicelib.domain.timers import bucket_of
from chalicelib.services.turns import plan

RECEIVED = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
POLICIES = load_policies(Path(__file__).resolve().parents[3] / "chalicelib" / "policies.yaml")


def message(late: timedelta, mid: str = "m1") -> MessageEvent:
    ann = Person(id="42", name="Ann")
    return MessageEvent(platform=Platform.MESSENGER, message_id=mid, thread="dm-1-42",
                        channel=Channel.PRIVATE, direction=Direction.IN, brand_id="1",
                        author=ann, customer=ann, text="where is my order",
                        created_at=RECEIVED - late)


def opened(late: timedelta, priority_text: str = "where is my order") -> Conversation:
    event = message(late)
    t = conversations.apply(conversations.start(event, "dm-1-42"), event, RECEIVED)
    assert t.outcome is Outcome.TURN_OPENED
    planned, _, _ = plan(t.conversation, t.outcome, priority_text, complaints_before=0,
                         policies=POLICIES, received_at=RECEIVED)
    return planned


def test_a_message_36_hours_late_is_due_on_arrival_and_says_so() -> None:
    c = opened(timedelta(hours=36))
    assert c.late_delivery
    assert c.due_at == RECEIVED  # one window before the receipt: due now, not 34 hours ago
    assert c.escalate_at is not None and c.escalate_at > RECEIVED
    assert c.last_customer_at == RECEIVED - timedelta(hours=36)  # messaging windows: platform


def test_a_message_late_but_within_its_window_keeps_its_own_timestamp() -> None:
    c = opened(timedelta(minutes=30))
    assert c.turn_opened_at == RECEIVED - timedelta(minutes=30)
    assert not c.late_delivery


@pytest.mark.parametrize("text", ["where is my order", "refund now or I sue, urgent!!"])
def test_a_late_turn_never_warns_breaches_and_escalates_in_consecutive_buckets(
        text: str) -> None:
    c = opened(timedelta(hours=36), text)
    assert c.warn_at and c.due_at and c.escalate_at
    step = POLICIES.timer_resolution
    buckets = [bucket_of(at, step) for at in (c.warn_at, c.due_at, c.escalate_at)]
    assert buckets[2] - buckets[0] > 2 * step.total_seconds()


def test_the_report_counts_late_deliveries() -> None:
    turns: list[dict[str, Any]] = [
        {"team": "support", "due_at": RECEIVED.isoformat(), "late_delivery": True},
        {"team": "support", "due_at": RECEIVED.isoformat()}]
    assert sla_report(turns, RECEIVED)["overall"]["late_deliveries"] == 1
