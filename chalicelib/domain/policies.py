"""SLA policies (the file format is a contract): windows per priority, the warning
point, escalation, business hours, and per-team overrides. Unknown keys are errors that name
their path, never silently ignored. Every conversation gets a timer: priority shortens a
window, it never removes one."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from chalicelib.domain.backlog import DEFAULT_ALERT_HOLD
from chalicelib.domain.calendar import BusinessCalendar, CalendarError
from chalicelib.domain.channel_health import AlertPolicy
from chalicelib.domain.timers import DueCheck

PRIORITIES = ("urgent", "high", "normal", "low")
PLATFORMS = ("x", "messenger", "facebook", "instagram", "whatsapp")
CHANNELS = ("public", "private")
_WINDOW_KEYS = ("first_response", "next_response", "escalate_after")
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


class PolicyError(ValueError):
    """The policy file is wrong; the message names the key path."""


def parse_duration(value: Any, path: str) -> timedelta:
    """`90s`, `15m`, `2h`, `1d`, or combinations such as `1h30m`."""
    text = str(value).strip().lower()
    match = _DURATION.match(text)
    if not text or not match or not any(match.groups()):
        raise PolicyError(f"{path}: {value!r} is not a duration like 90s, 15m, 2h or 1d")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    result = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if result <= timedelta(0):
        raise PolicyError(f"{path}: must be longer than zero (every conversation gets a timer)")
    return result


@dataclass(frozen=True)
class Windows:
    first_response: timedelta
    next_response: timedelta
    escalate_after: timedelta


@dataclass(frozen=True)
class TurnPlan:
    warn_at: datetime
    due_at: datetime
    escalate_at: datetime

    def checks(self, conversation: str, turn: int) -> list[DueCheck]:
        return [DueCheck(conversation, turn, "warning", self.warn_at),
                DueCheck(conversation, turn, "breach", self.due_at),
                DueCheck(conversation, turn, "escalation", self.escalate_at)]


@dataclass(frozen=True)
class TeamPolicy:
    name: str
    warn_at: float
    calendar: BusinessCalendar
    windows: Mapping[str, Windows]

    def plan(self, opened_at: datetime, priority: str, *, first: bool) -> TurnPlan:
        windows = self.windows.get(priority) or self.windows["normal"]
        window = windows.first_response if first else windows.next_response
        due_at = self.calendar.add(opened_at, window)
        warn_at = self.calendar.add(opened_at, window * self.warn_at)
        escalate_at = self.calendar.add(due_at, windows.escalate_after)
        return TurnPlan(warn_at=warn_at, due_at=due_at, escalate_at=escalate_at)

    def remaining(self, due_at: datetime, now: datetime) -> timedelta:
        """Business time left before the deadline; negative (elapsed business time) once
        overdue, so 'how late' reads the same way as 'how long left'."""
        if now <= due_at:
            return self.calendar.elapsed(now, due_at)
        return -self.calendar.elapsed(due_at, now)


@dataclass(frozen=True)
class TeamRule:
    name: str
    platforms: tuple[str, ...]
    channels: tuple[str, ...]


@dataclass(frozen=True)
class ListeningQuery:
    """A search for the brand where nobody tagged it (X recent search, for now)."""

    query: str
    account: str  # the brand account it belongs to: its handle or id, passed along as is
    period: timedelta  # how often to search at most
    daily_requests: int  # search requests this query may make per UTC day
    account_id: str | None = None  # the declared account's user id, when accounts are declared

    @property
    def key(self) -> str:
        """Names the query's cursor: the same query keeps its place across edits of the rest
        of the file, and a changed query starts afresh."""
        return hashlib.sha256(self.query.encode()).hexdigest()[:24]

    @property
    def handle(self) -> str:
        return self.account.removeprefix("@")


# A brand account's platform: a Facebook Page answers both its Messenger inbox and its feed.
ACCOUNT_PLATFORMS = ("x", "facebook", "instagram", "whatsapp")
# The names of an account's credentials in the platform secret, per platform (the values are
# key names in the secret, never the secrets themselves).
CREDENTIALS: Mapping[str, tuple[str, ...]] = {
    "x": ("access_token", "access_secret"), "facebook": ("page_token",),
    "instagram": ("page_token",), "whatsapp": ("token",)}


def account_platform(platform: str) -> str:
    """The platform a brand account is declared under for an event's platform."""
    return "facebook" if platform == "messenger" else platform


