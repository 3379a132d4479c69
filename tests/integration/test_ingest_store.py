"""The ingest path against DynamoDB and SQS (moto): the webhook's send (no write), the worker's
atomic apply and duplicate check, edits and deletions after their message, races, faults."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib import bootstrap
from chalicelib.adapters.dynamodb.codec import from_item
from chalicelib.domain.conversations import Outcome
from chalicelib.domain.errors import QueueUnavailable, StoreUnavailable, VersionConflict
from chalicelib.domain.events import (
    Channel,
    Direction,
    MessageDeleted,
    MessageEvent,
    Platform,
)
from chalicelib.services import inbound
from chalicelib.services.ingest import ingest
from infrastructure.local.aws import Built
from tests.integration.conftest import run_inbound_worker
from tests.integration.inbound_events import ANN, BRAND, NOW, dm


def table_items(pk_prefix: str) -> list[dict[str, Any]]:
    ddb = bootstrap.dynamodb()
    items = ddb.scan(TableName=bootstrap.settings().table)["Items"]
    return [i for i in items if i["PK"]["S"].startswith(pk_prefix)]


def queued() -> list[dict[str, Any]]:
    sqs = bootstrap.sqs()
    url = sqs.get_queue_url(QueueName=bootstrap.settings().inbound_queue)["QueueUrl"]
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return messages
        messages.extend(json.loads(m["Body"]) for m in batch)


def test_the_webhook_writes_no_claim_and_sends_one_message(aws: Built) -> None:
    report = ingest([dm("m1")], bootstrap.ingest_deps())
    assert report.counts == {"accepted": 1}
    written = {(i["PK"]["S"], i["SK"]["S"]) for i in table_items("")}
    # Only the channel's last-event mark (written at most once a minute).
    assert written == {("CHANNELS", "messenger")}
    [body] = queued()
    assert body["event"]["message_id"] == "m1" and "received_at" in body


def test_the_worker_commits_the_message_with_its_conversation_customer_and_turn(
        aws: Built) -> None:
    ingest([dm("m1")], bootstrap.ingest_deps())
    assert run_inbound_worker() == 1
    conv = bootstrap.conversation_log().load(Platform.MESSENGER, "dm-999-42")
    assert conv is not None and conv.turn == 1
    assert conv.due_at is not None  # triaged in the same step
    keys = {(i["PK"]["S"], i["SK"]["S"].split("#")[0]) for i in table_items("")}
    assert ("CONV#messenger#dm-999-42", "META") in keys
    assert ("CONV#messenger#dm-999-42", "MSG") in keys
    assert ("CONV#messenger#dm-999-42", "TURN") in keys
    assert ("MSGID#messenger#m1", "MSGID") not in keys  # found where its time puts it
    assert ("CUST#messenger#42", "PROFILE") in keys
    profile = bootstrap.conversation_log().customer(Platform.MESSENGER, "42")
    assert profile is not None and profile.complaints == 1 and profile.followers == 50
    assert queued() == []  # the worker's batch was acknowledged


def test_racing_workers_make_one_conversation(aws: Built) -> None:
    """Four first messages applied at once (e.g. an X reply whose group was only a guess):
    one conversation, one turn, every message in it."""
    store = bootstrap.conversation_log()
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []
    outcomes: list[str] = []

    def apply(mid: str) -> None:
        barrier.wait()
        try:
            outcomes.append(inbound.apply(dm(mid), NOW, store, bootstrap.policies())[0])
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=apply, args=(f"m{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(table_items("CONV#messenger#dm-999-42")) == 1 + 4 + 1  # META, 4 MSG, 1 TURN
    conv = store.load(Platform.MESSENGER, "dm-999-42")
    assert conv is not None and conv.turn == 1 and conv.version == 4
    assert sorted(outcomes) == ["follow_up", "follow_up", "follow_up", "turn_opened"]


def test_a_redelivery_writes_nothing_and_queues_nothing_new(aws: Built) -> None:
    ingest([dm("m1")], bootstrap.ingest_deps())
    run_inbound_worker()
    before = table_items("")
    report = ingest([dm("m1")], bootstrap.ingest_deps())
    assert report.counts == {"accepted": 1}  # sent: SQS's deduplication drops it
    assert table_items("") == before
    run_inbound_worker()  # the emulator's FIFO forgets a consumed id: the worker drops it
    assert table_items("") == before and queued() == []


def test_a_redelivery_after_the_fifo_window_is_stored_once_and_alarmed_once(
        aws: Built) -> None:
    """Past SQS's 5 minutes the same message id is queued again (a later receipt): the worker
    finds the message where its own time puts it and writes nothing, a customer's message and
    a brand's native reply alike; the turn's due check stays the one it had."""
    reply = dm("r1", author=BRAND).model_copy(update={"created_at": NOW - timedelta(seconds=5)})
    ingest([dm("m1"), reply], bootstrap.ingest_deps())
    assert run_inbound_worker() == 2
    ingest([dm("m2").model_copy(update={"created_at": NOW})], bootstrap.ingest_deps())
    assert run_inbound_worker() == 1
    conversation = bootstrap.conversation_log().load(Platform.MESSENGER, "dm-999-42")
    assert conversation is not None and conversation.turn == 2  # answered, then reopened
    before = table_items("")
    assert any(i["PK"]["S"].startswith("DUE#") for i in before)
    for late in (dm("m1"), reply):
        again = {"event": late.model_dump(mode="json"),
                 "received_at": (NOW + timedelta(minutes=10)).isoformat()}
        assert inbound.handle(again, bootstrap.inbound_deps()) == "duplicate"
    assert table_items("") == before  # no message, turn, answer or due check written again


def test_an_sqs_fault_is_finished_by_the_retry(aws: Built, monkeypatch) -> None:
    real_send = bootstrap.sqs().send_message
    calls = {"n": 0}

    def flaky(**kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ClientError({"Error": {"Code": "ServiceUnavailable"}}, "SendMessage")
        return real_send(**kwargs)

    monkeypatch.setattr(bootstrap.sqs(), "send_message", flaky)
    with pytest.raises(QueueUnavailable):
        ingest([dm("m1")], bootstrap.ingest_deps())
    assert queued() == []
    assert ingest([dm("m1")], bootstrap.ingest_deps()).counts == {"accepted": 1}
    assert ingest([dm("m1")], bootstrap.ingest_deps()).counts == {"accepted": 1}
    assert run_inbound_worker() == 1  # FIFO deduplication absorbed the third send
    assert len(table_items("CONV#")) == 3  # META, MSG, TURN: exactly once


def test_a_dynamodb_fault_at_the_webhook_still_queues_the_message(aws: Built,
                                                                  monkeypatch) -> None:
    def throttled(**kwargs):
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}},
                          "PutItem")

    with monkeypatch.context() as patch:
        patch.setattr(bootstrap.dynamodb(), "put_item", throttled)
        patch.setattr(bootstrap.dynamodb(), "update_item", throttled)
        assert ingest([dm("m1")], bootstrap.ingest_deps()).counts == {"accepted": 1}
    assert [body["event"]["message_id"] for body in queued()] == ["m1"]


WORKER_WRITES = ["conversation (the commit)", "customer", "turn", "message (done)"]


@pytest.mark.parametrize("lost", [False, True], ids=["fails", "answer lost"])
@pytest.mark.parametrize("at", range(len(WORKER_WRITES)), ids=WORKER_WRITES)
def test_a_worker_stopped_at_any_write_is_finished_by_the_redelivery_once(
        aws: Built, monkeypatch, at: int, lost: bool) -> None:
    """The worker's apply is single writes: stop it at each (the write not done, or done
    with its answer lost) and the queue's redelivery finishes the message exactly once."""
    ingest([dm("m1")], bootstrap.ingest_deps())
    client = bootstrap.dynamodb()
    calls = {"n": 0}

    def faulty(real: Callable[..., Any]) -> Callable[..., Any]:
        def call(**kwargs: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == at + 1:
                if lost:
                    real(**kwargs)
                raise ClientError({"Error": {"Code": "InternalServerError"}}, "PutItem")
            return real(**kwargs)
        return call

    with monkeypatch.context() as patch:
        patch.setattr(client, "put_item", faulty(client.put_item))
        patch.setattr(client, "update_item", faulty(client.update_item))
        assert run_inbound_worker() == 1
    assert calls["n"] > at  # the fault was reached
    done = lost and at == len(WORKER_WRITES) - 1  # its last write went through
    assert (bootstrap.conversation_log().seen(dm("m1")) is not None) == done
    deadline = time.monotonic() + 60  # a loaded machine: the loop ends once the queue is empty
    while queued_count() and time.monotonic() < deadline:
        run_inbound_worker()  # the failed record comes back in ~2 s (handlers._retry_soon)
        time.sleep(0.2)
    conversation = bootstrap.conversation_log().load(Platform.MESSENGER, "dm-999-42")
    assert conversation is not None
    assert (conversation.turn, conversation.priority is not None) == (1, True)
    kinds = sorted(i["SK"]["S"].split("#")[0] for i in table_items("CONV#"))
    assert kinds == ["META", "MSG", "TURN"]
    [turn] = [from_item(i) for i in table_items("CONV#") if i["SK"]["S"].startswith("TURN")]
    assert turn["opened_at"] and turn["priority"] == conversation.priority
    profile = bootstrap.conversation_log().customer(Platform.MESSENGER, "42")
    assert profile is not None and profile.complaints == 1
    seen = bootstrap.conversation_log().seen(dm("m1"))
    assert seen is not None and seen.facts and seen.facts.outcome is Outcome.TURN_OPENED
    # The next message of the conversation still applies normally after the repair.
    ingest([dm("m2")], bootstrap.ingest_deps())
    assert run_inbound_worker() == 1
    after = bootstrap.conversation_log().load(Platform.MESSENGER, "dm-999-42")
    assert after is not None and after.turn == 1 and after.last_message_id == "m2"
    again = bootstrap.conversation_log().customer(Platform.MESSENGER, "42")
    assert again is not None and again.complaints == 1


def queued_count() -> int:
    sqs = bootstrap.sqs()
    url = sqs.get_queue_url(QueueName=bootstrap.settings().inbound_queue)["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return sum(int(v) for v in attrs.values())


def test_a_brand_message_outside_any_conversation_is_done_with_not_left_queued(
        aws: Built) -> None:
    post = dm("p1", author=BRAND)
    ingest([post], bootstrap.ingest_deps())
    assert run_inbound_worker() == 1
    assert table_items("CONV#") == []  # it answers nobody
    [claim] = [from_item(i) for i in table_items("MSGID#")]
    assert claim["elsewhere"]  # the one claim left: a later conversation is not its own
    ingest([dm("m1")], bootstrap.ingest_deps())
    assert run_inbound_worker() == 1
    late = {"event": post.model_dump(mode="json"),
            "received_at": (NOW + timedelta(minutes=10)).isoformat()}
    assert inbound.handle(late, bootstrap.inbound_deps()) == "duplicate"
    conversation = bootstrap.conversation_log().load(Platform.MESSENGER, "dm-999-42")
    assert conversation is not None and conversation.answered_at is None  # still waiting
    edited = post.model_copy(update={"edited": True, "text": "typo fixed"})
    assert ingest([edited], bootstrap.ingest_deps()).counts == {"edit_queued": 1}
    assert run_inbound_worker() == 1
    assert len(table_items("CONV#")) == 3  # META, MSG m1, TURN: the edit touched nothing


def test_an_edit_and_a_deletion_apply_after_their_message_and_never_bring_text_back(
        aws: Built) -> None:
    """Queued in the message's group, they reach the worker after it; the deletion carries no
    time of the message, so the worker finds it in its conversation."""
    message = dm("m1").model_copy(update={"text": "my card is 4242"})
    edited = message.model_copy(update={"text": "my card is 4242 4242", "edited": True,
                                        "created_at": NOW})
    deleted = MessageDeleted(platform=Platform.MESSENGER, message_id="m1", deleted_at=NOW,
                             thread="dm-999-42")
    assert ingest([message, edited, deleted], bootstrap.ingest_deps()).counts == {
        "accepted": 1, "edit_queued": 1, "deletion_queued": 1}
    bodies = queued()
    assert [inbound.handle(b, bootstrap.inbound_deps()) for b in bodies] == [
        "turn_opened", "edited", "erased"]
    [item] = [from_item(i) for i in table_items("CONV#") if i["SK"]["S"].startswith("MSG#")]
    assert (item["text"], item["deleted"], item["edited"]) == ("", True, True)
    for late in bodies[:2]:  # redelivered after the window: the words stay gone
        inbound.handle(late, bootstrap.inbound_deps())
    [item] = [from_item(i) for i in table_items("CONV#") if i["SK"]["S"].startswith("MSG#")]
    assert item["text"] == ""
    assert len(table_items("CONV#")) == 3


def test_a_deletion_of_an_unknown_message_ends_without_a_dead_letter(aws: Built) -> None:
    gone = MessageDeleted(platform=Platform.MESSENGER, message_id="m9", deleted_at=NOW,
                          thread="dm-999-42")
    tweet_gone = MessageDeleted(platform=Platform.X, message_id="77", deleted_at=NOW)
    ingest([gone, tweet_gone], bootstrap.ingest_deps())
    thread_known, x_post_body = queued()
    assert inbound.handle(thread_known, bootstrap.inbound_deps()) == "erase_unknown"
    with pytest.raises(StoreUnavailable):  # the post may still be queued in another group
        inbound.handle(x_post_body, bootstrap.inbound_deps(), receives=1)
    assert inbound.handle(x_post_body, bootstrap.inbound_deps(),
                          receives=inbound.ERASE_RECEIVES) == "erase_unknown"
    assert table_items("CONV#") == [] and table_items("MSGID#") == []


def x_post(tweet: str, reply_to: str | None = None) -> MessageEvent:
    # The webhook only guesses a reply's thread (its own id); the tweet index decides.
    return MessageEvent(platform=Platform.X, thread=f"t-{tweet}", message_id=tweet,
                        direction=Direction.IN, channel=Channel.PUBLIC, brand_id="999",
                        customer=ANN, author=ANN, text="@AcmeHelp still nothing",
                        created_at=NOW - timedelta(seconds=30), reply_to=reply_to,
                        summoned=True)


def test_an_x_reply_filed_under_another_thread_is_found_through_the_tweet_index(
        aws: Built, monkeypatch) -> None:
    """An X post's conversation is the tweet index's: a stop before its message is written, a
    redelivery and a deletion (which knows neither thread nor time) all find it there."""
    ingest([x_post("1")], bootstrap.ingest_deps())
    run_inbound_worker()
    ingest([x_post("2", reply_to="1")], bootstrap.ingest_deps())
    client, real = bootstrap.dynamodb(), bootstrap.dynamodb().put_item

    def no_message(**kwargs):
        if kwargs["Item"]["SK"]["S"].startswith("MSG#"):
            raise ClientError({"Error": {"Code": "InternalServerError"}}, "PutItem")
        return real(**kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(client, "put_item", no_message)
        run_inbound_worker()
    # Committed, not done.
    assert bootstrap.conversation_log().seen(x_post("2", reply_to="1")) is None
    deadline = time.monotonic() + 60  # a loaded machine: the loop ends once the queue is empty
    while queued_count() and time.monotonic() < deadline:
        run_inbound_worker()
        time.sleep(0.2)
    messages = [i["SK"]["S"] for i in table_items("CONV#x#t-1") if i["SK"]["S"][:4] == "MSG#"]
    assert len(messages) == 2 and table_items("CONV#x#t-2") == []
    seen = bootstrap.conversation_log().seen(x_post("2", reply_to="1"))
    assert seen is not None and seen.conversation == "x.t-1"
    late = {"event": x_post("2", reply_to="1").model_dump(mode="json"),
            "received_at": NOW.isoformat()}
    assert inbound.handle(late, bootstrap.inbound_deps()) == "duplicate"
    ingest([MessageDeleted(platform=Platform.X, message_id="2", deleted_at=NOW)],
           bootstrap.ingest_deps())
    assert run_inbound_worker() == 1
    [erased] = [from_item(i) for i in table_items("CONV#x#t-1")
                if i["SK"]["S"].endswith("#2")]
    assert erased["deleted"] and erased["text"] == ""


def test_a_message_is_kept_under_the_key_items_always_had(aws: Built) -> None:
    """The message and its facts name one key, of the shape stored items have (the adapter
    builds it from the message's time and id: old items stay readable)."""
    event = dm("mid.$c#1")
    ingest([event], bootstrap.ingest_deps())
    run_inbound_worker()
    expected = f"MSG#{event.created_at.isoformat()}#mid.$c#1"
    [message] = [from_item(i) for i in table_items("CONV#messenger#dm-999-42")
                 if i["SK"]["S"].startswith("MSG#")]
    assert message["SK"] == message["facts"]["message_sk"] == expected
    assert table_items("MSGID#") == []
    seen = bootstrap.conversation_log().seen(event)
    assert seen is not None and seen.facts is not None
    assert seen.facts.message_at == event.created_at


def comment(thread: str, *, at: datetime, listening: bool) -> MessageEvent:
    return MessageEvent(platform=Platform.FACEBOOK, thread=thread, message_id="c_7",
                        direction=Direction.IN, channel=Channel.PUBLIC, brand_id="999",
                        customer=ANN, author=ANN, text="@Acme my parcel?", created_at=at,
                        reply_to=None if listening else "c_1", summoned=listening,
                        found_by_listening=listening)


@pytest.mark.parametrize("feed_first", [True, False])
def test_a_comment_by_the_feed_and_as_a_mention_is_stored_once(aws: Built,
                                                               feed_first: bool) -> None:
    """A reply under a comment comes by the Page's feed (its parent's thread) and as a
    mention (its own), and an Instagram mention carries only our receipt time: the worker's
    claim on a Meta comment's id finds the copy applied first, in either order and later."""
    feed = comment("c-c_1", at=NOW - timedelta(seconds=30), listening=False)
    mention = comment("c-c_7", at=NOW - timedelta(seconds=20), listening=True)
    first, second = (feed, mention) if feed_first else (mention, feed)
    ingest([first], bootstrap.ingest_deps())
    assert run_inbound_worker() == 1
    ingest([second], bootstrap.ingest_deps())
    assert run_inbound_worker() == 1
    later = {"event": second.model_copy(update={"created_at": NOW}).model_dump(mode="json"),
             "received_at": NOW.isoformat()}
    assert inbound.handle(later, bootstrap.inbound_deps()) == "duplicate"
    messages = [i for i in table_items("CONV#") if i["SK"]["S"].startswith("MSG#")]
    assert len(messages) == 1 and messages[0]["PK"]["S"] == f"CONV#facebook#{first.thread}"
    assert len([i for i in table_items("CONV#") if i["SK"]["S"] == "META"]) == 1


def test_two_copies_of_a_comment_applied_at_once_are_stored_once(aws: Built) -> None:
    """Their groups differ, so they may race: the claim's condition lets one through."""
    store = bootstrap.conversation_log()
    copies = [comment("c-c_1", at=NOW, listening=False),
              comment("c-c_7", at=NOW, listening=True)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def apply(event: MessageEvent) -> None:
        barrier.wait()
        try:
            outcomes.append(inbound.apply(event, NOW, store, bootstrap.policies())[0])
        except BaseException as error:  # the loser's queue retry, below
            errors.append(error)

    threads = [threading.Thread(target=apply, args=(c,)) for c in copies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert "turn_opened" in outcomes
    assert all(isinstance(e, VersionConflict) for e in errors)  # the loser: the queue retries
    assert [inbound.apply(e, NOW, store, bootstrap.policies())[0] for e in copies] == [
        "duplicate", "duplicate"]
    messages = [i for i in table_items("CONV#") if i["SK"]["S"].startswith("MSG#")]
    assert len(messages) == 1
