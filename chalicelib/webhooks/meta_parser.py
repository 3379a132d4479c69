"""Meta webhook payloads for `object` = `page` (Messenger, Page feed) and `instagram`.

Threads: Messenger `dm-<page>-<PSID>`, Instagram DMs `dm-<ig id>-<IGSID>`, comments
`c-<top-level comment id>` (a reply under a customer's comment joins that comment's thread).
Mentions of the brand elsewhere (listening): a Page `mention` in someone's post `p-<post id>`
or comment `c-<comment id>`, an Instagram `mentions` `mention-<media id>` (a caption) or
`mention-<media id>_<comment id>` (a comment: replying needs both ids); each is a
customer message in its own conversation, marked found by listening.
The brand is the entry's id (the Page or the Instagram account); in an echo the customer is
whichever party is not the brand, because published samples disagree on sender/recipient.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

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
    WebhookEvent,
)
from chalicelib.webhooks.shapes import identifier, items, mapping, optional_id, sub, text, when

UNKNOWN = Person(id="unknown")  # the customer of a brand comment, known from its thread


def parse_page(payload: Mapping[str, Any], received_at: datetime) -> list[WebhookEvent]:
    return _entries(payload, received_at, Platform.MESSENGER, _page_change)


def parse_instagram(payload: Mapping[str, Any], received_at: datetime) -> list[WebhookEvent]:
    return _entries(payload, received_at, Platform.INSTAGRAM, _instagram_change)


ChangeParser = Callable[[str, Mapping[str, Any], datetime], WebhookEvent]


def _entries(payload: Mapping[str, Any], received_at: datetime, platform: Platform,
             change_parser: ChangeParser) -> list[WebhookEvent]:
    body = mapping(payload, "body")
    events: list[WebhookEvent] = []
    entries = body.get("entry")
    if not isinstance(entries, list):
        raise MalformedPayload("entry must be a list of entries")
    for n, raw in enumerate(entries):
        entry = mapping(raw, f"entry[{n}]")
        brand = identifier(entry.get("id"), f"entry[{n}].id")
        for key in ("messaging", "standby"):
            # standby: another app (a bot, an inbox) owns the thread; the customer still waits.
            for m, item in enumerate(items(entry.get(key), f"entry[{n}].{key}")):
                events.append(_messaging(mapping(item, f"entry[{n}].{key}[{m}]"), brand,
                                         platform, received_at))
        for m, change in enumerate(items(entry.get("changes"), f"entry[{n}].changes")):
            events.append(change_parser(brand, mapping(change, f"entry[{n}].changes[{m}]"),
                                        received_at))
    return events


def _party(item: Mapping[str, Any], key: str) -> str:
    who = mapping(item.get(key), key)
    # Checkbox-plugin users are known by a user_ref until they write back.
    return identifier(who.get("id") if who.get("id") is not None else who.get("user_ref"),
                      f"{key}.id")


def _attachments(message: Mapping[str, Any]) -> tuple[Attachment, ...]:
    found = []
    for raw in items(message.get("attachments"), "message.attachments"):
        attachment = mapping(raw, "attachment")
        payload = sub(attachment, "payload")
        found.append(Attachment(type=text(attachment.get("type")) or "file",
                                url=text(payload.get("url") or attachment.get("url")) or None))
    return tuple(found)


def _messaging(item: Mapping[str, Any], brand: str, platform: Platform,
               received_at: datetime) -> WebhookEvent:
    sender, recipient = _party(item, "sender"), _party(item, "recipient")
    at = when(item.get("timestamp"), received_at)
    if "delivery" in item:
        return ChannelSignal(platform=platform, brand_id=brand, signal="delivered", at=at)
    if "read" in item:
        read = item["read"] if isinstance(item["read"], Mapping) else {}
        return ChannelSignal(platform=platform, brand_id=brand, signal="read", at=at,
                             message_id=optional_id(read.get("mid")))
    if "message" in item:
        return _message(mapping(item["message"], "message"), sender, recipient, brand,
                        platform, at)
    if "postback" in item:
        postback = mapping(item["postback"], "postback")
        message_id = optional_id(postback.get("mid")) or (
            f"postback-{sender}-{int(at.timestamp() * 1000)}")
        # A tapped button is the customer speaking: its title is what they chose.
        customer = Person(id=sender)
        return MessageEvent(platform=platform, thread=f"dm-{brand}-{sender}",
                            message_id=message_id, direction=Direction.IN,
                            channel=Channel.PRIVATE, brand_id=brand, customer=customer,
                            author=customer, created_at=at,
                            text=text(postback.get("title")) or text(postback.get("payload")))
    kind = next((k for k in item if k not in ("sender", "recipient", "timestamp")), "unknown")
    return Ignored(platform=platform, event_type=str(kind), reason="unsupported event type")


def _message(message: Mapping[str, Any], sender: str, recipient: str, brand: str,
             platform: Platform, at: datetime) -> WebhookEvent:
    message_id = identifier(message.get("mid"), "message.mid")
    if message.get("is_deleted"):
        customer_id = recipient if sender == brand else sender
        return MessageDeleted(platform=platform, message_id=message_id, deleted_at=at,
                              author_id=sender, thread=f"dm-{brand}-{customer_id}")
    echo = bool(message.get("is_echo"))
    if echo:
        customer_id = recipient if sender == brand or recipient != brand else sender
    else:
        customer_id = sender
    customer = Person(id=customer_id)
    reply = sub(message, "reply_to")
    return MessageEvent(
        platform=platform, thread=f"dm-{brand}-{customer_id}", message_id=message_id,
        direction=Direction.OUT if echo else Direction.IN, channel=Channel.PRIVATE,
        brand_id=brand, customer=customer, author=Person(id=brand) if echo else customer,
        text=text(message.get("text")), attachments=_attachments(message), created_at=at,
        reply_to=optional_id(reply.get("mid")))


# --- Page feed --------------------------------------------------------------------------------

def _page_change(brand: str, change: Mapping[str, Any], received_at: datetime) -> WebhookEvent:
    field = text(change.get("field")) or "unknown"
    value = change.get("value")
    if field == "messaging_postbacks" and isinstance(value, Mapping):
        return _messaging(value, brand, Platform.MESSENGER, received_at)
    if field == "mention" and isinstance(value, Mapping):
        return _page_mention(brand, value, received_at)
    if field != "feed" or not isinstance(value, Mapping):
        return Ignored(platform=Platform.FACEBOOK, event_type=field,
                       reason="unsupported event type")
    item, verb = text(value.get("item")), text(value.get("verb"))
    if item != "comment":
        return Ignored(platform=Platform.FACEBOOK, event_type=f"feed.{item or 'unknown'}",
                       reason="not a comment: no one is waiting for an answer")
    comment_id = identifier(value.get("comment_id"), "value.comment_id")
    at = when(value.get("created_time"), received_at)
    parent = optional_id(value.get("parent_id"))
    under_comment = parent is not None and parent != optional_id(value.get("post_id"))
    if verb == "remove":
        sender = sub(value, "from")
        return MessageDeleted(platform=Platform.FACEBOOK, message_id=comment_id,
                              deleted_at=at, author_id=optional_id(
                                  sender.get("id") or value.get("sender_id")),
                              thread=f"c-{parent if under_comment else comment_id}")
    if verb not in ("add", "edited"):
        return Ignored(platform=Platform.FACEBOOK, event_type=f"feed.comment.{verb}",
                       reason="unsupported event type")
    author = _commenter(value)
    photo = text(value.get("photo"))
    return _comment(Platform.FACEBOOK, brand, comment_id, author, text(value.get("message")),
                    parent if under_comment else None, at,
                    (Attachment(type="image", url=photo),) if photo else (),
                    edited=verb == "edited")


def _page_mention(brand: str, value: Mapping[str, Any], received_at: datetime) -> WebhookEvent:
    """Someone mentioned the Page in their own post or comment. The comment id, when there is
    one, is the message id a `feed` delivery of the same comment has too: stored once."""
    item, verb = text(value.get("item")), text(value.get("verb"))
    post_id = identifier(value.get("post_id"), "value.post_id")
    comment_id = optional_id(value.get("comment_id"))
    message_id = comment_id if item == "comment" and comment_id else post_id
    at = when(value.get("created_time"), received_at)
    thread = f"c-{comment_id}" if message_id == comment_id else f"p-{post_id}"
    if verb == "remove":
        return MessageDeleted(platform=Platform.FACEBOOK, message_id=message_id, deleted_at=at,
                              thread=thread)
    if verb not in ("add", "edited"):
        return Ignored(platform=Platform.FACEBOOK, event_type=f"mention.{item}.{verb}",
                       reason="unsupported event type")
    named = "from" in value or "sender_id" in value
    # Published samples carry no author (Meta's own "real" one included): the conversation is
    # the post's, with a customer nobody can name until the agent opens it.
    author = _commenter(value) if named else Person(id=f"mention-{message_id}")
    if author.id == brand:
        return Ignored(platform=Platform.FACEBOOK, event_type="mention",
                       reason="the Page's own post")
    return MessageEvent(
        platform=Platform.FACEBOOK, thread=thread, message_id=message_id,
        direction=Direction.IN, channel=Channel.PUBLIC, brand_id=brand, customer=author,
        author=author, text=text(value.get("message")), created_at=at, summoned=True,
        edited=verb == "edited", found_by_listening=True)


def _commenter(value: Mapping[str, Any]) -> Person:
    sender = value.get("from")
    if isinstance(sender, Mapping):  # current shape
        return Person(id=identifier(sender.get("id"), "value.from.id"),
                      name=text(sender.get("name")) or None,
                      handle=text(sender.get("username")) or None)
    # v2.5 shape: sender_id / sender_name
    return Person(id=identifier(value.get("sender_id"), "value.sender_id"),
                  name=text(value.get("sender_name")) or None)


def _comment(platform: Platform, brand: str, comment_id: str, author: Person, body: str,
             parent_comment: str | None, at: datetime,
             attachments: tuple[Attachment, ...] = (), *, edited: bool = False) -> MessageEvent:
    by_brand = author.id == brand
    return MessageEvent(
        platform=platform, thread=f"c-{parent_comment or comment_id}", message_id=comment_id,
        direction=Direction.OUT if by_brand else Direction.IN, channel=Channel.PUBLIC,
        brand_id=brand, customer=UNKNOWN if by_brand else author, author=author, text=body,
        attachments=attachments, created_at=at, reply_to=parent_comment, edited=edited)


# --- Instagram --------------------------------------------------------------------------------

def _instagram_change(brand: str, change: Mapping[str, Any],
                      received_at: datetime) -> WebhookEvent:
    field = text(change.get("field")) or "unknown"
    value = change.get("value")
    if field == "mentions" and isinstance(value, Mapping):
        return _instagram_mention(brand, value, received_at)
    if field not in ("comments", "live_comments") or not isinstance(value, Mapping):
        return Ignored(platform=Platform.INSTAGRAM, event_type=field,
                       reason="unsupported event type")
    sender = mapping(value.get("from"), "value.from")
    author = Person(id=identifier(sender.get("id"), "value.from.id"),
                    handle=text(sender.get("username")) or None)
    return _comment(Platform.INSTAGRAM, brand, identifier(value.get("id"), "value.id"), author,
                    text(value.get("text")), optional_id(value.get("parent_id")),
                    when(value.get("timestamp"), received_at))


def _instagram_mention(brand: str, value: Mapping[str, Any],
                       received_at: datetime) -> WebhookEvent:
    """Someone @mentioned the account in a comment (`comment_id`) or a caption (`media_id`
    only). Meta sends the ids and nothing else: no text, no author; the agent reads them on
    Instagram, and the media is attached by id."""
    media_id = identifier(value.get("media_id"), "value.media_id")
    comment_id = optional_id(value.get("comment_id"))
    message_id = comment_id or media_id
    customer = Person(id=f"mention-{message_id}")
    thread = f"mention-{media_id}_{comment_id}" if comment_id else f"mention-{media_id}"
    return MessageEvent(
        platform=Platform.INSTAGRAM, thread=thread, message_id=message_id,
        direction=Direction.IN, channel=Channel.PUBLIC, brand_id=brand, customer=customer,
        author=customer, created_at=received_at, summoned=True, found_by_listening=True,
        attachments=(Attachment(type="comment_mention" if comment_id else "caption_mention",
                                media_id=media_id),))
