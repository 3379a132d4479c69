"""Fixtures as published (tests/fixtures/<platform>/, sources in tests/fixtures/SOURCES.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
RECEIVED = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


def s(value: int) -> datetime:
    return datetime.fromtimestamp(value, UTC)
