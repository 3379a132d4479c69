"""A turn is planned in the write that applies its message (turns.plan, inside inbound.apply)
and only its alarm is set after it (turns.set_alarm, from the facts that write recorded); the
facts survive the store's map unchanged."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from chalicelib.adapters.dynamodb.records import facts_from, facts_item
from chalicelib.domain.conversations import Conversation, Outcome, Status
from chalicelib.domain.events import Channel, Direction, MessageEvent, Person, Platform
from chalicelib.domain.facts import Facts, Planned
from chalicelib.domain.policies import load_policies
from chalicelib.services import inbound, turns
from tests.fakes import FakeClock, FakeConversationLog, FakeConversations, FakeDueChecks

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
POLICIES = load_policies(Path(__file__).resolve().parents[3] / "chalicelib" / "policies.yaml")
ANN = Person(id="42", handle="ann", name="Ann", followers=1200)
BRAND = Person(id="999", handle="AcmeHelp", name="Acme")


def dm(mid: str, text: str = "my order never came", *, author: Person = ANN) -> MessageEvent:
    return MessageEvent(platform=Platform.MESSENGER, thread="dm-999-42", message_id=mid,
                        direction=Direction.OUT if author is BRAND else Direction.IN,
                        channel=Channel.PRIVATE, brand_id=BRAND.id, customer=ANN,
                        author=author, text=text, created_at=NOW - timedelta(minutes=1))


def applied(store: FakeConversationLog, event: MessageEvent) -> tuple[Conversation, Facts]:
    _, facts = inbound.apply(event, NOW, store, POLICIES)
    c = store.table.load(Platform.MESSENGER, "dm-999-42")
    assert c is not None and facts is not None
    return c, facts


def deps_with(c: Conversation) -> tuple[turns.TurnDeps, FakeDueChecks, FakeClock]:
    conversations, due, clock = FakeConversations(), FakeDueChecks(), FakeClock()
    conversations.items[c.id] = c
    return turns.TurnDeps(conversations=conversations, due_checks=due, clock=clock,
                          policies=lambda: POLICIES, now=lambda: NOW), due, clock


def test_a_planned_turn_gets_its_warning_and_one_alarm_however_often_it_is_finished() -> None:
    c, facts = applied(FakeConversationLog(), dm("m1"))
    assert facts.planned is Planned.YES and facts.plan is not None
    assert (facts.plan.team, facts.plan.due_at) == (c.team, c.due_at)
    deps, due, clock = deps_with(c)
    assert turns.set_alarm(facts, deps) == "planned"
    assert turns.set_alarm(facts, deps) == "planned"  # the queue's redelivery
    assert len(clock.set_buckets) == 1
    [checks] = due.buckets.values()
    assert {check.level for check in checks} == {"warning"}


def test_the_worker_that_just_committed_the_turn_sets_its_alarm_without_reading_it() -> None:
    c, facts = applied(FakeConversationLog(), dm("m1"))
    deps, due, clock = deps_with(replace(c, turn=99))  # a read would say "superseded"
    assert turns.set_alarm(facts, deps, c) == "planned"
    assert len(clock.set_buckets) == 1 and len(due.buckets) == 1
    assert turns.set_alarm(facts, deps) == "superseded"  # a redelivery reads what is stored


def test_a_follow_up_that_changes_nothing_sets_nothing_and_reads_nothing() -> None:
    store = FakeConversationLog()
    applied(store, dm("m1"))
    c, facts = applied(store, dm("m2", "any news?"))
    assert facts.outcome is Outcome.FOLLOW_UP and facts.planned is Planned.UNCHANGED
    deps, due, clock = deps_with(replace(c, turn=99))  # a read would say "superseded"
    assert turns.set_alarm(facts, deps) == "unchanged"
    assert due.buckets == {} and clock.set_buckets == []


def test_an_answer_plans_nothing() -> None:
    store = FakeConversationLog()
    applied(store, dm("m1"))
    c, facts = applied(store, dm("m2", "on it", author=BRAND))
    assert (facts.outcome, facts.planned, facts.plan) == (
        Outcome.TURN_ANSWERED, Planned.NOT_TRIAGED, None)
    assert facts.response_seconds == 0
    deps, due, _ = deps_with(c)
    assert turns.set_alarm(facts, deps) == "nothing to do" and due.buckets == {}


def test_a_turn_answered_or_superseded_before_its_alarm_gets_none() -> None:
    c, facts = applied(FakeConversationLog(), dm("m1"))
    answered, due, _ = deps_with(replace(c, status=Status.AWAITING_CUSTOMER))
    assert turns.set_alarm(facts, answered) == "answered before triage"
    later, due_later, _ = deps_with(replace(c, turn=2))
    assert turns.set_alarm(facts, later) == "superseded"
    assert due.buckets == {} and due_later.buckets == {}


def test_facts_survive_the_stored_map_and_an_old_record_without_planned_reads_untriaged(
        ) -> None:
    store = FakeConversationLog()
    _, opened = applied(store, dm("m1"))
    _, calm = applied(store, dm("m2", "any news?"))
    _, answer = applied(store, dm("m3", "on it", author=BRAND))
    for facts in (opened, calm, answer):
        stored = facts_item(facts)
        assert "text" not in stored  # the words stay with the message
        assert facts_from(stored) == facts
    old = {k: v for k, v in facts_item(opened).items() if k != "planned"}
    read = facts_from(old)
    assert read is not None and read.planned is Planned.NOT_TRIAGED
    assert facts_from(None) is None


def test_a_late_delivery_is_planned_from_its_receipt_and_says_so_in_its_stored_facts() -> None:
    late = dm("m1").model_copy(update={"created_at": NOW - timedelta(days=2)})
    c, facts = applied(FakeConversationLog(), late)
    assert facts.plan is not None and facts.plan.late_delivery and c.late_delivery
    assert facts.opened_at == c.turn_opened_at and facts.plan.due_at == NOW  # due on arrival
    assert facts_item(facts)["late_delivery"] is True
    assert facts_from(facts_item(facts)) == facts