@dataclass(frozen=True)
class BrandAccount:
    """One of the brand's accounts: what a delivery is checked against, the team that answers
    it and the secret keys its replies are sent with."""

    platform: str  # one of ACCOUNT_PLATFORMS
    id: str  # X user id, Page id, Instagram account id, WhatsApp phone_number_id
    name: str  # handle or display name
    team: str
    credentials: Mapping[str, str] = field(default_factory=dict)  # role -> secret key name

    @property
    def label(self) -> str:
        return f"{self.platform}:{self.name}"


@dataclass(frozen=True)
class Policies:
    warn_at: float
    timer_resolution: timedelta
    default_team: str
    teams_policy: Mapping[str, TeamPolicy]
    rules: tuple[TeamRule, ...] = field(default_factory=tuple)
    # A channel silent this long (business time) is down; unset, its own history decides.
    channel_silence: Mapping[str, timedelta] = field(default_factory=dict)
    channel_alerts: AlertPolicy = field(default_factory=AlertPolicy)
    listening: tuple[ListeningQuery, ...] = ()
    accounts: tuple[BrandAccount, ...] = ()
    # How long past its due time an alert may wait for the inbound backlog (domain/backlog.py).
    alert_hold: timedelta = DEFAULT_ALERT_HOLD

    @property
    def teams(self) -> tuple[str, ...]:
        return tuple(self.teams_policy)

    def account(self, platform: str, account_id: str | None) -> BrandAccount | None:
        """The declared account an event's platform and brand id name, if any."""
        wanted = account_platform(platform)
        for account in self.accounts:
            if account.platform == wanted and account.id == account_id:
                return account
        return None

    def accepts(self, platform: str, account_id: str | None) -> bool:
        """With no account declared (the local default) every account is the brand's."""
        return not self.accounts or self.account(platform, account_id) is not None

    def health_channel(self, platform: str, account_id: str | None) -> str:
        """Where a credential's health and an account's silence are kept: per declared
        account (`<platform>:<id>`: one Page's expired token or silence says nothing of the
        other's), else per platform."""
        account = self.account(platform, account_id)
        return f"{platform}:{account.id}" if account else platform

    def account_name(self, channel: str) -> str | None:
        """The declared name of a health channel's account (`messenger:2001` -> its Page's
        name), so the admin reads which account it is; None for a platform-wide channel."""
        platform, _, account_id = channel.partition(":")
        account = self.account(platform, account_id) if account_id else None
        return account.name if account else None

    def team_for(self, platform: str, channel: str, account_id: str | None = None) -> str:
        """A team rule that takes the platform and channel wins; else the account's team;
        else the default team."""
        for rule in self.rules:
            if (not rule.platforms or platform in rule.platforms) and (
                    not rule.channels or channel in rule.channels):
                return rule.name
        account = self.account(platform, account_id)
        return account.team if account else self.default_team

    def for_team(self, team: str) -> TeamPolicy:
        return self.teams_policy.get(team) or self.teams_policy[self.default_team]


