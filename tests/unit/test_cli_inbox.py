"""`replywindow inbox` says which conversations were found by listening."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from replywindow_cli import main


def test_a_conversation_found_by_listening_says_so_in_the_inbox(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    monkeypatch.setattr(main, "console", Console(width=200, force_terminal=False))
    row: dict[str, Any] = {"id": "x.t-1", "customer": {"id": "42", "handle": "ann"},
                           "priority": "high", "seconds_left": 90, "reasons": ["refund"],
                           "assignee": None, "found_by_listening": True}

    def api(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return {"team": "social", "conversations": [row, {**row, "id": "x.t-2",
                                                          "found_by_listening": False}]}

    main.inbox(api, argparse.Namespace(status="awaiting_agent", team=None))  # type: ignore[arg-type]
    out = capsys.readouterr().out
    first, second = (line for line in out.splitlines() if "x.t-" in line)
    assert "found by listening, refund" in first
    assert "listening" not in second and "refund" in second
