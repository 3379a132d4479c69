"""DynamoDB capacity units of one request, by DynamoDB's documented rules.

Pure: the caller hands over the items before and after a write (bench/cost/recorder.py reads
them outside the count). GSI1's key attributes and projection come from the one declaration of
the table (infrastructure/resources.yaml), read on first use."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.dynamodb import records

TABLE_KEYS = ("PK", "SK")


@dataclass(frozen=True)
class Index:
    """A global secondary index as the meter needs it: its keys and what it projects."""

    keys: tuple[str, ...]
    projection: str  # ALL, KEYS_ONLY or INCLUDE
    included: tuple[str, ...] = ()


@functools.cache
def gsi1() -> Index:
    """GSI1, from the one declaration of the table."""
    from infrastructure.template import load_resources

    table = load_resources()["Resources"]["Table"]["Properties"]
    index = table["GlobalSecondaryIndexes"][0]
    projection = index["Projection"]
    return Index(keys=tuple(k["AttributeName"] for k in index["KeySchema"]),
                 projection=projection["ProjectionType"],
                 included=tuple(projection.get("NonKeyAttributes", ())))


def item_size(item: dict[str, Any]) -> int:
    """DynamoDB's item size: attribute names plus values (its documented sizing rules)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    (kind, v), = value.items()
    if kind in ("S", "B"):
        return len(v.encode()) if kind == "S" else len(v)
    if kind == "N":
        return (len(v.lstrip("-").replace(".", "")) + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + 1 + _value_size(x) for k, x in v.items())
    if kind == "L":
        return 3 + sum(1 + _value_size(x) for x in v)
    return sum(len(x.encode()) if isinstance(x, str) else len(x) for x in v)  # SS, NS, BS


def _units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def _projected(item: dict[str, Any] | None, index: Index) -> dict[str, Any] | None:
    """The item as the index stores it, or None when the item is not in the index."""
    if not item or not all(k in item for k in index.keys):
        return None
    if index.projection == "ALL":
        return item
    keep = {*TABLE_KEYS, *index.keys,
            *(index.included if index.projection == "INCLUDE" else ())}
    return {k: v for k, v in item.items() if k in keep}


def write_units(before: dict[str, Any] | None, after: dict[str, Any] | None,
                *, failed: bool = False, index: Index | None = None) -> tuple[int, int]:
    """(table, index) write units of one item write, by DynamoDB's documented rules: the larger
    of the item before and after; a failed condition still costs the item; an index costs
    nothing when its projection did not change, one write when it did, and a delete plus a put
    when its key changed. The index is GSI1 unless given."""
    index = index or gsi1()
    table = _units(max(item_size(before or {}), item_size(after or {})))
    if failed:
        return _units(item_size(before or {})), 0
    old, new = _projected(before, index), _projected(after, index)
    if old == new:
        return table, 0
    if old is None or new is None:
        return table, _units(item_size(old or new or {}))
    if any(old[k] != new[k] for k in index.keys):
        return table, _units(item_size(old)) + _units(item_size(new))
    return table, _units(max(item_size(old), item_size(new)))


def read_units(operation: str, params: dict[str, Any], result: dict[str, Any]) -> float:
    """Read units of one read request: 4 KB a unit, half of it when eventually consistent."""
    rate = 1.0 if params.get("ConsistentRead") else 0.5
    if operation == "GetItem":
        return rate * max(1, math.ceil(item_size(result.get("Item") or {}) / 4096))
    if operation in ("Query", "Scan"):
        size = sum(item_size(i) for i in result.get("Items", []))
        return rate * max(1, math.ceil(size / 4096))
    if operation == "BatchGetItem":
        return sum(units for _, units in batch_read_units(params, result))
    return 0


def batch_read_units(params: dict[str, Any], result: dict[str, Any]
                     ) -> list[tuple[dict[str, Any], float]]:
    """A BatchGetItem's units, key by key: each key is read as a GetItem, so a key with no
    item costs the minimum, as there; a key left unprocessed costs nothing (it is asked
    again)."""
    out: list[tuple[dict[str, Any], float]] = []
    for table, request in params["RequestItems"].items():
        rate = 1.0 if request.get("ConsistentRead") else 0.5
        found = {_ident(i): i for i in result.get("Responses", {}).get(table, [])}
        unprocessed = {_ident(k) for k in
                       result.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])}
        for k in request["Keys"]:
            if _ident(k) in unprocessed:
                continue
            item = found.get(_ident(k))
            out.append((k, rate * max(1, math.ceil(item_size(item) / 4096)) if item else rate))
    return out


def _ident(item: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(item.get(k, {}).get("S", "")) for k in TABLE_KEYS)


def written_items(operation: str, params: dict[str, Any]
                  ) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Each item a write request touches: (table, key, its request)."""
    def key(body: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in (body.get("Item") or body["Key"]).items() if k in TABLE_KEYS}

    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        return [(params["TableName"], key(params), params)]
    if operation == "BatchWriteItem":
        return [(table, key(body), body) for table, requests_ in
                params["RequestItems"].items() for r in requests_ for body in r.values()]
    return []


def item_kind(body: dict[str, Any]) -> str:
    """What a request is for, from its keys: the split that shows where the units go."""
    item = body.get("Item") or body.get("Key") or {}
    pk: str = item.get("PK", {}).get("S", "")
    sk: str = item.get("SK", {}).get("S", "")
    if pk.startswith(records.CLAIM):
        if "Item" not in body:
            return "claim"  # a read, or an update (a brand post elsewhere)
        if "erased" in item:  # a customer's erasure: its messages' tombstones
            return "claim (an erased message)"
        if "ConditionExpression" in body:  # only the worker's claim of a Meta comment
            return "claim (a Meta comment's location)"
        return "claim (an agent reply's location)"
    pk_kind, sk_kind = pk.split("#")[0], sk.split("#")[0]
    return pk_kind + (f"/{sk_kind}" if sk_kind.isupper() and sk_kind != pk_kind else "")
