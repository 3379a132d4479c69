"""On-call rotas: who is primary, secondary and lead at a given instant (pure).

Shift n starts at `starts_on` + `handoff` (local time in the rota's zone) + n shifts. A shift of
whole days hands off at the same *wall-clock* time every day, DST or not (09:00 stays 09:00);
other shifts count real elapsed time from the first hand-off. Before the first hand-off the
rota is in shift 0. An override puts its agent in the primary seat for [start, end); the
displaced primary becomes the secondary when the override agent was the secondary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True)
class Agent:
    id: str
    name: str
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Override:
    start: datetime
    end: datetime
    agent_id: str

    def __post_init__(self) -> None:
        _aware(self.start)
        _aware(self.end)
        if self.end <= self.start:
            raise ValueError("an override must end after it starts")


@dataclass(frozen=True)
class Rota:
    team: str
    members: tuple[str, ...]
    shift: timedelta
    handoff: time
    timezone: str
    starts_on: date
    lead: str | None = None
    overrides: tuple[Override, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not self.members:
            raise ValueError("a rota needs at least one member")
        if self.shift <= timedelta(0):
            raise ValueError("shift must be longer than zero")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {self.timezone!r}") from error


@dataclass(frozen=True)
class OnCall:
    primary: str
    secondary: str | None
    lead: str | None


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("on-call times must be timezone-aware")
    return at


def shift_index(rota: Rota, at: datetime) -> int:
    _aware(at)
    zone = ZoneInfo(rota.timezone)
    first = datetime.combine(rota.starts_on, rota.handoff, zone)
    if at < first:
        return 0
    whole_days, remainder = divmod(rota.shift, timedelta(days=1))
    if remainder == timedelta(0):
        # Wall-clock days: the hand-off stays at the same local time across DST changes.
        local = at.astimezone(zone)
        days = (local.date() - rota.starts_on).days
        if local.timetz().replace(tzinfo=None) < rota.handoff:
            days -= 1
        return max(0, days // int(whole_days))
    elapsed = at.astimezone(UTC) - first.astimezone(UTC)
    return int(elapsed // rota.shift)


def on_call(rota: Rota, at: datetime) -> OnCall:
    n = shift_index(rota, at)
    members = rota.members
    primary = members[n % len(members)]
    secondary = members[(n + 1) % len(members)] if len(members) > 1 else None
    for override in rota.overrides:
        if override.start <= at < override.end and override.agent_id != primary:
            displaced = primary
            primary = override.agent_id
            if secondary == override.agent_id:
                secondary = displaced
            break
    return OnCall(primary=primary, secondary=secondary, lead=rota.lead)


def next_handoff(rota: Rota, at: datetime) -> datetime:
    """When the shift running at `at` hands off (the rota's own schedule, overrides aside)."""
    zone = ZoneInfo(rota.timezone)
    first = datetime.combine(rota.starts_on, rota.handoff, zone)
    if at < first:
        return first
    n = shift_index(rota, at) + 1
    whole_days, remainder = divmod(rota.shift, timedelta(days=1))
    if remainder == timedelta(0):  # wall-clock days, as shift_index counts them
        return datetime.combine(rota.starts_on + timedelta(days=n * int(whole_days)),
                                rota.handoff, zone)
    return (first.astimezone(UTC) + n * rota.shift).astimezone(zone)


def next_change(rota: Rota, at: datetime, horizon: int = 64) -> datetime | None:
    """The first moment after `at` when someone else is primary or secondary: a hand-off or an
    override starting or ending; None when nothing will change (a one-person rota)."""
    now = on_call(rota, at)
    bounds = {t for o in rota.overrides for t in (o.start, o.end) if t > at}
    handoff = at
    for _ in range(horizon):  # each hand-off that changes nobody is skipped
        handoff = next_handoff(rota, handoff)
        bounds.add(handoff)
        if (on_call(rota, handoff).primary, on_call(rota, handoff).secondary) != (
                now.primary, now.secondary):
            break
    for moment in sorted(bounds):
        then = on_call(rota, moment)
        if (then.primary, then.secondary) != (now.primary, now.secondary):
            return moment
    return None


def recipients(current: OnCall, level: str) -> tuple[str, ...]:
    """warning -> primary; breach -> primary and secondary; escalation -> the lead (or both,
    when the team has no lead)."""
    if level == "warning":
        chosen: list[str | None] = [current.primary]
    elif level == "breach":
        chosen = [current.primary, current.secondary]
    elif level == "escalation":
        chosen = [current.lead] if current.lead else [current.primary, current.secondary]
    else:
        raise ValueError(f"unknown alert level {level!r}")
    out: list[str] = []
    for agent in chosen:
        if agent and agent not in out:
            out.append(agent)
    return tuple(out)


def rota_to_dict(rota: Rota) -> dict[str, Any]:
    return {"team": rota.team, "members": list(rota.members),
            "shift": int(rota.shift.total_seconds()), "handoff": rota.handoff.strftime("%H:%M"),
            "timezone": rota.timezone, "starts_on": rota.starts_on.isoformat(),
            "lead": rota.lead,
            "overrides": [{"start": o.start.isoformat(), "end": o.end.isoformat(),
                           "agent": o.agent_id} for o in rota.overrides]}


def rota_from_dict(d: Mapping[str, Any]) -> Rota:
    members = d["members"]
    if not isinstance(members, list) or not all(isinstance(m, str) and m for m in members):
        raise ValueError("members: a list of agent ids")
    shift = d.get("shift", 86400)
    if isinstance(shift, bool) or not isinstance(shift, int | float):
        raise ValueError("shift: seconds, e.g. 86400 for a daily rota")
    return Rota(
        team=str(d["team"]), members=tuple(members), shift=timedelta(seconds=shift),
        handoff=time.fromisoformat(str(d.get("handoff", "09:00"))),
        timezone=str(d.get("timezone", "UTC")),
        starts_on=date.fromisoformat(str(d["starts_on"])),
        lead=str(d["lead"]) if d.get("lead") else None,
        overrides=tuple(Override(start=datetime.fromisoformat(str(o["start"])),
                                 end=datetime.fromisoformat(str(o["end"])),
                                 agent_id=str(o["agent"]))
                        for o in d.get("overrides") or []))


def agent_to_dict(agent: Agent) -> dict[str, Any]:
    return {"id": agent.id, "name": agent.name, "phone": agent.phone, "email": agent.email}


def agent_from_dict(d: Mapping[str, Any]) -> Agent:
    return Agent(id=str(d["id"]), name=str(d.get("name") or d["id"]), phone=d.get("phone"),
                 email=d.get("email"))
