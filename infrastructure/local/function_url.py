"""The webhooks' function URL, locally: HTTP in, Lambda's payload 2.0 event to
`app.webhook_url`, its answer back out, as the function URL does in AWS. The local
stack serves it on its own port, so webhooks locally take the same path as in the cloud."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from infrastructure.local.metering import Meter

# Lambda hands the body as text when its content type is text; anything else, base64.
_TEXT_TYPES = ("text/", "application/json", "application/x-www-form-urlencoded",
               "application/xml", "application/javascript")

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def url_event(method: str, target: str, headers: list[tuple[str, str]], body: bytes,
              client_ip: str, host: str) -> dict[str, Any]:
    """Lambda's function URL request (payload format 2.0) for one HTTP request."""
    url = urlsplit(target)
    joined: dict[str, str] = {}
    for name, value in headers:  # 2.0 lower-cases names and joins repeats with commas
        key = name.lower()
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    cookies = [c.strip() for c in joined.pop("cookie", "").split(";") if c.strip()]
    content_type = joined.get("content-type", "")
    as_text = not body or content_type.startswith(_TEXT_TYPES)
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0", "routeKey": "$default", "rawPath": url.path or "/",
        "rawQueryString": url.query, "headers": joined,
        "requestContext": {
            "accountId": "anonymous", "apiId": "local", "domainName": host,
            "domainPrefix": "local",
            "http": {"method": method, "path": url.path or "/", "protocol": "HTTP/1.1",
                     "sourceIp": client_ip, "userAgent": joined.get("user-agent", "")},
            "requestId": str(uuid.uuid4()), "routeKey": "$default", "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000)},
        "isBase64Encoded": not as_text,
    }
    if cookies:
        event["cookies"] = cookies
    if url.query:
        event["queryStringParameters"] = {k: ",".join(v) for k, v in parse_qs(
            url.query, keep_blank_values=True).items()}
    if body:
        event["body"] = body.decode() if as_text else base64.b64encode(body).decode()
    return event


class _Front(ThreadingHTTPServer):
    # A function URL does not refuse connections. socketserver's listen backlog of 5 did,
    # under a burst of 48 senders while the process was busy elsewhere (the accept loop waits
    # for the GIL): the kernel's overflowed queue reset them (ListenOverflows, syncookies).
    request_queue_size = 128


class FunctionUrlServer:
    def __init__(self, handler: Handler, host: str, port: int, *, name: str = "webhook_url",
                 meter: Meter | None = None) -> None:
        self.handler, self.name, self.meter = handler, name, meter or Meter()
        server = self

        class Request(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                event = url_event(self.command, self.path, list(self.headers.items()), body,
                                  self.client_address[0], self.headers.get("Host", host))
                with server.meter.invocation(server.name):
                    answer = server.handler(event, None)
                payload = answer.get("body") or ""
                raw = base64.b64decode(payload) if answer.get("isBase64Encoded") else (
                    payload.encode())
                self.send_response(int(answer.get("statusCode", 200)))
                for name, value in (answer.get("headers") or {}).items():
                    self.send_header(name, value)
                for cookie in answer.get("cookies") or ():
                    self.send_header("Set-Cookie", cookie)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the app logs what matters

        self.httpd = _Front((host, port), Request)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="webhook-url",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
