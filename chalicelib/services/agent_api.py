"""What an agent does: read the inbox in deadline order, open a conversation, reply on the
customer's platform, assign, resolve, reopen; each only within the caller's teams.

A conversation of another team is answered exactly like one that does not exist, so an agent
cannot learn what other teams handle by probing ids."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from chalicelib import observability
from chalicelib.domain import conversations as turns
from chalicelib.domain.conversations import Conversation, Status
from chalicelib.domain.cursors import open_cursor, sign
from chalicelib.domain.errors import (
    BadRequest,
    ChannelAuthFailed,
    ConversationNotFound,
    NotFound,
    ReplyMaybeSent,
    StoreUnavailable,
    VersionConflict,
)
from chalicelib.domain.events import Channel, Direction, MessageEvent, Person
from chalicelib.domain.facts import committed
from chalicelib.domain.ports import (
    ChannelLog,
    ConversationStore,
    NewMessage,
    SeenMessage,
)
from chalicelib.domain.replies import ReplyRoute, advise, route
from chalicelib.domain.reports import sla_report
from chalicelib.services.auth import Principal, sees, sees_team

PAGE_SIZE = 25
STATUSES = tuple(s.value for s in Status)


class Inbox(Protocol):
    def inbox(self, team: str, status: str, limit: int, cursor: str | None
              ) -> tuple[list[Conversation], str | None]: ...

    def messages(self, conversation_id: str) -> list[dict[str, Any]]: ...


class UnsureReplies(Protocol):
    """Replies whose post may or may not have reached the platform (adapters/dynamodb/
    conversations.py)."""

    def unsure(self, conversation_id: str, key_: str, attempt: dict[str, Any]) -> None: ...

    def unsure_replies(self, conversation_id: str) -> list[dict[str, Any]]: ...


class ReplyLog(Protocol):
    """An agent's sent reply, kept in its conversation (adapters/dynamodb/reply_log.py)."""

    def seen(self, sent: MessageEvent) -> SeenMessage | None:
        """Kept already: its echo came first and was applied."""
        ...

    def record(self, message: NewMessage) -> None:
        """Commit the conversation if it is still at `expected_version` (VersionConflict
        otherwise), with the reply, its turn, and a claim on its id saying where it is kept,
        written first so that its echo finds it."""
        ...


@dataclass(frozen=True)
class AgentDeps:
    conversations: ConversationStore
    inbox: Inbox
    replies: ReplyLog
    send: Callable[[ReplyRoute, str, str], str]  # (route, text, idempotency key) -> id
    now: Callable[[], datetime]
    default_team: str
    on_turn: Callable[[str, int, dict[str, Any]], None]
    cursor_key: Callable[[], str]  # signs inbox cursors (a secret: read when needed)
    agent_teams: Callable[[str], tuple[str, ...] | None]  # None: no such agent
    meta_human_agent: bool = False
    channels: ChannelLog | None = None  # a revoked token, told to the channel watch
    unsure: UnsureReplies | None = None
    # (platform, brand account) -> the channel a send's health is told to: per declared
    # account (Policies.health_channel), else the platform.
    health_channel: Callable[[str, str], str] = lambda platform, account: platform


def summary(c: Conversation, now: datetime) -> dict[str, Any]:
    left = (c.due_at - now).total_seconds() if c.due_at and (
        c.status is Status.AWAITING_AGENT) else None
    return {
        "id": c.id, "platform": c.platform.value, "channel": c.channel.value,
        "status": c.status.value, "priority": c.priority, "reasons": list(c.reasons),
        "team": c.team, "turn": c.turn,
        "due_at": c.due_at.isoformat() if c.due_at else None,
        "seconds_left": round(left) if left is not None else None,
        "customer": c.customer.model_dump(exclude_none=True),
        "assignee": c.assignee, "acked_by": c.acked_by,
        "last_response_seconds": c.last_response_seconds,
        "late_delivery": c.late_delivery,
        "found_by_listening": c.found_by_listening,
        "account": c.brand_id,  # the brand account the customer wrote to (its replies' sender)
    }


def _inbox_team(params: Mapping[str, str], principal: Principal,
                default_team: str) -> str | None:
    """The team asked for, else the default team when the caller is in it, else their first."""
    team = params.get("team")
    if team is not None:
        if not sees_team(principal, team):
            raise NotFound(f"team {team}: not one of your teams")
        return team
    if sees_team(principal, default_team):
        return default_team
    return min(principal.teams) if principal.teams else None


