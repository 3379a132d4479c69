"""WhatsApp Cloud API payloads (`object` = `whatsapp_business_account`) -> normalised events.

A thread is one customer's chat with one business number: `wa-<phone_number_id>-<wa_id>`.
Statuses of the brand's own messages are channel signals (a `failed` one means a reply never
reached the customer: the channel health check wants to know).
"""

from __future__ import annotations

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
    MessageEvent,
    Person,
    Platform,
    WebhookEvent,
)
from chalicelib.webhooks.shapes import identifier, items, mapping, optional_id, sub, text, when

WA = Platform.WHATSAPP
_MEDIA = ("image", "video", "audio", "document", "sticker")
# Things a customer can send that say nothing an agent must answer.
_NOT_MESSAGES = {"reaction": "a reaction is not a message"}


def parse_whatsapp(payload: Mapping[str, Any], received_at: datetime) -> list[WebhookEvent]:
    body = mapping(payload, "body")
    entries = body.get("entry")
    if not isinstance(entries, list):
        raise MalformedPayload("entry must be a list of entries")
    events: list[WebhookEvent] = []
    for n, raw in enumerate(entries):
        entry = mapping(raw, f"entry[{n}]")
        changes = entry.get("changes")
        if not isinstance(changes, list):
            raise MalformedPayload(f"entry[{n}].changes must be a list")
        for m, raw_change in enumerate(changes):
            change = mapping(raw_change, f"entry[{n}].changes[{m}]")
            events += _change(change, received_at, f"entry[{n}].changes[{m}]")
    return events


def _change(change: Mapping[str, Any], received_at: datetime, path: str) -> list[WebhookEvent]:
    field = text(change.get("field")) or "unknown"
    if field != "messages":
        return [Ignored(platform=WA, event_type=field, reason="unsupported event type")]
    value = mapping(change.get("value"), f"{path}.value")
    metadata = mapping(value.get("metadata"), f"{path}.value.metadata")
    phone_id = identifier(metadata.get("phone_number_id"), "metadata.phone_number_id")
    names = {str(c.get("wa_id")): _profile_name(c)
             for c in items(value.get("contacts"), "contacts") if isinstance(c, Mapping)}
    events: list[WebhookEvent] = [
        _message(mapping(m, "message"), phone_id, names, received_at)
        for m in items(value.get("messages"), f"{path}.value.messages")]
    events += [_status(mapping(s, "status"), phone_id, received_at)
               for s in items(value.get("statuses"), f"{path}.value.statuses")]
    return events


def _profile_name(contact: Mapping[str, Any]) -> str | None:
    profile = contact.get("profile")
    return text(profile.get("name")) or None if isinstance(profile, Mapping) else None


def _message(message: Mapping[str, Any], phone_id: str, names: Mapping[str, str | None],
             received_at: datetime) -> WebhookEvent:
    message_id = identifier(message.get("id"), "message.id")
    sender = identifier(message.get("from"), "message.from")
    kind = text(message.get("type")) or "unknown"
    if kind in _NOT_MESSAGES:
        return Ignored(platform=WA, event_type=kind, reason=_NOT_MESSAGES[kind])
    body, attachments = _content(kind, message)
    if body is None:
        return Ignored(platform=WA, event_type=kind, reason="unsupported event type")
    customer = Person(id=sender, handle=sender, name=names.get(sender))
    context = sub(message, "context")
    return MessageEvent(platform=WA, thread=f"wa-{phone_id}-{sender}", message_id=message_id,
                        direction=Direction.IN, channel=Channel.PRIVATE, brand_id=phone_id,
                        customer=customer, author=customer, text=body,
                        attachments=attachments,
                        created_at=when(message.get("timestamp"), received_at),
                        reply_to=optional_id(context.get("id")))


def _content(kind: str, message: Mapping[str, Any]) -> tuple[str | None, tuple[Attachment, ...]]:
    """The words an agent reads and the media, per message type; None if not a message."""
    part = sub(message, kind)
    if kind == "text":
        return text(part.get("body")), ()
    if kind in _MEDIA:
        caption = text(part.get("caption")) or None
        return caption or "", (Attachment(type=kind, media_id=optional_id(part.get("id")),
                                          caption=caption),)
    if kind == "interactive":
        reply = part.get(text(part.get("type")))
        if not isinstance(reply, Mapping):
            return None, ()
        # The option's title is what the customer chose; a list row's description helps the
        # agent see what that option meant.
        title, description = text(reply.get("title")), text(reply.get("description"))
        return (f"{title} - {description}" if description else title), ()
    if kind == "button":  # a template's quick-reply button
        return text(part.get("text")) or text(part.get("payload")), ()
    if kind == "location":
        return text(part.get("name")) or "location", (Attachment(type="location"),)
    return None, ()


def _status(status: Mapping[str, Any], phone_id: str, received_at: datetime) -> WebhookEvent:
    state = text(status.get("status")) or "unknown"
    at = when(status.get("timestamp"), received_at)
    message_id = optional_id(status.get("id"))
    if state == "failed":
        errors = [e for e in items(status.get("errors"), "status.errors")
                  if isinstance(e, Mapping)]
        detail = "; ".join(f"{e.get('code')} {text(e.get('title'))}".strip() for e in errors)
        return ChannelSignal(platform=WA, brand_id=phone_id, signal="send_failed",
                             detail=detail, message_id=message_id, at=at)
    return ChannelSignal(platform=WA, brand_id=phone_id, signal=state, message_id=message_id,
                         at=at)
