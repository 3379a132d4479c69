"""Messages of one Messenger conversation between Ann and the brand, for the inbound path's
integration tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.domain.events import Channel, Direction, MessageEvent, Person, Platform

NOW = datetime.now(UTC).replace(microsecond=0)
ANN = Person(id="42", handle="ann", followers=50)
BRAND = Person(id="999", handle="AcmeHelp")


def dm(mid: str, author: Person = ANN) -> MessageEvent:
    """A DM in Ann's conversation, written by her or (author=BRAND) by the brand."""
    return MessageEvent(platform=Platform.MESSENGER, thread="dm-999-42", message_id=mid,
                        direction=Direction.OUT if author is BRAND else Direction.IN,
                        channel=Channel.PRIVATE, brand_id="999", customer=ANN, author=author,
                        text="where is my parcel", created_at=NOW - timedelta(seconds=30))
