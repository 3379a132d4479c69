"""bench/cost/meter.py's DynamoDB meter follows DynamoDB's documented capacity rules: the bill it
prints is only as good as these."""

from __future__ import annotations

from typing import Any

from bench.cost.meter import batch_read_units, item_kind, read_units, write_units
from chalicelib.adapters.dynamodb.records import CLAIM_SK, claim_pk, turn_sk


def item(sk: str = "META", *, queue: str | None = None, pad: int = 0,
         **extra: str) -> dict[str, Any]:
    out: dict[str, Any] = {"PK": {"S": "CONV#x#t-1"}, "SK": {"S": sk},
                           **{k: {"S": v} for k, v in extra.items()}}
    if queue:
        out |= {"GSI1PK": {"S": queue}, "GSI1SK": {"S": "2026-11-25#x.t-1"}}
    if pad:
        out["text"] = {"S": "x" * pad}
    return out


def test_a_new_indexed_item_is_one_write_and_one_index_write() -> None:
    assert write_units(None, item(queue="QUEUE#support#awaiting_agent")) == (1, 1)


def test_a_write_that_keeps_the_index_keys_costs_the_keys_only_index_nothing() -> None:
    before = item(queue="QUEUE#support#awaiting_agent", status="a")
    after = item(queue="QUEUE#support#awaiting_agent", status="b")
    assert write_units(before, after) == (1, 0)


def test_an_index_key_change_is_a_delete_and_a_put() -> None:
    before = item(queue="QUEUE#support#awaiting_agent")
    after = item(queue="QUEUE#support#awaiting_customer")
    assert write_units(before, after) == (1, 2)


def test_the_larger_of_before_and_after_is_billed_per_started_kilobyte() -> None:
    assert write_units(item(pad=1500), item(pad=10)) == (2, 0)
    assert write_units(None, item(pad=3000)) == (3, 0)


def test_a_failed_condition_still_costs_the_item_and_nothing_in_the_index() -> None:
    assert write_units(item(pad=1500, queue="QUEUE#q"), None, failed=True) == (2, 0)
    assert write_units(None, None, failed=True) == (1, 0)


def test_deleting_an_indexed_item_deletes_its_index_entry() -> None:
    assert write_units(item(queue="QUEUE#q"), None) == (1, 1)


def test_a_batch_get_bills_each_item_by_its_own_size_and_consistency() -> None:
    big = item("MSG#1", pad=5000)  # over 4 KB: two read units when consistent
    result = {"Responses": {"t": [item(), big], "u": [item()]}}
    params = {"RequestItems": {"t": {"Keys": [key_of(item()), key_of(big)],
                                     "ConsistentRead": True},
                               "u": {"Keys": [key_of(item())]}}}
    assert read_units("BatchGetItem", params, result) == 1 + 2 + 0.5


def test_a_batch_get_bills_a_key_with_no_item_as_a_get_would_and_an_unprocessed_one_not() -> None:
    there, gone, later = item(), item("MSG#2"), item("MSG#3")
    params = {"RequestItems": {"t": {"Keys": [key_of(there), key_of(gone), key_of(later)],
                                     "ConsistentRead": True}}}
    result = {"Responses": {"t": [there]}, "UnprocessedKeys": {"t": {"Keys": [key_of(later)]}}}
    assert read_units("BatchGetItem", params, result) == 1 + 1
    assert [units for _, units in batch_read_units(params, result)] == [1, 1]


def key_of(it: dict[str, Any]) -> dict[str, Any]:
    return {"PK": it["PK"], "SK": it["SK"]}


def test_writes_are_split_by_the_kind_the_adapters_key_builders_give() -> None:
    claim = {"Item": {"PK": {"S": claim_pk("x", "1")}, "SK": {"S": CLAIM_SK}}}
    assert item_kind(claim) == "claim (an agent reply's location)"
    assert item_kind({"Key": claim["Item"]}) == "claim"
    assert item_kind({"Item": claim["Item"] | {"erased": {"BOOL": True}}}) == (
        "claim (an erased message)")
    assert item_kind(claim | {"ConditionExpression": "attribute_not_exists(PK)"}) == (
        "claim (a Meta comment's location)")
    assert item_kind({"Item": item(turn_sk(3))}) == "CONV/TURN"
    assert item_kind({"Item": item()}) == "CONV/META"
