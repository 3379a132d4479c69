"""Ingest: the webhook claims each message id once and queues it; the worker applies it to its
conversation. Echoes in the same conversation answer the turn, brand messages elsewhere answer
nobody. `deliver` runs both halves, as the webhook and the queue's worker do."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain import conversations
from chalicelib.domain.conversations import Status
from chalicelib.domain.errors import QueueUnavailable, StoreUnavailable
from chalicelib.domain.events import (
    Channel,
    ChannelSignal,
    Direction,
    Ignored,
    MessageDeleted,
    MessageEvent,
    Person,
    Platform,
)
from chalicelib.domain.facts import Facts, Planned, committed
from chalicelib.domain.policies import load_policies
from chalicelib.domain.ports import NewMessage
from chalicelib.services import inbound
from chalicelib.services.agent_api import ReplyLog
from chalicelib.services.ingest import IngestDeps, IngestReport, ingest
from tests.fakes import (
    FakeChannelLog,
    FakeClaims,
    FakeConversationLog,
    FakeMessageTable,
    FakeQueue,
    FakeReplyLog,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
POLICIES = load_policies(Path(__file__).resolve().parents[3] / "chalicelib" / "policies.yaml")
BRAND = Person(id="999", handle="AcmeHelp", name="Acme")
ANN = Person(id="42", handle="ann", name="Ann", followers=1200)


def tweet(mid: str, *, author: Person = ANN, reply_to: str | None = None,
          at: datetime = NOW - timedelta(minutes=5), text: str = "my order never came",
          summoned: bool = True) -> MessageEvent:
    direction = Direction.OUT if author is BRAND else Direction.IN
    return MessageEvent(platform=Platform.X, thread=f"t-{mid}", message_id=mid,
                        direction=direction, channel=Channel.PUBLIC, brand_id=BRAND.id,
                        customer=ANN, author=author, text=text, created_at=at,
                        reply_to=reply_to, summoned=summoned and direction is Direction.IN)


def dm(mid: str, *, author: Person = ANN, at: datetime = NOW - timedelta(minutes=1)
       ) -> MessageEvent:
    direction = Direction.OUT if author is BRAND else Direction.IN
    return MessageEvent(platform=Platform.MESSENGER, thread="dm-999-42", message_id=mid,
                        direction=direction, channel=Channel.PRIVATE, brand_id=BRAND.id,
                        customer=ANN, author=author, text="hello", created_at=at)


@pytest.fixture
def deps() -> IngestDeps:
    return IngestDeps(claims=FakeClaims(), queue=FakeQueue(), now=lambda: NOW,
                      channels=FakeChannelLog())


def store(deps: IngestDeps) -> FakeMessageTable:
    """The items the webhook's claims and the worker's log share."""
    assert isinstance(deps.claims, FakeClaims)
    return deps.claims.table


def queue(deps: IngestDeps) -> FakeQueue:
    assert isinstance(deps.queue, FakeQueue)
    return deps.queue


WORKED: list[tuple[str, Facts | None]] = []


def work(deps: IngestDeps, since: int = 0) -> list[tuple[str, Facts | None]]:
    """The worker's half: apply each queued message (from `since`) to its conversation."""
    done = []
    for _, _, body in queue(deps).sent[since:]:
        event = MessageEvent.model_validate(body["event"])
        outcome, facts = inbound.apply(event, datetime.fromisoformat(body["received_at"]),
                                       FakeConversationLog(store(deps)), POLICIES)
        done.append((outcome, facts))
    WORKED.extend(done)
    return done


def deliver(events: list[Any], deps: IngestDeps) -> IngestReport:
    """One webhook delivery, then the worker drains what it queued."""
    before = len(queue(deps).sent)
    report = ingest(events, deps)
    work(deps, before)
    return report


def outcomes() -> list[str]:
    return [outcome for outcome, _ in WORKED]


