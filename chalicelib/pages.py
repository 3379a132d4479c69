"""The pages an agent sees outside the API: the alert behind an acknowledge link, and a refusal.
Small, readable on a 360 px phone, no script; everything shown is escaped.

The token in an alert link is the credential, so every page forbids what could leak or misuse
it: no Referer, no caching, no framing, and a Content-Security-Policy that lets the page load
nothing but its own style block (allowed by its hash) and post only back to itself.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape
from typing import TYPE_CHECKING

from chalice.app import Response

if TYPE_CHECKING:
    from chalicelib.services.acknowledge import AlertView

# One small style block, allowed by its hash rather than 'unsafe-inline': the page stays a single
# request on a phone, and an injected <style> or attribute still cannot apply.
_CSS = ("body{font:18px/1.4 system-ui,sans-serif;margin:1em auto;max-width:28em;padding:0 1em}"
        "h1{font-size:1.3em}dt{font-weight:600}dd{margin:0 0 .5em}"
        ".warning{color:#8a5300}.breach,.escalation{color:#b00020}"
        "blockquote{margin:.3em 0;padding:.3em .6em;border-left:3px solid #999;"
        "overflow-wrap:anywhere}"
        "button{font:inherit;width:100%;min-height:3em;border:0;border-radius:.4em;"
        "background:#0b57d0;color:#fff}")
_CSS_HASH = base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()

HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # the token is in the URL
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex",
}

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>ReplyWindow - {title}</title>
<style>{css}</style></head>
<body><main><h1>{title}</h1>
{content}</main></body></html>"""

HEADLINE = {"warning": "Warning: reply due soon", "breach": "Breach: the reply window is missed",
            "escalation": "Escalated: the reply window is long missed",
            "answered": "Already answered"}
_PLATFORM = {"x": "X", "messenger": "Messenger", "facebook": "Facebook",
             "instagram": "Instagram", "whatsapp": "WhatsApp"}


def _html(title: str, content: str, status: int) -> Response:
    body = _PAGE.format(title=escape(title), css=_CSS, content=content)
    return Response(body=body, status_code=status, headers=dict(HEADERS))


def page(title: str, message: str, status: int = 200) -> Response:
    """A page of one message (a refusal tells no more than its message)."""
    return _html(title, f"<p>{escape(message)}</p>", status)


def alert_page(alert: AlertView, notice: str | None = None) -> Response:
    """The alert behind a link: what happened, to whom, how long is left, what they wrote, and
    an Acknowledge button that posts back to the same URL (no script needed)."""
    who = " ".join(part for part in (
        f"@{alert.handle}" if alert.handle else None,
        f"({alert.name})" if alert.name and alert.handle else alert.name) if part) or "a customer"
    priority = alert.priority or "untriaged"
    if alert.reasons:
        priority += " - " + ", ".join(alert.reasons)
    facts = [("Customer", f"{who} on {_PLATFORM.get(alert.platform, alert.platform)}"),
             ("Priority", priority), ("Time left", _time_left(alert)),
             ("Conversation", alert.conversation)]
    parts = [f'<p class="{escape(alert.level)}">{escape(_status(alert))}</p>']
    if notice:
        parts.append(f'<p role="status">{escape(notice)}</p>')
    parts.append("<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts)
                 + "</dl>")
    parts.append("<h2>Latest messages</h2>")
    parts += [f"<p>{escape(who_wrote)}:</p><blockquote>{escape(text)}</blockquote>"
              for who_wrote, text in alert.messages] or ["<p>(none stored)</p>"]
    if alert.open:
        parts.append('<form method="post"><button type="submit">Acknowledge</button></form>'
                     f"<p>Acknowledging makes it yours, {escape(alert.agent)}, and stops the "
                     "escalation to your lead.</p>")
    return _html(HEADLINE.get(alert.level, alert.level), "\n".join(parts), 200)


def _status(alert: AlertView) -> str:
    if alert.level == "answered":
        return "This turn was answered (or the customer wrote again): nothing to do here."
    if alert.acknowledged_by:
        return f"Acknowledged by {alert.acknowledged_by}: escalation stopped."
    return "Not acknowledged yet."


def _time_left(alert: AlertView) -> str:
    if alert.seconds_left is None:
        return "no deadline" if alert.level != "answered" else "-"
    span = _duration(abs(alert.seconds_left))
    return f"{span} left" if alert.seconds_left > 0 else f"{span} over"


def _duration(seconds: float) -> str:
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60} min"
    hours, minutes = divmod(whole // 60, 60)
    if hours >= 48:
        return f"{hours // 24} days {hours % 24} h"
    return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"
