"""GSI1 holds keys only: listings read the index, then the items themselves (moto)."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

from chalicelib import bootstrap
from chalicelib.adapters.dynamodb.batch_read import get_many
from chalicelib.adapters.dynamodb.codec import key
from chalicelib.domain.conversations import Status
from chalicelib.domain.events import Platform
from chalicelib.services.ingest import ingest
from infrastructure.local.aws import Built
from tests.integration.conftest import run_inbound_worker
from tests.integration.inbound_events import dm


def test_items_come_back_in_the_keys_order_and_missing_ones_are_left_out(aws: Built) -> None:
    ddb, table = bootstrap.dynamodb(), bootstrap.settings().table
    for i in range(230):  # more than one BatchGetItem
        ddb.put_item(TableName=table, Item={**key(f"T#{i}", "X"), "n": {"N": str(i)}})
    wanted = [key(f"T#{i}", "X") for i in random.Random(7).sample(range(240), 240)]
    got = get_many(ddb, table, wanted)
    expected = [k["PK"]["S"] for k in wanted if int(k["PK"]["S"][2:]) < 230]
    assert [i["PK"]["S"] for i in got] == expected
    assert all(i["n"]["N"] == i["PK"]["S"][2:] for i in got)


def test_the_index_holds_keys_and_the_inbox_still_lists_whole_conversations(aws: Built) -> None:
    ingest([dm("m1")], bootstrap.ingest_deps())
    run_inbound_worker()
    ddb, table = bootstrap.dynamodb(), bootstrap.settings().table
    conv = bootstrap.conversation_log().load(Platform.MESSENGER, "dm-999-42")
    assert conv is not None
    queue = f"QUEUE#{conv.team}#{Status.AWAITING_AGENT.value}"
    [entry] = ddb.query(TableName=table, IndexName="GSI1", KeyConditionExpression="GSI1PK = :q",
                        ExpressionAttributeValues={":q": {"S": queue}})["Items"]
    assert set(entry) == {"PK", "SK", "GSI1PK", "GSI1SK"}
    [listed], _ = bootstrap.conversations().inbox(conv.team or "", "awaiting_agent", 10, None)
    assert (listed.id, listed.due_at, listed.customer) == (conv.id, conv.due_at, conv.customer)


def test_a_conversation_that_left_the_queue_after_the_index_read_is_not_listed(
        aws: Built) -> None:
    ingest([dm("m1")], bootstrap.ingest_deps())
    run_inbound_worker()
    store = bootstrap.conversations()
    conv = store.get("messenger.dm-999-42")
    assert conv is not None
    ddb = bootstrap.dynamodb()

    def answered_meanwhile(**_: Any) -> None:
        # Between the index page and the item reads, an agent's answer moves it out.
        ddb.meta.events.unregister("after-call.dynamodb.Query", answered_meanwhile)
        store.save(replace(conv, status=Status.AWAITING_CUSTOMER))

    ddb.meta.events.register("after-call.dynamodb.Query", answered_meanwhile)
    listed, _ = store.inbox(conv.team or "", "awaiting_agent", 10, None)
    assert listed == []
    [moved], _ = store.inbox(conv.team or "", "awaiting_customer", 10, None)
    assert moved.id == conv.id



def test_keys_left_unprocessed_are_asked_again(aws: Built) -> None:
    ddb, table = bootstrap.dynamodb(), bootstrap.settings().table
    for i in range(5):
        ddb.put_item(TableName=table, Item=key(f"T#{i}", "X"))
    throttled = {"left": 2}

    def throttle(parsed: dict[str, Any], **_: Any) -> None:
        # DynamoDB's answer under throttling: some keys come back unprocessed.
        if throttled["left"] and parsed["Responses"][table]:
            throttled["left"] -= 1
            item = parsed["Responses"][table].pop()
            parsed["UnprocessedKeys"] = {table: {"Keys": [key(item["PK"]["S"], "X")]}}

    ddb.meta.events.register("after-call.dynamodb.BatchGetItem", throttle)
    try:
        got = get_many(ddb, table, [key(f"T#{i}", "X") for i in range(5)])
    finally:
        ddb.meta.events.unregister("after-call.dynamodb.BatchGetItem", throttle)
    assert throttled["left"] == 0
    assert [i["PK"]["S"] for i in got] == [f"T#{i}" for i in range(5)]
