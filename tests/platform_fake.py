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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from oauthlib.oauth1 import RequestValidator, SignatureOnlyEndpoint

X_KEYS = {"client_key": "ck-0123456789abcdef", "client_secret": "cs-secret",
          "token": "at-0123456789abcdef", "token_secret": "ats-secret"}
PAGE_TOKEN, WHATSAPP_TOKEN = "page-token", "wa-token"


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
        return token == X_KEYS["token"]

    def get_client_secret(self, client_key: str, request: Any) -> str:
        return X_KEYS["client_secret"]

    def get_access_token_secret(self, client_key: str, token: str, request: Any) -> str:
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


@dataclass
class FakePlatforms:
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    failures: list[tuple[int, dict[str, str], dict[str, Any]]] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    counter: int = 0  # posts taken (each would be visible to the customer)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def fail_next(self, status: int, times: int = 1, headers: dict[str, str] | None = None,
                  body: dict[str, Any] | None = None) -> None:
        """Answer the next posts with `status` (and the platform's error `body`, if given)."""
        self.failures.extend([(status, headers or {}, body or {"detail": "injected"})] * times)

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
            if "access_token" in query or bearer not in (f"Bearer {WHATSAPP_TOKEN}",
                                                         f"Bearer {PAGE_TOKEN}"):
                self._answer(400, {"error": {"message": "Error validating access token",
                                             "code": 190}})
                return
            if bearer == f"Bearer {WHATSAPP_TOKEN}":
                self._answer(200, {"messaging_product": "whatsapp",
                                   "messages": [{"id": f"wamid.sent{state.counter}"}]})
                return
            if parts.path.endswith("/messages"):
                self._answer(200, {"recipient_id": "x", "message_id": f"m_sent{state.counter}"})
            else:
                self._answer(200, {"id": f"reply_{state.counter}"})

    return Handler


@contextmanager
def fake_platforms() -> Iterator[FakePlatforms]:
    state = FakePlatforms()
    state._start()
    try:
        yield state
    finally:
        state._stop()
