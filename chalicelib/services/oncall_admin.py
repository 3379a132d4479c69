"""On-call administration: agents (with their SMS/email subscriptions and teams), rotas and
overrides, and who is on call now. Admin only; the routes check the role.

An agent sees only their teams' conversations. Teams are set on the agent, and being on a
team's rota (member, lead, or an override) makes an agent a member of that team: whoever is
paged for a conversation can open it."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.domain.errors import BadRequest, NotFound, StoreUnavailable
from chalicelib.domain.oncall import (
    Agent,
    OnCall,
    Override,
    Rota,
    agent_to_dict,
    next_change,
    on_call,
    rota_from_dict,
    rota_to_dict,
)

ROLES = ("agent", "admin")


class OnCallStore(Protocol):
    def rota(self, team: str) -> Rota | None: ...

    def put_rota(self, rota: Rota) -> None: ...

    def agent(self, agent_id: str) -> Agent | None: ...

    def agent_record(self, agent_id: str) -> dict[str, Any] | None: ...

    def put_agent(self, agent: Agent, *, role: str, token: str | None,
                  subscriptions: list[str], teams: tuple[str, ...]) -> None: ...

    def set_teams(self, agent_id: str, teams: tuple[str, ...]) -> bool: ...

    def join_team(self, agent_id: str, team: str) -> None: ...


class Subscriptions(Protocol):
    def subscribe(self, agent: str, *, phone: str | None, email: str | None,
                  admin: bool = False) -> list[str]: ...

    def unsubscribe(self, arns: list[str]) -> None: ...

    def channels(self, stored: Mapping[str, list[str]]) -> dict[str, list[dict[str, str]]]: ...


@dataclass(frozen=True)
class AdminDeps:
    store: OnCallStore
    subscriptions: Subscriptions
    now: Callable[[], datetime]
    teams: Callable[[], tuple[str, ...]]  # the teams the SLA policies know
    default_team: str
    end_sessions: Callable[[str], int] = lambda _agent: 0  # an agent's console sessions


def _text(body: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise BadRequest(f"{name}: a non-empty string of at most 200 characters is required")
    return value.strip()


def _teams(body: Mapping[str, Any], deps: AdminDeps) -> tuple[str, ...]:
    teams = body.get("teams")
    known = deps.teams()
    if not isinstance(teams, list) or not all(isinstance(t, str) for t in teams):
        raise BadRequest(f"teams: a list of team names, from {', '.join(known)}")
    unknown = [t for t in teams if t not in known]
    if unknown:
        raise BadRequest(f"teams: unknown {', '.join(map(repr, unknown[:5]))}; "
                         f"the policies' teams are {', '.join(known)}")
    return tuple(sorted(set(teams)))


def create_agent(body: Mapping[str, Any], deps: AdminDeps) -> dict[str, Any]:
    """Creates (or replaces) an agent; returns a new API token, shown this once. Without
    `teams`, a new agent joins the default team and a replaced one keeps theirs."""
    if not isinstance(body, Mapping):
        raise BadRequest("body must be a JSON object")
    agent_id = _text(body, "id")
    assert agent_id is not None
    if not agent_id.replace("-", "").replace("_", "").isalnum():
        raise BadRequest("id: letters, digits, '-' and '_' only")
    if agent_id == "admins":
        raise BadRequest("id: 'admins' is reserved (it addresses every admin)")
    role = body.get("role", "agent")
    if role not in ROLES:
        raise BadRequest(f"role: one of {', '.join(ROLES)}")
    phone, email = _text(body, "phone", required=False), _text(body, "email", required=False)
    if phone and not (phone.startswith("+") and phone[1:].isdigit() and 8 <= len(phone) <= 16):
        raise BadRequest("phone: E.164 format, e.g. +447700900123")
    if email and ("@" not in email or " " in email):
        raise BadRequest("email: not an email address")
    if not phone and not email:
        raise BadRequest("an agent needs a phone or an email to be alerted")
    agent = Agent(id=agent_id, name=_text(body, "name") or agent_id, phone=phone, email=email)
    previous = deps.store.agent_record(agent_id)
    if "teams" in body:
        teams = _teams(body, deps)
    elif previous:
        teams = tuple(previous.get("teams") or ())
    else:
        teams = (deps.default_team,)
    if previous:
        deps.subscriptions.unsubscribe(list(previous.get("subscriptions", [])))
    arns = deps.subscriptions.subscribe(agent_id, phone=phone, email=email,
                                        admin=role == "admin")
    token = "rw_" + secrets.token_urlsafe(24)
    deps.store.put_agent(agent, role=role, token=token, subscriptions=arns, teams=teams)
    if previous:
        # The old token is dead: so are the browsers signed in with it. (Sessions also check
        # the token's fingerprint on every request; this removes them from the table too.)
        deps.end_sessions(agent_id)
    return {"agent": agent_to_dict(agent), "role": role, "teams": list(teams), "token": token}


def set_teams(agent_id: str, body: Any, deps: AdminDeps) -> dict[str, Any]:
    """`PUT /api/agents/{id}/teams {"teams": [...]}`: the agent's teams, replaced."""
    if not isinstance(body, Mapping):
        raise BadRequest('body: {"teams": ["support"]}')
    teams = _teams(body, deps)
    if not deps.store.set_teams(agent_id, teams):
        raise NotFound(f"no agent {agent_id}")
    return {"agent": agent_id, "teams": list(teams)}


