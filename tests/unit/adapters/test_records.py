"""The message's sort key is the adapter's: the domain gives a time and an id, and the stored
key keeps the exact shape items were always written with, so old items stay readable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from chalicelib.adapters.dynamodb.records import (
    event_sk,
    facts_from,
    facts_item,
    message_at,
    message_sk,
)
from chalicelib.domain.conversations import Outcome
from chalicelib.domain.events import Channel, Direction, MessageEvent, Person, Platform
from chalicelib.domain.facts import Facts

TIMES = [datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
         datetime(2026, 3, 1, 9, 30, 5, 123456, tzinfo=UTC),
         datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=5, minutes=30)))]


@pytest.mark.parametrize("at", TIMES)
@pytest.mark.parametrize("message_id", ["m.1", "mid.$cAAB#x", "1790000000000000001"])
def test_a_stored_sort_key_reads_back_to_the_same_key(at: datetime, message_id: str) -> None:
    sk = message_sk(message_id, at)
    assert sk == f"MSG#{at.isoformat()}#{message_id}"  # the shape stored items have
    assert message_at(sk) == at and message_at(sk).utcoffset() == at.utcoffset()
    assert message_sk(message_id, message_at(sk)) == sk


def test_facts_keep_the_stored_message_sk_exactly() -> None:
    # A stored map as every version wrote it: the key, not a time, is what is on disk.
    stored = {"outcome": "turn_opened", "conversation": "messenger.dm-1", "turn": 1,
              "message_id": "m#7", "message_sk": "MSG#2026-03-01T09:30:05.120000+00:00#m#7",
              "received_at": "2026-03-01T09:30:06+00:00", "complaints_before": 0}
    facts = facts_from(stored)
    assert facts is not None
    assert facts.message_at == datetime(2026, 3, 1, 9, 30, 5, 120000, tzinfo=UTC)
    assert facts_item(facts)["message_sk"] == stored["message_sk"]


def test_an_agents_reply_is_kept_at_its_own_time_not_its_echos() -> None:
    sent_at = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    facts = Facts(outcome=Outcome.TURN_ANSWERED, conversation="messenger.dm-1", turn=1,
                  message_id="r1", message_at=sent_at, received_at=sent_at)
    echo = MessageEvent(platform=Platform.MESSENGER, thread="dm-1", message_id="r1",
                        direction=Direction.OUT, channel=Channel.PRIVATE, brand_id="9",
                        customer=Person(id="1"), author=Person(id="9"), text="hi",
                        created_at=sent_at + timedelta(seconds=2))
    assert facts_item(facts)["message_sk"] == "MSG#2026-03-01T09:30:00+00:00#r1"
    assert event_sk(echo) == "MSG#2026-03-01T09:30:02+00:00#r1"
