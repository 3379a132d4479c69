"""The inbound worker's reads against DynamoDB (moto): one BatchGetItem a message, two for an
X reply (the tweet indexes first), keys left unprocessed asked again, and a fault is the same
StoreUnavailable as a GetItem's."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib import bootstrap
from chalicelib.adapters.dynamodb.records import ERASED_SK, erased_pk
from chalicelib.domain import conversations
from chalicelib.domain.errors import StoreUnavailable
from chalicelib.domain.events import (
    Channel,
    Direction,
    MessageDeleted,
    MessageEvent,
    Person,
    Platform,
)
from chalicelib.domain.facts import committed
from chalicelib.domain.ports import NewMessage
from chalicelib.services.ingest import ingest
from infrastructure.local.aws import Built
from tests.integration.conftest import run_inbound_worker
from tests.integration.inbound_events import ANN, BRAND, NOW, dm


def x_post(tweet: str, reply_to: str | None = None, author: Person = ANN) -> MessageEvent:
    return MessageEvent(platform=Platform.X, thread=f"t-{tweet}", message_id=tweet,
                        direction=Direction.OUT if author is BRAND else Direction.IN,
                        channel=Channel.PUBLIC, brand_id="999", customer=ANN, author=author,
                        text="@AcmeHelp still nothing", created_at=NOW - timedelta(seconds=30),
                        reply_to=reply_to)


def applied(*events: MessageEvent) -> None:
    ingest(list(events), bootstrap.ingest_deps())
    while run_inbound_worker():
        pass


@contextmanager
def requests() -> Iterator[Counter[str]]:
    """The DynamoDB requests made meanwhile, by operation."""
    made: Counter[str] = Counter()
    ddb = bootstrap.dynamodb()

    def count(model: Any, **_: Any) -> None:
        made[model.name] += 1

    ddb.meta.events.register("before-call.dynamodb", count)
    try:
        yield made
    finally:
        ddb.meta.events.unregister("before-call.dynamodb", count)


def test_a_new_customers_first_message_is_one_request_finding_nothing(aws: Built) -> None:
    with requests() as made:
        snapshot = bootstrap.conversation_log().read(dm("m1"), seen=True, erasure=True,
                                                     customer=True)
    assert made == {"BatchGetItem": 1}
    assert snapshot.seen is None and snapshot.conversation is None
    assert snapshot.thread == "dm-999-42"
    assert (snapshot.erasure_read, snapshot.erased_at) == (True, None)
    assert (snapshot.customer_read, snapshot.customer) == (True, None)


def test_one_request_brings_the_message_its_conversation_tombstone_and_profile(
        aws: Built) -> None:
    applied(dm("m1"))
    erased_at = NOW - timedelta(days=30)
    bootstrap.dynamodb().put_item(TableName=bootstrap.settings().table, Item={
        "PK": {"S": erased_pk(Platform.MESSENGER, "42")}, "SK": {"S": ERASED_SK},
        "erased_at": {"S": erased_at.isoformat()}})
    with requests() as made:
        done = bootstrap.conversation_log().read(dm("m1"), seen=True, erasure=True,
                                                 customer=True)
        new = bootstrap.conversation_log().read(dm("m2"), seen=True, erasure=False,
                                                customer=False)
    assert made == {"BatchGetItem": 2}
    assert done.seen is not None and done.seen.conversation == "messenger.dm-999-42"
    assert done.conversation is not None and done.conversation.last_message_id == "m1"
    assert done.erased_at == erased_at
    assert done.customer is not None and done.customer.complaints == 1
    assert new.seen is None and new.conversation == done.conversation
    assert not new.erasure_read and not new.customer_read


def test_an_x_reply_reads_the_tweet_indexes_then_the_rest(aws: Built) -> None:
    applied(x_post("1"))
    with requests() as made:
        before = bootstrap.conversation_log().read(x_post("2", reply_to="1"), seen=True,
                                                   erasure=True, customer=True)
    assert made == {"BatchGetItem": 2}
    assert before.seen is None and before.thread == "t-1"
    assert before.conversation is not None and before.conversation.last_message_id == "1"
    applied(x_post("2", reply_to="1"))
    with requests() as made:
        after = bootstrap.conversation_log().read(x_post("2", reply_to="1"), seen=True,
                                                  erasure=False, customer=False)
        unknown = bootstrap.conversation_log().read(x_post("3", reply_to="404"), seen=True,
                                                    erasure=False, customer=False)
    assert made == {"BatchGetItem": 4}
    assert after.seen is not None and after.seen.conversation == "x.t-1"
    # Answering a tweet nobody indexed: the message's own thread.
    assert (unknown.seen, unknown.thread, unknown.conversation) == (None, "t-3", None)


def test_a_post_that_answers_nothing_is_one_request_and_found_applied_by_its_index(
        aws: Built) -> None:
    with requests() as made:
        first = bootstrap.conversation_log().read(x_post("1"), seen=True, erasure=True,
                                                  customer=True)
    assert made == {"BatchGetItem": 1} and first.seen is None and first.conversation is None
    applied(x_post("1"))
    seen = bootstrap.conversation_log().read(x_post("1"), seen=True, erasure=True,
                                             customer=True).seen
    assert seen is not None and seen.conversation == "x.t-1"


def test_a_brand_message_with_no_claim_is_new_and_an_agents_reply_is_found_where_its_claim_says(
        aws: Built) -> None:
    applied(dm("m1"))
    log = bootstrap.conversation_log()
    assert log.read(dm("b1", BRAND), seen=True, erasure=False, customer=False).seen is None
    # The agent API keeps its reply at its own time: the echo carries the platform's, later.
    conversation = bootstrap.conversations().get("messenger.dm-999-42")
    assert conversation is not None
    sent_at = NOW - timedelta(seconds=20)
    reply = dm("b2", BRAND).model_copy(update={"created_at": sent_at})
    answered = conversations.answer(conversation, sent_at, "b2")
    facts = committed(answered.outcome, "b2", sent_at, answered.conversation, NOW)
    bootstrap.reply_log().record(NewMessage(
        event=reply, conversation=answered.conversation,
        expected_version=conversation.version, outcome=answered.outcome, received_at=NOW,
        facts=facts, response_seconds=answered.response_seconds))
    echo = dm("b2", BRAND).model_copy(update={"created_at": NOW - timedelta(seconds=5)})
    with requests() as made:
        seen = log.read(echo, seen=True, erasure=False, customer=False).seen
    assert seen is not None and seen.conversation == "messenger.dm-999-42"
    assert made == {"BatchGetItem": 2}  # the claim, then where it says


def test_keys_left_unprocessed_are_asked_again(aws: Built) -> None:
    applied(dm("m1"))
    ddb, table = bootstrap.dynamodb(), bootstrap.settings().table
    throttled = {"left": 2}

    def throttle(parsed: dict[str, Any], **_: Any) -> None:
        # DynamoDB's answer under throttling: some keys come back unprocessed.
        if throttled["left"] and parsed["Responses"][table]:
            throttled["left"] -= 1
            item = parsed["Responses"][table].pop()
            parsed["UnprocessedKeys"] = {table: {
                "Keys": [{"PK": item["PK"], "SK": item["SK"]}], "ConsistentRead": True}}

    ddb.meta.events.register("after-call.dynamodb.BatchGetItem", throttle)
    try:
        snapshot = bootstrap.conversation_log().read(dm("m1"), seen=True, erasure=True,
                                                     customer=True)
    finally:
        ddb.meta.events.unregister("after-call.dynamodb.BatchGetItem", throttle)
    assert throttled["left"] == 0
    assert snapshot.seen is not None and snapshot.conversation is not None
    assert snapshot.customer is not None


def test_a_fault_is_store_unavailable_as_a_get_items_is(aws: Built,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    client = bootstrap.dynamodb()

    def down(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "InternalServerError"}}, "BatchGetItem")

    monkeypatch.setattr(client, "batch_get_item", down)
    with pytest.raises(StoreUnavailable, match="InternalServerError"):
        bootstrap.conversation_log().read(dm("m1"), seen=True, erasure=True, customer=True)


def comment(thread: str, at: datetime) -> MessageEvent:
    """One Facebook comment: the feed delivers it under its parent's thread, a mention under
    its own (the worker claims its id before its commit)."""
    return MessageEvent(platform=Platform.FACEBOOK, thread=thread, message_id="c_7",
                        direction=Direction.IN, channel=Channel.PUBLIC, brand_id="999",
                        customer=ANN, author=ANN, text="@Acme my parcel?", created_at=at)


def seen_both_ways(event: MessageEvent) -> tuple[bool, str | None, int]:
    """(applied, its conversation, BatchGetItems): the snapshot's answer, checked against
    `Messages.seen`'s own GetItems."""
    log = bootstrap.conversation_log()
    with requests() as made:
        snapshot = log.read(event, seen=True, erasure=False, customer=False).seen
    alone = log.seen(event)
    assert snapshot == alone
    return (snapshot is not None, snapshot.conversation if snapshot else None,
            made["BatchGetItem"])


