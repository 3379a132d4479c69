"""One HTTP call to a platform that posts something a customer sees, within a time budget.

A post is resent only when it certainly did not arrive: the connection was never made
(refused, connect timeout, DNS) or the platform said 429 and when to come back, and that wait
fits the budget. After a read timeout, a dropped connection or a 5xx the post may well be
out: it is never resent (a customer would see it twice); ReplyMaybeSent says so, and the
platform's echo of the brand's post settles it.

The budget keeps a reply request under API Gateway's 29 s integration timeout, with room for
the DynamoDB bookkeeping around it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError

from chalicelib.domain.errors import (
    ChannelAuthFailed,
    PlatformFailed,
    PlatformRefused,
    ReplyMaybeSent,
)

ATTEMPTS = 3
MAX_WAIT = 5.0  # seconds; beyond this the agent hears about it rather than waits
# What says the token itself is gone (the channel needs an admin), as opposed to a refusal of
# this one reply. X answers 403 for duplicate content, a restricted reply or a DM to a
# non-follower, and Meta code 10 subcode 2018278 is "outside the allowed window": those are
# the agent's to hear, not a channel down. X: 401 only. Meta: 190 (invalid or expired token)
# and 102 (session), and 10 / 200 (permission) only with a subcode that names the token.
_META_AUTH_CODES = {190, 102}
_META_PERMISSION_CODES = {10, 200}
_META_TOKEN_SUBCODES = {458, 459, 460, 463, 464, 467, 492}  # app removed, expired, invalid...


@dataclass(frozen=True)
class Budget:
    """Connect and read timeouts of one attempt, and the deadline of the whole call."""

    connect: float = 3.05  # a TCP connect to a healthy API takes milliseconds
    read: float = 10.0
    total: float = 20.0  # < 29 s: API Gateway's limit, less the bookkeeping around the call


def _wait(response: requests.Response, attempt: int, now: Callable[[], float]) -> float:
    retry_after = response.headers.get("Retry-After")
    if retry_after and retry_after.isdigit():
        return float(retry_after)
    reset = response.headers.get("x-rate-limit-reset")
    if reset and reset.isdigit():
        return max(0.0, float(reset) - now())
    backoff: float = 0.5 * 2**attempt
    return backoff


def _error_detail(response: requests.Response) -> tuple[str, int | None, int | None]:
    """The platform's reason, and Graph API's error code and subcode."""
    try:
        body: Any = response.json()
    except ValueError:
        return response.reason or "", None, None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):  # Graph API
        return (str(error.get("message", "")), _int(error.get("code")),
                _int(error.get("error_subcode")))
    if isinstance(body, dict) and "detail" in body:  # X API v2
        return str(body["detail"]), None, None
    return str(body)[:200], None, None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def token_rejected(channel: str, status: int, code: int | None, subcode: int | None) -> bool:
    """True when the answer says our credentials are revoked or expired, not this reply."""
    if channel == "x":
        return status == 401
    return code in _META_AUTH_CODES or (code in _META_PERMISSION_CODES
                                        and subcode in _META_TOKEN_SUBCODES)


def never_connected(error: requests.RequestException) -> bool:
    """True only when no byte of the request can have reached the platform."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    if not isinstance(error, requests.ConnectionError) or isinstance(
            error, requests.exceptions.SSLError):
        return False  # a read timeout, or a connection dropped after the request was written
    cause = error.args[0] if error.args else None
    # requests wraps urllib3's MaxRetryError; NewConnectionError (refused, DNS) is a
    # ConnectTimeoutError there: failures of the connect, before anything is sent.
    return isinstance(cause, MaxRetryError) and isinstance(cause.reason, ConnectTimeoutError)


def call(session: requests.Session, method: str, url: str, *, channel: str,
         sleep: Callable[[float], None] = time.sleep,
         now: Callable[[], float] = time.monotonic, clock: Callable[[], float] = time.time,
         budget: Budget = Budget(), **kwargs: Any) -> dict[str, Any]:
    deadline = now() + budget.total
    last = ""
    for attempt in range(ATTEMPTS):
        left = deadline - now()
        timeout = (min(budget.connect, left), min(budget.read, left))
        try:
            response = session.request(method, url, timeout=timeout, **kwargs)
        except requests.RequestException as error:
            if not never_connected(error):
                timed_out = isinstance(error, requests.Timeout)
                what = (f"no answer within {timeout[1]:.0f} s" if timed_out
                        else f"the connection broke ({type(error).__name__})")
                raise ReplyMaybeSent(channel, what, timed_out=timed_out) from error
            last = f"unreachable ({type(error).__name__})"
            pause = 0.5 * 2**attempt
        else:
            if response.ok:
                data: dict[str, Any] = response.json() if response.content else {}
                return data
            detail, code, subcode = _error_detail(response)
            if token_rejected(channel, response.status_code, code, subcode):
                raise ChannelAuthFailed(channel, f"token rejected ({response.status_code}): "
                                                 f"{detail}; reconnect the channel")
            if response.status_code >= 500:
                raise ReplyMaybeSent(channel, f"answered {response.status_code}")
            if response.status_code != 429:
                # The platform refused this reply (its reason says why): the agent's to fix.
                raise PlatformRefused(channel, f"refused the reply ({response.status_code}): "
                                               f"{detail}")
            last = "rate limited (429)"
            pause = _wait(response, attempt, clock)
            if pause > MAX_WAIT or pause + budget.connect > deadline - now():
                raise PlatformFailed(channel, f"rate limited for {pause:.0f} s more; the reply "
                                              "was not sent, try again then")
        if attempt + 1 == ATTEMPTS or pause + budget.connect > deadline - now():
            break
        sleep(pause)
    raise PlatformFailed(channel, f"{last}, {attempt + 1} attempts; the reply was not sent, "
                                  "try again shortly")
