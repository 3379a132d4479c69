"""The agent console's routes (a Blueprint registered in app.py): sign in, inbox, conversation.

Pages are server-rendered and work without JavaScript; every form POSTs and redirects back
(post/redirect/get). A state change relying on the session cookie needs the session's CSRF
token (form field `csrf` or header `X-CSRF-Token`) and, when the browser sends one, an Origin
that is this site.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from aws_lambda_powertools import Logger
from chalice.app import Blueprint, Request, Response

from chalicelib.config import settings
from chalicelib.console import actions, sessions
from chalicelib.console.render import ASSETS, SECURITY_HEADERS, asset, html, redirect
from chalicelib.domain.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    PlatformFailed,
    ReplyMaybeSent,
    ReplyRefused,
    StoreUnavailable,
    Unauthorized,
)
from chalicelib.http import error

console = Blueprint(__name__)
logger = Logger(child=True)

FORM = ["application/x-www-form-urlencoded"]
MAX_FORM_BYTES = 64 * 1024
STATUSES = ("awaiting_agent", "awaiting_customer", "resolved")


# --- request plumbing ------------------------------------------------------------------------

def _request() -> Request:
    request = console.current_request
    if request is None:
        raise RuntimeError("no request is being handled")
    return request


def _base() -> str:
    """The path prefix the public URL adds (API Gateway's stage, e.g. `/api`); empty locally.
    The API function may have no public URL (the template cannot give it its own REST API's
    URL): then the request says it, API Gateway's path starting with the stage's name."""
    public = settings().public_url
    if public:
        return urlsplit(public).path.rstrip("/")
    context = _request().context or {}
    stage = str(context.get("stage") or "")
    if stage and str(context.get("path") or "").startswith(f"/{stage}/"):
        return f"/{stage}"
    return ""


def _url(path: str, **params: str) -> str:
    return _base() + path + (f"?{urlencode(params)}" if params else "")


def _header(name: str) -> str | None:
    value = _request().headers.get(name)
    return str(value) if value is not None else None


def _cookie_session_id() -> str | None:
    try:
        jar = SimpleCookie(_header("cookie") or "")
    except CookieError:
        return None
    morsel = jar.get(_cookie_name())
    return morsel.value if morsel else None


def _cookie_name() -> str:
    """Over https the `__Host-` prefix: the browser keeps such a cookie only if it is Secure,
    for Path=/ and this host alone, so no sibling subdomain can plant or shadow a session.
    Path=/ covers the stage prefix too. Plain http (local) cannot use it."""
    return f"__Host-{sessions.COOKIE}" if _https() else sessions.COOKIE


def _set_cookie(session: sessions.Session, lifetime: timedelta) -> str:
    seconds = int(lifetime.total_seconds())
    secure = "; Secure" if _https() else ""
    return (f"{_cookie_name()}={session.id}; Path=/; Max-Age={seconds}; HttpOnly; "
            f"SameSite=Strict{secure}")


def _https() -> bool:
    """Served over https: the public URL says so or, where the API function has none (it
    cannot name its own REST API in the template), API Gateway's X-Forwarded-Proto does."""
    return (settings().public_url.startswith("https://")
            or (_header("x-forwarded-proto") or "").lower() == "https")


def _clear_cookie() -> str:
    secure = "; Secure" if _https() else ""
    return f"{_cookie_name()}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{secure}"


def _form() -> dict[str, str]:
    body = _request().raw_body or b""
    raw = body if isinstance(body, bytes) else str(body).encode()
    if len(raw) > MAX_FORM_BYTES:
        raise BadRequest(f"form: at most {MAX_FORM_BYTES} bytes")
    try:
        parsed = parse_qs(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError) as failure:
        raise BadRequest("form: not a valid urlencoded form") from failure
    return {k: v[0] for k, v in parsed.items()}


def _same_origin(*, required: bool = False) -> bool:
    """A browser names the page a POST comes from; another site's page is refused. Where no
    CSRF token can protect the form (sign-in: no session yet), the browser must say where it
    comes from (`Origin`, or `Sec-Fetch-Site: same-origin`): else another site could sign a
    visitor in as the attacker (login CSRF) and read what they then type."""
    origin = _header("origin")
    fetch_site = _header("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False  # none: typed or bookmarked by the person, not sent by another page
    if origin is None:
        # Not a browser, or an old one: the CSRF token still has to match.
        return not required or fetch_site == "same-origin"
    public = settings().public_url
    expected = "{0.scheme}://{0.netloc}".format(urlsplit(public)) if public else None
    host = _header("host")
    return origin in {expected, f"http://{host}", f"https://{host}"} - {None}


def _session() -> sessions.Session | None:
    return sessions.resume(_cookie_session_id(), actions.session_deps())


def _to_sign_in(here: str) -> Response:
    return redirect(_url("/console/sign-in", next=here))


def _here(path: str) -> str:
    params = {k: v for k, v in (_request().query_params or {}).items()
              if k not in ("notice", "kind", "sig")}  # a notice is shown once, not kept
    return path + (f"?{urlencode(params)}" if params else "")


# --- notices shown after a redirect (signed so no other site can put words on our page) -----

def _notice(session: sessions.Session, kind: str, text: str) -> dict[str, str]:
    return {"notice": text, "kind": kind, "sig": _notice_sig(session, kind, text)}


def _notice_sig(session: sessions.Session, kind: str, text: str) -> str:
    return hmac.new(session.csrf.encode(), f"{kind}|{text}".encode(),
                    hashlib.sha256).hexdigest()[:32]


def _shown_notice(session: sessions.Session) -> dict[str, str] | None:
    params = dict(_request().query_params or {})
    text, kind, sig = params.get("notice"), params.get("kind", "ok"), params.get("sig", "")
    if not text or kind not in ("ok", "error"):
        return None
    if not hmac.compare_digest(_notice_sig(session, kind, text).encode(), sig.encode()):
        return None
    return {"text": text, "kind": kind}


def _page(template: str, session: sessions.Session, status: int = 200,
          **context: Any) -> Response:
    return html(template, status, base=_base(), principal=session.principal,
                csrf=session.csrf, notice=_shown_notice(session), **context)


def _failure_page(failure: Exception, session: sessions.Session | None) -> Response:
    status, title = 500, "Something went wrong"
    if isinstance(failure, StoreUnavailable):
        logger.exception("console: AWS unavailable")
        status, title = 503, "Temporarily unavailable"
    elif isinstance(failure, NotFound):
        status, title = 404, "Not found"
    elif isinstance(failure, Forbidden):
        status, title = 403, "Not allowed"
    elif isinstance(failure, BadRequest):
        status, title = 400, "Not understood"
    else:
        raise failure
    message = str(failure) if status != 503 else "Try again in a moment."
    return html("problem.html", status, base=_base(), title=title, message=message,
                principal=session.principal if session else None,
                csrf=session.csrf if session else "", notice=None)


# --- sign in / out --------------------------------------------------------------------------

@console.route("/console/sign-in", methods=["GET"])
def sign_in_page() -> Response:
    next_path = sessions.safe_next(dict(_request().query_params or {}).get("next"))
    return html("sign_in.html", base=_base(), next=next_path, error=None, principal=None)


@console.route("/console/sign-in", methods=["POST"], content_types=FORM)
def sign_in() -> Response:
    try:
        form = _form()
    except BadRequest as refused:
        return html("sign_in.html", 400, base=_base(), next="/console", error=str(refused),
                    principal=None)
    next_path = sessions.safe_next(form.get("next"))
    if not _same_origin(required=True):
        return html("sign_in.html", 403, base=_base(), next=next_path, principal=None,
                    error="This form must be sent from this site.")
    token = form.get("token", "")
    try:
        principal = actions.sign_in(token)
    except (Unauthorized, Forbidden):
        # Never log the token: only that a sign-in was refused.
        logger.info("console sign-in refused")
        return html("sign_in.html", 401, base=_base(), next=next_path, principal=None,
                    error="That token is not valid. Check it and try again.")
    deps = actions.session_deps()
    session = sessions.start(principal, deps)
    logger.info("console sign-in", extra={"agent": principal.id, "role": principal.role})
    return redirect(_base() + next_path, {"Set-Cookie": _set_cookie(session, deps.lifetime)})


@console.route("/console/sign-out", methods=["POST"], content_types=FORM)
def sign_out() -> Response:
    return _change(lambda session, form: _signed_out(session))


def _signed_out(session: sessions.Session) -> Response:
    sessions.end(session.id, actions.session_deps())
    return redirect(_url("/console/sign-in"), {"Set-Cookie": _clear_cookie()})


@console.route("/api/agents/{agent_id}/sessions", methods=["DELETE"])
def revoke_sessions(agent_id: str) -> Response:
    """Admin: sign an agent out everywhere (a lost phone, someone leaving)."""
    try:
        actions.admin(_header("authorization"))
        result = sessions.revoke(agent_id, actions.session_deps())
    except Unauthorized as refused:
        return error(401, str(refused))
    except Forbidden as refused:
        return error(403, str(refused))
    except StoreUnavailable:
        logger.exception("revoke sessions: AWS unavailable")
        return error(503, "temporarily unavailable; retry later")
    return Response(body=result, status_code=200, headers={"Content-Type": "application/json"})


# --- inbox ------------------------------------------------------------------------------------

PAGE = 25  # rows an inbox view starts with; "show more" adds as many
MAX_SHOWN = 200


def _filters() -> dict[str, str]:
    params = dict(_request().query_params or {})
    chosen = {"team": params.get("team", ""), "status": params.get("status", ""),
              "platform": params.get("platform", "")}
    if chosen["status"] and chosen["status"] not in STATUSES:
        chosen["status"] = ""
    if chosen["platform"] and chosen["platform"] not in actions.PLATFORMS:
        chosen["platform"] = ""
    # A team the policies do not know is dropped; one they know but the caller is not in is
    # kept, and answered as if it did not exist (404).
    if chosen["team"] and chosen["team"] not in actions.teams():
        chosen["team"] = ""
    return chosen


def _shown_count() -> int:
    asked = dict(_request().query_params or {}).get("show", "")
    count = int(asked) if asked.isdigit() else PAGE
    return min(MAX_SHOWN, max(PAGE, count))


def _rows(session: sessions.Session, filters: dict[str, str],
          show: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The rows shown and what was left out ({"count": n, "unknown": more beyond n})."""
    found = actions.inbox(session.principal, {k: v for k, v in filters.items() if v}, show)
    # Seconds left change every second; the page counts down from due_at itself, so they
    # stay out of what is compared (the ETag) and sent.
    rows = [{k: v for k, v in row.items() if k != "seconds_left"}
            for row in found["conversations"]]
    for row in rows:  # lets the page highlight exactly the rows that changed
        row["fp"] = _etag([row]).strip('"')[:16]
    return rows, {"count": found["more"], "unknown": found["more_unknown"]}


def _more_text(more: dict[str, Any]) -> str:
    if more["unknown"]:
        # Not counted to the end (each poll reads only what it shows): a lower bound.
        return f"At least {more['count']} more waiting beyond these" if more["count"] else (
            "More waiting beyond these")
    return f"{more['count']} more waiting beyond these" if more["count"] else ""


def _etag(rows: list[dict[str, Any]], more: dict[str, Any] | None = None) -> str:
    canonical = json.dumps([rows, more], sort_keys=True, separators=(",", ":"), default=str)
    return '"' + hashlib.sha256(canonical.encode()).hexdigest()[:32] + '"'


@console.route("/console", methods=["GET"])
def inbox_page() -> Response:
    session = _session()
    if session is None:
        return _to_sign_in(_here("/console"))
    filters, show = _filters(), _shown_count()
    try:
        rows, more = _rows(session, filters, show)
    except Exception as failure:
        return _failure_page(failure, session)
    now = actions.now()
    wanted = {k: v for k, v in filters.items() if v}
    more_link = (_url("/console", **wanted, show=str(show + PAGE))
                 if (more["count"] or more["unknown"]) and show < MAX_SHOWN else "")
    return _page("inbox.html", session, section="Inbox", rows=rows, filters=filters,
                 poll={**wanted, "show": str(show)}, etag=_etag(rows, more),
                 teams=actions.visible_teams(session.principal), statuses=STATUSES,
                 platforms=actions.PLATFORMS, now=now.isoformat(), more=_more_text(more),
                 more_link=more_link, left=lambda due: _left(due, now))


@console.route("/console/inbox.json", methods=["GET"])
def inbox_rows() -> Response:
    """The inbox page polls this. Unchanged rows answer 304 with no body: a cheap poll."""
    session = _session()
    if session is None:
        return error(401, "sign in again")
    try:
        rows, more = _rows(session, _filters(), _shown_count())
    except StoreUnavailable:
        logger.exception("console inbox: AWS unavailable")
        return error(503, "temporarily unavailable; retry later")
    except NotFound as missing:  # another team's inbox: as if it did not exist
        return error(404, str(missing))
    except BadRequest as refused:
        return error(400, str(refused))
    tag = _etag(rows, more)
    headers: dict[str, str | list[str]] = {"ETag": tag, "Cache-Control": "no-cache, private",
                                           **SECURITY_HEADERS}
    if tag in (_header("if-none-match") or "").split(", "):
        return Response(body="", status_code=304, headers=headers)
    return Response(body={"conversations": rows, "more": _more_text(more),
                          "now": actions.now().isoformat()},
                    status_code=200, headers={"Content-Type": "application/json", **headers})


def _left(due_at: str | None, now: datetime) -> str:
    if not due_at:
        return "no deadline"
    seconds = int((datetime.fromisoformat(due_at) - now).total_seconds())
    minutes, secs = divmod(abs(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    shown = f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"
    return f"in {shown}" if seconds >= 0 else f"overdue {shown}"


# --- conversation -----------------------------------------------------------------------------

@console.route("/console/conversations/{conversation_id}", methods=["GET"])
def conversation_page(conversation_id: str) -> Response:
    session = _session()
    if session is None:
        return _to_sign_in(_here(f"/console/conversations/{conversation_id}"))
    try:
        shown = actions.conversation(session.principal, conversation_id)
    except Exception as failure:
        return _failure_page(failure, session)
    now = actions.now()
    return _page("conversation.html", session, section="Inbox", c=shown,
                 left=_left(shown["due_at"], now), can_go_private=shown["channel"] == "public")


def _back(conversation_id: str) -> str:
    return f"/console/conversations/{conversation_id}"


def _change(act: Callable[[sessions.Session, dict[str, str]], Response]) -> Response:
    """A state change from a console form: signed in, same origin, the session's CSRF token."""
    session = _session()
    if session is None:  # expired or revoked while the page was open: sign in, then go on
        return redirect(_url("/console/sign-in", next=_referring_page()))
    if not _same_origin():
        return _refused(403, session, "This form was sent from another site, so nothing was "
                                      "done.")
    try:
        form = _form()
    except BadRequest as refused:
        return _refused(400, session, f"The form could not be read ({refused}).")
    if not sessions.csrf_ok(session, form.get("csrf") or _header("x-csrf-token")):
        logger.info("console: CSRF token missing or wrong", extra={"agent":
                                                                   session.principal.id})
        return _refused(403, session, "The page was out of date (missing or wrong CSRF "
                                      "token), so nothing was done.")
    return act(session, form)


def _refused(status: int, session: sessions.Session, message: str) -> Response:
    """A refused form: a page saying so, with the way back to the page it came from."""
    return html("problem.html", status, base=_base(), title="Not done", message=message,
                retry=_base() + _referring_page(), principal=session.principal,
                csrf=session.csrf, notice=None)


def _referring_page() -> str:
    """The console page the form was on (same origin only), to return to after signing in."""
    referer = urlsplit(_header("referer") or "")
    path = referer.path.removeprefix(_base()) if _base() else referer.path
    return sessions.safe_next(path + (f"?{referer.query}" if referer.query else ""))


def _acted(conversation_id: str, session: sessions.Session,
           act: Callable[[], str]) -> Response:
    try:
        kind, text = "ok", act()
    except ReplyRefused as refused:
        kind, text = "error", f"Not sent: {refused}"
    except PlatformFailed as failed:
        kind, text = "error", f"Not sent: the platform failed ({failed})"
    except ReplyMaybeSent as unsure:
        kind, text = "error", f"Not confirmed: {unsure}. Do not send it again."
    except BadRequest as refused:
        kind, text = "error", str(refused)
    except Exception as failure:
        return _failure_page(failure, session)
    return redirect(_url(_back(conversation_id), **_notice(session, kind, text)))


@console.route("/console/conversations/{conversation_id}/reply", methods=["POST"],
               content_types=FORM)
def reply(conversation_id: str) -> Response:
    def send(session: sessions.Session, form: dict[str, str]) -> Response:
        text = form.get("text", "").strip()
        private = form.get("private") == "on"

        def act() -> str:
            if not text:
                raise BadRequest("Write a reply first.")
            sent = actions.reply(session.principal, conversation_id, text, private,
                                 console.lambda_context)
            route = sent["message"]["route"].replace("_", " ")
            return f"Reply sent on {sent['message']['platform']} ({route})."
        return _acted(conversation_id, session, act)
    return _change(send)


@console.route("/console/conversations/{conversation_id}/assign", methods=["POST"],
               content_types=FORM)
def assign(conversation_id: str) -> Response:
    def act(session: sessions.Session, form: dict[str, str]) -> Response:
        agent = form.get("agent", "").strip() or session.principal.id

        def assigned() -> str:
            actions.assign(session.principal, conversation_id, agent)
            return f"Assigned to {agent}."
        return _acted(conversation_id, session, assigned)
    return _change(act)


@console.route("/console/conversations/{conversation_id}/resolve", methods=["POST"],
               content_types=FORM)
def resolve(conversation_id: str) -> Response:
    def act(session: sessions.Session, form: dict[str, str]) -> Response:
        def resolved() -> str:
            actions.resolve(session.principal, conversation_id)
            return "Resolved."
        return _acted(conversation_id, session, resolved)
    return _change(act)


@console.route("/console/conversations/{conversation_id}/reopen", methods=["POST"],
               content_types=FORM)
def reopen(conversation_id: str) -> Response:
    def act(session: sessions.Session, form: dict[str, str]) -> Response:
        def reopened() -> str:
            actions.reopen(session.principal, conversation_id)
            return "Reopened."
        return _acted(conversation_id, session, reopened)
    return _change(act)


# --- assets -----------------------------------------------------------------------------------

@console.route("/console/static/{name}", methods=["GET"])
def static(name: str) -> Response:
    body = asset(name)
    if body is None:
        return error(404, "no such asset")
    return Response(body=body.decode("utf-8"), status_code=200, headers={
        "Content-Type": ASSETS[name], "Cache-Control": "public, max-age=300",
        "X-Content-Type-Options": "nosniff"})
