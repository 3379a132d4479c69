"""A real local HTTP server playing X and Meta's Graph API for tests: it verifies OAuth 1.0a
signatures server-side with oauthlib (X) and the access tokens (Meta, WhatsApp, only in the
`Authorization` header), records what it got, and on demand answers 429 or 5xx, answers too
late (after the client's read timeout, having taken the post), or refuses connections."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from oauthlib.oauth1 import RequestValidator, SignatureOnlyEndpoint

X_KEYS = {"client_key": "ck-0123456789abcdef", "client_secret": "cs-secret",
          "token": "at-0123456789abcdef", "token_secret": "ats-secret"}
PAGE_TOKEN, WHATSAPP_TOKEN = "page-token", "wa-token"
X_BEARER = "x-app-bearer-token"  # app-only: what recent search takes
# Brand accounts' own credentials (tests/fixtures/policies/accounts.yaml), each known to
# belong to one account: X user tokens (token -> (token secret, user id)), Page tokens and
# WhatsApp tokens (token -> Page id / phone_number_id). A token may act for its account only.
X_ACCOUNT_TOKENS = {"at-main-0123456789": ("ats-main", "1001"),
                    "at-help-0123456789": ("ats-help", "1002")}
PAGE_TOKENS = {"page-uk-token": "2001", "page-us-token": "2002"}
WHATSAPP_TOKENS = {"wa-uk-token": "3001", "wa-us-token": "3002"}
# Instagram accounts linked to a Page (Instagram id -> Page id): the Page's token acts for them.
INSTAGRAM_LINKS = {"4001": "2001", "4002": "2002"}
SEARCH_PATH = "/2/tweets/search/recent"


class _Validator(RequestValidator):  # type: ignore[misc]
    """Knows exactly one app and one user token, as X would."""

    enforce_ssl = False
    client_key_length = (3, 50)
    access_token_length = (3, 50)
    nonce_length = (10, 50)
    safe_characters = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")

    def __init__(self) -> None:
        super().__init__()
        self.nonces: set[str] = set()

    def check_client_key(self, client_key: str) -> bool:
        return True

    def check_access_token(self, token: str) -> bool:
        return True

    def validate_client_key(self, client_key: str, request: Any) -> bool:
        return client_key == X_KEYS["client_key"]

    def validate_access_token(self, client_key: str, token: str, request: Any) -> bool:
        return token == X_KEYS["token"] or token in X_ACCOUNT_TOKENS

    def get_client_secret(self, client_key: str, request: Any) -> str:
        return X_KEYS["client_secret"]

    def get_access_token_secret(self, client_key: str, token: str, request: Any) -> str:
        if token in X_ACCOUNT_TOKENS:
            return X_ACCOUNT_TOKENS[token][0]
        return X_KEYS["token_secret"]

    def validate_timestamp_and_nonce(self, client_key: str, timestamp: str, nonce: str,
                                     request: Any, request_token: Any = None,
                                     access_token: Any = None) -> bool:
        if nonce in self.nonces:  # a replayed request
            return False
        self.nonces.add(nonce)
        return True

    @property
    def dummy_client(self) -> str:
        return "dummy-client-key"

    @property
    def dummy_access_token(self) -> str:
        return "dummy-access-token"


def snowflake(at: datetime, sequence: int = 0) -> str:
    """A post id as X makes them: its creation time in milliseconds since X's epoch, above
    bit 22 (the poller knows how old a cursor is from it)."""
    return str(((int(at.timestamp() * 1000) - 1288834974657) << 22) + sequence)


@dataclass
class FakePlatforms:
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    failures: list[tuple[int, dict[str, str], dict[str, Any]]] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    counter: int = 0  # posts taken (each would be visible to the customer)
    # Recent search: the posts X holds (v2 shape, any order), their authors by id, and the
    # answers to give the next searches instead (429 with a reset header, ...).
    posts: list[dict[str, Any]] = field(default_factory=list)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    search_failures: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    page_size: int | None = None  # smaller pages than max_results, to make pagination happen
    search_requests: list[dict[str, Any]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def fail_next(self, status: int, times: int = 1, headers: dict[str, str] | None = None,
                  body: dict[str, Any] | None = None) -> None:
        """Answer the next posts with `status` (and the platform's error `body`, if given)."""
        self.failures.extend([(status, headers or {}, body or {"detail": "injected"})] * times)

    def post(self, post_id: str, text: str, author: str, created_at: str,
             **fields: Any) -> None:
        """A post X will find (its author must be in `users` for the expansion)."""
        self.posts.append({"id": post_id, "text": text, "author_id": author,
                           "created_at": created_at, "edit_history_tweet_ids": [post_id],
                           **fields})

    def searches(self) -> list[dict[str, Any]]:
        return [r for r in self.search_requests if r["path"] == SEARCH_PATH]

    def delay_next(self, seconds: float) -> None:
        """Take the next post (it counts as sent) but answer only after `seconds`."""
        self.delays.append(seconds)

    def refuse_connections(self, seconds: float) -> None:
        """Stop listening now (connections are refused, nothing can arrive) and listen again
        on the same port after `seconds`."""
        self._stop()
        timer = threading.Timer(seconds, self._start)
        timer.daemon = True
        timer.start()

    def _start(self) -> None:
        port = int(self.url.rsplit(":", 1)[1]) if self.url else 0
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def _stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _handler(state: FakePlatforms) -> type[BaseHTTPRequestHandler]:
    endpoint = SignatureOnlyEndpoint(_Validator())

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any],
                    headers: dict[str, str] | None = None) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            # Kept apart from `requests` (the posts): a poller searching in the background
            # never gets between a test and the reply it looks for.
            state.search_requests.append({"path": parts.path, "query": query,
                                          "headers": dict(self.headers)})
            if parts.path != SEARCH_PATH:
                self._answer(404, {"title": "Not Found Error", "status": 404})
                return
            if self.headers.get("Authorization") != f"Bearer {X_BEARER}":
                self._answer(401, {"title": "Unauthorized", "type": "about:blank",
                                   "status": 401, "detail": "Unauthorized"})
                return
            if state.search_failures:
                status, headers = state.search_failures.pop(0)
                self._answer(status, {"title": "Too Many Requests", "detail":
                                      "Too Many Requests", "type": "about:blank",
                                      "status": status}, headers)
                return
            self._answer(200, _search(state, query))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            record: dict[str, Any] = {"path": parts.path, "query": query,
                                      "json": json.loads(raw or b"null"),
                                      "headers": dict(self.headers)}
            state.requests.append(record)
            if state.delays:
                # The post is taken (counted) and the answer comes after the client gave up.
                state.counter += 1
                time.sleep(state.delays.pop(0))
                with suppress(OSError):
                    self._answer(200, {"data": {"id": f"19000000000000{state.counter:05d}"}})
                return
            if state.failures:
                status, headers, body = state.failures.pop(0)
                self._answer(status, body, headers)
                return
            state.counter += 1
            if parts.path.startswith("/2/"):
                valid, _ = endpoint.validate_request(
                    f"{state.url}{self.path}", "POST", raw.decode(), dict(self.headers))
                record["oauth_valid"] = valid
                # Which user token signed it: the account the post or DM is made as.
                signed_by = _oauth_token(self.headers.get("Authorization", ""))
                record["token"] = signed_by
                record["as_account"] = X_ACCOUNT_TOKENS.get(signed_by, ("", "single"))[1]
                if not valid:
                    self._answer(401, {"detail": "Unauthorized", "status": 401})
                    return
                if parts.path == "/2/tweets":
                    self._answer(201, {"data": {"id": f"19000000000000{state.counter:05d}",
                                                "text": record["json"]["text"]}})
                else:
                    self._answer(201, {"data": {"dm_event_id": f"dm{state.counter}",
                                                "dm_conversation_id": "c1"}})
                return
            # Graph API: the token only in the header (a token in a URL ends up in logs).
            bearer = self.headers.get("Authorization", "")
            token = bearer.removeprefix("Bearer ")
            record["token"] = token
            if "access_token" in query or token not in (WHATSAPP_TOKEN, PAGE_TOKEN,
                                                        *PAGE_TOKENS, *WHATSAPP_TOKENS):
                self._answer(400, {"error": {"message": "Error validating access token",
                                             "code": 190}})
                return
            # `me` is the Page the token is for; a numeric sender must be the token's own.
            # (A comment is answered on its own id: the Graph checks the Page owns it.)
            owner = PAGE_TOKENS.get(token) or WHATSAPP_TOKENS.get(token)
            sender = parts.path.strip("/").split("/")[0]
            record["as_account"] = owner if owner and sender == "me" else sender
            linked = [ig for ig, page in INSTAGRAM_LINKS.items() if page == owner]
            if owner is not None and parts.path.endswith(("/messages", "/mentions")) and (
                    sender not in ("me", owner, *linked)):
                self._answer(403, {"error": {"message": "(#200) Permissions error: the "
                                             "token is not for this account", "code": 200}})
                return
            if token == WHATSAPP_TOKEN or token in WHATSAPP_TOKENS:
                self._answer(200, {"messaging_product": "whatsapp",
                                   "messages": [{"id": f"wamid.sent{state.counter}"}]})
                return
            if parts.path.endswith("/mentions"):
                # Instagram's reply to a mention: a comment on the media (or under the
                # comment) the account was mentioned in; media_id and message are required.
                body = record["json"] or {}
                if not body.get("media_id") or not body.get("message"):
                    self._answer(400, {"error": {"message": "(#100) media_id and message "
                                                 "are required", "code": 100}})
                    return
                self._answer(200, {"id": f"1790000000{state.counter:05d}"})
                return
            if parts.path.endswith("/messages"):
                self._answer(200, {"recipient_id": "x", "message_id": f"m_sent{state.counter}"})
            else:
                self._answer(200, {"id": f"reply_{state.counter}"})

    return Handler


