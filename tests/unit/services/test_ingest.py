"""Ingest: the webhook queues each message (nothing written); the worker drops duplicates and
applies it to its conversation, and applies edits and deletions after their message. Echoes in
the same conversation answer the turn, brand messages elsewhere answer nobody. `deliver` runs
both halves, as the webhook and the queue's worker do."""

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


TABLES: dict[int, FakeMessageTable] = {}


@pytest.fixture
def deps() -> IngestDeps:
    return IngestDeps(queue=FakeQueue(), now=lambda: NOW, channels=FakeChannelLog())


def store(deps: IngestDeps) -> FakeMessageTable:
    """The items the worker's log and the agent's reply share (one table per test's queue)."""
    return TABLES.setdefault(id(deps.queue), FakeMessageTable())


def queue(deps: IngestDeps) -> FakeQueue:
    assert isinstance(deps.queue, FakeQueue)
    return deps.queue


WORKED: list[tuple[str, Facts | None]] = []


def work(deps: IngestDeps, since: int = 0) -> list[tuple[str, Facts | None]]:
    """The worker's half: apply each queued message (from `since`) to its conversation."""
    done: list[tuple[str, Facts | None]] = []
    log = FakeConversationLog(store(deps))
    for _, _, body in queue(deps).sent[since:]:
        if body["event"]["kind"] == "deleted":
            done.append((inbound.erase(MessageDeleted.model_validate(body["event"]), log,
                                       receives=inbound.ERASE_RECEIVES), None))
            continue
        event = MessageEvent.model_validate(body["event"])
        outcome, facts = inbound.apply(event, datetime.fromisoformat(body["received_at"]),
                                       log, POLICIES)
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
    TABLES.clear()


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
    # Done with, though kept nowhere: a redelivery after the queue's deduplication window is
    # a duplicate at the worker, an edit touches nothing.
    queue(deps).window_passes()
    deliver([tweet("300", author=BRAND, reply_to=None)], deps)
    edited = tweet("300", author=BRAND, reply_to=None, text="new").model_copy(
        update={"edited": True})
    assert deliver([edited], deps).counts == {"edit_queued": 1}
    assert outcomes()[2:] == ["duplicate", "duplicate"]
    assert store(deps).load(Platform.X, "t-300") is None


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
    assert report.counts == {"accepted": 1}  # the webhook cannot tell: FIFO deduplication can
    assert len(queue(deps).sent) == 1
    conv = store(deps).load(Platform.MESSENGER, "dm-999-42")
    assert conv is not None and conv.turn == 1


@pytest.mark.parametrize("late", [dm("m1"), dm("m2", author=BRAND),
                                  tweet("7", reply_to="100", summoned=False),
                                  tweet("8", author=BRAND, reply_to="100")])
def test_a_redelivery_after_the_queues_window_is_applied_once(deps, late) -> None:
    """Past SQS's 5 minutes the send goes through: the worker finds the message where its
    own time puts it (a customer's or a native brand reply, in a DM or an X thread) and
    applies nothing, not even a brand reply that would answer a later turn."""
    first = tweet("100") if late.platform is Platform.X else dm("m0")
    deliver([first, late], deps)
    deliver([tweet("9", reply_to="100", summoned=False, text="hello?") if late.platform
             is Platform.X else dm("m3")], deps)
    conv = store(deps).load(late.platform, "t-100" if late.platform is Platform.X
                            else "dm-999-42")
    assert conv is not None
    queue(deps).window_passes()
    assert deliver([late], deps).counts == {"accepted": 1}
    assert outcomes()[-1] == "duplicate"
    assert store(deps).load(late.platform, conv.thread) == conv  # nothing written


def test_a_failed_send_is_finished_by_the_platforms_retry(deps) -> None:
    queue(deps).fail_next = 1
    with pytest.raises(QueueUnavailable):
        deliver([dm("m1")], deps)
    assert queue(deps).sent == [] and store(deps).messages == {}  # nothing written
    assert deliver([dm("m1")], deps).counts == {"accepted": 1}
    assert outcomes() == ["turn_opened"]


def test_the_webhook_only_queues_the_worker_builds_the_conversation(deps) -> None:
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
    assert ingest([dm("m1")], deps).counts == {"accepted": 1}  # sent again, deduplicated
    work(deps)
    assert outcomes() == ["turn_opened"]