@pytest.fixture(autouse=True)
def _fresh_worker_log() -> None:
    WORKED.clear()


def test_given_a_first_mention_then_a_conversation_opens_turn_1_and_is_queued(deps) -> None:
    report = deliver([tweet("100")], deps)
    assert report.counts == {"accepted": 1}
    assert outcomes() == ["turn_opened"]
    conv = store(deps).load(Platform.X, "t-100")
    assert conv is not None
    assert (conv.status, conv.turn) == (Status.AWAITING_AGENT, 1)
    # The clock starts at the platform's timestamp, not when we received it.
    assert conv.turn_opened_at == NOW - timedelta(minutes=5)
    group, dedupe_id, body = queue(deps).sent[0]
    assert (group, dedupe_id) == ("x.t-100", "x:100")
    assert body["event"]["message_id"] == "100"
    facts = WORKED[0][1]
    assert facts is not None and facts.complaints_before == 0
    assert store(deps).customers[(Platform.X, "42")].complaints == 1


def test_a_timestamp_from_the_future_never_starts_the_clock_late(deps) -> None:
    deliver([tweet("100", at=NOW + timedelta(hours=1))], deps)
    conv = store(deps).load(Platform.X, "t-100")
    assert conv is not None and conv.turn_opened_at == NOW


def test_a_follow_up_reply_joins_the_same_conversation_through_the_tweet_index(deps) -> None:
    deliver([tweet("100"), tweet("101", reply_to="100", summoned=False)], deps)
    conv = store(deps).load(Platform.X, "t-100")
    assert conv is not None and conv.turn == 1  # a follow-up does not restart the clock
    assert store(deps).load(Platform.X, "t-101") is None
    assert outcomes() == ["turn_opened", "follow_up"]
    assert conv.summoned  # the first tweet summoned the brand: a public reply is allowed


def test_a_brand_reply_in_the_thread_answers_the_turn_and_records_response_time(deps) -> None:
    deliver([tweet("100", at=NOW - timedelta(minutes=30))], deps)
    deliver([tweet("200", author=BRAND, reply_to="100", at=NOW - timedelta(minutes=10))], deps)
    conv = store(deps).load(Platform.X, "t-100")
    assert conv is not None and conv.status is Status.AWAITING_CUSTOMER
    assert conv.last_response_seconds == 20 * 60
    assert outcomes()[-1] == "turn_answered"
    assert store(deps).turns[("x.t-100", 1)]["response_seconds"] == 1200


def test_an_x_reply_is_queued_behind_the_tweet_it_answers(deps) -> None:
    # Groups run side by side: in its own group the answer could reach the worker before the
    # complaint it answers, find no conversation and answer nobody.
    ingest([tweet("100"), tweet("200", author=BRAND, reply_to="100"),
            tweet("201", reply_to="100", summoned=False)], deps)
    assert [group for group, _, _ in queue(deps).sent] == ["x.t-100", "x.t-100", "x.t-100"]


def test_a_brand_post_elsewhere_answers_nobody(deps) -> None:
    deliver([tweet("100")], deps)
    deliver([tweet("300", author=BRAND, reply_to=None)], deps)
    assert outcomes() == ["turn_opened", "brand_elsewhere"]
    conv = store(deps).load(Platform.X, "t-100")
    assert conv is not None and conv.status is Status.AWAITING_AGENT
    assert store(deps).load(Platform.X, "t-300") is None
    # Done with, though kept nowhere: a redelivery is a duplicate and is not queued again, an
    # edit touches nothing (and is not refused as "still queued").
    sent = len(queue(deps).sent)
    assert deliver([tweet("300", author=BRAND, reply_to=None)], deps).counts == {
        "duplicate": 1}
    assert len(queue(deps).sent) == sent
    edited = tweet("300", author=BRAND, reply_to=None).model_copy(update={"edited": True})
    assert ingest([edited], deps).counts == {"edited": 1}


