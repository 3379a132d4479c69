"""One Meta webhook endpoint serves three products; `object` says which parser reads it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from chalicelib.domain.events import MalformedPayload, WebhookEvent
from chalicelib.webhooks.meta_parser import parse_instagram, parse_page
from chalicelib.webhooks.whatsapp_parser import parse_whatsapp

_PARSERS: dict[str, Callable[[Mapping[str, Any], datetime], list[WebhookEvent]]] = {
    "page": parse_page,
    "instagram": parse_instagram,
    "whatsapp_business_account": parse_whatsapp,
}


def parse_meta(payload: Mapping[str, Any], received_at: datetime) -> list[WebhookEvent]:
    kind = payload.get("object")
    parser = _PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None:
        raise MalformedPayload(
            f"unsupported object {kind!r}: expected one of {', '.join(sorted(_PARSERS))}")
    return parser(payload, received_at)