def _oauth_token(header: str) -> str:
    """The oauth_token of an OAuth 1.0a Authorization header."""
    for part in header.removeprefix("OAuth ").split(","):
        name, _, value = part.strip().partition("=")
        if name == "oauth_token":
            return value.strip('"')
    return ""


def _search(state: FakePlatforms, query: dict[str, str]) -> dict[str, Any]:
    """X's recent search over `state.posts`: newest first, after since_id (or from
    start_time), `max_results` a page, next_token to the following page; an empty result has
    `meta.result_count: 0` and no `data`, as X answers."""
    found = sorted(state.posts, key=lambda p: int(p["id"]), reverse=True)
    if "since_id" in query:
        found = [p for p in found if int(p["id"]) > int(query["since_id"])]
    elif "start_time" in query:
        since = datetime.fromisoformat(query["start_time"])
        found = [p for p in found if datetime.fromisoformat(p["created_at"]) >= since]
    size = min(int(query.get("max_results", "10")), state.page_size or 100)
    start = int(query["next_token"].removeprefix("nt-")) if "next_token" in query else 0
    page = found[start:start + size]
    if not page:
        return {"meta": {"result_count": 0}}
    meta: dict[str, Any] = {"newest_id": page[0]["id"], "oldest_id": page[-1]["id"],
                            "result_count": len(page)}
    if start + size < len(found):
        meta["next_token"] = f"nt-{start + size}"
    authors = {p["author_id"] for p in page}
    return {"data": page, "includes": {"users": [state.users[a] for a in sorted(authors)
                                                 if a in state.users]}, "meta": meta}


@contextmanager
def fake_platforms() -> Iterator[FakePlatforms]:
    state = FakePlatforms()
    state._start()
    try:
        yield state
    finally:
        state._stop()