def test_an_edit_and_a_deletion_queued_after_their_message_apply_in_order(deps) -> None:
    """Nothing is looked up at the webhook: the edit and the deletion queue in the message's
    group (the thread the payload shows) and the worker applies them after it."""
    comment = dm("m1").model_copy(update={"text": "my card is 4242"})
    edited = comment.model_copy(update={"text": "my card is 4242 4242", "edited": True})
    deleted = MessageDeleted(platform=Platform.MESSENGER, message_id="m1", deleted_at=NOW,
                             thread="dm-999-42")
    assert ingest([comment, edited, deleted], deps).counts == {
        "accepted": 1, "edit_queued": 1, "deletion_queued": 1}
    assert [g for g, _, _ in queue(deps).sent] == ["messenger.dm-999-42"] * 3
    work(deps)
    assert outcomes() == ["turn_opened", "edited", "erased"]
    message = store(deps).messages[(Platform.MESSENGER, "m1")]
    assert message["text"] == "" and message["deleted"]
    # A late redelivery of the edit or the message never brings the words back.
    queue(deps).window_passes()
    deliver([edited, comment], deps)
    assert outcomes()[-2:] == ["edited", "duplicate"]
    assert store(deps).messages[(Platform.MESSENGER, "m1")]["text"] == ""


def test_an_edit_of_a_message_never_stored_is_that_message(deps) -> None:
    edited = dm("m1").model_copy(update={"edited": True})
    deliver([edited], deps)
    assert outcomes() == ["turn_opened"]


def test_a_deletion_of_an_unknown_message_ends_without_a_dead_letter(deps) -> None:
    """Behind its thread's messages, finding nothing is final. An X post's deletion (its
    group unknown) is retried a few receives in case the post is still queued, then ends."""
    dm_gone = MessageDeleted(platform=Platform.MESSENGER, message_id="m9", deleted_at=NOW,
                             thread="dm-999-42")
    assert inbound.erase(dm_gone, FakeConversationLog(store(deps)), receives=1) == (
        "erase_unknown")
    tweet_gone = MessageDeleted(platform=Platform.X, message_id="100", deleted_at=NOW)
    ingest([tweet_gone], deps)
    assert [g for g, _, _ in queue(deps).sent] == ["x.d-100"]
    log = FakeConversationLog(store(deps))
    for receives in range(1, inbound.ERASE_RECEIVES):
        with pytest.raises(StoreUnavailable):
            inbound.erase(tweet_gone, log, receives=receives)
    assert inbound.erase(tweet_gone, log, receives=inbound.ERASE_RECEIVES) == "erase_unknown"


def test_a_withdrawn_post_loses_its_text_but_not_its_place(deps) -> None:
    deliver([tweet("100", text="my card number is 4242")], deps)
    report = deliver([MessageDeleted(platform=Platform.X, message_id="100", deleted_at=NOW)], deps)
    assert report.counts == {"deletion_queued": 1}
    assert outcomes() == ["turn_opened", "erased"]
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
    echo of it is found through that claim by the worker and is not applied twice."""
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
    assert deliver([echo], deps).counts == {"accepted": 1}
    assert outcomes()[-1] == "duplicate"
    conv = store(deps).load(Platform.MESSENGER, "dm-999-42")
    assert conv is not None and conv.status is Status.AWAITING_CUSTOMER
    assert conv.version == c.version + 1  # the echo wrote nothing


def test_an_undeclared_accounts_delivery_is_counted_and_stored_nowhere() -> None:
    policies = load_policies(Path(__file__).resolve().parents[3] / "tests" / "fixtures" /
                             "policies" / "accounts.yaml")
    log = FakeChannelLog()
    deps = IngestDeps(queue=FakeQueue(), now=lambda: NOW, channels=log,
                      accepts=policies.accepts)
    declared = dm("m-1").model_copy(update={"brand_id": "2001"})  # Scruffy UK's Page
    undeclared = dm("m-2").model_copy(update={"brand_id": "2999"})
    revoked = ChannelSignal(platform=Platform.MESSENGER, brand_id="2999", signal="revoked")
    report = ingest([declared, undeclared, revoked], deps)
    assert report.counts == {"accepted": 1, "unknown_account": 2}
    assert [body["event"]["message_id"] for _, _, body in queue(deps).sent] == ["m-1"]
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