def put_rota(team: str, body: Mapping[str, Any], deps: AdminDeps) -> dict[str, Any]:
    if not isinstance(body, Mapping):
        raise BadRequest("body must be a JSON object")
    try:
        rota = rota_from_dict({**body, "team": team})
    except (KeyError, TypeError, ValueError) as error:
        raise BadRequest(f"rota: {error}") from error
    on_rota = (*rota.members, *([rota.lead] if rota.lead else []),
               *(o.agent_id for o in rota.overrides))
    for member in on_rota:
        if deps.store.agent(member) is None:
            raise BadRequest(f"unknown agent {member!r}: create it first")
    deps.store.put_rota(rota)
    for member in dict.fromkeys(on_rota):
        deps.store.join_team(member, team)  # paged for this team, so sees its conversations
    return rota_to_dict(rota)


def add_override(team: str, body: Mapping[str, Any], deps: AdminDeps) -> dict[str, Any]:
    rota = deps.store.rota(team)
    if rota is None:
        raise NotFound(f"team {team} has no rota")
    try:
        override = Override(start=datetime.fromisoformat(str(body["start"])),
                            end=datetime.fromisoformat(str(body["end"])),
                            agent_id=str(body["agent"]))
        updated = replace(rota, overrides=(*rota.overrides, override))
        rota_from_dict(rota_to_dict(updated))  # validates
    except (KeyError, TypeError, ValueError) as error:
        raise BadRequest(f"override: {error}") from error
    if deps.store.agent(override.agent_id) is None:
        raise BadRequest(f"unknown agent {override.agent_id!r}")
    deps.store.put_rota(updated)
    deps.store.join_team(override.agent_id, team)
    return rota_to_dict(updated)


def who_is_on_call(team: str, deps: AdminDeps) -> dict[str, Any]:
    rota = deps.store.rota(team)
    if rota is None:
        raise NotFound(f"team {team} has no rota")
    now = deps.now()
    current: OnCall = on_call(rota, now)
    changes = next_change(rota, now)
    later = on_call(rota, changes) if changes else None
    channels = _channels((current.primary, current.secondary, current.lead,
                          *((later.primary, later.secondary) if later else ())), deps)
    return {"team": team, "at": now.isoformat(), "primary": current.primary,
            "secondary": current.secondary, "lead": current.lead,
            "changes_at": changes.isoformat() if changes else None,
            "then": ({"primary": later.primary, "secondary": later.secondary}
                     if later else None),
            "channels": channels, "unreachable": unreachable(channels)}


def _channels(agents: tuple[str | None, ...], deps: AdminDeps) -> dict[str, list[dict[str, str]]]:
    """The subscriptions of the agents named, with their state (see Subscriptions.channels)."""
    stored: dict[str, list[str]] = {}
    for agent in dict.fromkeys(a for a in agents if a):
        record = deps.store.agent_record(agent) or {}
        stored[agent] = list(record.get("subscriptions") or [])
    return deps.subscriptions.channels(stored)


def unreachable(channels: Mapping[str, list[dict[str, str]]]) -> list[str]:
    """The agents with no confirmed subscription: alerts to them reach nobody."""
    return sorted(agent for agent, theirs in channels.items()
                  if not any(c.get("state") == "confirmed" for c in theirs))


