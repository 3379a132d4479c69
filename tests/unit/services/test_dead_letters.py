"""The dead-letter routes' service: only the queues that have a dead-letter queue are named,
anything else is a 404 that touches no queue."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.errors import NotFound
from chalicelib.services import dead_letters
from chalicelib.services.dead_letters import DeadLetterDeps


class Queues:
    def __init__(self) -> None:
        self.waiting: dict[str, list[dict[str, Any]]] = {"inbound": [{"id": "m1"}], "alerts": []}
        self.calls: list[str] = []

    def peek(self, source: str, limit: int = 50) -> list[dict[str, Any]]:
        self.calls.append(f"peek {source}")
        return list(self.waiting[source])[:limit]

    def redrive(self, source: str) -> int:
        self.calls.append(f"redrive {source}")
        moved, self.waiting[source] = len(self.waiting[source]), []
        return moved


def test_peek_shows_what_waits_and_redrive_moves_it() -> None:
    queues = Queues()
    deps = DeadLetterDeps(queues=queues)
    assert dead_letters.peek("inbound", deps) == {"queue": "inbound", "messages": [{"id": "m1"}]}
    assert dead_letters.redrive("inbound", deps) == {"queue": "inbound", "redriven": 1}
    assert dead_letters.peek("inbound", deps)["messages"] == []


@pytest.mark.parametrize("queue", ["outbound", "inbound.fifo", ""])
def test_an_unknown_queue_is_not_found_and_no_queue_is_touched(queue: str) -> None:
    queues = Queues()
    for call in (dead_letters.peek, dead_letters.redrive):
        with pytest.raises(NotFound, match="inbound or alerts"):
            call(queue, DeadLetterDeps(queues=queues))
    assert queues.calls == []
