"""Domain objects as DynamoDB items; the key shapes are a contract (docs/architecture.md).

Every key prefix and fixed sort key is spelled here once: the adapters and the bench's meter
build and recognise keys through these names."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from chalicelib.adapters.dynamodb.codec import key
from chalicelib.domain.conversations import Conversation, Outcome, Status
from chalicelib.domain.events import Channel, MessageEvent, Person, Platform
from chalicelib.domain.facts import Facts, Planned, TurnPlan

# Partition key prefixes.
CONVERSATION = "CONV#"  # a conversation: META, its MSG#, TURN# and UNSURE# items
CLAIM = "MSGID#"  # a platform message id's claim (an agent's reply, a brand post elsewhere)
TWEET = "TWEET#"  # an X post's thread
CUSTOMER = "CUST#"  # a customer's profile
ERASED = "ERASED#"  # an erased customer's tombstone
DUE = "DUE#"  # a bucket's due checks (due_checks.py)
ALERT = "ALERT#"  # one alert of a turn (alert_log.py)
# Sort keys: fixed ones, then prefixes within a conversation.
META, CLAIM_SK, TWEET_SK, PROFILE, ERASED_SK = "META", "MSGID", "TWEET", "PROFILE", "ERASED"
ALERT_SK = "ALERT"
MESSAGE = "MSG#"  # a message, sorted by its time within its conversation (message_sk)
TURN = "TURN#"
UNSURE = "UNSURE#"
# GSI1 partitions.
QUEUE = "QUEUE#"  # a team's conversations in one status (the inbox)
TURNS = "TURNS#"  # the turns opened on one day (the SLA report)

UNTRIAGED = "untriaged"  # the inbox team of a conversation triage has not seen yet
# How long an erased customer's tombstone stays: longer than any platform keeps redelivering a
# webhook (WhatsApp retries for up to 7 days, Meta and X for less), so a late redelivery of
# erased words finds it and stores nothing.
TOMBSTONE = timedelta(days=14)


def conversation_pk(platform: Platform | str, thread: str) -> str:
    return f"{CONVERSATION}{Platform(platform).value}#{thread}"


def message_sk(message_id: str, at: datetime) -> str:
    """A message's sort key: its conversation's messages sort by time (`Facts.message_at`)."""
    return f"{MESSAGE}{at.isoformat()}#{message_id}"


def event_sk(event: MessageEvent) -> str:
    """Where a message's own time puts it (an agent's reply's echo: not where the reply is)."""
    return message_sk(event.message_id, event.created_at)


def message_at(sk: str) -> datetime:
    """The time a message's sort key holds (the inverse of `message_sk`: an ISO time has no
    `#`, the message id may)."""
    return datetime.fromisoformat(sk.removeprefix(MESSAGE).partition("#")[0])


def claim_pk(platform: Platform | str, message_id: str) -> str:
    return f"{CLAIM}{Platform(platform).value}#{message_id}"


def claim_key(platform: Platform | str, message_id: str) -> dict[str, Any]:
    return key(claim_pk(platform, message_id), CLAIM_SK)


def claim_item(platform: Platform | str, message_id: str, expires_at: int,
               **fields: Any) -> dict[str, Any]:
    """A message id's claim, for the few messages not found where their own time puts them:
    an agent's reply writes one before its commit (`received_at`, and where it is kept:
    `conversation_pk`, `message_sk`), so its echo is a duplicate; the worker claims a Meta
    comment the same way (the feed and a mention deliver it under two threads); a brand
    message stored nowhere keeps only that it was done with (`elsewhere`), an erased
    customer's message `erased`. The webhook writes none (its queue's deduplication id and
    the worker's applied check drop redeliveries)."""
    return {"PK": claim_pk(platform, message_id), "SK": CLAIM_SK, **fields,
            "expires_at": expires_at}


def tweet_pk(tweet_id: str) -> str:
    return f"{TWEET}{tweet_id}"


def customer_pk(platform: Platform | str, user_id: str) -> str:
    return f"{CUSTOMER}{Platform(platform).value}#{user_id}"


def erased_pk(platform: Platform | str, user_id: str) -> str:
    """An erased customer's tombstone: the id hashed, as the tombstone outlives the erasure
    (a WhatsApp id is a phone number)."""
    digest = hashlib.sha256(f"{Platform(platform).value}#{user_id}".encode()).hexdigest()
    return f"{ERASED}{Platform(platform).value}#{digest[:32]}"


def due_pk(bucket: int) -> str:
    return f"{DUE}{bucket}"


def alert_log_key(alert: str) -> dict[str, Any]:
    """`alert`: the due check's key (chalicelib/domain/timers.py `DueCheck.key`)."""
    return key(f"{ALERT}{alert}", ALERT_SK)


def sent_text_pk(message_id: str) -> str:
    """An alert publish by its SNS MessageId: what it covered, for a failed text's trace."""
    return f"SMS#{message_id}"


