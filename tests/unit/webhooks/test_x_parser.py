"""Every X fixture -> its exact normalised events (or the exact decision to ignore it)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain.events import (
    Channel,
    ChannelSignal,
    Direction,
    Ignored,
    MalformedPayload,
    MessageDeleted,
    MessageEvent,
    Person,
    Platform,
)
from chalicelib.webhooks.x_parser import parse_search, parse_x
from tests.unit.webhooks.conftest import RECEIVED, fixture, ms

X = Platform.X
EXAMPLE = "1111111111111111111"  # the brand of the X Activity API samples
OTHER = Person(id="2222222222222222222", handle="OtherUser", name="OtherUser", followers=97)


def test_aaa_incoming_dm_is_a_private_customer_message_with_its_profile() -> None:
    jordan = Person(id="3001969357", handle="furiouscamper", name="Jordan Brinks", followers=22)
    assert parse_x(fixture("twitter/aaa_docs_direct_message_events.json"), RECEIVED) == [
        MessageEvent(platform=X, thread="dm-4337869213-3001969357",
                     message_id="954491830116155396", direction=Direction.IN,
                     channel=Channel.PRIVATE, brand_id="4337869213", customer=jordan,
                     author=jordan, text="Hello World!", created_at=ms(1516403560557))]


def test_aaa_dm_sent_by_the_brand_is_an_echo_to_the_customer() -> None:
    payload = copy.deepcopy(fixture("twitter/aaa_docs_direct_message_events.json"))
    create = payload["direct_message_events"][0]["message_create"]
    create["sender_id"], create["target"]["recipient_id"] = "4337869213", "3001969357"
    [event] = parse_x(payload, RECEIVED)
    assert isinstance(event, MessageEvent)
    assert event.direction is Direction.OUT
    assert event.thread == "dm-4337869213-3001969357"
    assert event.customer.handle == "furiouscamper"
    assert event.author == Person(id="4337869213", handle="Harris_0ff", name="Harrison Test",
                                  followers=8)


@pytest.mark.parametrize(("name", "event_type", "reason"), [
    ("aaa_docs_direct_message_indicate_typing_events.json",
     "direct_message_indicate_typing_events", "typing is not a message"),
    ("aaa_docs_direct_message_mark_read_events.json", "direct_message_mark_read_events",
     "a read receipt is not a message"),
])
def test_aaa_typing_and_read_events_are_accepted_and_ignored(name, event_type, reason) -> None:
    assert parse_x(fixture(f"twitter/{name}"), RECEIVED) == [
        Ignored(platform=X, event_type=event_type, reason=reason)]


def test_aaa_longform_tweet_without_an_author_is_ignored() -> None:
    # The published sample carries "user": {}: nobody to answer.
    assert parse_x(fixture("twitter/aaa_docs_tweet_create_events_longform.json"),
                   RECEIVED) == [Ignored(platform=X, event_type="tweet_create_events",
                                         reason="no author in the payload")]


def test_aaa_longform_mention_keeps_the_full_text_not_the_truncated_one() -> None:
    payload = copy.deepcopy(fixture("twitter/aaa_docs_tweet_create_events_longform.json"))
    tweet = payload["tweet_create_events"][0]
    tweet["user"] = {"id_str": "42", "screen_name": "ann", "followers_count": 3}
    tweet["extended_tweet"]["entities"]["user_mentions"] = [{"id_str": "1603419180975409153"}]
    [event] = parse_x(payload, RECEIVED)
    assert isinstance(event, MessageEvent)
    assert event.text == tweet["extended_tweet"]["full_text"]
    assert event.summoned
    assert event.created_at == datetime(2025, 5, 19, 14, 1, 46, tzinfo=UTC)
    assert event.thread == "t-1924465506158878979"


def test_aaa_tweet_delete_withdraws_the_message() -> None:
    assert parse_x(fixture("twitter/aaa_docs_tweet_delete_events.json"), RECEIVED) == [
        MessageDeleted(platform=X, message_id="1045405559317569537",
                       author_id="930524282358325248", deleted_at=ms(1432228155593))]


def test_aaa_user_event_revoke_is_a_channel_signal() -> None:
    assert parse_x(fixture("twitter/aaa_docs_user_event.json"), RECEIVED) == [
        ChannelSignal(platform=X, brand_id="63046977", signal="revoked",
                      detail="app 13090192 access revoked by the account")]


def quote_tweet(brand: str) -> dict[str, Any]:
    return {"for_user_id": brand,
            "tweet_create_events": [fixture("twitter/tweet_object_v11_quote_tweet_docs.json")]}


def test_quote_tweet_of_the_brand_by_the_brand_itself_is_its_own_post() -> None:
    assert parse_x(quote_tweet("2244994945"), RECEIVED) == [
        Ignored(platform=X, event_type="tweet_create_events",
                reason="the brand's own post, not a reply to a customer")]


def test_a_customer_quoting_the_brand_summons_it() -> None:
    payload = quote_tweet("2244994945")
    tweet = payload["tweet_create_events"][0]
    tweet["user"] = {"id_str": "77", "screen_name": "critic", "followers_count": 150_000}
    [event] = parse_x(payload, RECEIVED)
    assert isinstance(event, MessageEvent)
    assert (event.direction, event.channel, event.summoned) == (
        Direction.IN, Channel.PUBLIC, True)
    assert event.customer == Person(id="77", handle="critic", followers=150_000)
    assert event.text.startswith("As planned, the Labs v2 endpoints referenced below have now")
    assert event.text == tweet["extended_tweet"]["full_text"]


def test_a_tweet_quoting_someone_else_is_not_for_the_brand() -> None:
    assert parse_x(quote_tweet("999"), RECEIVED) == [
        Ignored(platform=X, event_type="tweet_create_events",
                reason="not addressed to the brand")]


def test_a_retweet_is_ignored() -> None:
    payload = quote_tweet("2244994945")
    payload["tweet_create_events"][0]["retweeted_status"] = {"id_str": "1"}
    assert parse_x(payload, RECEIVED) == [
        Ignored(platform=X, event_type="retweet", reason="a retweet is not a message")]


def test_a_brand_reply_to_a_customer_tweet_is_an_echo_in_that_thread() -> None:
    payload = quote_tweet("2244994945")
    tweet = payload["tweet_create_events"][0]
    tweet.pop("quoted_status")
    tweet.update(in_reply_to_status_id_str="555", in_reply_to_user_id_str="77",
                 in_reply_to_screen_name="critic")
    [event] = parse_x(payload, RECEIVED)
    assert isinstance(event, MessageEvent)
    assert event.direction is Direction.OUT
    assert event.reply_to == "555"
    assert event.customer == Person(id="77", handle="critic")


def test_xaa_dm_received() -> None:
    assert parse_x(fixture("twitter/xaa_dm_received.json"), RECEIVED) == [
        MessageEvent(platform=X, thread=f"dm-{EXAMPLE}-2222222222222222222",
                     message_id="2080765901528535096", direction=Direction.IN,
                     channel=Channel.PRIVATE, brand_id=EXAMPLE, customer=OTHER, author=OTHER,
                     text="hello!", created_at=ms(1784928224372))]


def test_xaa_dm_sent_is_the_brands_echo() -> None:
    [event] = parse_x(fixture("twitter/xaa_dm_sent.json"), RECEIVED)
    assert isinstance(event, MessageEvent)
    assert (event.direction, event.thread, event.text) == (
        Direction.OUT, f"dm-{EXAMPLE}-2244994945", "Thanks for the update!")
    assert event.customer.handle == "XDevelopers"
    assert event.author.id == EXAMPLE
    assert event.created_at == ms(1784927750704)


def test_xaa_mention_is_a_summoning_public_message() -> None:
    assert parse_x(fixture("twitter/xaa_post_mention_create.json"), RECEIVED) == [
        MessageEvent(platform=X, thread="t-2080765813578191303",
                     message_id="2080765813578191303", direction=Direction.IN,
                     channel=Channel.PUBLIC, brand_id=EXAMPLE, customer=OTHER, author=OTHER,
                     text="hey @ExampleUser", summoned=True,
                     created_at=datetime(2026, 7, 24, 21, 23, 23, tzinfo=UTC))]


def test_xaa_reply_to_the_brands_post_threads_on_it() -> None:
    author = Person(id="2222222222222222222")
    assert parse_x(fixture("twitter/xaa_post_reply_create.json"), RECEIVED) == [
        MessageEvent(platform=X, thread="t-2090000000000000001",
                     message_id="2090000000000000001", direction=Direction.IN,
                     channel=Channel.PUBLIC, brand_id=EXAMPLE, customer=author, author=author,
                     text="@ExampleUser Great post \u2014 thanks for sharing!",
                     reply_to="2080761390344937796", summoned=True,
                     created_at=datetime(2026, 8, 12, 18, 0, tzinfo=UTC))]


def test_xaa_quote_of_the_brand_summons_it() -> None:
    author = Person(id="2222222222222222222")
    assert parse_x(fixture("twitter/xaa_post_quote_create.json"), RECEIVED) == [
        MessageEvent(platform=X, thread="t-2090000000000000002",
                     message_id="2090000000000000002", direction=Direction.IN,
                     channel=Channel.PUBLIC, brand_id=EXAMPLE, customer=author, author=author,
                     text="Adding some context to this. https://t.co/xxxxxxxx", summoned=True,
                     created_at=datetime(2026, 8, 12, 18, 5, tzinfo=UTC))]


@pytest.mark.parametrize(("name", "event_type", "reason"), [
    ("xaa_like_create.json", "like.create", "a like is not a message"),
    ("xaa_follow_follow.json", "follow.follow", "a follow is not a message"),
])
def test_xaa_likes_and_follows_are_ignored(name, event_type, reason) -> None:
    assert parse_x(fixture(f"twitter/{name}"), RECEIVED) == [
        Ignored(platform=X, event_type=event_type, reason=reason)]


def test_an_unknown_event_type_is_accepted_and_ignored() -> None:
    assert parse_x({"for_user_id": "1", "spaces_events": [{}]}, RECEIVED) == [
        Ignored(platform=X, event_type="spaces_events", reason="unsupported event type")]


def test_one_body_with_several_kinds_of_event_yields_each_in_order() -> None:
    dms = fixture("twitter/aaa_docs_direct_message_events.json")
    deletes = fixture("twitter/aaa_docs_tweet_delete_events.json")
    payload = {**dms, "tweet_delete_events": deletes["tweet_delete_events"]}
    kinds = [e.kind for e in parse_x(payload, RECEIVED)]
    assert kinds == ["message", "deleted"]


def test_a_timestamp_later_than_receipt_is_clamped_to_receipt() -> None:
    payload = copy.deepcopy(fixture("twitter/aaa_docs_direct_message_events.json"))
    payload["direct_message_events"][0]["created_timestamp"] = str(
        int(RECEIVED.timestamp() * 1000) + 3_600_000)
    [event] = parse_x(payload, RECEIVED)
    assert isinstance(event, MessageEvent)
    assert event.created_at == RECEIVED


@pytest.mark.parametrize(("payload", "reason"), [
    ({}, "not an X webhook"),
    ({"for_user_id": "1", "tweet_create_events": {"id": 1}}, "must be a list"),
    ({"for_user_id": "1", "tweet_create_events": [{"text": "no id"}]}, "tweet.id"),
    ({"tweet_create_events": []}, "for_user_id"),
    ({"for_user_id": "1", "direct_message_events": [{"type": "message_create"}]},
     "direct_message.id"),
    ({"data": {"event_type": "post.mention.create", "payload": {}}}, "data.filter"),
])
def test_bodies_not_of_xs_shape_are_refused_with_a_reason(payload, reason) -> None:
    with pytest.raises(MalformedPayload, match=reason):
        parse_x(payload, RECEIVED)



# --- Recent search (listening) ---------------------------------------------------------------

def test_a_recent_search_hit_is_a_public_customer_message_found_by_listening() -> None:
    [event] = parse_search(fixture("twitter/xdocs_recent_search_expansions.json"),
                           "ScruffyMcG", RECEIVED)
    dev = Person(id="9876543210", handle="pythondev")
    assert event == MessageEvent(
        platform=X, thread="t-1234567890123456789", message_id="1234567890123456789",
        direction=Direction.IN, channel=Channel.PUBLIC, brand_id="ScruffyMcG", customer=dev,
        author=dev, text="Just started learning Python and loving it!",
        created_at=datetime(2024, 1, 15, 10, 30, tzinfo=UTC), summoned=False,
        found_by_listening=True)


def test_recent_search_replies_mentions_retweets_and_the_brands_own_posts() -> None:
    body = copy.deepcopy(fixture("twitter/xdocs_recent_search_expansions.json"))
    post = body["data"][0]
    body["data"] = [
        {**post, "id": "1", "referenced_tweets": [{"type": "replied_to", "id": "9"}],
         "entities": {"mentions": [{"start": 0, "end": 11, "username": "scruffymcg",
                                    "id": "77"}]}},
        {**post, "id": "2", "text": "@ScruffyMcG, where is it?"},
        {**post, "id": "3", "in_reply_to_user_id": "77"},
        {**post, "id": "4", "referenced_tweets": [{"type": "retweeted", "id": "9"}]},
        {**post, "id": "5", "author_id": "77"},
    ]
    body["includes"]["users"].append({"id": "77", "username": "ScruffyMcG"})
    events = parse_search(body, "@ScruffyMcG", RECEIVED)
    first, second, third = (e for e in events if isinstance(e, MessageEvent))
    assert first.reply_to == "9" and first.summoned  # mentioned in its entities
    assert second.summoned  # @handle in the text
    assert not third.summoned  # a reply to the account's id: only when `account` is the id
    assert parse_search(body, "77", RECEIVED)[2].summoned  # type: ignore[union-attr]
    assert [e.reason for e in events if isinstance(e, Ignored)] == [
        "a retweet is not a message", "the brand's own post"]
    # A declared account: its handle and its id both count, and the hits are its own.
    declared = parse_search(body, "@ScruffyMcG", RECEIVED, "77")
    hits = [e for e in declared if isinstance(e, MessageEvent)]
    assert [e.summoned for e in hits] == [True, True, True]
    assert {e.brand_id for e in hits} == {"77"}


def test_an_empty_recent_search_page_has_no_hits() -> None:
    assert parse_search({"meta": {"result_count": 0}}, "ScruffyMcG", RECEIVED) == []
    with pytest.raises(MalformedPayload):
        parse_search({"data": {"id": "1"}}, "ScruffyMcG", RECEIVED)