def test_a_customer_writing_after_an_answer_opens_the_next_turn(deps) -> None:
    deliver([dm("m1"), dm("m2", author=BRAND), dm("m3")], deps)
    conv = store(deps).load(Platform.MESSENGER, "dm-999-42")
    assert conv is not None and (conv.turn, conv.status) == (2, Status.AWAITING_AGENT)
    assert outcomes() == ["turn_opened", "turn_answered", "turn_opened"]
    facts = WORKED[-1][1]
    assert facts is not None and facts.complaints_before == 1


def test_a_redelivered_message_is_stored_and_queued_once(deps) -> None:
    deliver([dm("m1")], deps)
    report = deliver([dm("m1")], deps)
    assert report.counts == {"duplicate": 1}
    assert len(queue(deps).sent) == 1
    conv = store(deps).load(Platform.MESSENGER, "dm-999-42")
    assert conv is not None and conv.turn == 1


def test_a_failed_send_is_finished_by_the_platforms_retry(deps) -> None:
    queue(deps).fail_next = 1
    with pytest.raises(QueueUnavailable):
        deliver([dm("m1")], deps)
    assert (Platform.MESSENGER, "m1") in store(deps).accepted  # claimed, not yet queued
    assert queue(deps).sent == []
    report = deliver([dm("m1")], deps)
    assert report.counts == {"duplicate": 1}
    assert len(queue(deps).sent) == 1  # the retry sent what the first delivery could not
    assert outcomes() == ["turn_opened"]
    assert deliver([dm("m1")], deps).counts == {"duplicate": 1}
    assert len(queue(deps).sent) == 1  # applied: nothing is sent again


def test_the_webhook_only_claims_and_queues_the_worker_builds_the_conversation(deps) -> None:
    ingest([dm("m1")], deps)
    assert store(deps).conversations == {} and store(deps).messages == {}
    assert len(queue(deps).sent) == 1
    work(deps)
    assert store(deps).load(Platform.MESSENGER, "dm-999-42") is not None


def test_a_queued_message_delivered_twice_to_the_worker_applies_once(deps) -> None:
    ingest([dm("m1")], deps)
    first = work(deps)
    again = work(deps)  # SQS delivers at least once
    assert [o for o, _ in again] == ["duplicate"]
    assert again[0][1] is not None and first[0][1] is not None
    assert again[0][1] == first[0][1]  # what the first run recorded, to finish again
    conv = store(deps).load(Platform.MESSENGER, "dm-999-42")
    assert conv is not None and conv.version == 1
    assert store(deps).customers[(Platform.MESSENGER, "42")].complaints == 1


def test_a_retry_before_the_worker_applied_it_is_queued_again_not_applied_twice(deps) -> None:
    ingest([dm("m1")], deps)
    assert ingest([dm("m1")], deps).counts == {"duplicate": 1}  # not applied yet: sent again
    work(deps)
    assert outcomes() == ["turn_opened"]  # FIFO deduplication absorbed the second send


def test_an_edit_or_withdrawal_of_a_message_still_queued_is_retried_later(deps) -> None:
    ingest([tweet("100", text="my card number is 4242")], deps)
    with pytest.raises(StoreUnavailable):  # 503: the platform retries once it is applied
        ingest([MessageDeleted(platform=Platform.X, message_id="100", deleted_at=NOW)], deps)
    work(deps)
    assert deliver([MessageDeleted(platform=Platform.X, message_id="100", deleted_at=NOW)],
                   deps).counts == {"erased": 1}


def test_a_withdrawn_message_loses_its_text_but_not_its_place(deps) -> None:
    deliver([tweet("100", text="my card number is 4242")], deps)
    report = deliver([MessageDeleted(platform=Platform.X, message_id="100", deleted_at=NOW)], deps)
    assert report.counts == {"erased": 1}
    message = store(deps).messages[(Platform.X, "100")]
    assert message["text"] == "" and message["deleted"]
    conv = store(deps).load(Platform.X, "t-100")
    assert conv is not None and conv.turn == 1


