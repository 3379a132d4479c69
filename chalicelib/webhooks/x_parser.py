"""X/Twitter webhook payloads -> normalised events.

Two families reach the same endpoint:
- Account Activity API (AAA): `{"for_user_id": brand, "tweet_create_events": [...], ...}`.
- X Activity API (XAA): `{"data": {"filter": {"user_id": brand}, "event_type": "post.mention
  .create" | "dm.received" | ..., "payload": {...}}}`.

Public tweets get `thread = "t-<own id>"` with `reply_to` set: the ingest service moves a reply
into the conversation of the tweet it answers (the tweet index). DMs: `dm-<brand>-<customer>`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
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

X = Platform.X
_NOT_CONVERSATIONS = {
    "favorite_events": "a like is not a message",
    "follow_events": "a follow is not a message",
    "block_events": "a block is not a message",
    "mute_events": "a mute is not a message",
    "direct_message_indicate_typing_events": "typing is not a message",
    "direct_message_mark_read_events": "a read receipt is not a message",
}
_ENVELOPE = {"for_user_id", "users", "apps", "user_has_blocked", "source"}
_MEDIA_TYPES = {"photo": "image", "video": "video", "animated_gif": "video"}


def parse_x(payload: Mapping[str, Any], received_at: datetime) -> list[WebhookEvent]:
    body = mapping(payload, "body")
    if "data" in body and isinstance(body["data"], Mapping) and "event_type" in body["data"]:
        return _activity(body["data"], received_at)
    return _account_activity(body, received_at)


# --- Account Activity API ---------------------------------------------------------------------

def _account_activity(body: Mapping[str, Any], received_at: datetime) -> list[WebhookEvent]:
    known = [k for k in body if k not in _ENVELOPE]
    if not known and "for_user_id" not in body:
        raise MalformedPayload("not an X webhook: no for_user_id and no events")
    if "user_event" in body:
        return [_revoke(body["user_event"])]
    brand = identifier(body.get("for_user_id"), "for_user_id")
    users = mapping(body.get("users") or {}, "users")
    events: list[WebhookEvent] = []
    for key in known:
        if key == "tweet_create_events":
            events += [_tweet(mapping(t, key), brand, received_at)
                       for t in items(body[key], key)]
        elif key == "direct_message_events":
            events += [_dm(mapping(d, key), brand, users, received_at, key)
                       for d in items(body[key], key)]
        elif key == "tweet_delete_events":
            events += [_deleted(mapping(d, key), received_at) for d in items(body[key], key)]
        elif key in _NOT_CONVERSATIONS:
            events += [Ignored(platform=X, event_type=key, reason=_NOT_CONVERSATIONS[key])
                       for _ in items(body[key], key)]
        else:
            events.append(Ignored(platform=X, event_type=key, reason="unsupported event type"))
    return events


def _revoke(value: Any) -> WebhookEvent:
    event = mapping(value, "user_event")
    revoke = event.get("revoke")
    if not isinstance(revoke, Mapping):
        return Ignored(platform=X, event_type="user_event", reason="unsupported event type")
    source = sub(revoke, "source")
    target = sub(revoke, "target")
    return ChannelSignal(platform=X, brand_id=optional_id(source.get("user_id")),
                         signal="revoked", detail=f"app {optional_id(target.get('app_id'))} "
                                                  "access revoked by the account")


def _person(user: Mapping[str, Any]) -> Person:
    metrics = sub(user, "public_metrics")
    followers = user.get("followers_count", metrics.get("followers_count"))
    return Person(
        id=identifier(user.get("id_str") or user.get("id"), "user.id"),
        handle=text(user.get("screen_name") or user.get("username")) or None,
        name=text(user.get("name")) or None,
        followers=followers if isinstance(followers, int) and not isinstance(followers, bool)
        else None)


def _full_text(tweet: Mapping[str, Any]) -> str:
    for holder in ("extended_tweet", "note_tweet"):
        extended = tweet.get(holder)
        if isinstance(extended, Mapping):
            full = extended.get("full_text") or extended.get("text")
            if isinstance(full, str):
                return full
    return text(tweet.get("full_text") or tweet.get("text"))


def _media(tweet: Mapping[str, Any]) -> tuple[Attachment, ...]:
    for holder in (tweet.get("extended_tweet"), tweet):
        if not isinstance(holder, Mapping):
            continue
        for key in ("extended_entities", "entities"):
            entities = holder.get(key)
            media = entities.get("media") if isinstance(entities, Mapping) else None
            if isinstance(media, list) and media:
                return tuple(Attachment(type=_MEDIA_TYPES.get(str(m.get("type")), "file"),
                                        url=text(m.get("media_url_https")) or None)
                             for m in media if isinstance(m, Mapping))
    return ()


def _mentions(tweet: Mapping[str, Any]) -> set[str]:
    found: set[str] = set()
    for holder in (tweet.get("extended_tweet"), tweet):
        entities = holder.get("entities") if isinstance(holder, Mapping) else None
        if not isinstance(entities, Mapping):
            continue
        for mention in items(entities.get("user_mentions") or entities.get("mentions") or [],
                             "entities.mentions"):
            if isinstance(mention, Mapping):
                found |= {str(v) for k, v in mention.items() if k in ("id_str", "id")}
    return found


def _tweet(tweet: Mapping[str, Any], brand: str, received_at: datetime) -> WebhookEvent:
    tweet_id = identifier(tweet.get("id_str") or tweet.get("id"), "tweet.id")
    user = mapping(tweet.get("user") or {}, "tweet.user")
    if not user:
        return Ignored(platform=X, event_type="tweet_create_events",
                       reason="no author in the payload")
    if "retweeted_status" in tweet:
        return Ignored(platform=X, event_type="retweet", reason="a retweet is not a message")
    author = _person(user)
    reply_to = optional_id(tweet.get("in_reply_to_status_id_str")
                           or tweet.get("in_reply_to_status_id"))
    replied_user = optional_id(tweet.get("in_reply_to_user_id_str")
                               or tweet.get("in_reply_to_user_id"))
    quoted = tweet.get("quoted_status") if isinstance(tweet.get("quoted_status"), Mapping) \
        else None
    quoted_brand = bool(quoted) and optional_id(
        mapping(quoted.get("user") or {}, "quoted_status.user").get("id_str")) == brand \
        if quoted else False
    mentioned = brand in _mentions(tweet)
    created = when(tweet.get("created_at") or tweet.get("timestamp_ms"), received_at)
    if author.id == brand:
        if reply_to is None or replied_user in (None, brand):
            return Ignored(platform=X, event_type="tweet_create_events",
                           reason="the brand's own post, not a reply to a customer")
        customer = Person(id=replied_user, handle=text(tweet.get("in_reply_to_screen_name"))
                          or None)
        return MessageEvent(platform=X, thread=f"t-{tweet_id}", message_id=tweet_id,
                            direction=Direction.OUT, channel=Channel.PUBLIC, brand_id=brand,
                            customer=customer, author=author, text=_full_text(tweet),
                            attachments=_media(tweet), created_at=created, reply_to=reply_to)
    if not (mentioned or quoted_brand or replied_user == brand):
        return Ignored(platform=X, event_type="tweet_create_events",
                       reason="not addressed to the brand")
    return MessageEvent(platform=X, thread=f"t-{tweet_id}", message_id=tweet_id,
                        direction=Direction.IN, channel=Channel.PUBLIC, brand_id=brand,
                        customer=author, author=author, text=_full_text(tweet),
                        attachments=_media(tweet), created_at=created, reply_to=reply_to,
                        summoned=mentioned or quoted_brand)


def _dm(event: Mapping[str, Any], brand: str, users: Mapping[str, Any],
        received_at: datetime, event_type: str) -> WebhookEvent:
    if event.get("type") != "message_create":
        return Ignored(platform=X, event_type=str(event.get("type")),
                       reason="unsupported event type")
    message_id = identifier(event.get("id"), "direct_message.id")
    create = mapping(event.get("message_create"), "message_create")
    sender = identifier(create.get("sender_id"), "message_create.sender_id")
    target = mapping(create.get("target") or {}, "message_create.target")
    recipient = identifier(target.get("recipient_id"), "message_create.target.recipient_id")
    data = mapping(create.get("message_data") or {}, "message_create.message_data")
    outgoing = sender == brand
    customer_id = recipient if outgoing else sender

    def person(user_id: str) -> Person:
        user = users.get(user_id)
        if isinstance(user, Mapping):
            return _person({**(sub(user, "data") or user), "id": user_id})
        return Person(id=user_id)

    attachment = data.get("attachment")
    attachments: tuple[Attachment, ...] = ()
    if isinstance(attachment, Mapping) and isinstance(attachment.get("media"), Mapping):
        media = attachment["media"]
        attachments = (Attachment(type=_MEDIA_TYPES.get(str(media.get("type")), "file"),
                                  url=text(media.get("media_url_https")) or None),)
    return MessageEvent(
        platform=X, thread=f"dm-{brand}-{customer_id}", message_id=message_id,
        direction=Direction.OUT if outgoing else Direction.IN, channel=Channel.PRIVATE,
        brand_id=brand, customer=person(customer_id), author=person(sender),
        text=text(data.get("text")), attachments=attachments,
        created_at=when(event.get("created_timestamp"), received_at))


def _deleted(event: Mapping[str, Any], received_at: datetime) -> WebhookEvent:
    status = mapping(event.get("status"), "tweet_delete_events.status")
    return MessageDeleted(platform=X, message_id=identifier(status.get("id"), "status.id"),
                          author_id=optional_id(status.get("user_id")),
                          deleted_at=when(event.get("timestamp_ms"), received_at))


# --- X Activity API -----------------------------------------------------------------------

def _activity(data: Mapping[str, Any], received_at: datetime) -> list[WebhookEvent]:
    event_type = data.get("event_type")
    if not isinstance(event_type, str):
        raise MalformedPayload("data.event_type must be a string")
    brand = identifier(mapping(data.get("filter"), "data.filter").get("user_id"),
                       "data.filter.user_id")
    payload = mapping(data.get("payload"), "data.payload")
    family = event_type.split(".", 1)[0]
    if family == "post":
        return [_post(event_type, payload, data, brand, received_at)]
    if family == "dm":
        users = mapping(payload.get("users") or {}, "payload.users")
        return [_dm(mapping(d, "direct_message_events"), brand, users, received_at, event_type)
                for d in items(payload.get("direct_message_events"), "direct_message_events")]
    if family in ("like", "follow", "unfollow", "block", "mute"):
        return [Ignored(platform=X, event_type=event_type,
                        reason=f"a {family} is not a message")]
    return [Ignored(platform=X, event_type=event_type, reason="unsupported event type")]


def _post(event_type: str, post: Mapping[str, Any], data: Mapping[str, Any], brand: str,
          received_at: datetime) -> WebhookEvent:
    post_id = identifier(post.get("id"), "payload.id")
    author_id = identifier(post.get("author_id"), "payload.author_id")
    includes = sub(data, "includes")
    users = {str(u.get("id")): u for u in items(includes.get("users"), "includes.users")
             if isinstance(u, Mapping)}
    author = _person({**users.get(author_id, {}), "id": author_id})
    referenced = {str(r.get("type")): optional_id(r.get("id"))
                  for r in items(post.get("referenced_tweets"), "referenced_tweets")
                  if isinstance(r, Mapping)}
    reply_to = optional_id(post.get("in_reply_to_tweet_id")) or referenced.get("replied_to")
    if referenced.get("retweeted"):
        return Ignored(platform=X, event_type=event_type, reason="a retweet is not a message")
    created = when(post.get("created_at"), received_at)
    body = _full_text(post)
    if author_id == brand:
        customer_id = optional_id(post.get("in_reply_to_user_id"))
        if reply_to is None or customer_id in (None, brand):
            return Ignored(platform=X, event_type=event_type,
                           reason="the brand's own post, not a reply to a customer")
        return MessageEvent(platform=X, thread=f"t-{post_id}", message_id=post_id,
                            direction=Direction.OUT, channel=Channel.PUBLIC, brand_id=brand,
                            customer=_person({**users.get(customer_id, {}), "id": customer_id}),
                            author=author, text=body, created_at=created, reply_to=reply_to)
    # The event type says how the post concerns the brand: a mention, a reply to its post, a
    # quote of its post. A public reply is allowed when the customer summoned the brand.
    summoned = brand in _mentions(post) or ".quote." in event_type or ".mention." in event_type
    return MessageEvent(platform=X, thread=f"t-{post_id}", message_id=post_id,
                        direction=Direction.IN, channel=Channel.PUBLIC, brand_id=brand,
                        customer=author, author=author, text=body, created_at=created,
                        reply_to=reply_to, summoned=summoned)


# --- Recent search (listening) ------------------------------------------------------------

def parse_search(body: Mapping[str, Any], account: str, received_at: datetime,
                 account_id: str | None = None) -> list[WebhookEvent]:
    """A page of `GET /2/tweets/search/recent` -> customer messages found by listening.

    `account` is the brand account the query belongs to (its handle or user id): the post
    summoned the brand when it mentions or answers that account, which decides whether X
    allows a public reply. The brand's own posts and retweets are not messages."""
    body = mapping(body, "body")
    includes = sub(body, "includes")
    users = {str(u.get("id")): u for u in items(includes.get("users"), "includes.users")
             if isinstance(u, Mapping)}
    handle = account.removeprefix("@").lower()
    # The declared account's user id, when the policies declare accounts: the conversation's
    # brand account (its team, its credentials), whatever `account` names.
    brand = account_id or account
    events: list[WebhookEvent] = []
    for post in items(body.get("data"), "data"):
        post = mapping(post, "data[]")
        post_id = identifier(post.get("id"), "data[].id")
        author_id = identifier(post.get("author_id"), "data[].author_id")
        author = _person({**users.get(author_id, {}), "id": author_id})
        referenced = {str(r.get("type")): optional_id(r.get("id"))
                      for r in items(post.get("referenced_tweets"), "referenced_tweets")
                      if isinstance(r, Mapping)}
        if referenced.get("retweeted"):
            events.append(Ignored(platform=X, event_type="search", reason="a retweet is not "
                                                                         "a message"))
            continue
        if author_id in (account, brand) or (author.handle or "").lower() == handle:
            events.append(Ignored(platform=X, event_type="search",
                                  reason="the brand's own post"))
            continue
        body_text = _full_text(post)
        mentioned = {str(m.get("username", "")).lower() for m in items(
            sub(post, "entities").get("mentions"), "entities.mentions") if isinstance(m, Mapping)}
        summoned = (handle in mentioned
                    or re.search(rf"(?<![\w@])@{re.escape(handle)}\b", body_text,
                                 re.IGNORECASE) is not None
                    or optional_id(post.get("in_reply_to_user_id")) in (account, brand))
        events.append(MessageEvent(
            platform=X, thread=f"t-{post_id}", message_id=post_id, direction=Direction.IN,
            channel=Channel.PUBLIC, brand_id=brand, customer=author, author=author,
            text=body_text, created_at=when(post.get("created_at"), received_at),
            reply_to=referenced.get("replied_to"), summoned=summoned,
            found_by_listening=True))
    return events
