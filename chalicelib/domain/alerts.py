"""What an on-call agent reads on a phone: short, actionable, one link (pure).

The SMS fits one 160-character GSM-7 segment: no emoji (one would halve the segment), the
level first, then platform, customer, time left, the top reasons, and the acknowledge link.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.domain.conversations import Conversation

SMS_LIMIT = 160

LEVEL_LABEL = {"warning": "WARN", "breach": "BREACH", "escalation": "ESCALATED"}
PLATFORM_LABEL = {"x": "X", "messenger": "Messenger", "facebook": "Facebook",
                  "instagram": "Instagram", "whatsapp": "WhatsApp"}


@dataclass(frozen=True)
class Alert:
    level: str
    subject: str
    sms: str
    email: str


def _duration(delta: timedelta) -> str:
    seconds = int(abs(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    hours, minutes = divmod(seconds // 60, 60)
    return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"


def time_left(due_at: datetime | None, now: datetime) -> str:
    if due_at is None:
        return "no deadline"
    delta = due_at - now
    return f"{_duration(delta)} left" if delta.total_seconds() > 0 else f"{_duration(delta)} over"


def _who(c: Conversation) -> str:
    return f"@{c.customer.handle}" if c.customer.handle else (c.customer.name or "a customer")


def compose(level: str, c: Conversation, now: datetime, link: str,
            recent: Sequence[tuple[str, str]] = ()) -> Alert:
    """`recent`: the conversation's last messages as (who, text), oldest first, for the email."""
    label = LEVEL_LABEL.get(level, level.upper())
    platform = PLATFORM_LABEL.get(c.platform.value, c.platform.value)
    when = time_left(c.due_at, now)
    head = f"{label} {platform} {_who(c)} {when}"
    if c.found_by_listening:  # nobody tagged the brand: the agent finds it by search, not inbox
        head += " (found by listening)"
    if c.priority:
        head += f" ({c.priority})"
    sms = _fit(head, list(c.reasons), link)
    subject = f"[ReplyWindow] {label}: {_who(c)} on {platform}, {when}"
    lines = [f"{label}: {_who(c)} on {platform} ({c.channel.value}), {when}.",
             *(["Found by listening: the customer did not tag the brand."]
               if c.found_by_listening else []),
             f"Priority: {c.priority or 'untriaged'}"
             + (f" - {', '.join(c.reasons)}" if c.reasons else ""),
             "", "Latest messages:"]
    lines += [f"  {who}: {text}" for who, text in recent] or ["  (none stored)"]
    lines += ["", f"Acknowledge (stops further alerts): {link}"]
    return Alert(level=level, subject=subject, sms=sms, email="\n".join(lines))


def _fit(head: str, reasons: list[str], link: str) -> str:
    """Add as many reasons as fit in one segment; the link always stays whole."""
    text = f"{head}. {link}"
    for n in range(len(reasons), 0, -1):
        candidate = f"{head}: {', '.join(reasons[:n])}. {link}"
        if len(candidate) <= SMS_LIMIT:
            return _gsm(candidate)
    if len(text) > SMS_LIMIT:
        text = f"{head[:SMS_LIMIT - len(link) - 2]} {link}"
    return _gsm(text)


def _gsm(text: str) -> str:
    """Keep to ASCII so the SMS stays GSM-7 (a handle with an emoji would halve the segment)."""
    return text.encode("ascii", "replace").decode("ascii")


def digest(team: str, public_url: str, covered: Sequence[tuple[str, Conversation]],
           now: datetime) -> Alert:
    """One message instead of a flood: the SMS keeps the count and one link to the inbox
    filtered to what it covers; the email lists each conversation, most urgent first.

    `covered`: (level, conversation) pairs, all waiting on an agent (the inbox's default).
    """
    count = len(covered)
    link = f"{public_url}/console?team={team}"
    sms = _gsm(f"{count} conversations for {team} need a reply now. Inbox: {link}")
    platforms = {c.platform.value for _, c in covered}
    if len(platforms) == 1:  # all on one platform: filtered to it too, if it fits a segment
        narrower = f"{sms}&platform={platforms.pop()}"
        if len(narrower) <= SMS_LIMIT:
            sms, link = narrower, narrower.rsplit(" ", 1)[1]
    ordered = sorted(covered, key=lambda lc: (lc[1].due_at is None, lc[1].due_at or now))
    lines = [f"{count} conversations in {team} are near or past their deadline:", ""]
    lines += [f"  {LEVEL_LABEL.get(level, level.upper())} {_who(c)} on "
              f"{PLATFORM_LABEL.get(c.platform.value, c.platform.value)}, "
              f"{time_left(c.due_at, now)}" for level, c in ordered]
    lines += ["", f"Open the inbox: {link}"]
    return Alert(level="digest", subject=f"[ReplyWindow] {count} conversations need you",
                 sms=sms, email="\n".join(lines))