def test_ignored_events_write_nothing(deps) -> None:
    report = deliver([Ignored(platform=Platform.X, event_type="favorite_events",
                             reason="a like is not a message")], deps)
    assert report.counts == {"ignored": 1}
    assert store(deps).conversations == {} and queue(deps).sent == []


def test_a_turn_is_triaged_in_the_write_that_applies_its_message(deps) -> None:
    """One conversation write carries the message and its turn's plan: priority, team and
    deadlines from the shipped policies; a calm follow-up changes nothing, an angrier one
    shortens the deadline in its own write."""
    deliver([tweet("100", text="my order never came")], deps)
    conv = store(deps).load(Platform.X, "t-100")
    assert conv is not None and conv.priority is not None and conv.team is not None
    opened = conv.turn_opened_at
    assert opened is not None and conv.due_at is not None and conv.due_at > opened
    facts = WORKED[-1][1]
    assert facts is not None and facts.planned is Planned.YES and facts.plan is not None
    assert (facts.plan.priority, facts.plan.due_at) == (conv.priority, conv.due_at)
    version = conv.version

    deliver([tweet("101", reply_to="100", summoned=False, text="any news?")], deps)
    calm = store(deps).load(Platform.X, "t-100")
    assert calm is not None and (calm.priority, calm.due_at) == (conv.priority, conv.due_at)
    calm_facts = WORKED[-1][1]
    assert calm_facts is not None and calm_facts.planned is Planned.UNCHANGED
    assert calm.version == version + 1  # the follow-up's one write, no second save

    deliver([tweet("102", reply_to="101", summoned=False,
                   text="I want a refund or I'm calling my lawyer, this is a scam")], deps)
    angry = store(deps).load(Platform.X, "t-100")
    assert angry is not None and angry.due_at is not None and angry.due_at < conv.due_at
    angry_facts = WORKED[-1][1]
    assert angry_facts is not None and angry_facts.planned is Planned.YES
    assert angry.turn == 1 and angry.version == version + 2


def channel_log(deps: IngestDeps) -> FakeChannelLog:
    assert isinstance(deps.channels, FakeChannelLog)
    return deps.channels


def test_the_channel_log_hears_which_platforms_called_and_what_they_said_of_a_channel(
        deps: IngestDeps) -> None:
    revoked = ChannelSignal(platform=Platform.MESSENGER, brand_id=BRAND.id, signal="revoked",
                            detail="app removed")
    ingest([tweet("1"), tweet("2"), revoked], deps)
    # The revoke is recorded, but proves nothing works: only X counts as calling.
    assert channel_log(deps).traces == [("problem", "messenger", "revoked"), ("seen", "x")]
    assert len(queue(deps).sent) == 2


def test_a_declared_accounts_delivery_marks_its_own_channel_seen_too(
        deps: IngestDeps) -> None:
    declared = replace(deps, accepts=lambda platform, account: account == BRAND.id,
                       health_channel=lambda platform, account: f"{platform}:{account}")
    other = dm("2").model_copy(update={"brand_id": "777"})  # an undeclared account
    ingest([dm("1"), other], declared)
    assert channel_log(deps).traces == [("unknown_account", "messenger", "777"),
                                        ("seen", "messenger"), ("seen", "messenger:999")]


def test_a_delivery_of_only_a_status_is_no_sign_of_life(deps: IngestDeps) -> None:
    read = ChannelSignal(platform=Platform.WHATSAPP, brand_id=BRAND.id, signal="read")
    ingest([read], deps)
    assert channel_log(deps).traces == []


