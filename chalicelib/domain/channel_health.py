"""Channel health: the failures support teams discover too late are the silent ones.

A channel is in trouble when the platform stopped calling (silent longer than its usual
longest gap, counted in business hours, times three; or a configured gap), when deliveries
keep failing their signature (a rotated app secret), or when the platform refused our
credentials (a revoked app, an expired page token). Each incident is told to the admins once,
and once more when it is over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.domain.calendar import BusinessCalendar

SILENCE_FACTOR = 3
SILENCE_FLOOR = timedelta(minutes=15)  # shorter gaps are noise whatever the history says
MIN_EVENTS = 20  # before this much history, a learned gap means nothing
AUTH_PROBLEMS = ("revoked", "send_failed", "unhealthy")
SIGNATURE_PROBLEM = "signature_failures"


@dataclass(frozen=True)
class ChannelState:
    channel: str
    last_event_at: datetime | None = None
    events: int = 0
    longest_gap: timedelta | None = None  # business time between two recorded events
    last_send_ok_at: datetime | None = None
    last_verified_at: datetime | None = None  # a delivery passed its signature check
    problem: str | None = None  # one of AUTH_PROBLEMS or SIGNATURE_PROBLEM
    problem_at: datetime | None = None
    problem_detail: str = ""
    incident: str | None = None  # what the open incident is about
    incident_since: datetime | None = None
    incident_alerted: bool = False


@dataclass(frozen=True)
class Verdict:
    kind: str  # "silent", "signature_failures", "auth"
    summary: str  # short enough for an SMS


def silence_threshold(state: ChannelState, configured: timedelta | None) -> timedelta | None:
    if configured is not None:
        return configured
    if state.events < MIN_EVENTS or state.longest_gap is None:
        return None
    return max(SILENCE_FLOOR, state.longest_gap * SILENCE_FACTOR)


def _after(a: datetime | None, b: datetime | None) -> bool:
    return a is not None and b is not None and a > b


def diagnose(state: ChannelState, now: datetime, calendar: BusinessCalendar,
             configured_silence: timedelta | None = None) -> Verdict | None:
    """What is wrong with the channel now, or None."""
    if state.problem in AUTH_PROBLEMS and not _after(state.last_send_ok_at, state.problem_at) \
            and not (state.problem == "revoked"
                     and _after(state.last_event_at, state.problem_at)):
        return Verdict("auth", f"{state.problem}: {state.problem_detail}"[:80].rstrip(": "))
    if state.problem == SIGNATURE_PROBLEM and not (
            _after(state.last_verified_at, state.problem_at)
            or _after(state.last_event_at, state.problem_at)):
        return Verdict(SIGNATURE_PROBLEM, "deliveries fail their signature: check the app "
                                          "secret")
    threshold = silence_threshold(state, configured_silence)
    if threshold is not None and state.last_event_at is not None:
        silent = calendar.elapsed(state.last_event_at, now)
        if silent > threshold:
            return Verdict("silent", f"no events for {_span(silent)} of business time "
                                     f"(alert after {_span(threshold)})")
    return None


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 1)}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"


def down_message(channel: str, verdict: Verdict, link: str) -> tuple[str, str]:
    """(subject, sms): one line and one link, for a phone."""
    return (f"ReplyWindow: {channel} channel down",
            f"CHANNEL DOWN {channel}: {verdict.summary}. {link}")


def recovered_message(channel: str, since: datetime | None, now: datetime,
                      link: str) -> tuple[str, str]:
    lasted = f" after {_span(now - since)}" if since else ""
    return (f"ReplyWindow: {channel} channel recovered",
            f"CHANNEL OK {channel}: working again{lasted}. {link}")
