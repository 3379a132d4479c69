"""Every Messenger, Facebook Page and Instagram fixture -> its exact normalised events."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from chalicelib.domain.events import (
    Attachment,
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
from chalicelib.webhooks.meta_parser import UNKNOWN, parse_instagram, parse_page
from chalicelib.webhooks.meta_router import parse_meta
from tests.unit.webhooks.conftest import RECEIVED, fixture, ms, s

M, FB, IG = Platform.MESSENGER, Platform.FACEBOOK, Platform.INSTAGRAM
PAGE = "<PAGE_ID>"
RESTFB_PAGE, RESTFB_USER = "12345654332", "987654321432"


def page(*items: dict[str, Any], page_id: str = PAGE, key: str = "messaging") -> dict[str, Any]:
    """Docs samples show one `messaging[]` item: put it in the envelope Meta POSTs."""
    return {"object": "page", "entry": [{"id": page_id, "time": 1, key: list(items)}]}


def customer_message(thread_owner: str, mid: str, *, text: str = "", page_id: str = PAGE,
                     attachments: tuple[Attachment, ...] = (), reply_to: str | None = None,
                     at=RECEIVED, platform: Platform = M) -> MessageEvent:
    who = Person(id=thread_owner)
    return MessageEvent(platform=platform, thread=f"dm-{page_id}-{thread_owner}",
                        message_id=mid, direction=Direction.IN, channel=Channel.PRIVATE,
                        brand_id=page_id, customer=who, author=who, text=text,
                        attachments=attachments, reply_to=reply_to, created_at=at)


def echo(customer: str, mid: str, *, text: str = "", page_id: str,
         attachments: tuple[Attachment, ...] = (), at=RECEIVED) -> MessageEvent:
    return MessageEvent(platform=M, thread=f"dm-{page_id}-{customer}", message_id=mid,
                        direction=Direction.OUT, channel=Channel.PRIVATE, brand_id=page_id,
                        customer=Person(id=customer), author=Person(id=page_id), text=text,
                        attachments=attachments, created_at=at)


# --- Messenger: docs samples (single items) ----------------------------------------------------

def test_text_with_quick_reply() -> None:
    item = fixture("messenger/docs_message_text_quick_reply.json")
    assert parse_page(page(item), RECEIVED) == [customer_message(
        "<PSID>", "mid.1457764197618:41d102a3e1ae206a38", text="hello, world!",
        at=ms(1458692752478))]


def test_reply_to_keeps_the_replied_message_id() -> None:
    item = fixture("messenger/docs_message_reply_to.json")
    assert parse_page(page(item), RECEIVED) == [customer_message(
        "<PSID>", "m_1457764197618:41d102a3e1ae206a38", text="hello, world!",
        reply_to="m_1fTq8oLumEyIp3Q2MR-aY7IfLZDamVrALniheU", at=ms(1458692752478))]


def test_entry_with_an_attachment() -> None:
    entry = fixture("messenger/docs_entry_message_with_attachment.json")
    payload = {"object": "page", "entry": [entry]}
    assert parse_page(payload, RECEIVED) == [customer_message(
        "<PSID>", "mid.$cAAJdkrCd2ORnva8ErFhjGm0X_Q_c", page_id="682498302938465",
        attachments=(Attachment(type="<image|video|audio|file|reel|ig_reel>",
                                url="<ATTACHMENT_URL>"),), at=ms(1518479195308))]


def test_legacy_echo_doc_is_the_brand_speaking_to_the_recipient() -> None:
    item = fixture("messenger/docs_echo_text_legacy_doc.json")
    assert parse_page(page(item), RECEIVED) == [echo(
        "<USER_ID>", "mid.1457764197618:41d102a3e1ae206a38", text="hello, world!",
        page_id=PAGE, at=ms(1457764197627))]


def test_standby_template_echo_is_an_agent_reply_from_another_app() -> None:
    assert parse_page(fixture("messenger/docs_echo_standby_template.json"), RECEIVED) == [echo(
        "<PSID>", "qT7ywaKpO9kkQR7Gv-nM8LIfLZDamVrALniheUYEDdHJXjDXEAyaS1xxONzb2Iv-DFzmTihfWJ"
        "V012P5pK0AhQ", page_id=PAGE,
        attachments=(Attachment(type="template", url="https://www.facebook.com/commerce/update/"),),
        at=ms(1570053170673))]


def test_delivery_and_read_are_channel_signals_not_messages() -> None:
    assert parse_page(page(fixture("messenger/docs_delivery.json")), RECEIVED) == [
        ChannelSignal(platform=M, brand_id=PAGE, signal="delivered", at=RECEIVED)]
    assert parse_page(page(fixture("messenger/docs_read.json")), RECEIVED) == [
        ChannelSignal(platform=M, brand_id=PAGE, signal="read", at=ms(1458668856463))]


def test_legacy_postback_is_the_customer_choosing_a_button() -> None:
    item = fixture("messenger/docs_postback_legacy_messaging_item.json")
    who = Person(id="USER-REF-ID")
    assert parse_page(page(item, page_id="PAGE-ID"), RECEIVED) == [MessageEvent(
        platform=M, thread="dm-PAGE-ID-USER-REF-ID",
        message_id="m_1457764197618:41d102a3e1ae206a38", direction=Direction.IN,
        channel=Channel.PRIVATE, brand_id="PAGE-ID", customer=who, author=who,
        text="TITLE-FOR-THE-CTA", created_at=ms(1458692752478))]


def test_postback_in_field_value_form() -> None:
    change = fixture("messenger/docs_postback_field_value.json")
    payload = {"object": "page", "entry": [{"id": "PAGE-ID", "time": 1, "changes": [change]}]}
    who = Person(id="USER-REF-ID")
    assert parse_page(payload, RECEIVED) == [MessageEvent(
        platform=M, thread="dm-PAGE-ID-USER-REF-ID", message_id="m_MESSAGE-ID",
        direction=Direction.IN, channel=Channel.PRIVATE, brand_id="PAGE-ID", customer=who,
        author=who, text="TITLE-FOR-THE-CTA", created_at=s(1527459824))]


# --- Messenger: restfb envelopes ---------------------------------------------------------------

def test_restfb_delivery_without_timestamp_uses_receipt_time() -> None:
    assert parse_page(fixture("messenger/restfb_delivery.json"), RECEIVED) == [
        ChannelSignal(platform=M, brand_id=RESTFB_PAGE, signal="delivered", at=RECEIVED)]


def test_restfb_read() -> None:
    assert parse_page(fixture("messenger/restfb_read.json"), RECEIVED) == [
        ChannelSignal(platform=M, brand_id=RESTFB_PAGE, signal="read", at=ms(1458668856463))]


@pytest.mark.parametrize("name", ["restfb_echo_text.json", "restfb_standby_echo.json"])
def test_restfb_echoes_answer_the_customer_whoever_is_labelled_sender(name) -> None:
    # These samples put the customer in `sender`: the customer is whoever is not the Page.
    assert parse_page(fixture(f"messenger/{name}"), RECEIVED) == [echo(
        RESTFB_USER, "mid.1457764197618:41d102a3e1ae206a38", text="hello, world!",
        page_id=RESTFB_PAGE, at=ms(1457764197627))]


def test_restfb_image_attachment() -> None:
    assert parse_page(fixture("messenger/restfb_message_image_attachment.json"), RECEIVED) == [
        customer_message(RESTFB_USER, "mid.1458696618141:b4ef9d19ec21086067",
                         page_id=RESTFB_PAGE, attachments=(Attachment(type="image",
                                                                      url="IMAGE_URL"),),
                         at=ms(1458696618268))]


def test_restfb_quick_reply() -> None:
    assert parse_page(fixture("messenger/restfb_message_quick_reply.json"), RECEIVED) == [
        customer_message(RESTFB_USER, "mid.1458696618141:b4ef9d19ec21086067",
                         page_id="1234567890321", text="quick reply text",
                         at=ms(1470779510432))]


def test_restfb_postback_without_mid_gets_a_stable_id() -> None:
    who = Person(id=RESTFB_USER)
    expected = [MessageEvent(
        platform=M, thread=f"dm-{RESTFB_PAGE}-{RESTFB_USER}",
        message_id=f"postback-{RESTFB_USER}-1458692752478", direction=Direction.IN,
        channel=Channel.PRIVATE, brand_id=RESTFB_PAGE, customer=who, author=who,
        text="USER_DEFINED_PAYLOAD", created_at=ms(1458692752478))]
    payload = fixture("messenger/restfb_postback_basic.json")
    assert parse_page(payload, RECEIVED) == expected
    assert parse_page(payload, RECEIVED) == expected  # a redelivery dedupes on the same id


# --- Facebook Page feed ------------------------------------------------------------------------

FB_PAGE = "1234567890321"
TESTER = Person(id=FB_PAGE, name="Tester")


def page_comment(comment: str, text: str, *, at, attachments=(), edited=False) -> MessageEvent:
    return MessageEvent(platform=FB, thread=f"c-{comment}", message_id=comment,
                        direction=Direction.OUT, channel=Channel.PUBLIC, brand_id=FB_PAGE,
                        customer=UNKNOWN, author=TESTER, text=text, attachments=attachments,
                        created_at=at, edited=edited)


def test_a_comment_by_the_page_itself_is_the_brand_speaking() -> None:
    assert parse_page(fixture("facebook/restfb_feed_comment_add_by_page_itself.json"),
                      RECEIVED) == [page_comment("901097836652708_903438993085259",
                                                 "and the next one", at=s(1449135003))]


def test_legacy_sender_fields_identify_the_author() -> None:
    assert parse_page(fixture("facebook/restfb_feed_comment_add_legacy_sender_fields.json"),
                      RECEIVED) == [page_comment("901097836652708_903438993085259",
                                                 "and the next one", at=s(1449135003))]


def test_a_photo_comment_carries_the_photo() -> None:
    photo = fixture("facebook/restfb_feed_comment_add_with_photo.json")["entry"][0][
        "changes"][0]["value"]["photo"]
    assert parse_page(fixture("facebook/restfb_feed_comment_add_with_photo.json"),
                      RECEIVED) == [page_comment(
        "901097836652708_903438993085259", "and the next one", at=s(1449135003),
        attachments=(Attachment(type="image", url=photo),))]


def test_an_edited_comment_keeps_its_id_with_the_new_text() -> None:
    assert parse_page(fixture("facebook/restfb_feed_comment_edited.json"), RECEIVED) == [
        page_comment("900728623356296_900744590021366", "Let's see the Webhooks in action :D",
                     at=s(1448555737), edited=True)]


def test_a_removed_comment_is_withdrawn_in_its_comments_thread() -> None:
    # A top-level comment (its parent is the post): the thread it was stored in, so the
    # deletion is queued behind it.
    comment = "905578656204626_905579239537901"
    assert parse_page(fixture("facebook/restfb_feed_comment_remove.json"), RECEIVED) == [
        MessageDeleted(platform=FB, message_id=comment, deleted_at=RECEIVED,
                       author_id=FB_PAGE, thread=f"c-{comment}")]
    payload = copy.deepcopy(fixture("facebook/restfb_feed_comment_remove.json"))
    payload["entry"][0]["changes"][0]["value"]["parent_id"] = "905578656204626_1"
    [reply] = parse_page(payload, RECEIVED)
    assert isinstance(reply, MessageDeleted) and reply.thread == "c-905578656204626_1"


def test_non_comment_feed_changes_are_ignored_each_on_its_own() -> None:
    assert parse_page(fixture("facebook/restfb_feed_batch_two_entries.json"), RECEIVED) == [
        Ignored(platform=FB, event_type="parking", reason="unsupported event type"),
        Ignored(platform=FB, event_type="payment_options", reason="unsupported event type")]


def test_a_customer_reply_under_a_comment_joins_that_comments_thread() -> None:
    payload = copy.deepcopy(fixture("facebook/restfb_feed_comment_add_by_page_itself.json"))
    value = payload["entry"][0]["changes"][0]["value"]
    value.update({"from": {"id": "555", "name": "Ann"}, "parent_id": "901097836652708_111",
                  "comment_id": "901097836652708_222", "message": "still broken"})
    [event] = parse_page(payload, RECEIVED)
    assert isinstance(event, MessageEvent)
    assert (event.thread, event.reply_to, event.direction) == (
        "c-901097836652708_111", "901097836652708_111", Direction.IN)
    assert event.customer == Person(id="555", name="Ann")


# --- Instagram ---------------------------------------------------------------------------------

def test_instagram_comment_dashboard_sample() -> None:
    tester = Person(id="1234536447", handle="testuser")
    assert parse_instagram(fixture("instagram/restfb_ig_comment_dashboard_sample.json"),
                           RECEIVED) == [MessageEvent(
        platform=IG, thread="c-987654321", message_id="123456789", direction=Direction.IN,
        channel=Channel.PUBLIC, brand_id="0", customer=tester, author=tester,
        text="This is an example.", reply_to="987654321", created_at=RECEIVED)]


def test_instagram_seen_is_a_read_signal() -> None:
    assert parse_instagram(fixture("instagram/restfb_ig_messaging_seen.json"), RECEIVED) == [
        ChannelSignal(platform=IG, brand_id="17841452691600098", signal="read",
                      message_id="MESSAGE-ID", at=ms(1668022333735))]


def test_instagram_dm_echo_unsend_and_story_mention() -> None:
    ig = "17841452691600098"
    base = {"sender": {"id": "5614879045272581"}, "recipient": {"id": ig},
            "timestamp": 1668022333735}
    payload = {"object": "instagram", "entry": [{"id": ig, "time": 1, "messaging": [
        {**base, "message": {"mid": "m1", "text": "hi"}},
        {**base, "message": {"mid": "m2", "attachments": [
            {"type": "story_mention", "payload": {"url": "https://cdn/story"}}]}},
        {"sender": {"id": ig}, "recipient": {"id": "5614879045272581"},
         "timestamp": 1668022333735, "message": {"mid": "m3", "text": "hello!",
                                                 "is_echo": True}},
        {**base, "message": {"mid": "m1", "is_deleted": True}},
    ]}]}
    events = parse_meta(payload, RECEIVED)
    assert [e.kind for e in events] == ["message", "message", "message", "deleted"]
    first, story, reply, unsent = events
    assert isinstance(first, MessageEvent)
    assert first.thread == f"dm-{ig}-5614879045272581"
    assert isinstance(story, MessageEvent)
    assert story.attachments == (Attachment(type="story_mention", url="https://cdn/story"),)
    assert isinstance(reply, MessageEvent)
    assert reply.direction is Direction.OUT
    assert unsent == MessageDeleted(platform=IG, message_id="m1", deleted_at=ms(1668022333735),
                                    author_id="5614879045272581", thread=first.thread)


# --- Shape errors ------------------------------------------------------------------------------

@pytest.mark.parametrize(("payload", "reason"), [
    ({"object": "page"}, "entry must be a list"),
    ({"object": "page", "entry": {"id": "1"}}, "entry must be a list"),
    ({"object": "page", "entry": [{"messaging": []}]}, r"entry\[0\].id"),
    ({"object": "page", "entry": [{"id": "1", "messaging": [{"message": {"mid": "x"}}]}]},
     "sender must be an object"),
    ({"object": "page", "entry": [{"id": "1", "messaging": "x"}]}, "must be a list"),
    ({"object": "instagram", "entry": [{"id": "1", "changes": [
        {"field": "comments", "value": {"id": "1"}}]}]}, "value.from"),
    ({"object": "newsletter", "entry": []}, "unsupported object"),
    ({"entry": []}, "unsupported object"),
])
def test_bodies_not_of_metas_shape_are_refused_with_a_reason(payload, reason) -> None:
    with pytest.raises(MalformedPayload, match=reason):
        parse_meta(payload, RECEIVED)


# --- Mentions (listening) -------------------------------------------------------------------

def test_a_page_mention_in_someones_post_is_a_customer_message_found_by_listening() -> None:
    [event] = parse_page(fixture("facebook/restfb_mention_post_add.json"), RECEIVED)
    nobody = Person(id="mention-1234567890321_98722536423179")
    assert event == MessageEvent(
        platform=FB, thread="p-1234567890321_98722536423179",
        message_id="1234567890321_98722536423179", direction=Direction.IN,
        channel=Channel.PUBLIC, brand_id="1234567890321", customer=nobody, author=nobody,
        text="A test post message", created_at=s(1614340562), summoned=True,
        found_by_listening=True)


def test_a_page_mention_in_a_comment_keeps_the_comment_id_a_feed_delivery_would_have() -> None:
    [event] = parse_page(fixture("facebook/restfb_mention_comment_add.json"), RECEIVED)
    assert isinstance(event, MessageEvent)
    assert (event.message_id, event.thread) == ("7363534231324_3754798971271444",
                                                "c-7363534231324_3754798971271444")
    assert event.text == "Just a test message" and event.found_by_listening
    assert event.created_at == s(1614340862)


def test_a_page_mention_with_its_author_and_its_removal() -> None:
    payload = copy.deepcopy(fixture("facebook/restfb_mention_comment_add.json"))
    value = payload["entry"][0]["changes"][0]["value"]
    value.update(sender_id="555", sender_name="Ann")
    [event] = parse_page(payload, RECEIVED)
    assert isinstance(event, MessageEvent) and event.customer == Person(id="555", name="Ann")
    added = event
    value["sender_id"] = "1234567890321"  # the Page mentioning itself
    assert isinstance(parse_page(payload, RECEIVED)[0], Ignored)
    value["verb"] = "remove"
    assert parse_page(payload, RECEIVED) == [MessageDeleted(
        platform=FB, message_id="7363534231324_3754798971271444", deleted_at=s(1614340862),
        thread=added.thread)]


def test_an_instagram_mention_is_a_customer_message_with_only_ids() -> None:
    [event] = parse_meta(fixture("instagram/restfb_ig_mentions.json"), RECEIVED)
    nobody = Person(id="mention-17887498072083520")
    assert event == MessageEvent(
        platform=IG, thread="mention-17887498072083520_17887498072083520",
        message_id="17887498072083520",
        direction=Direction.IN, channel=Channel.PUBLIC, brand_id="0", customer=nobody,
        author=nobody, created_at=RECEIVED, summoned=True, found_by_listening=True,
        attachments=(Attachment(type="comment_mention", media_id="17887498072083520"),))
    caption = copy.deepcopy(fixture("instagram/restfb_ig_mentions.json"))
    del caption["entry"][0]["changes"][0]["value"]["comment_id"]
    [event] = parse_instagram(caption, RECEIVED)
    assert isinstance(event, MessageEvent)
    assert event.attachments[0].type == "caption_mention"
    assert event.thread == "mention-17887498072083520"  # the media: a caption has one id
    caption["entry"][0]["changes"][0]["value"] = {"comment_id": "1"}
    with pytest.raises(MalformedPayload, match="media_id"):
        parse_instagram(caption, RECEIVED)
