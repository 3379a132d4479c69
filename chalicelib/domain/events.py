"""The normalised webhook event model every platform maps into.

A platform delivery (one POST) becomes a list of these. Each is handled on its own: a message in
a conversation, a withdrawal of a message, a channel signal, or an explicit decision to ignore.
Pure data: no I/O, no boto3.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chalicelib.domain.errors import MalformedPayload


class Platform(StrEnum):
    X = "x"
    MESSENGER = "messenger"  # Facebook Page inbox (DMs)
    FACEBOOK = "facebook"  # Facebook Page feed (comments)
    INSTAGRAM = "instagram"
    WHATSAPP = "whatsapp"


class Direction(StrEnum):
    IN = "in"  # from the customer
    OUT = "out"  # from the brand: an agent reply or an echo of one sent natively


class Channel(StrEnum):
    PUBLIC = "public"  # everyone sees it: tweets, comments
    PRIVATE = "private"  # DMs, Messenger, WhatsApp


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Person(_Frozen):
    """A platform user as the payload describes them (only what the payload carries)."""

    id: str
    handle: str | None = None  # @screen_name, IG username, WhatsApp number
    name: str | None = None
    followers: int | None = None


class Attachment(_Frozen):
    type: str  # image, video, audio, file, sticker, location, story_mention, ...
    url: str | None = None
    media_id: str | None = None  # WhatsApp media are fetched by id
    caption: str | None = None


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware (UTC)")
    return value


class MessageEvent(_Frozen):
    """A message in a conversation, from the customer (`in`) or from the brand (`out`).

    `thread` identifies the conversation on its platform; for X public replies
    the ingest service may move the message into the conversation of the tweet it replies to
    (the tweet index), so parsers set `thread` to the tweet's own chain root as far as the
    payload shows it and always fill `reply_to`.
    """

    kind: Literal["message"] = "message"
    platform: Platform
    thread: str
    message_id: str
    direction: Direction
    channel: Channel
    brand_id: str  # the brand's account on that platform: for_user_id, page id, IG id, phone id
    customer: Person  # the customer this conversation is with (for an echo: the recipient)
    author: Person  # who wrote this message (the customer, or the brand account)
    text: str = ""
    attachments: tuple[Attachment, ...] = ()
    created_at: datetime  # the platform's own timestamp
    reply_to: str | None = None  # platform message id this message answers
    # X self-serve rule: the brand may reply publicly only if the customer summoned it
    # (mentioned it or quoted its post). Parsers set it from the payload.
    summoned: bool = False
    edited: bool = False  # a Page comment edit: same message id, new text
    # Found by searching for the brand (X recent search, an Instagram or Page mention), not
    # addressed to one of its inboxes: the conversation it starts is marked so.
    found_by_listening: bool = False

    _check_created = field_validator("created_at")(_aware)


class MessageDeleted(_Frozen):
    """The customer withdrew a message (tweet delete, IG unsend, comment removal)."""

    kind: Literal["deleted"] = "deleted"
    platform: Platform
    message_id: str
    deleted_at: datetime
    author_id: str | None = None
    # The conversation's thread when the payload shows it (a DM, a comment): the deletion is
    # then queued in its message's group, so it applies after it. An X post's is not known.
    thread: str | None = None

    _check_deleted = field_validator("deleted_at")(_aware)


class ChannelSignal(_Frozen):
    """Something about the channel itself, not a conversation: an app revoked, a send failed."""

    kind: Literal["channel"] = "channel"
    platform: Platform
    brand_id: str | None
    signal: str  # "revoked", "send_failed", "delivered", "read", ...
    detail: str = ""
    message_id: str | None = None  # the brand's message a status refers to
    at: datetime | None = None


class Ignored(_Frozen):
    """An event accepted and deliberately not turned into a conversation (likes, typing...)."""

    kind: Literal["ignored"] = "ignored"
    platform: Platform
    event_type: str  # the platform's own name for it, safe to log
    reason: str


WebhookEvent = Annotated[
    MessageEvent | MessageDeleted | ChannelSignal | Ignored, Field(discriminator="kind")
]


__all__ = [
    "Attachment",
    "Channel",
    "ChannelSignal",
    "Direction",
    "Ignored",
    "MalformedPayload",
    "MessageDeleted",
    "MessageEvent",
    "Person",
    "Platform",
    "WebhookEvent",
]