def list_inbox(params: Mapping[str, str], principal: Principal,
               deps: AgentDeps) -> dict[str, Any]:
    status = params.get("status", Status.AWAITING_AGENT.value)
    if status not in STATUSES:
        raise BadRequest(f"status: one of {', '.join(STATUSES)}")
    try:
        limit = min(100, max(1, int(params.get("limit", PAGE_SIZE))))
    except ValueError as error:
        raise BadRequest("limit: a number from 1 to 100") from error
    team = _inbox_team(params, principal, deps.default_team)
    if team is None:  # an agent in no team yet: nothing to see, and that is not an error
        return {"team": None, "conversations": [], "next": None}
    # A cursor continues the query it was minted for: this team and status, nothing else.
    query = f"{team}\n{status}"
    position = None
    if params.get("cursor") is not None:
        position = open_cursor(deps.cursor_key(), query, params["cursor"])
        if position is None:
            raise BadRequest("cursor: not one this API returned for this team and status")
    found, after = deps.inbox.inbox(team, status, limit, position)
    now = deps.now()
    return {"team": team, "conversations": [summary(c, now) for c in found],
            "next": sign(deps.cursor_key(), query, after) if after else None}


MAX_SCANNED = 500  # rows read per team for one inbox view: bounds what one page costs


def _queue_order(c: Conversation) -> datetime:
    """The inbox index's order (records.inbox_keys): the deadline while we owe a reply."""
    if c.status is Status.AWAITING_AGENT and c.due_at:
        return c.due_at
    return c.turn_opened_at or c.created_at


def waiting(principal: Principal, teams: tuple[str, ...], params: Mapping[str, str],
            show: int, deps: AgentDeps) -> dict[str, Any]:
    """The console's inbox: every team given (or the one asked for) merged, earliest deadline
    first, the platform filter applied before the cut, and how many more there are, so that
    nothing waiting hides behind a page or another team."""
    status = params.get("status") or Status.AWAITING_AGENT.value
    if status not in STATUSES:
        raise BadRequest(f"status: one of {', '.join(STATUSES)}")
    team = params.get("team")
    if team:
        if not sees_team(principal, team):
            raise NotFound(f"team {team}: not one of your teams")
        teams = (team,)
    platform = params.get("platform")
    found: list[Conversation] = []
    unknown_more = False  # a team's queue was not read to its end
    for queue in teams:
        matched: list[Conversation] = []
        cursor, scanned = None, 0
        while True:
            page, cursor = deps.inbox.inbox(queue, status,
                                            100 if platform else min(100, show + 1), cursor)
            scanned += len(page)
            matched.extend(c for c in page if not platform or c.platform.value == platform)
            if cursor is None or len(matched) > show or scanned >= MAX_SCANNED:
                break
        unknown_more = unknown_more or cursor is not None
        found.extend(matched)
    found.sort(key=lambda c: (_queue_order(c), c.id))
    now = deps.now()
    return {"conversations": [summary(c, now) for c in found[:show]],
            "more": max(0, len(found) - show), "more_unknown": unknown_more}


def _get(conversation_id: str, principal: Principal, deps: AgentDeps) -> Conversation:
    c = deps.conversations.get(conversation_id)
    if c is None or not sees(principal, c, deps.default_team):
        raise ConversationNotFound(f"no conversation {conversation_id}")
    return c


def show(conversation_id: str, principal: Principal, deps: AgentDeps) -> dict[str, Any]:
    c = _get(conversation_id, principal, deps)
    messages = sorted(deps.inbox.messages(c.id), key=lambda m: str(m.get("created_at")))
    now = deps.now()
    advice = advise(c, now, human_agent=deps.meta_human_agent)
    return {**summary(c, now), "reply": {
        "limit": advice.limit, "private": advice.private, "allowed": advice.allowed,
        "rule": advice.rule,
        "closes_at": advice.closes_at.isoformat() if advice.closes_at else None},
        "messages": [
        {"id": m.get("message_id"), "direction": m.get("direction"),
         "author": m.get("author"), "text": m.get("text", ""), "channel": m.get("channel"),
         "created_at": m.get("created_at"), "deleted": bool(m.get("deleted", False)),
         "attachments": m.get("attachments", [])} for m in messages],
        "unsure_replies": _unsure(c.id, messages, deps)}


