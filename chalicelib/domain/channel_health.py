"""Channel health: the failures support teams discover too late are the silent ones.

A channel is in trouble when the platform stopped calling (silent longer than its usual
longest gap, counted in business hours, times three; or a configured gap), when deliveries
keep failing their signature (a rotated app secret), or when the platform refused our
credentials (a revoked app, an expired page token). Each incident is told to the admins once,
and once more when it is over; a channel that flaps pages them at most once a period.

Anyone can POST an unsigned body to a webhook, so failed signatures alone prove nothing: only a
run of them with no verified delivery of the channel in between, lasting a while, is a rotated
secret. Junk while real deliveries keep verifying is just junk. A rotated secret also silences
the channel, so when its rhythm is known the failures must go on past its silence threshold:
a few junk POSTs at night on a quiet channel are not an outage. A POST with no signature (or
one not of the platform's shape) is not a delivery at all: it is counted as junk, apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from chalicelib.domain.calendar import BusinessCalendar

SILENCE_FACTOR = 3
SILENCE_FLOOR = timedelta(minutes=15)  # shorter gaps are noise whatever the history says
MIN_EVENTS = 20  # before this much history, a learned gap means nothing
AUTH_PROBLEMS = ("revoked", "send_failed", "unhealthy")
SIGNATURE_PROBLEM = "signature_failures"
# The webhook routes whose signatures are counted, and the platforms each one delivers: a
# rotated secret silences all of them.
ROUTE_PLATFORMS = {"x": ("x",), "meta": ("messenger", "facebook", "instagram", "whatsapp")}


@dataclass(frozen=True)
class AlertPolicy:
    """`channel_alerts` in the policies: when failed signatures are an incident, and how often
    one channel may page the admins."""

    signature_failures: int = 5  # failed signatures in the run, at least
    signature_over: timedelta = timedelta(minutes=10)  # from the run's first to its latest
    page_every: timedelta = timedelta(hours=1)  # at most one "down" page per channel per this


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
    # The current run of failed signatures: failures recorded since the last verified delivery.
    bad_first_at: datetime | None = None
    bad_last_at: datetime | None = None
    bad_count: int = 0
    last_paged_at: datetime | None = None  # the last "down" page about this channel
    unsigned_count: int = 0  # POSTs with no signature of the platform's shape: junk
    unsigned_last_at: datetime | None = None
    # Deliveries for accounts the policies do not declare, per account id: stored nowhere.
    unknown_accounts: Mapping[str, int] = field(default_factory=dict)


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


def route_silence(route: str, states: Mapping[str, ChannelState],
                  configured: Mapping[str, timedelta]) -> timedelta | None:
    """How long the platforms a webhook route delivers may be quiet, where known: the shortest
    of their thresholds (the first of them a rotated secret would make overdue)."""
    known = [t for name in (route, *ROUTE_PLATFORMS.get(route, ()))
             if (t := silence_threshold(states.get(name, ChannelState(channel=name)),
                                        configured.get(name))) is not None]
    return min(known, default=None)


def signature_incident(state: ChannelState, policy: AlertPolicy,
                       silence: timedelta | None = None,
                       calendar: BusinessCalendar | None = None) -> bool:
    """A run of failed signatures long and sustained enough, with no verified delivery (nor any
    event, which only a verified delivery records) since it began, and, when the channel's
    silence threshold is known, still failing once the channel has been quiet beyond it
    (counted from the last delivery heard, in business time as silence is): a rotated secret
    silences the channel, junk does not."""
    first, last = state.bad_first_at, state.bad_last_at
    if first is None or last is None or state.bad_count < policy.signature_failures:
        return False
    if last - first < policy.signature_over:
        return False
    if _after(state.last_verified_at, first) or _after(state.last_event_at, first):
        return False
    if silence is None:
        return True
    heard = max((t for t in (state.last_verified_at, state.last_event_at) if t is not None),
                default=first)
    quiet = calendar.elapsed(heard, last) if calendar is not None else last - heard
    return quiet > silence


def may_page(state: ChannelState, now: datetime, policy: AlertPolicy) -> bool:
    """Whether a "down" page about this channel is allowed now (one per period)."""
    return state.last_paged_at is None or now - state.last_paged_at >= policy.page_every


def diagnose(state: ChannelState, now: datetime, calendar: BusinessCalendar,
             configured_silence: timedelta | None = None,
             policy: AlertPolicy = AlertPolicy(),
             signature_silence: timedelta | None = None) -> Verdict | None:
    """What is wrong with the channel now, or None. `signature_silence`: the silence threshold
    of the platforms the channel's webhook route delivers (`route_silence`), where known."""
    if state.problem in AUTH_PROBLEMS and not _after(state.last_send_ok_at, state.problem_at) \
            and not (state.problem == "revoked"
                     and _after(state.last_event_at, state.problem_at)):
        return Verdict("auth", f"{state.problem}: {state.problem_detail}"[:80].rstrip(": "))
    if signature_incident(state, policy, signature_silence, calendar):
        return Verdict(SIGNATURE_PROBLEM, f"{state.bad_count} deliveries failed their "
                                          "signature, none verified: check the app secret")
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
