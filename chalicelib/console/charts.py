"""The SLA report as charts a lead reads at a glance, drawn server-side as inline SVG (no
chart library, nothing for the Content-Security-Policy to allow: SVG presentation attributes
are not inline style). Every chart has its numbers in a table beside it, for screen readers
and for anyone who wants the figure rather than the bar.

The numbers are the API's: the report comes from the same service `GET /api/reports/sla`
calls; attainment over time is that report asked for one day at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from chalicelib.console import actions
from chalicelib.services.auth import Principal

WIDTH = 320  # viewBox units; the SVG scales to the page (a 360 px phone included)
LABEL_W = 92  # room for a group's name left of a horizontal bar


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    kind: str  # a CSS-free colour choice: "met", "p50", "p90", "public", "private", "none"


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "start"


@dataclass
class Chart:
    id: str
    title: str
    height: float
    bars: list[Bar] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)


FILL = {"met": "#0b57d0", "p50": "#0b57d0", "p90": "#7aa7f0", "public": "#9a3412",
        "private": "#6b21a8", "none": "#d0d7de"}


def percent(value: float | None) -> str:
    return "no decided turns" if value is None else f"{value:.1%}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def attainment_chart(days: list[dict[str, Any]]) -> Chart:
    """One bar per day, its height the share of decided turns answered in time."""
    chart = Chart("chart-attainment", "SLA attainment per day", 150)
    slot = WIDTH / max(1, len(days))
    for n, day in enumerate(days):
        x, share = n * slot + slot * 0.15, day["attainment"]
        height = 100 * share if share is not None else 2
        chart.bars.append(Bar(x, 120 - height, slot * 0.7, height,
                              "met" if share is not None else "none"))
        chart.labels.append(Label(x + slot * 0.35, 114 - height,
                                  f"{share:.0%}" if share is not None else "-", "middle"))
        chart.labels.append(Label(x + slot * 0.35, 138, day["day"][5:], "middle"))
    return chart


def percentile_chart(chart_id: str, title: str, groups: dict[str, Any]) -> Chart:
    """Per group, the median and 90th percentile first response as two horizontal bars."""
    rows = [(name, s["first_response_seconds"]) for name, s in groups.items()]
    longest = max((t["p90"] or 0 for _, t in rows), default=0) or 1
    chart = Chart(chart_id, title, max(40, 34 * len(rows) + 6))
    room = WIDTH - LABEL_W - 60
    for n, (name, times) in enumerate(rows):
        y = 6 + 34 * n
        chart.labels.append(Label(0, y + 14, name))
        for offset, key in ((0, "p50"), (12, "p90")):
            value = times[key]
            width = room * (value or 0) / longest
            chart.bars.append(Bar(LABEL_W, y + offset, max(width, 1), 10,
                                  key if value is not None else "none"))
            chart.labels.append(Label(LABEL_W + max(width, 1) + 4, y + offset + 9,
                                      f"{key} {duration(value)}"))
    return chart


def fairness_chart(fairness: dict[str, Any]) -> Chart:
    chart = Chart("chart-fairness", "Attainment: public posts and private messages", 70)
    room = WIDTH - LABEL_W - 60
    for n, kind in enumerate(("public", "private")):
        share = fairness[f"{kind}_attainment"]
        y = 6 + 30 * n
        chart.labels.append(Label(0, y + 15, "Public" if kind == "public" else "Private"))
        width = room * (share or 0)
        chart.bars.append(Bar(LABEL_W, y, max(width, 1), 20,
                              kind if share is not None else "none"))
        chart.labels.append(Label(LABEL_W + max(width, 1) + 4, y + 15,
                                  f"{share:.0%}" if share is not None else "-"))
    return chart


def gap_words(gap: float | None) -> str:
    if gap is None:
        return "Not enough decided turns on both kinds of channel to compare."
    if abs(gap) < 0.005:
        return "No gap: public and private customers get the same service."
    side = "public posts" if gap > 0 else "private messages"
    return (f"A gap of {abs(gap) * 100:.1f} points in favour of {side}: "
            f"{'the loudest customers are served first' if gap > 0 else 'public posts wait'}.")


def report_view(principal: Principal, params: dict[str, str]) -> dict[str, Any]:
    report = actions.report(principal, params)
    start, end = date.fromisoformat(report["from"]), date.fromisoformat(report["to"])
    days = []
    for offset in range((end - start).days + 1):
        day = (start + timedelta(days=offset)).isoformat()
        daily = actions.report(principal, {**params, "from": day, "to": day})["overall"]
        days.append({"day": day, "attainment": daily["attainment"], "turns": daily["turns"],
                     "met": daily["met"], "breached": daily["breached"]})
    return {"report": report, "days": days, "percent": percent, "duration": duration,
            "gap_words": gap_words(report["fairness"]["gap"]), "fill": FILL,
            "charts": [attainment_chart(days),
                       percentile_chart("chart-platform", "First response by platform",
                                        report["by"]["platform"]),
                       percentile_chart("chart-priority", "First response by priority",
                                        report["by"]["priority"]),
                       fairness_chart(report["fairness"])],
            "teams": actions.teams() if principal.role == "admin" else list(principal.teams)}

