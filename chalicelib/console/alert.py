"""The alert page behind the link in an SMS or email (`/ack/{token}`), on the console's base
template and stylesheet, readable on a 360 px phone.

Opening the link (GET) only reads: mail link scanners and chat previews fetch every link before
a person does, and an acknowledgement they made would silently stop the escalation. The page's
Acknowledge button POSTs back to the same URL; the token in the path is the credential, so that
POST needs no session. Replying does need a console session on this device (the reply form
posts to the console's reply action with its CSRF token); without one the page offers sign-in
and comes back here.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable

from aws_lambda_powertools import Logger
from chalice.app import Blueprint, Response

from chalicelib import bootstrap
from chalicelib.console import sessions
from chalicelib.console.render import html
from chalicelib.console.routes import _base, _session
from chalicelib.domain.errors import Forbidden, NotFound, StoreUnavailable, VersionConflict
from chalicelib.services import acknowledge
from chalicelib.services.acknowledge import AlertView

alerts = Blueprint(__name__)
logger = Logger(child=True)

# The token is in the URL: no Referer may carry it to another site (same-origin, not
# no-referrer: with no-referrer the browser sends `Origin: null` on the reply form's POST, which
# the console refuses as cross-site), and no index may keep the page.
HEADERS = {"Referrer-Policy": "same-origin", "X-Robots-Tag": "noindex"}
# A browser's form posts urlencoded; anything else is accepted too (the body is never read).
FORM_TYPES = ["application/x-www-form-urlencoded", "multipart/form-data", "application/json",
              "text/plain"]

HEADLINE = {"warning": "Warning: reply due soon", "breach": "Breach: the reply window is missed",
            "escalation": "Escalated: the reply window is long missed",
            "answered": "Already answered"}
PLATFORM = {"x": "X", "messenger": "Messenger", "facebook": "Facebook",
            "instagram": "Instagram", "whatsapp": "WhatsApp"}


@alerts.route("/ack/{token}", methods=["GET"])
def alert(token: str) -> Response:
    return _shown(token, lambda: None)


@alerts.route("/ack/{token}", methods=["POST"], content_types=FORM_TYPES)
def ack(token: str) -> Response:
    def acknowledged() -> str:
        done = acknowledge.acknowledge(token, bootstrap.ack_deps())
        return (f"Acknowledged: no more alerts for this turn; it is yours, {done.agent}."
                if not done.already else "Already acknowledged or answered: nothing else to do.")
    return _shown(token, acknowledged)


def _shown(token: str, act: Callable[[], str | None]) -> Response:
    """Act (or not), then show the alert. Whatever goes wrong, the answer is a page a person
    can read, and nothing that reaches the log names the path: the token in it is a
    credential (an exception left to Chalice is logged with its path)."""
    try:
        notice = act()
        shown = acknowledge.view(token, bootstrap.ack_deps())
    except Forbidden as refused:
        return _problem(403, "Link not valid", f"{refused} Open the inbox to pick it up.")
    except NotFound:
        return _problem(404, "Link not valid",
                        "This link is not valid. Open the inbox to pick the conversation up.")
    except (StoreUnavailable, VersionConflict):
        logger.warning("alert page: AWS unavailable or busy")
        return _problem(503, "Temporarily unavailable",
                        "Nothing was lost: try again in a minute.", {"Retry-After": "60"})
    except Exception as failure:
        # The type and where, never the message (it may quote the token or a customer).
        logger.error("alert page failed", extra={
            "error": type(failure).__name__,
            "at": traceback.format_tb(failure.__traceback__)[-1:]})
        return _problem(500, "Something went wrong",
                        "The alert could not be shown: try again in a minute.")
    return render(shown, token, base=_base(), session=_session(), notice=notice,
                  now=bootstrap.now().isoformat())


def _problem(status: int, title: str, message: str,
             headers: dict[str, str] | None = None) -> Response:
    return html("problem.html", status, {**HEADERS, **(headers or {})}, base=_base(),
                title=title, message=message, principal=None, csrf="", notice=None)


def render(shown: AlertView, token: str, *, base: str, session: sessions.Session | None,
           notice: str | None = None, now: str = "") -> Response:
    return html("alert.html", 200, HEADERS, base=base, a=shown, token=token, now=now,
                headline=HEADLINE.get(shown.level, shown.level),
                platform=PLATFORM.get(shown.platform, shown.platform),
                who=_who(shown), state=_status(shown), time_left=time_left(shown),
                principal=session.principal if session else None,
                csrf=session.csrf if session else "",
                notice={"text": notice, "kind": "ok"} if notice else None)


def _who(alert: AlertView) -> str:
    return " ".join(part for part in (
        f"@{alert.handle}" if alert.handle else None,
        f"({alert.name})" if alert.name and alert.handle else alert.name) if part) or "a customer"


def _status(alert: AlertView) -> str:
    if alert.level == "answered":
        return "This turn was answered (or the customer wrote again): nothing to do here."
    if alert.acknowledged_by:
        return f"Acknowledged by {alert.acknowledged_by}: no more alerts for this turn."
    return "Not acknowledged yet."


def time_left(alert: AlertView) -> str:
    """The server's figure: shown as is without JavaScript, counted down live with it."""
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
