"""Capture what SNS would deliver to phones and inboxes: moto routes a publish through each
subscription's filter policy but drops sms/email deliveries, so the local runtime hooks the
subscription's publish and appends each delivery as one JSON line."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from moto.sns.models import Subscription

_lock = threading.Lock()
_original_publish = Subscription.publish
_sinks: list[Callable[[dict[str, Any]], None]] = []


def _attribute(attributes: dict[str, Any] | None, name: str) -> str | None:
    value = (attributes or {}).get(name)
    if isinstance(value, dict):
        return value.get("Value") or value.get("StringValue")
    return None


def _publish(self: Subscription, message: str, message_id: str, subject: str | None = None,
             message_attributes: dict[str, Any] | None = None, group_id: str | None = None,
             deduplication_id: str | None = None, message_structure: str | None = None) -> None:
    _original_publish(self, message, message_id, subject=subject,
                      message_attributes=message_attributes, group_id=group_id,
                      deduplication_id=deduplication_id, message_structure=message_structure)
    if self.protocol not in ("sms", "email"):
        return
    matcher = self._filter_policy_matcher
    if matcher is not None and not matcher.matches(message_attributes, message):
        return
    text = self._parse_message_structure(message, self.protocol) if (
        message_structure == "json") else message
    delivery = {
        "at": datetime.now(UTC).isoformat(),  # when SNS delivered it (lateness is measured)
        "protocol": self.protocol,
        "to": self.endpoint,
        "subject": subject if self.protocol == "email" else None,
        "text": text,
        "conversation": _attribute(message_attributes, "conversation"),
        "level": _attribute(message_attributes, "level"),
        "agent": _attribute(message_attributes, "agent"),
        "message_id": message_id,  # what SNS's delivery status lines name a publish by
    }
    for sink in list(_sinks):
        sink(delivery)


def install(path: Path, echo: Callable[[dict[str, Any]], None] | None = None) -> None:
    """Append every sms/email delivery to `path` (and show it through `echo`)."""
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(delivery: dict[str, Any]) -> None:
        with _lock, path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(delivery) + "\n")
        if echo is not None:
            echo(delivery)

    _sinks.append(write)
    Subscription.publish = _publish  # type: ignore[method-assign]
