"""Watching the channels: learn each one's rhythm from its traffic, and tell the admins once
when one goes quiet, keeps failing signatures or loses its credentials, and once when it is
back. Runs on a schedule (every few minutes); the webhooks only leave traces for it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from chalicelib.domain.calendar import BusinessCalendar
from chalicelib.domain.channel_health import (
    ChannelState,
    diagnose,
    down_message,
    may_page,
    recovered_message,
    route_silence,
    silence_threshold,
)
from chalicelib.domain.errors import StoreUnavailable
from chalicelib.domain.policies import Policies

logger = Logger(child=True)


class ChannelStore(Protocol):
    """Implemented in adapters/dynamodb/channels.py."""

    def seen(self, channel: str, at: datetime) -> tuple[datetime, timedelta | None] | None:
        """Record an event (throttled): the previous event's time and the longest gap known,
        when this call wrote."""
        ...

    def learn_gap(self, channel: str, gap: timedelta) -> None: ...

    def record(self, channel: str, state: str, detail: str, at: datetime) -> None:
        """A platform's word on the channel: a problem (revoked, send_failed, unhealthy), or
        "healthy" for a send that went through."""
        ...

    def signature(self, channel: str, ok: bool, at: datetime) -> None: ...

    def unsigned(self, channel: str, at: datetime) -> None:
        """A POST with no signature of the platform's shape: junk, counted apart."""
        ...

    def unknown_account(self, channel: str, account_id: str, at: datetime) -> None:
        """A delivery for an undeclared account, counted per account."""
        ...

    def all(self) -> list[ChannelState]: ...

    def open_incident(self, channel: str, kind: str, at: datetime) -> bool: ...

    def incident_alerted(self, channel: str) -> None: ...

    def close_incident(self, channel: str, kind: str) -> bool: ...

    def claim_page(self, channel: str, at: datetime, every: timedelta) -> bool:
        """Take the channel's one "down" page of the period (atomic across containers)."""
        ...

    def release_page(self, channel: str, at: datetime, previous: datetime | None) -> None:
        """Give back a claim whose page could not be sent."""
        ...


@dataclass(frozen=True)
class ChannelDeps:
    store: ChannelStore
    notify_admins: Callable[[str, str], None]  # (subject, sms text)
    policies: Callable[[], Policies]
    public_url: str
    now: Callable[[], datetime]


def _calendar(channel: str, policies: Policies) -> BusinessCalendar:
    # An account's channel (`messenger:2001`) keeps its account's team's hours.
    platform, _, account_id = channel.partition(":")
    return policies.for_team(policies.team_for(platform, "private", account_id or None)).calendar


def _named(channel: str, policies: Policies) -> str:
    """The channel as the admins read it: a declared account's name next to its id."""
    name = policies.account_name(channel)
    return f"{channel} ({name})" if name else channel


@dataclass(frozen=True)
class WatchLog:
    """The ChannelLog port (domain/ports.py) of the webhook and ingest: the watch's rules over
    the channels store, built once per container. Needs no notifier: nobody is paged from here."""

    store: ChannelStore
    policies: Callable[[], Policies]
    now: Callable[[], datetime]

    def seen(self, channels: Iterable[str]) -> None:
        """Never fails the delivery: bookkeeping only."""
        at = self.now()
        try:
            for channel in set(channels):
                known = self.store.seen(channel, at)
                if known is None:
                    continue
                previous, longest = known
                gap = _calendar(channel, self.policies()).elapsed(previous, at)
                if longest is None or gap > longest:
                    self.store.learn_gap(channel, gap)
        except StoreUnavailable as fault:
            logger.warning("channel activity not recorded", extra={"fault": str(fault)})

    def signature(self, channel: str, ok: bool) -> None:
        try:
            self.store.signature(channel, ok, self.now())
        except StoreUnavailable as fault:
            logger.warning("signature failure not recorded", extra={"fault": str(fault)})

    def unsigned(self, channel: str) -> None:
        try:
            self.store.unsigned(channel, self.now())
        except StoreUnavailable as fault:
            logger.warning("unsigned post not recorded", extra={"fault": str(fault)})

    def problem(self, channel: str, state: str, detail: str) -> None:
        self.store.record(channel, state, detail, self.now())

    def unknown_account(self, channel: str, account_id: str) -> None:
        try:
            self.store.unknown_account(channel, account_id, self.now())
        except StoreUnavailable as fault:
            logger.warning("unknown account not counted", extra={"fault": str(fault)})


