"""Domain outcomes -> HTTP answers: 4xx with a reason for the caller's mistakes,
5xx only when AWS failed, so a platform retries exactly the deliveries that need it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from chalice.app import Blueprint, Chalice, Request, Response

from chalicelib.domain.errors import (
    BadRequest,
    ErasureIncomplete,
    Forbidden,
    MalformedPayload,
    NotConfigured,
    NotFound,
    PayloadTooLarge,
    PlatformFailed,
    ReplyMaybeSent,
    ReplyRefused,
    StoreUnavailable,
    Unauthorized,
)
from chalicelib.domain.redaction import hide_phones

logger = Logger(child=True)

_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (PayloadTooLarge, 413),
    (Unauthorized, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (NotConfigured, 503),
    (ReplyRefused, 409),
    (PlatformFailed, 502),
    (ReplyMaybeSent, 502),  # 504 when the platform did not answer in time (below)
    (MalformedPayload, 400),
    (BadRequest, 400),
)


def error(status: int, reason: str) -> Response:
    return Response(body={"error": reason}, status_code=status,
                    headers={"Content-Type": "application/json"})


def respond(call: Callable[[], Any], status: int = 200,
            guard: Callable[[], object] | None = None) -> Response:
    """Run `guard` (authentication) then `call`, and answer with the right status."""
    try:
        if guard is not None:
            guard()
        result = call()
    except ErasureIncomplete as fault:
        # Retryable like any AWS fault, but the caller must know the erasure is not done.
        logger.error("erasure incomplete", extra={"left": fault.left, "total": fault.total})
        return error(503, str(fault))
    except StoreUnavailable as fault:
        # Logged with its cause (never the body); the platform will retry the delivery.
        logger.exception("AWS unavailable", extra={"fault": hide_phones(str(fault))})
        return error(503, "temporarily unavailable; retry later")
    except Exception as failure:
        for kind, code in _STATUS:
            if isinstance(failure, kind):
                if isinstance(failure, ReplyMaybeSent) and failure.timed_out:
                    code = 504
                # The caller gets the whole reason; the log, none of the phone numbers
                # it may name (a WhatsApp customer's id, an agent's SMS number).
                logger.info("refused", extra={"status": code,
                                              "reason": hide_phones(str(failure))})
                return error(code, str(failure))
        raise
    if isinstance(result, Response):
        return result
    return Response(body=result, status_code=status, headers={"Content-Type": "application/json"})


def text(body: str, status: int = 200) -> Response:
    # nosniff: a browser must not guess HTML from what the body looks like.
    return Response(body=body, status_code=status,
                    headers={"Content-Type": "text/plain; charset=utf-8",
                             "X-Content-Type-Options": "nosniff"})


def current(app: Chalice | Blueprint) -> Request:
    request = app.current_request
    if request is None:
        raise RuntimeError("no request is being handled")
    return request


def raw_body(request: Request) -> bytes:
    body = request.raw_body
    return body if isinstance(body, bytes) else str(body or "").encode("utf-8")


def query(request: Request) -> dict[str, str]:
    return dict(request.query_params or {})


def json_body(request: Request) -> Any:
    """The parsed JSON body, or BadRequest with the reason."""
    import json

    try:
        return json.loads(raw_body(request).decode("utf-8") or "null")
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise BadRequest("body is not valid JSON") from error
