"""Domain objects as DynamoDB items; the key shapes are a contract (docs/architecture.md)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.conversations import Conversation, Status
from chalicelib.domain.events import Channel, MessageEvent, Person, Platform

UNTRIAGED = "untriaged"  # the inbox team of a conversation triage has not seen yet
# How long an erased customer's tombstone stays: longer than any platform keeps redelivering a
# webhook (WhatsApp retries for up to 7 days, Meta and X for less), so a late redelivery of
# erased words finds it and stores nothing.
TOMBSTONE = timedelta(days=14)


def conversation_pk(platform: Platform | str, thread: str) -> str:
    return f"CONV#{Platform(platform).value}#{thread}"


def dedupe_pk(platform: Platform | str, message_id: str) -> str:
    return f"MSGID#{Platform(platform).value}#{message_id}"


def tweet_pk(tweet_id: str) -> str:
    return f"TWEET#{tweet_id}"


def customer_pk(platform: Platform | str, user_id: str) -> str:
    return f"CUST#{Platform(platform).value}#{user_id}"


def erased_pk(platform: Platform | str, user_id: str) -> str:
    """An erased customer's tombstone: the id hashed, as the tombstone outlives the erasure
    (a WhatsApp id is a phone number)."""
    digest = hashlib.sha256(f"{Platform(platform).value}#{user_id}".encode()).hexdigest()
    return f"ERASED#{Platform(platform).value}#{digest[:32]}"


def turn_sk(turn: int) -> str:
    return f"TURN#{turn:06d}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _dt(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def inbox_keys(c: Conversation) -> dict[str, str]:
    """GSI1, the inbox: one partition per team and status, earliest deadline first."""
    team = c.team or UNTRIAGED
    order = _iso(c.due_at) if c.status is Status.AWAITING_AGENT and c.due_at else (
        _iso(c.turn_opened_at) or _iso(c.created_at))
    return {"GSI1PK": f"QUEUE#{team}#{c.status.value}", "GSI1SK": f"{order}#{c.id}"}


def conversation_item(c: Conversation, expires_at: int) -> dict[str, Any]:
    return {
        "PK": conversation_pk(c.platform, c.thread), "SK": "META", **inbox_keys(c),
        "id": c.id, "platform": c.platform.value, "thread": c.thread,
        "channel": c.channel.value, "brand_id": c.brand_id,
        "customer": c.customer.model_dump(exclude_none=True),
        "created_at": _iso(c.created_at), "status": c.status.value, "turn": c.turn,
        "turn_opened_at": _iso(c.turn_opened_at),
        "last_customer_message_id": c.last_customer_message_id,
        "last_customer_at": _iso(c.last_customer_at), "summoned": c.summoned,
        "last_response_seconds": c.last_response_seconds, "answered_at": _iso(c.answered_at),
        "team": c.team, "priority": c.priority, "reasons": list(c.reasons),
        "warn_at": _iso(c.warn_at), "due_at": _iso(c.due_at),
        "escalate_at": _iso(c.escalate_at), "assignee": c.assignee, "acked_by": c.acked_by,
        "acked_turn": c.acked_turn, "version": c.version,
        "last_message_id": c.last_message_id, "last_outcome": c.last_outcome,
        "late_delivery": c.late_delivery or None, "expires_at": expires_at,
        "found_by_listening": c.found_by_listening or None,
    }


def conversation_from(item: dict[str, Any]) -> Conversation:
    created = _dt(item["created_at"])
    assert created is not None
    return Conversation(
        platform=Platform(item["platform"]), thread=item["thread"],
        channel=Channel(item["channel"]), brand_id=item["brand_id"],
        customer=Person(**item["customer"]), created_at=created,
        status=Status(item["status"]), turn=int(item["turn"]),
        turn_opened_at=_dt(item.get("turn_opened_at")),
        last_customer_message_id=item.get("last_customer_message_id"),
        last_customer_at=_dt(item.get("last_customer_at")),
        summoned=bool(item.get("summoned", False)),
        last_response_seconds=item.get("last_response_seconds"),
        answered_at=_dt(item.get("answered_at")), team=item.get("team"),
        priority=item.get("priority"), reasons=tuple(item.get("reasons", ())),
        warn_at=_dt(item.get("warn_at")), due_at=_dt(item.get("due_at")),
        escalate_at=_dt(item.get("escalate_at")), assignee=item.get("assignee"),
        acked_by=item.get("acked_by"), acked_turn=item.get("acked_turn"),
        version=int(item.get("version", 0)), last_message_id=item.get("last_message_id"),
        last_outcome=item.get("last_outcome"),
        late_delivery=bool(item.get("late_delivery", False)),
        found_by_listening=bool(item.get("found_by_listening", False)),
    )


def message_item(event: MessageEvent, conversation: Conversation, sk: str,
                 received_at: datetime, expires_at: int) -> dict[str, Any]:
    return {
        "PK": conversation_pk(conversation.platform, conversation.thread), "SK": sk,
        "message_id": event.message_id, "direction": event.direction.value,
        "channel": event.channel.value, "author": event.author.model_dump(exclude_none=True),
        "text": event.text,
        "attachments": [a.model_dump(exclude_none=True) for a in event.attachments] or None,
        "created_at": _iso(event.created_at), "received_at": _iso(received_at),
        "reply_to": event.reply_to, "summoned": event.summoned or None,
        "found_by_listening": event.found_by_listening or None,
        "turn": conversation.turn, "expires_at": expires_at,
    }
