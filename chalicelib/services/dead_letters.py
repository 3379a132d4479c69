"""The operator's view of the dead-letter queues (GET /api/dlq/{queue}, POST .../redrive): what
waits there, and sending it back to its queue once the cause is fixed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib.domain.errors import NotFound

QUEUES = ("inbound", "alerts")  # the queues with a dead-letter queue (resources.yaml)


class DeadLetterQueues(Protocol):
    """Each source queue's dead-letter queue (port; chalicelib/adapters/dead_letters.py)."""

    def peek(self, source: str, limit: int = 50) -> list[dict[str, Any]]:
        """Messages waiting, left in place."""
        ...

    def redrive(self, source: str) -> int:
        """Move every waiting message back to its source queue; how many moved."""
        ...


@dataclass(frozen=True)
class DeadLetterDeps:
    queues: DeadLetterQueues


def peek(queue: str, deps: DeadLetterDeps) -> dict[str, Any]:
    return {"queue": queue, "messages": deps.queues.peek(_known(queue))}


def redrive(queue: str, deps: DeadLetterDeps) -> dict[str, Any]:
    return {"queue": queue, "redriven": deps.queues.redrive(_known(queue))}


def _known(queue: str) -> str:
    if queue not in QUEUES:
        raise NotFound(f"queue: {' or '.join(QUEUES)}")
    return queue
