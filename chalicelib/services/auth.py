"""Who is calling `/api/*`: the admin (the seeded admin token) or an agent (a token created by
an admin, stored hashed), and what they may see. Comparisons are timing-safe.

An agent sees only the conversations of their teams; an admin sees every team. `sees` is the
one place that rule lives, for the JSON API and the console alike."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.conversations import Conversation
from chalicelib.domain.errors import Forbidden, Unauthorized


@dataclass(frozen=True)
class Principal:
    id: str
    role: str  # "admin" | "agent"
    teams: tuple[str, ...] = ()  # an agent's teams; an admin sees every team


@dataclass(frozen=True)
class AuthDeps:
    admin_token: Callable[[], str]
    find_token: Callable[[str], dict[str, Any] | None]  # agent record by token (hashed lookup)


def authenticate(header: str | None, deps: AuthDeps) -> Principal:
    scheme, _, token = (header or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 256:
        raise Unauthorized("Authorization: Bearer <token> is required")
    admin = deps.admin_token()
    if admin and hmac.compare_digest(token.encode(), admin.encode()):
        return Principal(id="admin", role="admin")
    record = deps.find_token(token)
    if record is None:
        raise Unauthorized("unknown or revoked token")
    return Principal(id=str(record["agent"]["id"]), role=str(record.get("role", "agent")),
                     teams=tuple(str(t) for t in record.get("teams") or ()))


def require(principal: Principal, *roles: str) -> Principal:
    if principal.role not in roles:
        raise Forbidden(f"this needs the {' or '.join(roles)} role")
    return principal


def sees_team(principal: Principal, team: str) -> bool:
    return principal.role == "admin" or team in principal.teams


def sees(principal: Principal, conversation: Conversation, default_team: str) -> bool:
    """May this caller see (and act on) this conversation? One not triaged yet waits in the
    default team's care."""
    return sees_team(principal, conversation.team or default_team)
