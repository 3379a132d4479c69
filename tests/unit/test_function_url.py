"""The function URL translation: payload 2.0 in, the REST proxy event Chalice routes; Chalice's
answer out, in the function URL's response format."""

from __future__ import annotations

from typing import Any

from chalice.app import Chalice, Response

from chalicelib.function_url import handle, rest_event, url_response


def url_event(path: str, query: str = "", **extra: Any) -> dict[str, Any]:
    return {"version": "2.0", "rawPath": path, "rawQueryString": query,
            "headers": {"Content-Type": "application/json", "x-hub-signature-256": "sha256=ab"},
            "requestContext": {"http": {"method": "GET", "path": path, "sourceIp": "192.0.2.9",
                                        "protocol": "HTTP/1.1", "userAgent": "ua"},
                               "requestId": "r-1", "timeEpoch": 1},
            "isBase64Encoded": False, **extra}


def test_a_request_keeps_every_query_value_header_and_cookie() -> None:
    rest = rest_event(url_event("/webhooks/meta", "a=1&a=2&b=&c=x%20y",
                                cookies=["s=1", "t=2"]))
    assert rest["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": [""],
                                                        "c": ["x y"]}
    assert rest["queryStringParameters"] == {"a": "2", "b": "", "c": "x y"}
    assert rest["headers"]["content-type"] == "application/json"
    assert rest["headers"]["cookie"] == "s=1; t=2"
    assert rest["requestContext"]["resourcePath"] == "/webhooks/meta"
    assert rest["requestContext"]["identity"]["sourceIp"] == "192.0.2.9"
    assert rest["body"] is None and rest_event(url_event("/x"))[
        "multiValueQueryStringParameters"] is None


def test_an_answer_joins_repeated_headers_and_moves_cookies() -> None:
    answer = url_response({"statusCode": 201, "headers": {"Content-Type": "text/plain"},
                           "multiValueHeaders": {"Vary": ["a", "b"],
                                                 "Set-Cookie": ["x=1", "y=2"]},
                           "body": "ok"})
    assert answer == {"statusCode": 201, "headers": {"Content-Type": "text/plain",
                                                     "Vary": "a, b"},
                      "body": "ok", "isBase64Encoded": False, "cookies": ["x=1", "y=2"]}


def test_only_webhook_routes_reach_the_app() -> None:
    app = Chalice(app_name="t")

    @app.route("/webhooks/x", methods=["GET"])
    def crc() -> Response:
        request = app.current_request
        assert request is not None and request.query_params is not None
        return Response(body={"token": request.query_params.get("crc_token")})

    @app.route("/admin", methods=["GET"])
    def admin() -> dict[str, str]:
        return {"secret": "s"}

    ok = handle(app, app.routes, url_event("/webhooks/x", "crc_token=abc"), None)
    assert (ok["statusCode"], ok["body"]) == (200, '{"token":"abc"}')
    refused = handle(app, app.routes, url_event("/admin"), None)
    assert refused["statusCode"] == 404 and "secret" not in refused["body"]
