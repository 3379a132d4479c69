"""What the reply box says before the agent writes: the same rules `route` applies when the
reply is sent (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.conversations import Conversation
from chalicelib.domain.errors import ReplyRefused
from chalicelib.domain.events import Channel, Person, Platform
from chalicelib.domain.replies import ReplyRoute, advise, route

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
TWEET = Conversation(platform=Platform.X, thread="t-1", channel=Channel.PUBLIC, brand_id="9",
                     customer=Person(id="42", handle="ann"), created_at=NOW, turn=1,
                     last_customer_message_id="1001", last_customer_at=NOW, summoned=True)


def test_x_public_reply_when_summoned_with_its_280_characters() -> None:
    advice = advise(TWEET, NOW)
    assert (advice.limit, advice.private, advice.allowed) == (280, False, True)
    assert "public reply" in advice.rule


def test_x_not_summoned_offers_the_dm_instead_of_refusing() -> None:
    advice = advise(replace(TWEET, summoned=False), NOW)
    assert advice.allowed and advice.private
    assert "direct message" in advice.rule


def test_whatsapp_outside_the_window_allows_only_a_template() -> None:
    chat = replace(TWEET, platform=Platform.WHATSAPP, channel=Channel.PRIVATE,
                   last_customer_at=NOW - timedelta(hours=25))
    advice = advise(chat, NOW)
    assert not advice.allowed and "template" in advice.rule
    inside = advise(replace(chat, last_customer_at=NOW - timedelta(hours=1)), NOW)
    assert inside.allowed and inside.closes_at == NOW + timedelta(hours=23)


def test_meta_messaging_window_and_the_human_agent_tag() -> None:
    dm = replace(TWEET, platform=Platform.MESSENGER, channel=Channel.PRIVATE,
                 last_customer_at=NOW - timedelta(hours=30))
    assert not advise(dm, NOW).allowed
    tagged = advise(dm, NOW, human_agent=True)
    assert tagged.allowed and tagged.closes_at == NOW - timedelta(hours=30) + timedelta(days=7)
    assert advise(dm, NOW).limit == 2000


def test_x_found_by_listening_refuses_a_public_reply_and_offers_the_dm() -> None:
    found = replace(TWEET, summoned=False, found_by_listening=True)
    with pytest.raises(ReplyRefused, match=r"found by listening.*reply by DM instead"):
        route(found, text="Sorry!", private=False, now=NOW)
    assert route(found, text="Sorry!", private=True, now=NOW).kind == "dm"
    advice = advise(found, NOW)
    assert advice.allowed and advice.private


def test_an_instagram_mention_is_answered_publicly_under_what_mentioned_the_account() -> None:
    comment = replace(TWEET, platform=Platform.INSTAGRAM, thread="mention-17_18",
                      last_customer_message_id="18", found_by_listening=True)
    assert route(comment, text="Thanks!", private=False, now=NOW) == ReplyRoute(
        Platform.INSTAGRAM, "mention_reply", "17", comment.brand_id, comment_id="18")
    caption = replace(comment, thread="mention-17", last_customer_message_id="17")
    assert route(caption, text="Thanks!", private=False, now=NOW) == ReplyRoute(
        Platform.INSTAGRAM, "mention_reply", "17", comment.brand_id)
    with pytest.raises(ReplyRefused, match="no private reply to a mention"):
        route(comment, text="Thanks!", private=True, now=NOW)
    advice = advise(comment, NOW)
    assert advice.allowed and not advice.private and "mentioned the account" in advice.rule
    assert advice.limit == 1000
    page_mention = replace(TWEET, platform=Platform.FACEBOOK, thread="p-1_2",
                           last_customer_message_id="1_2", found_by_listening=True)
    assert advise(page_mention, NOW).allowed  # the Page comments on the post it is named in