def _unsure(conversation_id: str, messages: list[dict[str, Any]],
            deps: AgentDeps) -> list[dict[str, Any]]:
    """Replies that may have been sent, each settled ("sent") once the platform's echo of the
    brand's post with the same text is in the conversation."""
    if deps.unsure is None:
        return []
    out = []
    for attempt in sorted(deps.unsure.unsure_replies(conversation_id),
                          key=lambda a: str(a.get("attempted_at"))):
        echo = next((m for m in messages if m.get("direction") == "out"
                     and m.get("text") == attempt.get("text")
                     and str(m.get("created_at")) >= str(attempt.get("attempted_at"))[:16]),
                    None)
        out.append({"text": attempt.get("text"), "author": attempt.get("author"),
                    "attempted_at": attempt.get("attempted_at"),
                    "detail": attempt.get("detail"),
                    "state": "sent" if echo else "may_have_been_sent",
                    "message_id": echo.get("message_id") if echo else None})
    return out


def _update(conversation_id: str, principal: Principal, deps: AgentDeps,
            change: Callable[[Conversation], Conversation]) -> dict[str, Any]:
    for _ in range(5):
        c = _get(conversation_id, principal, deps)
        try:
            deps.conversations.save(change(c))
        except VersionConflict:
            continue
        return summary(_get(conversation_id, principal, deps), deps.now())
    raise VersionConflict(conversation_id)


def assign(conversation_id: str, body: Any, principal: Principal,
           deps: AgentDeps) -> dict[str, Any]:
    agent = body.get("agent") if isinstance(body, Mapping) else None
    if not isinstance(agent, str) or not agent or len(agent) > 200:
        raise BadRequest("agent: the id of the agent to assign")

    def to_agent(c: Conversation) -> Conversation:
        # Only someone who can see the conversation can work on it.
        team = c.team or deps.default_team
        if team not in (deps.agent_teams(agent) or ()):
            raise BadRequest(f"agent: {agent} is not an agent of team {team}")
        return replace(c, assignee=agent)

    return _update(conversation_id, principal, deps, to_agent)


def resolve(conversation_id: str, principal: Principal, deps: AgentDeps) -> dict[str, Any]:
    """Resolved: no timer runs; the customer writing again opens a new turn."""
    return _update(conversation_id, principal, deps,
                   lambda c: replace(c, status=Status.RESOLVED))


def reopen(conversation_id: str, principal: Principal, deps: AgentDeps) -> dict[str, Any]:
    return _update(conversation_id, principal, deps, lambda c: replace(
        c, status=Status.AWAITING_CUSTOMER if c.status is Status.RESOLVED else c.status))


def reply(conversation_id: str, body: Any, agent: Principal, idempotency_key: str | None,
          deps: AgentDeps) -> dict[str, Any]:
    if not isinstance(body, Mapping) or not isinstance(body.get("text"), str):
        raise BadRequest('body: {"text": "...", "private": false}')
    text, private = body["text"], bool(body.get("private", False))
    c = _get(conversation_id, agent, deps)
    now = deps.now()
    chosen = route(c, text=text, private=private, now=now,
                   human_agent=deps.meta_human_agent)
    # The same request retried (same key, or same agent/turn/text) sends once. A caller's key
    # is theirs, on this conversation: another agent's "1", or "1" on another conversation,
    # is another reply (never answered with this one's result).
    key = hashlib.sha256((f"key|{agent.id}|{c.id}|{idempotency_key}" if idempotency_key
                          else f"auto|{c.id}|{c.turn}|{agent.id}|{text}|{private}").encode()
                         ).hexdigest()
    try:
        message_id = deps.send(chosen, text, key)
    except ChannelAuthFailed as failure:
        # The token is expired or revoked: every reply on this channel will fail until an
        # admin reconnects it, so say so where it is seen (/health), not just to this agent.
        if deps.channels is not None:
            deps.channels.problem(deps.health_channel(c.platform.value, c.brand_id),
                                  "unhealthy", str(failure))
        raise
    except ReplyMaybeSent as unsure:
        # Not resent (the customer would see it twice): the conversation shows it as maybe
        # sent until the platform's echo of it arrives; the turn's clock keeps running.
        if deps.unsure is not None:
            with suppress(StoreUnavailable):
                deps.unsure.unsure(c.id, key, {
                    "text": text, "author": agent.id, "route": chosen.kind,
                    "attempted_at": now.isoformat(), "detail": unsure.detail})
        raise
    if deps.channels is not None:
        with suppress(StoreUnavailable):  # bookkeeping: the reply is out; record it, don't fail
            # The last send went through.
            deps.channels.problem(deps.health_channel(c.platform.value, c.brand_id),
                                  "healthy", "")
    sent = MessageEvent(
        platform=c.platform, thread=c.thread, message_id=message_id, direction=Direction.OUT,
        channel=Channel.PUBLIC if chosen.kind in ("public_reply", "comment_reply",
                                                  "mention_reply")
        else Channel.PRIVATE, brand_id=c.brand_id, customer=c.customer,
        author=Person(id=agent.id), text=text, created_at=now,
        reply_to=(chosen.comment_id or chosen.recipient) if chosen.kind != "dm" else None)
    answered = _record(sent, c.id, now, deps)
    return {"message": {"id": message_id, "platform": c.platform.value, "route": chosen.kind,
                        "text": text, "created_at": now.isoformat(), "author": agent.id},
            "conversation": summary(answered, now)}