def check(deps: ChannelDeps) -> dict[str, str]:
    """One pass over every channel: open, re-send or close incidents. What it did, by channel."""
    now, policies, done = deps.now(), deps.policies(), {}
    # The link opens the console page: what is down and what to do about it.
    link, alerts = f"{deps.public_url}/console/channels", policies.channel_alerts
    states = deps.store.all()
    by_name = {s.channel: s for s in states}
    for state in states:
        ch = state.channel
        verdict = diagnose(state, now, _calendar(ch, policies), policies.channel_silence.get(ch),
                           alerts, route_silence(ch, by_name, policies.channel_silence))
        if verdict is not None:
            opened = state.incident is None and deps.store.open_incident(ch, verdict.kind, now)
            if opened or (state.incident is not None and not state.incident_alerted):
                # A new incident, or one whose alert failed or was held: tell the admins,
                # unless this channel paged them less than a period ago (a flapping channel);
                # then a later pass tells them if it is still down.
                if not (may_page(state, now, alerts)
                        and deps.store.claim_page(ch, now, alerts.page_every)):
                    done[ch] = f"held: {verdict.kind}"
                    logger.info("channel down, page held", extra={"channel": ch})
                    continue
                try:
                    deps.notify_admins(*down_message(_named(ch, policies), verdict, link))
                except Exception:
                    deps.store.release_page(ch, now, state.last_paged_at)
                    raise
                deps.store.incident_alerted(ch)
                done[ch] = f"down: {verdict.kind}"
                logger.warning("channel down", extra={"channel": ch, "kind": verdict.kind})
        elif state.incident is not None and deps.store.close_incident(ch, state.incident):
            if state.incident_alerted:
                deps.notify_admins(*recovered_message(_named(ch, policies), state.incident_since,
                                                     now, link))
            done[ch] = "recovered"
            logger.info("channel recovered", extra={"channel": ch})
    return done


def overview(deps: ChannelDeps) -> dict[str, dict[str, Any]]:
    """Each channel's state for /health and `replywindow channels`."""
    now, policies, out = deps.now(), deps.policies(), {}
    states = deps.store.all()
    by_name = {s.channel: s for s in states}
    for s in states:
        configured = policies.channel_silence.get(s.channel)
        verdict = diagnose(s, now, _calendar(s.channel, policies), configured,
                           policies.channel_alerts,
                           route_silence(s.channel, by_name, policies.channel_silence))
        threshold = silence_threshold(s, configured)
        if verdict is None:
            state, detail = ("ok" if threshold else "learning"), ""
        elif verdict.kind == "auth":
            state, detail = str(s.problem), s.problem_detail
        else:
            state, detail = verdict.kind, verdict.summary
        out[s.channel] = {
            "state": state, "detail": detail,
            # The declared account's name next to its id (`messenger:2001` is "Acme UK").
            "account_name": policies.account_name(s.channel),
            "last_event_at": s.last_event_at.isoformat() if s.last_event_at else None,
            "last_send_ok_at": s.last_send_ok_at.isoformat() if s.last_send_ok_at else None,
            "silence_alert_after_s": int(threshold.total_seconds()) if threshold else None,
            "incident": s.incident,
            "incident_since": s.incident_since.isoformat() if s.incident_since else None,
            # POSTs without a signature: anyone's junk, shown apart from failed signatures.
            "unsigned_posts": s.unsigned_count,
            # Deliveries for accounts the policies do not declare (stored nowhere), per id:
            # a half-configured setup (an account not declared yet, or another app's).
            "unknown_accounts": dict(sorted(s.unknown_accounts.items()))}
    return out