def test_an_agents_reply_kept_before_its_echo_makes_the_echo_a_duplicate(deps) -> None:
    """The three callers share the table: the agent's reply claims its id, so the platform's
    echo of it is a redelivery at the webhook and is not applied twice."""
    deliver([dm("m1")], deps)
    c = store(deps).load(Platform.MESSENGER, "dm-999-42")
    assert c is not None
    sent = dm("r1", author=BRAND, at=NOW)
    replies: ReplyLog = FakeReplyLog(store(deps))
    assert replies.seen(sent) is None
    transition = conversations.answer(c, NOW, sent.message_id)
    after = transition.conversation
    replies.record(NewMessage(
        event=sent, conversation=after, expected_version=c.version,
        outcome=transition.outcome, received_at=NOW,
        facts=committed(transition.outcome, sent.message_id, sent.created_at, after, NOW),
        response_seconds=transition.response_seconds))
    assert replies.seen(sent) is not None
    echo = sent.model_copy(update={"created_at": NOW + timedelta(seconds=2)})
    assert deliver([echo], deps).counts == {"duplicate": 1}
    conv = store(deps).load(Platform.MESSENGER, "dm-999-42")
    assert conv is not None and conv.status is Status.AWAITING_CUSTOMER
    assert conv.version == c.version + 1  # the echo wrote nothing


def test_an_undeclared_accounts_delivery_is_counted_and_stored_nowhere() -> None:
    policies = load_policies(Path(__file__).resolve().parents[3] / "tests" / "fixtures" /
                             "policies" / "accounts.yaml")
    log = FakeChannelLog()
    deps = IngestDeps(claims=FakeClaims(), queue=FakeQueue(), now=lambda: NOW, channels=log,
                      accepts=policies.accepts)
    declared = dm("m-1").model_copy(update={"brand_id": "2001"})  # Scruffy UK's Page
    undeclared = dm("m-2").model_copy(update={"brand_id": "2999"})
    revoked = ChannelSignal(platform=Platform.MESSENGER, brand_id="2999", signal="revoked")
    report = ingest([declared, undeclared, revoked], deps)
    assert report.counts == {"accepted": 1, "unknown_account": 2}
    assert [body["event"]["message_id"] for _, _, body in queue(deps).sent] == ["m-1"]
    assert list(store(deps).accepted) == [(Platform.MESSENGER, "m-1")]  # m-2 claimed nowhere
    assert ("unknown_account", "messenger", "2999") in log.traces
    assert not any(t[0] == "problem" for t in log.traces)  # another app's revoke is not ours


@pytest.mark.parametrize(("platform", "channel", "account", "team"), [
    (Platform.X, Channel.PUBLIC, "1001", "sales"), (Platform.X, Channel.PRIVATE, "1002", "care"),
    (Platform.MESSENGER, Channel.PRIVATE, "2001", "uk"),
    (Platform.FACEBOOK, Channel.PUBLIC, "2002", "us"),
    (Platform.WHATSAPP, Channel.PRIVATE, "3001", "wa_uk"),
    (Platform.WHATSAPP, Channel.PRIVATE, "3002", "wa_us")])
def test_the_account_written_to_decides_the_conversations_team(
        platform: Platform, channel: Channel, account: str, team: str) -> None:
    policies = load_policies(Path(__file__).resolve().parents[3] / "tests" / "fixtures" /
                             "policies" / "accounts.yaml")
    table = FakeMessageTable()
    event = MessageEvent(platform=platform, thread=f"c-{account}", message_id=f"m-{account}",
                         direction=Direction.IN, channel=channel, brand_id=account,
                         customer=ANN, author=ANN, text="my refund never came",
                         created_at=NOW - timedelta(minutes=1))
    outcome, facts = inbound.apply(event, NOW, FakeConversationLog(table), policies)
    assert outcome == "turn_opened" and facts is not None
    conversation = table.conversations[(platform, f"c-{account}")]
    assert (conversation.team, conversation.brand_id) == (team, account)
    assert conversation.turn_opened_at is not None  # and its deadline is that team's
    assert conversation.due_at == policies.for_team(team).plan(
        conversation.turn_opened_at, conversation.priority or "normal", first=True).due_at
