"""Reading untrusted payloads: typed accessors that turn a wrong shape into MalformedPayload
with a reason, and platform timestamps into aware UTC datetimes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.events import MalformedPayload

_MS_THRESHOLD = 100_000_000_000  # epoch values above this are milliseconds (after 1973 in ms)


def mapping(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MalformedPayload(f"{path} must be an object")
    return value


def items(value: Any, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedPayload(f"{path} must be a list")
    return value


def identifier(value: Any, path: str) -> str:
    """Platform ids arrive as strings or numbers; both become strings."""
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise MalformedPayload(f"{path} is required (a string or number id)")
    return str(value)


def optional_id(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        return None
    return str(value)


def text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def when(value: Any, received_at: datetime) -> datetime:
    """The platform's time of an event: epoch seconds or milliseconds (number or numeric
    string), ISO 8601, or Twitter's `Wed Oct 10 20:19:24 +0000 2018`. Missing or unreadable
    (docs placeholders) falls back to `received_at`; never later than `received_at`, so a
    skewed clock cannot start a turn in the future."""
    parsed = _parse(value)
    return received_at if parsed is None else min(parsed, received_at)


def _parse(value: Any) -> datetime | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.isdigit():
            return _epoch(int(stripped))
        for parse in (_iso, _twitter):
            parsed = parse(stripped)
            if parsed is not None:
                return parsed
        return None
    if isinstance(value, int | float):
        return _epoch(value)
    return None


def _epoch(value: float) -> datetime | None:
    seconds = value / 1000 if value > _MS_THRESHOLD else value
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _iso(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else None


def _twitter(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, "%a %b %d %H:%M:%S %z %Y").astimezone(UTC)
    except ValueError:
        return None


def sub(value: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """An optional nested object: itself if it is one, else empty."""
    found = value.get(key)
    return found if isinstance(found, Mapping) else {}