SMS_FAILED_PK = "SMSFAILED"  # one counter item per day and team (SK: YYYY-MM-DD#<team>)


def turn_sk(turn: int) -> str:
    return f"{TURN}{turn:06d}"


def unsure_sk(idempotency_key: str) -> str:
    return f"{UNSURE}{idempotency_key[:32]}"


def queue_pk(team: str, status: str) -> str:
    return f"{QUEUE}{team}#{status}"


def turns_pk(day: str) -> str:
    """`day`: an ISO date, or the first ten characters of an ISO time."""
    return f"{TURNS}{day[:10]}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _dt(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def inbox_keys(c: Conversation) -> dict[str, str]:
    """GSI1, the inbox: one partition per team and status, earliest deadline first."""
    team = c.team or UNTRIAGED
    order = _iso(c.due_at) if c.status is Status.AWAITING_AGENT and c.due_at else (
        _iso(c.turn_opened_at) or _iso(c.created_at))
    return {"GSI1PK": queue_pk(team, c.status.value), "GSI1SK": f"{order}#{c.id}"}


def conversation_item(c: Conversation, expires_at: int) -> dict[str, Any]:
    return {
        "PK": conversation_pk(c.platform, c.thread), "SK": META, **inbox_keys(c),
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


def plan_fields(facts: Facts) -> dict[str, Any]:
    """What the turn's record (the SLA report's row) keeps of its plan."""
    p = facts.plan
    return {"team": p.team, "priority": p.priority, "due_at": p.due_at.isoformat(),
            "warn_at": p.warn_at.isoformat(),
            # Only when true: the report tells these turns apart.
            "late_delivery": p.late_delivery or None} if p else {}


def facts_item(facts: Facts) -> dict[str, Any]:
    """The one place `Facts` become the map kept on the message item (no text: never stored).
    `planned` is kept as True, False or no key, as records have always had it."""
    plan = plan_fields(facts)
    return {
        "outcome": facts.outcome.value, "conversation": facts.conversation,
        "turn": facts.turn, "message_id": facts.message_id,
        "message_sk": message_sk(facts.message_id, facts.message_at),
        "received_at": facts.received_at.isoformat(), "opened_at": _iso(facts.opened_at),
        "complaints_before": facts.complaints_before,
        "response_seconds": facts.response_seconds, "answered_at": _iso(facts.answered_at),
        "planned": {Planned.YES: True, Planned.UNCHANGED: False}.get(facts.planned),
        **plan}


def facts_from(item: Mapping[str, Any] | None) -> Facts | None:
    """The stored map back into `Facts` (None for a message stored without any)."""
    if not item:
        return None

    def at(name: str) -> datetime | None:
        return datetime.fromisoformat(str(item[name])) if item.get(name) else None

    plan = None
    if all(item.get(k) for k in ("team", "priority", "due_at", "warn_at")):
        plan = TurnPlan(team=str(item["team"]), priority=str(item["priority"]),
                        due_at=datetime.fromisoformat(str(item["due_at"])),
                        warn_at=datetime.fromisoformat(str(item["warn_at"])),
                        late_delivery=bool(item.get("late_delivery")))
    stored = item.get("planned")  # True, False, or no key
    planned = (Planned.NOT_TRIAGED if stored is None
               else Planned.YES if stored else Planned.UNCHANGED)
    if planned is Planned.YES and plan is None:
        planned = Planned.NOT_TRIAGED  # YES always comes with its plan
    seconds = item.get("response_seconds")
    return Facts(
        outcome=Outcome(item["outcome"]), conversation=str(item["conversation"]),
        turn=int(item["turn"]), message_id=str(item["message_id"]),
        message_at=message_at(str(item["message_sk"])),
        received_at=datetime.fromisoformat(str(item["received_at"])),
        opened_at=at("opened_at"), complaints_before=int(item.get("complaints_before", 0)),
        response_seconds=float(seconds) if seconds is not None else None,
        answered_at=at("answered_at"), planned=planned, plan=plan)


def opened_turn(c: Conversation, facts: Facts, expires_at: int) -> dict[str, Any]:
    """A turn's record as its opening message writes it; GSI1 files it under its day."""
    turn = facts.turn
    opened = (facts.opened_at or facts.received_at).isoformat()
    return {
        "GSI1PK": turns_pk(opened), "GSI1SK": f"{opened}#{c.id}#{turn}",
        "conversation": c.id, "turn": turn, "platform": c.platform.value,
        "channel": c.channel.value, "opened_at": opened, "first": turn == 1,
        "account": c.brand_id,  # the brand account written to: the report's by-account line
        "expires_at": expires_at, **plan_fields(facts),
        # Only when true: the report gives turns found by listening their own line.
        "found_by_listening": c.found_by_listening or None,
    }
