"""The console's team pages: who is on call (admins change overrides here), the SLA report as
charts, and the channels' health with what to do when one is down (and, for admins,
ReplyWindow's own: dead letters, alarms, the alarm clock's failures). Same plumbing as the inbox
(chalicelib/console/routes.py): a session, CSRF on every change, post/redirect/get."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.console import actions, charts, sessions
from chalicelib.console.render import redirect
from chalicelib.console.routes import (
    _change,
    _failure_page,
    _here,
    _notice,
    _page,
    _request,
    _session,
    _to_sign_in,
    _url,
)
from chalicelib.domain.errors import BadRequest, NotFound

team_pages = Blueprint(__name__)

FORM = ["application/x-www-form-urlencoded"]


# What to do when a channel is down, by kind of trouble (the channel watch's states).
CHANNEL_ADVICE = {
    "silent": "No events for longer than this channel is ever quiet. Check that the webhook "
              "subscription is still active in the platform's developer console (Meta: the "
              "app's Webhooks page; X: the Account Activity subscription), and that the "
              "function URL answers the platform's challenge.",
    "signature_failures": "Deliveries arrive but their signatures do not match: the app "
                          "secret was rotated or another app posts here. Put the current app "
                          "secret in the secret store (REPLYWINDOW_META_APP_SECRET or the X "
                          "consumer secret); nothing signed wrongly was stored.",
    "revoked": "The platform refused our token: the app was removed or its access revoked. "
               "Reconnect the account and store the new token; replies fail until then.",
    "send_failed": "Sending a reply failed on the platform's side. Check the token's "
                   "permissions for sending messages; replies are refused until it works.",
    "unhealthy": "The platform rejects our token. Generate a new Page or system-user token, "
                 "store it, and send a test reply from the console.",
    "learning": "Still learning this channel's rhythm: it will be watched once there is "
                "enough traffic.",
    "ok": "Working.",
}


def _shown(path: str, render: Callable[[sessions.Session], Response]) -> Response:
    session = _session()
    if session is None:
        return _to_sign_in(_here(path))
    try:
        return render(session)
    except Exception as failure:
        return _failure_page(failure, session)


# --- on call ----------------------------------------------------------------------------------

@team_pages.route("/console/oncall", methods=["GET"])
def oncall_page() -> Response:
    return _shown("/console/oncall", lambda session: _page(
        "oncall.html", session, section="On call", teams=actions.oncall(session.principal),
        now=actions.now().isoformat()))


def _utc(value: str, name: str) -> str:
    """A form's date and time (UTC, as the page says); an ISO time with an offset is kept."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as failure:
        raise BadRequest(f"{name}: a date and time like 2026-12-01T09:00") from failure
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def _rota_changed(act: Callable[[sessions.Session, dict[str, str]], str]) -> Response:
    def changed(session: sessions.Session, form: dict[str, str]) -> Response:
        try:
            kind, text = "ok", act(session, form)
        except (BadRequest, NotFound) as refused:
            kind, text = "error", str(refused)
        except Exception as failure:
            return _failure_page(failure, session)
        return _redirect_with(session, "/console/oncall", kind, text)
    return _change(changed)


def _redirect_with(session: sessions.Session, path: str, kind: str, text: str) -> Response:
    return redirect(_url(path, **_notice(session, kind, text)))


@team_pages.route("/console/oncall/{team}/overrides", methods=["POST"], content_types=FORM)
def add_override(team: str) -> Response:
    def added(session: sessions.Session, form: dict[str, str]) -> str:
        agent = form.get("agent", "").strip()
        start, end = _utc(form.get("start", ""), "start"), _utc(form.get("end", ""), "end")
        actions.add_override(session.principal, team, {"agent": agent, "start": start,
                                                       "end": end})
        return f"Override added: {agent} on call for {team} from {start[:16]} to {end[:16]} UTC."
    return _rota_changed(added)


@team_pages.route("/console/oncall/{team}/overrides/remove", methods=["POST"],
                  content_types=FORM)
def remove_override(team: str) -> Response:
    def removed(session: sessions.Session, form: dict[str, str]) -> str:
        actions.remove_override(session.principal, team, form)
        return f"Override removed: {form.get('agent', '')} for {team}."
    return _rota_changed(removed)


# --- reports ----------------------------------------------------------------------------------

@team_pages.route("/console/reports", methods=["GET"])
def reports_page() -> Response:
    def render(session: sessions.Session) -> Response:
        params = {k: v for k, v in (_request().query_params or {}).items()
                  if k in ("from", "to", "team") and v}
        return _page("reports.html", session, section="Reports",
                     **charts.report_view(session.principal, params))
    return _shown("/console/reports", render)


# --- channels ---------------------------------------------------------------------------------

@team_pages.route("/console/channels", methods=["GET"])
def channels_page() -> Response:
    def render(session: sessions.Session) -> Response:
        shown: dict[str, dict[str, Any]] = actions.channels(session.principal)
        return _page("channels.html", session, section="Channels", channels=shown,
                     advice=CHANNEL_ADVICE, watch=actions.own_health(session.principal))
    return _shown("/console/channels", render)
