"""CloudWatch metrics as EMF through powertools Metrics: what a support lead graphs.

Recorded where things happen, flushed once per invocation by `flushes_metrics`, the one
decorator every Lambda entry point wears (app.py's HTTP middleware, chalicelib/handlers.py).
Names and dimensions never carry message text or customer ids.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

metrics = Metrics()
logger = Logger(child=True)


def response_time(platform: str, seconds: float, *, first: bool) -> None:
    metrics.add_metric(name="FirstResponseTime" if first else "NextResponseTime",
                       unit=MetricUnit.Seconds, value=seconds)
    metrics.add_metadata(key="platform", value=platform)


def alert_sent(platform: str, level: str) -> None:
    name = {"warning": "Warnings", "breach": "Breaches", "escalation": "Escalations"}.get(
        level, "Alerts")
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    metrics.add_metadata(key="platform", value=platform)


def erasure_incomplete(left: int) -> None:
    """An erasure AWS did not let finish: someone must see that it is retried."""
    metrics.add_metric(name="ErasuresIncomplete", unit=MetricUnit.Count, value=1)
    metrics.add_metadata(key="items_left", value=left)


def answered_before_alert(platform: str, level: str) -> None:
    """An alert came due for a turn already answered: the ring's last look did not send it."""
    metrics.add_metric(name="AnsweredBeforeAlert", unit=MetricUnit.Count, value=1)
    metrics.add_metadata(key="platform", value=platform)
    metrics.add_metadata(key="level", value=level)


def alert_held(platform: str, level: str) -> None:
    """An alert that would page waited for the inbound backlog (its answer may be queued):
    how often agents were paged later, by at most the policy's alert_hold."""
    metrics.add_metric(name="AlertHeld", unit=MetricUnit.Count, value=1)
    metrics.add_metadata(key="platform", value=platform)
    metrics.add_metadata(key="level", value=level)


def listening(report: dict[str, int]) -> None:
    """What a listening run did: new posts found, and why a query could not search (a
    budget spent every day or a standing 429 means the query or its budget needs a look)."""
    for outcome, name in (("accepted", "ListeningHits"), ("requests", "ListeningRequests"),
                          ("rate_limited", "ListeningRateLimited"),
                          ("budget_spent", "ListeningBudgetSpent"),
                          ("failed", "ListeningFailed"), ("auth_failed", "ListeningFailed")):
        if report.get(outcome):
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=report[outcome])


_P = ParamSpec("_P")
_R = TypeVar("_R")


def flushes_metrics(entry_point: Callable[_P, _R]) -> Callable[_P, _R]:
    """What `entry_point` recorded goes out as EMF when it returns or raises: the metrics
    object outlives the invocation, so an unflushed one would be printed by (and blamed on)
    whichever invocation of the container flushes next."""

    @functools.wraps(entry_point)
    def flushed(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return entry_point(*args, **kwargs)
        finally:
            flush()

    return flushed


def flush() -> None:
    if not metrics.metric_set:  # most invocations record nothing: no empty EMF line
        return
    try:
        metrics.flush_metrics()
    except Exception:  # a graph's gap, never a retried batch of alerts already sent
        logger.exception("metrics not flushed", extra={"metrics": sorted(metrics.metric_set)})
        metrics.clear_metrics()


def sms_failed(level: str) -> None:
    """SNS reported an alert text failed (its email followed): a phone that is not reached."""
    metrics.add_metric(name="SmsFailed", unit=MetricUnit.Count, value=1)
    metrics.add_metadata(key="level", value=level)
