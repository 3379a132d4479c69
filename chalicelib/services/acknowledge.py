"""An agent taps the link in an alert: the turn is theirs, and escalation stops."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from chalicelib.domain.conversations import Conversation
from chalicelib.domain.errors import Forbidden
from chalicelib.domain.ports import AckLinks, ConversationStore, VersionConflict


@dataclass(frozen=True)
class AckDeps:
    links: AckLinks
    conversations: ConversationStore
    now: Callable[[], datetime]
    on_turn: Callable[[str, int, dict[str, object]], None] | None = None


@dataclass(frozen=True)
class Acknowledged:
    conversation: Conversation
    agent: str
    already: bool  # the same agent (or another) had acknowledged this turn before


def acknowledge(token: str, deps: AckDeps) -> Acknowledged:
    now = deps.now()
    grant = deps.links.redeem(token, now)
    if grant is None:
        raise Forbidden("This acknowledge link is invalid or has expired.")
    for _ in range(5):
        c = deps.conversations.get(grant.conversation)
        if c is None:
            raise Forbidden("This conversation no longer exists.")
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
