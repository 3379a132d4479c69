"""Counts every AWS request this process makes, with DynamoDB's capacity units.

The one global patch of the bench: botocore's `BaseClient._make_api_call`, installed for the
replayed day and put back after it. Each written item is read before and after the write,
outside the count, so bench/cost/meter.py can bill it by its real sizes. A request made while a
local function's handler runs is also counted for that function (by service), and the hook's
own work is left out of the handler's CPU time (infrastructure/local/metering.py)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import botocore.client
import botocore.exceptions

from bench.cost.meter import (
    batch_read_units,
    item_kind,
    read_units,
    write_units,
    written_items,
)
from infrastructure.local.metering import current_function, uncounted


@dataclass
class Usage:
    """What the requests used: calls by (service, operation), DynamoDB units (wru, wru_index,
    rru, rru_index) and the units split by the kind of item they were for."""

    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    units: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    writes_by_kind: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    reads_by_kind: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    # (function, service): the requests each local function's handler made
    by_function: Counter[tuple[str, str]] = field(default_factory=Counter)

    def copy(self) -> Usage:
        return Usage(Counter(self.calls), defaultdict(float, self.units),
                     defaultdict(float, self.writes_by_kind),
                     defaultdict(float, self.reads_by_kind), Counter(self.by_function))


class Recorder:
    """Installs the counting hook; `usage` is what it has counted so far."""

    def __init__(self) -> None:
        self.usage = Usage()
        self._original = botocore.client.BaseClient._make_api_call  # type: ignore[attr-defined]

    def install(self) -> None:
        usage, original = self.usage, self._original

        def counting(client: Any, operation: str, params: dict[str, Any]) -> Any:
            with uncounted():
                service = client.meta.service_model.service_name
                usage.calls[(service, operation)] += 1
                function = current_function()
                if function is not None:
                    usage.by_function[(function, service)] += 1
                writes = written_items(operation, params) if service == "dynamodb" else []

            def item(table: str, key: dict[str, Any]) -> dict[str, Any] | None:
                # Read outside the count: what the write replaced and what it left.
                found: dict[str, Any] | None = original(client, "GetItem", {
                    "TableName": table, "Key": key, "ConsistentRead": True}).get("Item")
                return found

            with uncounted():
                before = [item(table, key) for table, key, _ in writes]
            failed = False
            try:
                result = original(client, operation, params)
            except botocore.exceptions.ClientError:
                failed = True
                raise
            finally:
                with uncounted():
                    for (table, key, body), old in zip(writes, before, strict=True):
                        units = write_units(old, None if failed else item(table, key),
                                            failed=failed)
                        usage.units["wru"] += sum(units)
                        usage.units["wru_index"] += units[1]
                        usage.writes_by_kind[item_kind(body)] += sum(units)
            with uncounted():
                if service == "dynamodb":
                    rru = read_units(operation, params, result)
                    usage.units["rru"] += rru
                    if "IndexName" in params:
                        usage.units["rru_index"] += rru
                    if operation == "BatchGetItem":  # each key is its own read
                        for read_key, read in batch_read_units(params, result):
                            usage.reads_by_kind[item_kind({"Key": read_key})] += read
                    elif rru:
                        what = params.get("Key") or {"PK": {"S": operation}}
                        usage.reads_by_kind[item_kind({"Key": what})] += rru
            return result

        botocore.client.BaseClient._make_api_call = counting  # type: ignore[attr-defined]

    def uninstall(self) -> None:
        botocore.client.BaseClient._make_api_call = self._original  # type: ignore[attr-defined]
