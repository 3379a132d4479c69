"""Who is calling `/api/*`: the admin (the seeded admin token) or an agent (a token created by
an admin, stored hashed). Comparisons are timing-safe."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.errors import Forbidden, Unauthorized


@dataclass(frozen=True)
class Principal:
    id: str
    role: str  # "admin" | "agent"


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
    return Principal(id=str(record["agent"]["id"]), role=str(record.get("role", "agent")))


def require(principal: Principal, *roles: str) -> Principal:
    if principal.role not in roles:
        raise Forbidden(f"this needs the {' or '.join(roles)} role")
    return principal