def _get_any(conversation_id: str, deps: AgentDeps) -> Conversation:
    """Bookkeeping after a reply went out reads the conversation whatever its team now."""
    c = deps.conversations.get(conversation_id)
    if c is None:
        raise ConversationNotFound(f"no conversation {conversation_id}")
    return c


def _record(sent: MessageEvent, conversation_id: str, now: datetime,
            deps: AgentDeps) -> Conversation:
    """Store the reply in its conversation and close the turn (stopping its timers). The
    platform's echo of this reply, arriving later, is then a duplicate."""
    for _ in range(8):
        c = _get_any(conversation_id, deps)
        if c.last_message_id == sent.message_id or deps.replies.seen(sent):
            return c  # the platform's echo got here first and already answered the turn
        transition = turns.answer(c, now, sent.message_id)
        after = replace(transition.conversation, assignee=c.assignee or sent.author.id)
        try:
            deps.replies.record(NewMessage(
                event=sent, conversation=after, expected_version=c.version,
                outcome=transition.outcome, received_at=now,
                facts=committed(transition.outcome, sent.message_id, sent.created_at, after,
                                now),
                response_seconds=transition.response_seconds))
        except VersionConflict:
            continue
        if transition.response_seconds is not None:
            observability.response_time(c.platform.value, transition.response_seconds,
                                        first=c.first_turn)
        return replace(after, version=c.version + 1)
    raise VersionConflict(conversation_id)


class TurnLog(Protocol):
    def turns(self, start: date, end: date) -> list[dict[str, Any]]: ...


MAX_REPORT_DAYS = 92


# Texts SNS reported failed, per team, over the days from start to end (adapters/dynamodb/
# sent_texts.py): the report shows how many alerts did not reach a phone.
TextsFailed = Callable[[date, date], Mapping[str, int]]


def report(params: Mapping[str, str], principal: Principal, turn_log: TurnLog, now: datetime,
           default_team: str, texts_failed: TextsFailed | None = None) -> dict[str, Any]:
    """`GET /api/reports/sla?from=YYYY-MM-DD&to=YYYY-MM-DD&team=`: default the last 7 days,
    over the caller's teams (an admin's: every team)."""
    try:
        end = date.fromisoformat(params["to"]) if "to" in params else now.date()
        start = date.fromisoformat(params["from"]) if "from" in params else (
            end - timedelta(days=6))
    except ValueError as error:
        raise BadRequest("from/to: dates like 2026-11-24") from error
    if end < start or (end - start).days >= MAX_REPORT_DAYS:
        raise BadRequest(f"from must not be after to, and at most {MAX_REPORT_DAYS} days")
    team = params.get("team")
    if team and not sees_team(principal, team):
        raise NotFound(f"team {team}: not one of your teams")
    rows = [r for r in turn_log.turns(start, end)
            if sees_team(principal, str(r.get("team") or default_team))]
    if team:
        rows = [r for r in rows if r.get("team") == team]
    failed = None
    if texts_failed is not None:
        failed = sum(n for t, n in texts_failed(start, end).items()
                     if sees_team(principal, t) and (not team or t == team))
    return {"from": start.isoformat(), "to": end.isoformat(), "team": team,
            **sla_report(rows, now), "texts_failed": failed}
