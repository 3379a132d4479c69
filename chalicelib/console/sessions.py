"""Signed-in browsers: a token is exchanged once for a session cookie.

The cookie holds a random session id; the store keeps only its SHA-256 with the principal and
an expiry, so an admin can revoke it and a leaked table opens nothing. The CSRF token is
derived from the session id (HMAC), so it needs no storage and cannot be guessed without the
cookie, and a leaked CSRF token does not reveal the session id.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.services.auth import Principal

COOKIE = "rw_session"
LIFETIME = timedelta(hours=12)


class SessionStore(Protocol):
    def put(self, digest: str, agent: str, role: str, created: datetime,
            expires: datetime, credential: str = "") -> None: ...

    def get(self, digest: str) -> dict[str, Any] | None: ...

    def delete(self, digest: str) -> None: ...

    def delete_for(self, agent: str) -> int: ...


@dataclass(frozen=True)
class SessionDeps:
    store: SessionStore
    now: Callable[[], datetime]
    lifetime: timedelta = LIFETIME
    # (agent, role) -> their teams now and a fingerprint of the credential they sign in with,
    # or None when they can no longer sign in. Read at every request (consistently): a new
    # token, a changed role or a removed agent ends their sessions at once.
    current: Callable[[str, str], Current | None] = lambda _agent, _role: Current((), "")


@dataclass(frozen=True)
class Current:
    teams: tuple[str, ...]
    credential: str


@dataclass(frozen=True)
class Session:
    id: str
    principal: Principal
    expires_at: datetime

    @property
    def csrf(self) -> str:
        return csrf_token(self.id)


def digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def csrf_token(session_id: str) -> str:
    return hmac.new(session_id.encode(), b"replywindow-console-csrf", hashlib.sha256).hexdigest()


def start(principal: Principal, deps: SessionDeps) -> Session:
    session_id = secrets.token_urlsafe(32)
    now = deps.now()
    expires = now + deps.lifetime
    now_ = deps.current(principal.id, principal.role)
    deps.store.put(digest(session_id), principal.id, principal.role, now, expires,
                   now_.credential if now_ else "")
    return Session(session_id, principal, expires)


def resume(session_id: str | None, deps: SessionDeps) -> Session | None:
    """The session the cookie names, or None (unknown, revoked or expired: sign in again). TTL
    deletion lags by hours, so the expiry is checked here too."""
    if not session_id or len(session_id) > 128:
        return None
    stored = deps.store.get(digest(session_id))
    if stored is None:
        return None
    expires = datetime.fromisoformat(str(stored["expires"]))
    if deps.now() >= expires:
        return None
    agent, role = str(stored["agent"]), str(stored["role"])
    current = deps.current(agent, role)
    if current is None or not hmac.compare_digest(str(stored.get("credential", "")).encode(),
                                                  current.credential.encode()):
        return None  # the token was replaced (or the agent removed) since signing in
    teams = current.teams if role == "agent" else ()
    return Session(session_id, Principal(id=agent, role=role, teams=teams), expires)


def fingerprint(role: str, token_digest: str) -> str:
    """What a session keeps of the credential it was started with: enough to notice a new
    token, nothing that helps guess one."""
    return hashlib.sha256(f"session|{role}|{token_digest}".encode()).hexdigest()[:32]


def end(session_id: str, deps: SessionDeps) -> None:
    deps.store.delete(digest(session_id))


def revoke(agent: str, deps: SessionDeps) -> dict[str, Any]:
    return {"agent": agent, "revoked": deps.store.delete_for(agent)}


def csrf_ok(session: Session, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(session.csrf.encode(),
                                                   str(submitted).encode())


def safe_next(candidate: str | None, default: str = "/console") -> str:
    """Where to go after signing in: a path of the console only, never another site
    (`//evil`, `/\\evil`, `https://…` are open redirects), or the alert page signing in came
    from (to reply from it)."""
    if (not candidate or not candidate.startswith(("/console", "/ack/")) or "\\" in candidate
            or "//" in candidate or any(ord(ch) < 0x20 or ch == "\x7f" for ch in candidate)):
        return default
    return candidate
