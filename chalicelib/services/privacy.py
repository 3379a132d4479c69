"""A customer's data on request: an export (access) or an erasure, each audited. Erasing a
customer also stops their timers: a due check whose conversation is gone alerts nobody."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from chalicelib import observability
from chalicelib.domain.errors import BadRequest, ErasureIncomplete, NotFound
from chalicelib.domain.events import Platform


class CustomerData(Protocol):
    def export(self, platform: str, user_id: str) -> dict[str, Any] | None: ...

    def erase(self, platform: str, user_id: str) -> dict[str, int] | None:
        """Everything held about the customer deleted, and a tombstone left; None if nothing
        is held. ErasureIncomplete if AWS did not take every deletion."""
        ...

    def audit(self, action: str, platform: str, user_id: str, by: str, at: datetime,
              outcome: dict[str, Any]) -> None: ...


def handle(method: str, platform: str, user_id: str, by: str, store: CustomerData,
           now: datetime) -> dict[str, Any]:
    if platform not in {p.value for p in Platform}:
        raise BadRequest(f"platform: one of {', '.join(p.value for p in Platform)}")
    if method == "DELETE":
        try:
            erased = store.erase(platform, user_id)
        except ErasureIncomplete as incomplete:
            observability.erasure_incomplete(incomplete.left)
            raise  # not audited: the erasure is not done
        if erased is None:
            raise NotFound(f"no data held about {platform} user {user_id}")
        store.audit("erase", platform, user_id, by, now, erased)
        return {"erased": erased}
    exported = store.export(platform, user_id)
    if exported is None:
        raise NotFound(f"no data held about {platform} user {user_id}")
    store.audit("export", platform, user_id, by, now,
                {"conversations": len(exported["conversations"])})
    return exported