def _mapping(value: Any, path: str, allowed: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PolicyError(f"{path or 'policy'}: expected a mapping")
    for key in value:
        if key not in allowed:
            raise PolicyError(f"{path + '.' if path else ''}{key}: unknown key "
                              f"(expected one of {', '.join(allowed)})")
    return value


def _calendar(value: Any, path: str) -> BusinessCalendar:
    spec = _mapping(value, path, ("timezone", "hours", "holidays"))
    holidays = spec.get("holidays") or []
    if not isinstance(holidays, list):
        raise PolicyError(f"{path}.holidays: expected a list of dates")
    try:
        return BusinessCalendar.parse(
            timezone=str(spec.get("timezone", "UTC")), hours=spec.get("hours", "24x7"),
            holidays=[d if isinstance(d, date) else date.fromisoformat(str(d))
                      for d in holidays])
    except (CalendarError, ValueError) as error:
        raise PolicyError(f"{path}: {error}") from error


def _windows(value: Any, path: str, base: Mapping[str, Windows] | None) -> dict[str, Windows]:
    spec = _mapping(value, path, PRIORITIES)
    result: dict[str, Windows] = {}
    for priority in PRIORITIES:
        entry = spec.get(priority)
        inherited = base.get(priority) if base else None
        if entry is None:
            if inherited is None:
                raise PolicyError(f"{path}.{priority}: missing (every priority needs windows)")
            result[priority] = inherited
            continue
        fields = _mapping(entry, f"{path}.{priority}", _WINDOW_KEYS)
        values: dict[str, timedelta] = {}
        for key in _WINDOW_KEYS:
            if key in fields:
                values[key] = parse_duration(fields[key], f"{path}.{priority}.{key}")
            elif inherited is not None:
                values[key] = getattr(inherited, key)
            else:
                raise PolicyError(f"{path}.{priority}.{key}: missing")
        result[priority] = Windows(**values)
    return result


def _warn_at(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise PolicyError(f"{path}: a fraction between 0 and 1 (e.g. 0.75)")
    return float(value)


def _names(value: Any, path: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or any(v not in allowed for v in items):
        raise PolicyError(f"{path}: a list of {', '.join(allowed)}")
    return tuple(items)


def parse_policies(text: str) -> Policies:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise PolicyError(f"policy file is not valid YAML: {error}") from error
    spec = _mapping(raw, "", ("warn_at", "timer_resolution", "calendar", "priorities",
                              "teams", "default_team", "channel_silence",
                              "channel_alerts", "listening", "accounts", "alert_hold"))
    if "priorities" not in spec:
        raise PolicyError("priorities: missing")
    warn_at = _warn_at(spec.get("warn_at", 0.75), "warn_at")
    resolution = parse_duration(spec.get("timer_resolution", "10s"), "timer_resolution")
    calendar = _calendar(spec.get("calendar", {}), "calendar")
    windows = _windows(spec["priorities"], "priorities", None)
    default_team = str(spec.get("default_team", "support"))
    teams: dict[str, TeamPolicy] = {
        default_team: TeamPolicy(default_team, warn_at, calendar, windows)}
    rules: list[TeamRule] = []
    for name, team_spec in _mapping(spec.get("teams") or {}, "teams",
                                    tuple(spec.get("teams") or {})).items():
        path = f"teams.{name}"
        team = _mapping(team_spec or {}, path, ("platforms", "channels", "calendar",
                                                "priorities", "warn_at"))
        teams[str(name)] = TeamPolicy(
            str(name), _warn_at(team.get("warn_at", warn_at), f"{path}.warn_at"),
            _calendar(team["calendar"], f"{path}.calendar") if "calendar" in team
            else calendar,
            _windows(team.get("priorities") or {}, f"{path}.priorities", windows))
        if "platforms" in team or "channels" in team:
            rules.append(TeamRule(
                str(name), _names(team.get("platforms", []), f"{path}.platforms", PLATFORMS),
                _names(team.get("channels", []), f"{path}.channels", CHANNELS)))
    accounts = _accounts(spec.get("accounts") or [], teams)
    # A declared account's own channel (`messenger:2001`) may have its own silence too.
    account_channels = tuple(f"{p}:{a.id}" for a in accounts for p in PLATFORMS
                             if account_platform(p) == a.platform)
    silence = {str(name): parse_duration(gap, f"channel_silence.{name}") for name, gap in
               _mapping(spec.get("channel_silence") or {}, "channel_silence",
                        (*PLATFORMS, "meta", *account_channels)).items()}
    listening = _listening(spec.get("listening") or [])
    if accounts:
        resolved = []
        for index, query in enumerate(listening):
            owner = next((a for a in accounts if a.platform == "x" and query.handle in (
                a.id, a.name.removeprefix("@"))), None)
            if owner is None:
                raise PolicyError(f"listening[{index}].account: {query.account!r} is not a "
                                  "declared X account (accounts: its id or name)")
            resolved.append(replace(query, account=owner.name, account_id=owner.id))
        listening = tuple(resolved)
    return Policies(warn_at=warn_at, timer_resolution=resolution, default_team=default_team,
                    teams_policy=teams, rules=tuple(rules), channel_silence=silence,
                    channel_alerts=_alert_policy(spec.get("channel_alerts") or {}),
                    listening=listening, accounts=accounts,
                    alert_hold=_alert_hold(spec.get("alert_hold")))


# A hold is paid for in the alerts queue's receives (domain/retries.py:held_wait): this one
# leaves the ladder's hour of retries nearly whole (tests/unit/domain/test_retries.py).
MAX_ALERT_HOLD = timedelta(minutes=5)


def _alert_hold(value: Any) -> timedelta:
    """`alert_hold: 60s` (the default); `0s` turns the hold off."""
    if value is None:
        return DEFAULT_ALERT_HOLD
    if str(value).strip().lower() in ("0", "0s"):
        return timedelta(0)
    hold = parse_duration(value, "alert_hold")
    if hold > MAX_ALERT_HOLD:
        raise PolicyError(f"alert_hold: at most {int(MAX_ALERT_HOLD.total_seconds())}s (an "
                          "alert must not wait long for a backlog; a stuck worker has its own "
                          "alarm)")
    return hold


_ACCOUNT_ID = re.compile(r"[0-9]{1,32}")  # every platform's account ids are numbers


def _accounts(value: Any, teams: Mapping[str, TeamPolicy]) -> tuple[BrandAccount, ...]:
    """`accounts: [{platform: x, id: "2244994945", name: "@ScruffyHelp", team: help,
    credentials: {access_token: x_help_token, access_secret: x_help_secret}}]`."""
    if not isinstance(value, list):
        raise PolicyError("accounts: expected a list of accounts")
    accounts: list[BrandAccount] = []
    seen: dict[tuple[str, str], int] = {}
    for index, entry in enumerate(value):
        path = f"accounts[{index}]"
        spec = _mapping(entry, path, ("platform", "id", "name", "team", "credentials"))
        for key in ("platform", "id", "name", "team", "credentials"):
            if key not in spec:
                raise PolicyError(f"{path}.{key}: missing")
        platform = spec["platform"]
        if platform not in ACCOUNT_PLATFORMS:
            raise PolicyError(f"{path}.platform: one of {', '.join(ACCOUNT_PLATFORMS)}")
        raw_id = spec["id"]
        account_id = str(raw_id).strip() if isinstance(raw_id, str | int) and not isinstance(
            raw_id, bool) else ""
        if not _ACCOUNT_ID.fullmatch(account_id):
            raise PolicyError(f"{path}.id: the account's numeric id (X user id, Page id, "
                              "Instagram account id or WhatsApp phone_number_id), quoted")
        if (platform, account_id) in seen:
            raise PolicyError(f"{path}.id: {platform} account {account_id} is already "
                              f"declared at accounts[{seen[platform, account_id]}]")
        seen[platform, account_id] = index
        name = spec["name"]
        if not isinstance(name, str) or not name.strip():
            raise PolicyError(f"{path}.name: the account's handle or display name")
        team = spec["team"]
        if not isinstance(team, str) or team not in teams:
            raise PolicyError(f"{path}.team: {team!r} is not a team (teams: "
                              f"{', '.join(teams)})")
        roles = CREDENTIALS[platform]
        credentials = _mapping(spec["credentials"], f"{path}.credentials", roles)
        for role in roles:
            key_name = credentials.get(role)
            if not isinstance(key_name, str) or not key_name.strip():
                raise PolicyError(f"{path}.credentials.{role}: the name of its key in the "
                                  "platform secret")
        accounts.append(BrandAccount(
            platform=platform, id=account_id, name=name.strip(), team=team,
            credentials={role: str(credentials[role]).strip() for role in roles}))
    return tuple(accounts)


_X_QUERY_LIMIT = 512  # X's recent search takes queries up to 512 characters (Basic, Pro)


def _listening(value: Any) -> tuple[ListeningQuery, ...]:
    """`listening: [{query: '"scruffy mcgee" -is:retweet', account: ScruffyHelp,
    period_minutes: 15, daily_requests: 96}]`."""
    if not isinstance(value, list):
        raise PolicyError("listening: expected a list of queries")
    queries: list[ListeningQuery] = []
    seen: set[str] = set()
    for index, entry in enumerate(value):
        path = f"listening[{index}]"
        spec = _mapping(entry, path, ("query", "account", "period_minutes", "daily_requests"))
        for key in ("query", "account", "period_minutes", "daily_requests"):
            if key not in spec:
                raise PolicyError(f"{path}.{key}: missing")
        query = spec["query"]
        if not isinstance(query, str) or not query.strip():
            raise PolicyError(f"{path}.query: a non-empty search query")
        if len(query) > _X_QUERY_LIMIT:
            raise PolicyError(f"{path}.query: {len(query)} characters; X takes at most "
                              f"{_X_QUERY_LIMIT}")
        if query.strip() in seen:
            raise PolicyError(f"{path}.query: the same query is declared twice")
        seen.add(query.strip())
        account = spec["account"]
        if not isinstance(account, str | int) or isinstance(account, bool) or not str(
                account).strip():
            raise PolicyError(f"{path}.account: the brand account's handle or id")
        queries.append(ListeningQuery(
            query=query.strip(), account=str(account).strip(),
            period=timedelta(minutes=_minutes(spec["period_minutes"],
                                              f"{path}.period_minutes")),
            daily_requests=_whole(spec["daily_requests"], f"{path}.daily_requests")))
    return tuple(queries)


def _minutes(value: Any, path: str) -> float:
    """Minutes, more than zero; a fraction for tests and demos that run in seconds."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise PolicyError(f"{path}: a number of minutes, more than zero")
    return float(value)


def _whole(value: Any, path: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise PolicyError(f"{path}: a whole number, 1 or more")
    return value


def _alert_policy(value: Any) -> AlertPolicy:
    """`channel_alerts: {signature_failures: 5, signature_over: 10m, page_every: 1h}`."""
    spec = _mapping(value, "channel_alerts",
                    ("signature_failures", "signature_over", "page_every"))
    default = AlertPolicy()
    failures = spec.get("signature_failures", default.signature_failures)
    if not isinstance(failures, int) or isinstance(failures, bool) or failures < 1:
        raise PolicyError("channel_alerts.signature_failures: a whole number, 1 or more")
    return AlertPolicy(
        signature_failures=failures,
        signature_over=parse_duration(spec["signature_over"], "channel_alerts.signature_over")
        if "signature_over" in spec else default.signature_over,
        page_every=parse_duration(spec["page_every"], "channel_alerts.page_every")
        if "page_every" in spec else default.page_every)


def load_policies(path: Path) -> Policies:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PolicyError(f"{path}: cannot read the policy file ({error.strerror})") from error
    return parse_policies(text)
