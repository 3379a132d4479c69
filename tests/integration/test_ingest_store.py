"""The ingest path against DynamoDB and SQS (moto): the webhook's claim and send, the worker's
atomic apply, races, faults."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib import bootstrap
from chalicelib.adapters.dynamodb.codec import from_item
from chalicelib.domain.conversations import Outcome
from chalicelib.domain.errors import QueueUnavailable, StoreUnavailable
from chalicelib.domain.events import Channel, Direction, MessageEvent, Person, Platform
from chalicelib.services import inbound
from chalicelib.services.ingest import ingest
from infrastructure.local.aws import Built
from tests.integration.conftest import run_inbound_worker

NOW = datetime.now(UTC).replace(microsecond=0)
ANN = Person(id="42", handle="ann", followers=50)
BRAND = Person(id="999", handle="AcmeHelp")


def dm(mid: str, author: Person = ANN) -> MessageEvent:
    direction = Direction.OUT if author is BRAND else Direction.IN
    return MessageEvent(platform=Platform.MESSENGER, thread="dm-999-42", message_id=mid,
                        direction=direction, channel=Channel.PRIVATE, brand_id="999",
                        customer=ANN, author=author, text="where is my parcel",
                        created_at=NOW - timedelta(seconds=30))


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


def test_the_webhook_writes_one_claim_and_sends_one_message(aws: Built) -> None:
    report = ingest([dm("m1")], bootstrap.ingest_deps())
    assert report.counts == {"accepted": 1}
    written = {(i["PK"]["S"], i["SK"]["S"]) for i in table_items("")}
    # The claim, and the channel's last-event mark (written at most once a minute).
    assert written == {("MSGID#messenger#m1", "MSGID"), ("CHANNELS", "messenger")}
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
    assert ("MSGID#messenger#m1", "MSGID") in keys
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
    assert report.counts == {"duplicate": 1}
    assert table_items("") == before
    assert queued() == []  # applied already: not even sent again


def test_the_worker_applies_a_message_sent_twice_once(aws: Built) -> None:
    """A retried delivery whose first send did go through is sent again (the webhook cannot
    know); past FIFO's 5-minute deduplication the worker's applied check absorbs it."""
    ingest([dm("m1")], bootstrap.ingest_deps())
    [body] = queued()
    first = inbound.handle(body, bootstrap.inbound_deps())
    before = table_items("")
    assert (first, inbound.handle(body, bootstrap.inbound_deps())) == ("turn_opened",
                                                                         "duplicate")
    assert table_items("") == before


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
    assert ingest([dm("m1")], bootstrap.ingest_deps()).counts == {"duplicate": 1}
    assert ingest([dm("m1")], bootstrap.ingest_deps()).counts == {"duplicate": 1}
    assert run_inbound_worker() == 1  # FIFO deduplication absorbed the third send
    assert len(table_items("CONV#")) == 3  # META, MSG, TURN: exactly once


def test_a_dynamodb_fault_at_the_webhook_writes_and_sends_nothing(aws: Built,
                                                                   monkeypatch) -> None:
    def throttled(**kwargs):
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}},
                          "PutItem")

    with monkeypatch.context() as patch:
        patch.setattr(bootstrap.dynamodb(), "put_item", throttled)
        with pytest.raises(StoreUnavailable):
            ingest([dm("m1")], bootstrap.ingest_deps())
    assert table_items("") == []
    assert queued() == []


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
    assert ingest([post], bootstrap.ingest_deps()).counts == {"duplicate": 1}
    assert queued() == []  # done with: not sent again
    edited = post.model_copy(update={"edited": True, "text": "typo fixed"})
    assert ingest([edited], bootstrap.ingest_deps()).counts == {"edited": 1}  # not a 503


def x_post(tweet: str, reply_to: str | None = None) -> MessageEvent:
    # The webhook only guesses a reply's thread (its own id); the tweet index decides.
    return MessageEvent(platform=Platform.X, thread=f"t-{tweet}", message_id=tweet,
                        direction=Direction.IN, channel=Channel.PUBLIC, brand_id="999",
                        customer=ANN, author=ANN, text="@AcmeHelp still nothing",
                        created_at=NOW - timedelta(seconds=30), reply_to=reply_to,
                        summoned=True)


def test_an_x_reply_filed_under_another_thread_is_found_through_the_tweet_index(
        aws: Built, monkeypatch) -> None:
    """The claim of an X post cannot know its conversation: a stop before its message is
    written, a redelivered webhook and a deletion all find it through the tweet index."""
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
    assert ingest([x_post("2", reply_to="1")], bootstrap.ingest_deps()).counts == {
        "duplicate": 1}
    assert queued() == []  # applied: not sent again
    assert bootstrap.claims().erase(Platform.X, "2", NOW)
    [erased] = [from_item(i) for i in table_items("CONV#x#t-1")
                if i["SK"]["S"].endswith("#2")]
    assert erased["deleted"] and erased["text"] == ""


def test_a_message_is_kept_under_the_key_items_always_had(aws: Built) -> None:
    """The claim, the message and its facts name one key, of the shape stored items have (the
    adapter builds it from the message's time and id: old items stay readable)."""
    event = dm("mid.$c#1")
    ingest([event], bootstrap.ingest_deps())
    run_inbound_worker()
    expected = f"MSG#{event.created_at.isoformat()}#mid.$c#1"
    [claim] = [from_item(i) for i in table_items("MSGID#messenger#mid.$c#1")]
    [message] = [from_item(i) for i in table_items("CONV#messenger#dm-999-42")
                 if i["SK"]["S"].startswith("MSG#")]
    assert claim["message_sk"] == message["SK"] == message["facts"]["message_sk"] == expected
    seen = bootstrap.conversation_log().seen(event)
    assert seen is not None and seen.facts is not None
    assert seen.facts.message_at == event.created_at
