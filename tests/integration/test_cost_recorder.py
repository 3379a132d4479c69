"""bench/cost/recorder.py against moto: the bench counts the app's own requests, bills each
write by the items before and after it, and its own reads of those items are not counted."""

from __future__ import annotations

import pytest

from bench.cost.recorder import Recorder
from chalicelib import bootstrap, config
from chalicelib.adapters.dynamodb.records import claim_key
from infrastructure.local.aws import Built


def test_writes_reads_and_failed_conditions_are_counted_by_item(aws: Built) -> None:
    ddb, table = bootstrap.dynamodb(), config.settings().table
    conversation = {"PK": {"S": "CONV#x#t-1"}, "SK": {"S": "META"},
                    "GSI1PK": {"S": "QUEUE#support#awaiting_agent"},
                    "GSI1SK": {"S": "2026-11-25T10:00:00+00:00#x.t-1"}}
    claim = claim_key("x", "1")
    recorder = Recorder()
    recorder.install()
    try:
        ddb.put_item(TableName=table, Item=conversation)  # new, in GSI1: 1 + 1
        ddb.put_item(TableName=table, Item=claim, ConditionExpression="attribute_not_exists(PK)")
        with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
            ddb.put_item(TableName=table, Item=claim,  # a redelivery: still one unit
                         ConditionExpression="attribute_not_exists(PK)")
        moved = {**conversation, "GSI1PK": {"S": "QUEUE#support#awaiting_customer"}}
        ddb.put_item(TableName=table, Item=moved)  # index key changed: delete and put
        ddb.get_item(TableName=table, Key={"PK": conversation["PK"], "SK": conversation["SK"]})
    finally:
        recorder.uninstall()
    ddb.put_item(TableName=table, Item=conversation)  # after uninstall: not counted

    usage = recorder.usage
    assert usage.calls[("dynamodb", "PutItem")] == 4
    assert usage.calls[("dynamodb", "GetItem")] == 1  # its own before/after reads are not
    assert usage.units["wru"] == 2 + 1 + 1 + 3
    assert usage.units["wru_index"] == 1 + 2
    assert usage.units["rru"] == 0.5
    assert usage.writes_by_kind == {"CONV/META": 5, "claim (a Meta comment's location)": 2}
    assert usage.reads_by_kind == {"CONV/META": 0.5}


def test_requests_made_inside_a_functions_invocation_are_counted_for_it(aws: Built) -> None:
    from infrastructure.local.metering import Meter

    ddb, table = bootstrap.dynamodb(), config.settings().table
    item = {"PK": {"S": "CONV#x#t-2"}, "SK": {"S": "META"}}
    meter, recorder = Meter(), Recorder()
    recorder.install()
    try:
        with meter.invocation("inbound_worker"):
            ddb.put_item(TableName=table, Item=item)  # its before/after reads: not its own
            ddb.get_item(TableName=table, Key=item)
        ddb.get_item(TableName=table, Key=item)  # outside any invocation: no function's
    finally:
        recorder.uninstall()
    assert recorder.usage.by_function == {("inbound_worker", "dynamodb"): 2}
    assert recorder.usage.calls[("dynamodb", "GetItem")] == 2
    assert meter.uses()["inbound_worker"].invocations == 1
