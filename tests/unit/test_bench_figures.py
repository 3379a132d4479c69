"""`make bench` reads each benchmark's figures from its output (bench/__main__.py)."""

from __future__ import annotations

from bench.__main__ import _figures


def test_figures_end_at_the_stacks_own_lines_and_log_records_are_never_figures() -> None:
    stdout = "\n".join([
        "p50 (s): 0.1", "  demo on-call: alice (primary)", "{\"_aws\": {}}",
        "replywindow.chalicelib.bootstrap - WARNING - no brand accounts declared: all accepted",
        "p50 (s): 0.9", "missed: 0", ""])
    # The stack's indented line ends the reading: a figure above it is another run's.
    assert _figures(stdout) == ["p50 (s): 0.9", "missed: 0"]


def test_two_sets_separated_only_by_log_records_are_both_read() -> None:
    stdout = "\n".join([
        "Serving on http://127.0.0.1:5000", "  a stack line", "p50 (s): 0.9", "missed: 0",
        "Creating deployment package.", "{\"_aws\": {}}",
        "replywindow.chalicelib.bootstrap - WARNING - no brand accounts declared: all accepted",
        "Serving on http://127.0.0.1:5001", "lost, p50 (s): 70"])
    assert _figures(stdout) == ["p50 (s): 0.9", "missed: 0", "lost, p50 (s): 70"]
