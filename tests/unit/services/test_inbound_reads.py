"""What the inbound worker asks its log to read: one snapshot a message (a customer's message
brings its author's tombstone and profile with it, a brand message neither), and a fresh one
after a write that beat it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from chalicelib.domain import conversations
from chalicelib.domain.errors import VersionConflict
from chalicelib.domain.events import Channel, Direction, MessageEvent, Person, Platform
from chalicelib.domain.policies import load_policies
from chalicelib.domain.ports import CustomerProfile, NewMessage
from chalicelib.services import inbound
from tests.fakes import FakeConversationLog, FakeMessageTable

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
POLICIES = load_policies(Path(__file__).resolve().parents[3] / "chalicelib" / "policies.yaml")
BRAND = Person(id="999", handle="AcmeHelp")
ANN = Person(id="42", handle="ann")
BOB = Person(id="77", handle="bob")


def tweet(mid: str, *, author: Person = ANN, reply_to: str | None = None,
          minutes_ago: int = 5) -> MessageEvent:
    direction = Direction.OUT if author is BRAND else Direction.IN
    return MessageEvent(platform=Platform.X, thread=f"t-{mid}", message_id=mid,
                        direction=direction, channel=Channel.PUBLIC, brand_id=BRAND.id,
                        customer=ANN, author=author, text="my order never came",
                        created_at=NOW - timedelta(minutes=minutes_ago), reply_to=reply_to)


class BeatenOnce(FakeConversationLog):
    """A log where another worker's write lands between this worker's read and its commit,
    once: `rival` makes that write."""

    def __init__(self, table: FakeMessageTable, rival: Callable[[], object]) -> None:
        super().__init__(table)
        self.rival, self.beaten = rival, False

    def record(self, message: NewMessage) -> None:
        if not self.beaten:
            self.beaten = True
            self.rival()
            raise VersionConflict(message.conversation.id)
        super().record(message)


def test_a_customers_message_reads_once_with_its_authors_tombstone_and_profile() -> None:
    log = FakeConversationLog()
    log.table.customers[(Platform.X, ANN.id)] = CustomerProfile(
        platform=Platform.X, user_id=ANN.id, handle="ann", followers=None, complaints=3,
        first_seen=None)
    outcome, facts = inbound.apply(tweet("1"), NOW, log, POLICIES)
    assert outcome == "turn_opened" and facts is not None and facts.complaints_before == 3
    assert log.reads == [(True, True, True)] and log.single_reads == []


def test_a_brand_message_reads_neither_tombstone_nor_profile() -> None:
    log = FakeConversationLog()
    inbound.apply(tweet("1"), NOW, log, POLICIES)
    outcome, _ = inbound.apply(tweet("2", author=BRAND, reply_to="1", minutes_ago=1), NOW,
                               log, POLICIES)
    assert outcome == "turn_answered"
    assert log.reads[1:] == [(True, False, False)] and log.single_reads == []


def test_a_write_that_beat_ours_is_read_again_and_ours_applies_after_it() -> None:
    table = FakeMessageTable()
    inbound.apply(tweet("1", minutes_ago=9), NOW, FakeConversationLog(table), POLICIES)
    # The rival: the brand answers turn 1 between our read and our commit.
    answer = tweet("2", author=BRAND, reply_to="1", minutes_ago=3)
    log = BeatenOnce(table, lambda: inbound.apply(answer, NOW, FakeConversationLog(table),
                                                  POLICIES))
    outcome, facts = inbound.apply(tweet("3", reply_to="2", minutes_ago=1), NOW, log,
                                   POLICIES)
    # Read again, ours opens a new turn after the answer: not a follow-up of the first.
    assert outcome == "turn_opened" and facts is not None and facts.turn == 2
    assert log.reads == [(True, True, True), (False, False, True)]
    assert log.single_reads == []


def test_a_conversation_gone_on_the_retry_reads_the_tombstone_then() -> None:
    table = FakeMessageTable()
    inbound.apply(tweet("1", minutes_ago=9), NOW, FakeConversationLog(table), POLICIES)

    def erase() -> None:  # the customer's data erased meanwhile: the conversation is gone
        table.conversations.clear()
        table.erased[(Platform.X, ANN.id)] = NOW

    log = BeatenOnce(table, erase)
    outcome, _ = inbound.apply(tweet("2", reply_to="1", minutes_ago=8), NOW, log, POLICIES)
    assert outcome == "erased_customer"
    assert log.reads == [(True, True, True), (False, False, True)]
    assert log.single_reads == ["erased_at"]


def test_a_turn_opened_for_a_customer_not_the_author_reads_that_customers_profile() -> None:
    log = FakeConversationLog()
    inbound.apply(tweet("1", minutes_ago=9), NOW, log, POLICIES)
    c = log.table.load(Platform.X, "t-1")
    assert c is not None
    # Answered, then someone else writes in the thread: a turn of the conversation's customer.
    log.table.conversations[(Platform.X, "t-1")] = replace(
        c, status=conversations.Status.AWAITING_CUSTOMER)
    outcome, facts = inbound.apply(tweet("2", author=BOB, reply_to="1", minutes_ago=1), NOW,
                                   log, POLICIES)
    assert outcome == "turn_opened" and facts is not None and facts.complaints_before == 1
    assert log.single_reads == ["customer"]


def test_a_late_message_older_than_its_conversation_meets_the_tombstone_its_snapshot_read(
) -> None:
    log = FakeConversationLog()
    log.table.erased[(Platform.X, ANN.id)] = NOW - timedelta(minutes=7)
    # Written after the erasure: a new contact, a new conversation.
    assert inbound.apply(tweet("1", minutes_ago=5), NOW, log, POLICIES)[0] == "turn_opened"
    # Written before it, redelivered late into that conversation: its words stay erased.
    late = tweet("0", reply_to="1", minutes_ago=9)
    assert inbound.apply(late, NOW, log, POLICIES) == ("erased_customer", None)
    assert log.reads[1:] == [(True, True, True)] and log.single_reads == []
    assert (Platform.X, "0") not in log.table.applied


def test_an_edit_of_a_stored_message_reads_no_snapshot() -> None:
    log = FakeConversationLog()
    inbound.apply(tweet("1"), NOW, log, POLICIES)
    edit = tweet("1").model_copy(update={"text": "found it, thanks", "edited": True})
    assert inbound.apply(edit, NOW, log, POLICIES) == ("edited", None)
    assert log.reads == [(True, True, True)]
    assert log.table.messages[(Platform.X, "1")]["text"] == "found it, thanks"