def test_the_snapshot_sees_what_messages_seen_sees_without_webhook_claims(aws: Built) -> None:
    applied(dm("m1"), dm("b1", BRAND), x_post("1"), x_post("p1", author=BRAND))
    conversation = "messenger.dm-999-42"
    # A brand message the platform sent natively has no claim: where its own time puts it,
    # read with the claim in one request.
    assert seen_both_ways(dm("b1", BRAND)) == (True, conversation, 1)
    assert seen_both_ways(dm("b9", BRAND)) == (False, None, 1)
    # A brand post in no conversation: done with (its `elsewhere` claim), no facts.
    assert seen_both_ways(x_post("p1", author=BRAND)) == (True, "", 1)
    # An X post read again by listening, its time to another precision: its tweet index says
    # where it is kept.
    relisted = x_post("1").model_copy(update={"created_at": NOW - timedelta(seconds=29.5)})
    assert seen_both_ways(relisted) == (True, "x.t-1", 2)
    # A Meta comment with no claim is new, without guessing where it would be: one request.
    feed = comment("c-c_1", NOW - timedelta(seconds=30))
    assert seen_both_ways(feed) == (False, None, 1)
    applied(feed)
    # Its copy by mention (another thread, another time) is found where its claim says.
    mention = comment("c-c_7", NOW - timedelta(seconds=20))
    assert seen_both_ways(mention) == (True, "facebook.c-c_1", 2)


def test_an_edit_or_a_deletion_reads_what_it_knows_upfront_in_one_request(aws: Built) -> None:
    applied(dm("m1"), x_post("1"))
    log = bootstrap.conversation_log()
    edit = dm("m1").model_copy(update={"text": "found it, thanks", "edited": True})
    with requests() as made:
        assert log.edit(edit)
    # The claim and the message at the event's own place, together; then the edit.
    assert made == {"BatchGetItem": 1, "UpdateItem": 1}
    # A deletion carries no time: the tweet index says where the post is kept.
    gone = MessageDeleted(platform=Platform.X, message_id="1", deleted_at=NOW)
    with requests() as made:
        assert log.erase(gone)
    assert made == {"BatchGetItem": 1, "GetItem": 1, "UpdateItem": 1}
    with requests() as made:
        assert not log.erase(gone.model_copy(update={"message_id": "404"}))
    assert made == {"BatchGetItem": 1}
