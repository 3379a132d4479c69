"""An agent taps the link in an alert: the page shows the alert; its button acknowledges.

Opening the link (GET) only reads: mail link scanners and SMS or chat previews fetch every link
before a person does, and an acknowledgement they made would silently stop the escalation. Only
the page's Acknowledge button (a POST) makes the turn the agent's and stops its breach and
escalation alerts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from chalicelib.domain.conversations import Conversation, Status
from chalicelib.domain.errors import Forbidden, VersionConflict
from chalicelib.domain.ports import AckGrant, AckLinks, ConversationStore
from chalicelib.domain.replies import ReplyAdvice, advise

RECENT_MESSAGES = 3  # as many as the alert's email carries


@dataclass(frozen=True)
class AckDeps:
    links: AckLinks
    conversations: ConversationStore
    now: Callable[[], datetime]
    on_turn: Callable[[str, int, dict[str, object]], None] | None = None
    human_agent: bool = False  # the Meta Page may use the HUMAN_AGENT tag (7-day window)


@dataclass(frozen=True)
class Acknowledged:
    conversation: Conversation
    agent: str
    already: bool  # the same agent (or another) had acknowledged this turn before


@dataclass(frozen=True)
class AlertView:
    """What the alert page shows the agent the link was sent to. Reading it changes nothing."""

    conversation: str
    agent: str  # whom the link was sent to: the one the button makes the turn's owner
    level: str  # where the turn stands now: "warning", "breach", "escalation" or "answered"
    platform: str
    handle: str | None
    name: str | None
    priority: str | None
    reasons: tuple[str, ...]
    seconds_left: float | None  # to the breach; negative once over; None without a deadline
    messages: tuple[tuple[str, str], ...]  # (who, text), oldest first
    acknowledged_by: str | None  # who acknowledged this turn, if anyone did
    due_at: datetime | None = None  # the breach, for a live countdown on the page
    followers: int | None = None  # the customer's reach, where the platform tells it
    first_time: bool = False  # triage found no complaint from this customer before
    reply: ReplyAdvice | None = None  # the platform's rules for a reply now; None if answered

    @property
    def open(self) -> bool:
        """The button has something to do: the turn awaits an answer and nobody has it."""
        return self.level != "answered" and self.acknowledged_by is None


def view(token: str, deps: AckDeps) -> AlertView:
    """The alert behind `token`, read only: Forbidden for a forged, unknown or expired link."""
    now = deps.now()
    grant = _grant(token, deps, now)
    c = _conversation(grant, deps)
    current = c.turn == grant.turn and c.status is Status.AWAITING_AGENT
    return AlertView(
        conversation=c.id, agent=grant.agent, level=_level(c, now) if current else "answered",
        platform=c.platform.value, handle=c.customer.handle, name=c.customer.name,
        priority=c.priority, reasons=tuple(c.reasons),
        seconds_left=(c.due_at - now).total_seconds() if c.due_at and current else None,
        messages=tuple(deps.conversations.recent(c.id, RECENT_MESSAGES)),
        acknowledged_by=c.acked_by if c.acked_turn == grant.turn else None,
        due_at=c.due_at if current else None, followers=c.customer.followers,
        first_time="first-time complainer" in c.reasons,
        reply=advise(c, now, human_agent=deps.human_agent) if current else None)


def _level(c: Conversation, now: datetime) -> str:
    if c.escalate_at is not None and now >= c.escalate_at:
        return "escalation"
    if c.due_at is not None and now >= c.due_at:
        return "breach"
    return "warning"


def _grant(token: str, deps: AckDeps, now: datetime) -> AckGrant:
    grant = deps.links.redeem(token, now)
    if grant is None:
        raise Forbidden("This acknowledge link is invalid or has expired.")
    return grant


def _conversation(grant: AckGrant, deps: AckDeps) -> Conversation:
    c = deps.conversations.get(grant.conversation)
    if c is None:
        raise Forbidden("This conversation no longer exists.")
    return c


def acknowledge(token: str, deps: AckDeps) -> Acknowledged:
    now = deps.now()
    grant = _grant(token, deps, now)
    for _ in range(5):
        c = _conversation(grant, deps)
        if c.turn != grant.turn or c.acked_turn == grant.turn:
            return Acknowledged(c, grant.agent, already=True)  # answered or acked already
        acked = replace(c, acked_by=grant.agent, acked_turn=grant.turn,
                        assignee=c.assignee or grant.agent)
        try:
            deps.conversations.save(acked)
        except VersionConflict:
            continue
        if deps.on_turn is not None:
            deps.on_turn(c.id, c.turn, {"acked_by": grant.agent, "acked_at": now.isoformat()})
        return Acknowledged(acked, grant.agent, already=False)
    raise VersionConflict(grant.conversation)