def remove_override(team: str, body: Mapping[str, Any], deps: AdminDeps) -> dict[str, Any]:
    """Removes the override `{"start", "end", "agent"}` names exactly (as the rota lists it)."""
    rota = deps.store.rota(team)
    if rota is None:
        raise NotFound(f"team {team} has no rota")
    try:
        start = datetime.fromisoformat(str(body["start"]))
        end = datetime.fromisoformat(str(body["end"]))
        agent = str(body["agent"])
    except (KeyError, TypeError, ValueError) as error:
        raise BadRequest(f"override: {error}") from error
    kept = tuple(o for o in rota.overrides
                 if (o.start, o.end, o.agent_id) != (start, end, agent))
    if len(kept) == len(rota.overrides):
        raise NotFound("no such override: it may have been removed already")
    updated = replace(rota, overrides=kept)
    deps.store.put_rota(updated)
    return rota_to_dict(updated)


def overview(teams: tuple[str, ...], deps: AdminDeps) -> list[dict[str, Any]]:
    """For each team: who is on call now, when that changes, the rota and the overrides not
    over yet (soonest first). A team without a rota says so (nobody would be alerted)."""
    now = deps.now()
    shown: list[dict[str, Any]] = []
    for team in teams:
        rota = deps.store.rota(team)
        if rota is None:
            shown.append({"team": team, "rota": None})
            continue
        current = on_call(rota, now)
        changes = next_change(rota, now)
        later = on_call(rota, changes) if changes else None
        try:
            channels: dict[str, list[dict[str, str]]] | None = _channels(
                (current.primary, current.secondary, current.lead,
                 *((later.primary, later.secondary) if later else ())), deps)
        except StoreUnavailable:
            channels = None  # the page still shows the rota; it says the channels are unread
        shown.append({
            "team": team, "rota": rota_to_dict(rota),
            "now": {"primary": current.primary, "secondary": current.secondary,
                    "lead": current.lead},
            "changes_at": changes.isoformat() if changes else None,
            "then": ({"primary": later.primary, "secondary": later.secondary}
                     if later else None),
            "channels": channels, "unreachable": unreachable(channels or {}),
            "overrides": [{"start": o.start.isoformat(), "end": o.end.isoformat(),
                           "agent": o.agent_id, "active": o.start <= now < o.end}
                          for o in sorted(rota.overrides, key=lambda o: o.start)
                          if o.end > now]})
    return shown


class ShiftWarnings(Protocol):
    """Once-per-slot claims for the unreachable-agent warning (port; DynamoDB)."""

    def claim_shift_warning(self, team: str, agent: str, start: datetime,
                            end: datetime) -> bool: ...

    def release_shift_warning(self, team: str, agent: str, end: datetime) -> None: ...


WARN_AHEAD = timedelta(hours=2)  # how long before a shift its unreachable agents are named
OPEN_ENDED = timedelta(days=7)  # a slot that never changes is warned about weekly


def warn_unreachable(deps: AdminDeps, claims: ShiftWarnings,
                     notify_admins: Callable[[str, str], None]) -> list[str]:
    """Tells the admins, once per slot, of each agent alerted in the current slot or in the
    next one (starting within WARN_AHEAD) who has no confirmed channel. Returns the
    `team/agent` pairs warned about now."""
    now = deps.now()
    warned: list[str] = []
    for team in deps.teams():
        rota = deps.store.rota(team)
        if rota is None:
            continue
        changes = next_change(rota, now)
        current = on_call(rota, now)
        slots = [(now, changes or now + OPEN_ENDED, current)]
        if changes and changes - now <= WARN_AHEAD:
            later = next_change(rota, changes)
            slots.append((changes, later or changes + OPEN_ENDED, on_call(rota, changes)))
        for start, end, slot in slots:
            channels = _channels((slot.primary, slot.secondary, slot.lead), deps)
            for agent in unreachable(channels):
                if not claims.claim_shift_warning(team, agent, start, end):
                    continue
                when = "now" if start == now else f"from {start:%Y-%m-%d %H:%M} UTC"
                try:
                    notify_admins(
                        f"ReplyWindow: {agent} on call for {team} is unreachable",
                        f"ReplyWindow: {agent} is on call for {team} {when} but has no "
                        f"confirmed SMS or email subscription: their alerts reach nobody. "
                        f"See the console's on-call page.")
                except Exception:
                    claims.release_shift_warning(team, agent, end)
                    raise
                warned.append(f"{team}/{agent}")
    return warned
