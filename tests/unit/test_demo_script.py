"""The demo's scripted traffic is valid platform traffic: every step parses into messages."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.domain.events import Direction, MessageEvent
from chalicelib.webhooks.meta_router import parse_meta
from chalicelib.webhooks.x_parser import parse_x
from infrastructure.local.demo import script


def test_every_demo_step_is_a_message_customers_or_brand() -> None:
    now = datetime.now(UTC)
    directions = []
    for step in script():
        events = (parse_x if step.platform == "x" else parse_meta)(step.body, now)
        assert len(events) == 1, step.label
        assert isinstance(events[0], MessageEvent), step.label
        directions.append(events[0].direction)
    # Some customers are answered natively (echoes), some are not.
    assert directions.count(Direction.OUT) == 3
    assert directions.count(Direction.IN) == 7
