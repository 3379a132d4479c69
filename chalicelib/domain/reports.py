"""SLA reports from turn records (pure): attainment and response times per platform, channel,
priority, team and agent, and the fairness gap between public and private conversations.

A turn *met* its SLA when answered at or before its deadline; it *breached* when answered
late or when its deadline passed unanswered; a turn still inside its window is *open* and left
out of attainment (it has not met or missed anything yet).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

# `source`: webhook (addressed to the brand) or listening (found by searching for it).
# `account`: the brand account written to, as `<platform>:<account id>`.
DIMENSIONS = ("platform", "channel", "priority", "team", "agent", "source", "account")


def outcome(turn: Mapping[str, Any], now: datetime) -> str:
    due = turn.get("due_at")
    answered = turn.get("answered_at")
    if not due:
        return "untriaged"
    deadline = datetime.fromisoformat(str(due))
    if answered:
        return "met" if datetime.fromisoformat(str(answered)) <= deadline else "breached"
    return "breached" if now > deadline else "open"


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least `fraction` of values at or
    below it (what a support lead computes by hand)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def _stats(turns: list[Mapping[str, Any]], now: datetime) -> dict[str, Any]:
    outcomes = [outcome(t, now) for t in turns]
    met, breached = outcomes.count("met"), outcomes.count("breached")
    decided = met + breached
    first = [float(t["response_seconds"]) for t in turns
             if t.get("first") and t.get("response_seconds") is not None]
    following = [float(t["response_seconds"]) for t in turns
                 if not t.get("first") and t.get("response_seconds") is not None]

    def times(values: list[float]) -> dict[str, float | None]:
        return {"p50": percentile(values, 0.5), "p90": percentile(values, 0.9),
                "max": max(values) if values else None, "count": len(values)}

    return {"turns": len(turns), "met": met, "breached": breached,
            "open": outcomes.count("open"),
            "late_deliveries": sum(1 for t in turns if t.get("late_delivery")),
            "found_by_listening": sum(1 for t in turns if t.get("found_by_listening")),
            "attainment": round(met / decided, 4) if decided else None,
            "first_response_seconds": times(first), "next_response_seconds": times(following)}


def _agent(turn: Mapping[str, Any]) -> str:
    by = turn.get("answered_by")
    return str(by) if by else "unanswered"


def _source(turn: Mapping[str, Any]) -> str:
    return "listening" if turn.get("found_by_listening") else "webhook"


def _account(turn: Mapping[str, Any]) -> str:
    account = turn.get("account")
    return f"{turn.get('platform') or '-'}:{account}" if account else "-"


_KEYS = {"agent": _agent, "source": _source, "account": _account}


def sla_report(turns: Iterable[Mapping[str, Any]], now: datetime) -> dict[str, Any]:
    rows = list(turns)
    groups: dict[str, dict[str, list[Mapping[str, Any]]]] = {d: defaultdict(list)
                                                               for d in DIMENSIONS}
    for turn in rows:
        for dimension in DIMENSIONS:
            keyed = _KEYS.get(dimension)
            key = keyed(turn) if keyed else str(turn.get(dimension) or "-")
            groups[dimension][key].append(turn)
    by = {d: {k: _stats(v, now) for k, v in sorted(g.items())} for d, g in groups.items()}
    public = by["channel"].get("public", {}).get("attainment")
    private = by["channel"].get("private", {}).get("attainment")
    gap = round(public - private, 4) if public is not None and private is not None else None
    return {"overall": _stats(rows, now), "by": by,
            "fairness": {"public_attainment": public, "private_attainment": private,
                         "gap": gap}}
