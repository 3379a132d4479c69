"""Everything the console asks of the services, in one place. Every call carries the signed-in
Principal, so access rules (team scoping) are applied here once for every page."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from chalicelib import bootstrap
from chalicelib.config import settings
from chalicelib.console import sessions
from chalicelib.domain.errors import Forbidden
from chalicelib.domain.events import Platform
from chalicelib.services import agent_api, channel_watch, health, oncall_admin, self_watch
from chalicelib.services.auth import Principal, authenticate, require

PLATFORMS = tuple(p.value for p in Platform)


def session_deps() -> sessions.SessionDeps:
    from chalicelib.adapters.dynamodb.sessions import DynamoSessions

    return sessions.SessionDeps(store=DynamoSessions(bootstrap.dynamodb(), settings().table),
                                now=bootstrap.now, current=_current)


def _current(agent: str, role: str) -> sessions.Current | None:
    """Read at every request, like the API's token: an admin's change of teams applies at
    once, and a replaced token (or admin token) ends the sessions started with the old one."""
    if role == "admin" and agent == "admin":
        admin_token = bootstrap.secrets().admin_token or ""
        return sessions.Current((), sessions.fingerprint(
            role, hashlib.sha256(admin_token.encode()).hexdigest()))
    record = bootstrap.oncall().agent_record(agent)
    if record is None or str(record.get("role", "agent")) != role or not record.get("GSI1SK"):
        return None
    return sessions.Current(tuple(str(t) for t in record.get("teams") or ()),
                            sessions.fingerprint(role, str(record["GSI1SK"])))


def sign_in(token: str) -> Principal:
    """An agent's token, or the admin token; raises Unauthorized."""
    return require(authenticate(f"Bearer {token.strip()}", bootstrap.auth_deps()),
                   "agent", "admin")


def admin(authorization: str | None) -> Principal:
    return require(authenticate(authorization, bootstrap.auth_deps()), "admin")


def inbox(principal: Principal, params: dict[str, str], show: int) -> dict[str, Any]:
    """The inbox page's rows: all the caller's teams (or the one chosen), merged."""
    return agent_api.waiting(principal, visible_teams(principal), params, show,
                             bootstrap.agent_deps())


def teams() -> list[str]:
    policies = bootstrap.policies()
    return [policies.default_team, *(t for t in policies.teams if t != policies.default_team)]


def conversation(principal: Principal, conversation_id: str) -> dict[str, Any]:
    return agent_api.show(conversation_id, principal, bootstrap.agent_deps())


def reply(principal: Principal, conversation_id: str, text: str, private: bool,
          lambda_context: Any = None) -> dict[str, Any]:
    # Idempotent sending needs the invocation's time left, as the API's reply route gives it.
    bootstrap.lambda_context(lambda_context)
    return agent_api.reply(conversation_id, {"text": text, "private": private}, principal,
                           None, bootstrap.agent_deps())


def assign(principal: Principal, conversation_id: str, agent: str) -> dict[str, Any]:
    return agent_api.assign(conversation_id, {"agent": agent}, principal,
                            bootstrap.agent_deps())


def resolve(principal: Principal, conversation_id: str) -> dict[str, Any]:
    return agent_api.resolve(conversation_id, principal, bootstrap.agent_deps())


def reopen(principal: Principal, conversation_id: str) -> dict[str, Any]:
    return agent_api.reopen(conversation_id, principal, bootstrap.agent_deps())


def now() -> datetime:
    return bootstrap.now()


def visible_teams(principal: Principal) -> tuple[str, ...]:
    """An admin's: every team the policies know; an agent's: their own."""
    return tuple(teams()) if principal.role == "admin" else principal.teams


def _admin_only(principal: Principal) -> None:
    if principal.role != "admin":
        raise Forbidden("only an admin can change the rota")


def oncall(principal: Principal) -> list[dict[str, Any]]:
    return oncall_admin.overview(visible_teams(principal), bootstrap.admin_deps())


def add_override(principal: Principal, team: str, form: dict[str, str]) -> dict[str, Any]:
    _admin_only(principal)
    return oncall_admin.add_override(team, form, bootstrap.admin_deps())


def remove_override(principal: Principal, team: str, form: dict[str, str]) -> dict[str, Any]:
    _admin_only(principal)
    return oncall_admin.remove_override(team, form, bootstrap.admin_deps())


def report(principal: Principal, params: dict[str, str]) -> dict[str, Any]:
    """The SLA report the API serves (`GET /api/reports/sla`), same function, same numbers."""
    return agent_api.report(params, principal, bootstrap.conversations(), bootstrap.now(),
                            bootstrap.policies().default_team,
                            bootstrap.sent_texts().failed_between)


def own_health(principal: Principal) -> list[dict[str, Any]] | None:
    """ReplyWindow's own health as `replywindow doctor` shows it; queue and alarm names map
    the deployment, so admins only (as on /health)."""
    if principal.role != "admin":
        return None
    return self_watch.checks(health.own_health(bootstrap.health_deps()))


def channels(principal: Principal) -> dict[str, dict[str, Any]]:
    """Every channel's health; the platform's error details are for admins (as on /health)."""
    shown = channel_watch.overview(bootstrap.channel_deps())
    if principal.role != "admin":
        for state in shown.values():
            state["detail"] = "" if state["state"] not in ("silent",) else state["detail"]
    return shown
