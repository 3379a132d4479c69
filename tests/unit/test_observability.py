"""Metrics are bookkeeping: a flush that fails loses the graph's point, not the invocation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chalicelib import observability


@pytest.fixture
def no_namespace() -> Iterator[None]:
    # What a function deployed without POWERTOOLS_METRICS_NAMESPACE would have.
    metrics = observability.metrics
    before = metrics.namespace
    metrics.namespace = None
    metrics.provider.namespace = None  # type: ignore[assignment]  # unset, as deployed without it
    yield
    metrics.namespace = before
    metrics.provider.namespace = before
    metrics.clear_metrics()


def test_a_failed_flush_is_logged_and_does_not_raise(no_namespace: None,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    observability.alert_sent("x", "warning")
    observability.flush()  # the ring's batch (alerts already sent) must not be retried
    assert "metrics not flushed" in caplog.text
    assert observability.metrics.metric_set == {}  # not carried into the next invocation


def test_a_flush_with_nothing_recorded_writes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    observability.metrics.clear_metrics()
    observability.flush()
    assert capsys.readouterr().out == ""


def test_an_entry_point_that_fails_still_prints_what_it_recorded(
        capsys: pytest.CaptureFixture[str]) -> None:
    observability.metrics.clear_metrics()

    @observability.flushes_metrics
    def entry_point() -> None:
        observability.alert_sent("x", "breach")  # sent, then the invocation failed
        raise RuntimeError("after the alert")

    with pytest.raises(RuntimeError):
        entry_point()
    assert '"Breaches"' in capsys.readouterr().out
    assert observability.metrics.metric_set == {}


def test_a_listening_run_counts_its_hits_and_why_a_query_could_not_search() -> None:
    observability.metrics.clear_metrics()
    observability.listening({"requests": 3, "accepted": 7, "duplicate": 2, "rate_limited": 1})
    recorded = observability.metrics.metric_set
    assert {name: recorded[name]["Value"] for name in recorded} == {
        "ListeningRequests": [3.0], "ListeningHits": [7.0], "ListeningRateLimited": [1.0]}
    observability.metrics.clear_metrics()
