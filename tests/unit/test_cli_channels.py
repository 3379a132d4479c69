"""`replywindow channels` names each declared account next to its id."""

from __future__ import annotations

import argparse
import io
from typing import Any

import pytest
from rich.console import Console

from replywindow_cli import main


def test_a_declared_accounts_name_is_shown_next_to_its_channel(
        monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(main, "console", Console(file=out, width=300))
    health = {"channels": {
        "messenger:2001": {"state": "ok", "account_name": "Scruffy UK"},
        "x": {"state": "learning", "account_name": None, "unknown_accounts": {"1003": 2}}}}

    def api(method: str, path: str, **_: Any) -> dict[str, Any]:
        assert (method, path) == ("GET", "/health")
        return health

    main.channels(api, argparse.Namespace())  # type: ignore[arg-type]
    shown = out.getvalue()
    assert "messenger:2001 (Scruffy UK)" in shown
    assert "x (" not in shown and "1003: 2" in shown
