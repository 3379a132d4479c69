"""The webhooks' front in AWS: a Lambda function URL on its own function.

Webhooks are most of our requests, and a function URL costs nothing per request where API
Gateway costs $1.00 (HTTP API) or $3.50 (REST) per million (bench/cost/). A function URL hands
the function API Gateway's payload format 2.0; Chalice routes the REST proxy event (1.0). This
module translates both ways, for the webhook routes only: any other path is a 404 here, so the
public URL exposes nothing but what the platforms call (the agent API stays behind Chalice's
REST API).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

WEBHOOK_PREFIX = "/webhooks/"

RestHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def webhook_paths(routes: Mapping[str, Any]) -> frozenset[str]:
    """The app's webhook routes (their paths have no parameters: they are matched as is)."""
    return frozenset(path for path in routes if path.startswith(WEBHOOK_PREFIX))


def rest_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """A function URL's request (payload 2.0) as the REST proxy event Chalice routes."""
    http = event["requestContext"]["http"]
    path, method = str(event.get("rawPath") or http["path"]), str(http["method"])
    # The raw query string, not queryStringParameters: 2.0 joins repeated names with commas.
    multi = parse_qs(str(event.get("rawQueryString") or ""), keep_blank_values=True) or None
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    if event.get("cookies"):
        headers["cookie"] = "; ".join(event["cookies"])
    context = event["requestContext"]
    return {
        "version": "1.0", "resource": path, "path": path, "httpMethod": method,
        "headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in multi.items()} if multi else None,
        "multiValueQueryStringParameters": multi,
        "requestContext": {
            "accountId": context.get("accountId"), "apiId": context.get("apiId"),
            "domainName": context.get("domainName"), "httpMethod": method,
            "identity": {"sourceIp": http.get("sourceIp"), "userAgent": http.get("userAgent")},
            "path": path, "protocol": http.get("protocol"), "requestId": context.get("requestId"),
            "requestTimeEpoch": context.get("timeEpoch"), "resourcePath": path,
            "stage": "$default"},
        "pathParameters": None, "stageVariables": None,
        "body": event.get("body"), "isBase64Encoded": bool(event.get("isBase64Encoded")),
    }


def url_response(response: Mapping[str, Any]) -> dict[str, Any]:
    """Chalice's REST proxy answer as a function URL's: no multiValueHeaders there (repeated
    headers are joined; Set-Cookie goes to `cookies`)."""
    headers = {str(k): str(v) for k, v in (response.get("headers") or {}).items()}
    cookies: list[str] = []
    for name, values in (response.get("multiValueHeaders") or {}).items():
        if name.lower() == "set-cookie":
            cookies.extend(map(str, values))
        else:
            headers[name] = ", ".join(map(str, values))
    out: dict[str, Any] = {"statusCode": int(response["statusCode"]), "headers": headers,
                           "body": response.get("body") or "",
                           "isBase64Encoded": bool(response.get("isBase64Encoded"))}
    if cookies:
        out["cookies"] = cookies
    return out


def handle(app: RestHandler, routes: Mapping[str, Any], event: Mapping[str, Any],
           context: Any) -> dict[str, Any]:
    """Route a function URL request to the app's webhook routes."""
    path = str(event.get("rawPath") or "")
    if path not in webhook_paths(routes):
        return {"statusCode": 404, "headers": {"Content-Type": "application/json"},
                "body": json.dumps({"error": f"no webhook at {path or '/'}: this URL takes "
                                             f"{', '.join(sorted(webhook_paths(routes)))}"}),
                "isBase64Encoded": False}
    return url_response(app(rest_event(event), context))
