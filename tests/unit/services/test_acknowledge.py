"""The alert behind an acknowledge link (in-memory fakes): what the page shows, that showing it
changes nothing, and which links are refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.console.alert import render
from chalicelib.domain.conversations import Conversation, Status
from chalicelib.domain.errors import Forbidden
from chalicelib.domain.events import Channel, Person, Platform
from chalicelib.domain.ports import AckGrant
from chalicelib.services.acknowledge import AckDeps, acknowledge, view
from tests.fakes import FakeAckLinks, FakeConversations

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
CONV = Conversation(platform=Platform.MESSENGER, thread="dm-1-2", channel=Channel.PRIVATE,
                    brand_id="1", customer=Person(id="2", handle=None, name="Ann <Admin>"),
                    created_at=NOW, turn=1, turn_opened_at=NOW - timedelta(minutes=3),
                    priority="high", reasons=("keyword: refund",),
                    warn_at=NOW - timedelta(minutes=1), due_at=NOW + timedelta(minutes=2),
                    escalate_at=NOW + timedelta(minutes=5))


def deps(conversation: Conversation = CONV, at: datetime = NOW) -> tuple[AckDeps, str]:
    conversations = FakeConversations()
    conversations.items[conversation.id] = conversation
    links = FakeAckLinks()
    token = links.issue(AckGrant(conversation.id, 1, "alice", NOW + timedelta(hours=1)))
    return AckDeps(links=links, conversations=conversations, now=lambda: at), token


@pytest.mark.parametrize(("at", "level", "seconds_left"), [
    (NOW, "warning", 120.0),
    (NOW + timedelta(minutes=3), "breach", -60.0),
    (NOW + timedelta(minutes=6), "escalation", -240.0)])
def test_the_page_says_where_the_turn_stands_now(at: datetime, level: str,
                                                 seconds_left: float) -> None:
    ack, token = deps(at=at)
    shown = view(token, ack)
    assert (shown.level, shown.seconds_left, shown.open) == (level, seconds_left, True)
    assert (shown.agent, shown.priority, shown.reasons) == ("alice", "high",
                                                            ("keyword: refund",))
    assert shown.messages == (("@ann", "where is my refund"),)


def test_showing_the_alert_changes_nothing() -> None:
    ack, token = deps()
    assert isinstance(ack.conversations, FakeConversations)
    for _ in range(5):
        view(token, ack)
    assert ack.conversations.items[CONV.id] == CONV  # same version: nothing saved


def test_after_the_button_the_page_says_who_has_it_and_offers_nothing_to_press() -> None:
    ack, token = deps()
    assert not acknowledge(token, ack).already
    shown = view(token, ack)
    assert (shown.acknowledged_by, shown.open) == ("alice", False)


def test_an_answered_turn_has_nothing_to_acknowledge() -> None:
    ack, token = deps(replace(CONV, status=Status.AWAITING_CUSTOMER))
    shown = view(token, ack)
    assert (shown.level, shown.open, shown.seconds_left) == ("answered", False, None)


@pytest.mark.parametrize("token", ["t9.sig", "", "t0.sig.extra"])
def test_an_unknown_link_is_refused(token: str) -> None:
    ack, _ = deps()
    with pytest.raises(Forbidden):
        view(token, ack)


def test_an_expired_link_is_refused() -> None:
    ack, token = deps(at=NOW + timedelta(hours=2))
    with pytest.raises(Forbidden):
        view(token, ack)


def test_the_rendered_page_escapes_everything_the_customer_controls() -> None:
    ack, token = deps()
    html = render(view(token, ack), token, base="", session=None).body
    assert isinstance(html, str)
    assert "Ann &lt;Admin&gt; on Messenger" in html and "<Admin>" not in html
    assert "2 min left" in html and "keyword: refund" in html
    assert '<form method="post"><button type="submit">Acknowledge</button></form>' in html
