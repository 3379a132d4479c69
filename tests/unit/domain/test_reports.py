"""SLA report numbers against a scenario computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.domain.reports import outcome, percentile, sla_report

NOW = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
T = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def turn(platform: str, channel: str, *, answered_after: float | None, window: float = 3600,
         first: bool = True, by: str | None = "alice", priority: str = "normal",
         opened: datetime = T) -> dict[str, Any]:
    return {"platform": platform, "channel": channel, "priority": priority, "team": "support",
            "first": first, "opened_at": opened.isoformat(),
            "due_at": (opened + timedelta(seconds=window)).isoformat(),
            "answered_at": None if answered_after is None else
            (opened + timedelta(seconds=answered_after)).isoformat(),
            "response_seconds": answered_after,
            "answered_by": by if answered_after is not None else None}


SCENARIO = [
    turn("x", "public", answered_after=600),                       # met, 10 min
    turn("x", "public", answered_after=4000),                      # breached (late)
    turn("x", "public", answered_after=None),                      # breached (unanswered)
    turn("messenger", "private", answered_after=1200, by="bob"),   # met, 20 min
    turn("whatsapp", "private", answered_after=300, first=False),  # met, next response
    turn("whatsapp", "private", answered_after=None,               # open: still in window
         opened=NOW - timedelta(minutes=5)),
]


def test_outcomes() -> None:
    assert [outcome(t, NOW) for t in SCENARIO] == [
        "met", "breached", "breached", "met", "met", "open"]


def test_overall_and_fairness_match_the_hand_computed_figures() -> None:
    report = sla_report(SCENARIO, NOW)
    overall = report["overall"]
    assert (overall["turns"], overall["met"], overall["breached"], overall["open"]) == (
        6, 3, 2, 1)
    assert overall["attainment"] == 0.6  # 3 met of 5 decided
    # First responses answered: 600, 4000, 1200 -> p50 1200, p90 4000, max 4000.
    assert overall["first_response_seconds"] == {"p50": 1200, "p90": 4000, "max": 4000,
                                                 "count": 3}
    assert overall["next_response_seconds"] == {"p50": 300, "p90": 300, "max": 300,
                                                "count": 1}
    # Public: 1 of 3 met = 0.3333; private: 2 of 2 decided met = 1.0; gap -0.6667.
    assert report["fairness"] == {"public_attainment": 0.3333, "private_attainment": 1.0,
                                  "gap": -0.6667}


def test_breakdowns_by_platform_and_agent() -> None:
    report = sla_report(SCENARIO, NOW)
    assert report["by"]["platform"]["x"]["attainment"] == 0.3333
    assert report["by"]["platform"]["whatsapp"]["open"] == 1
    assert set(report["by"]["agent"]) == {"alice", "bob", "unanswered"}
    assert report["by"]["agent"]["bob"]["met"] == 1


def test_nearest_rank_percentiles() -> None:
    assert percentile([5, 1, 3, 2, 4], 0.5) == 3
    assert percentile([5, 1, 3, 2, 4], 0.9) == 5
    assert percentile([], 0.5) is None


def test_turns_found_by_listening_get_their_own_line() -> None:
    found = {**turn("x", "public", answered_after=600), "found_by_listening": True}
    report = sla_report([*SCENARIO, found], NOW)
    by_source = report["by"]["source"]
    assert by_source["listening"]["turns"] == 1 and by_source["listening"]["met"] == 1
    assert by_source["webhook"]["turns"] == len(SCENARIO)
    assert report["overall"]["found_by_listening"] == 1
    assert sla_report(SCENARIO, NOW)["overall"]["found_by_listening"] == 0


def test_the_report_breaks_down_by_the_brand_account_written_to() -> None:
    main = {**turn("x", "public", answered_after=600), "account": "1001"}
    help_desk = {**turn("x", "private", answered_after=99_999), "account": "1002"}
    page = {**turn("messenger", "private", answered_after=600), "account": "2001"}
    by_account = sla_report([main, help_desk, page, *SCENARIO], NOW)["by"]["account"]
    assert by_account["x:1001"]["met"] == 1 and by_account["x:1002"]["met"] == 0
    assert by_account["messenger:2001"]["turns"] == 1
    assert by_account["-"]["turns"] == len(SCENARIO)  # turns recorded before accounts
