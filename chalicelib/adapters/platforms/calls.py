"""One HTTP call to a platform, with bounded retries that honour the platform's own pacing
(`Retry-After`, `x-rate-limit-reset`), and errors that say what happened."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests

from chalicelib.domain.errors import ChannelAuthFailed, PlatformFailed

ATTEMPTS = 3
MAX_WAIT = 5.0  # seconds; beyond this the agent hears about it rather than waits
_META_AUTH_CODES = {190, 102, 10, 200}  # expired/invalid token, permissions


def _wait(response: requests.Response, attempt: int, now: Callable[[], float]) -> float:
    retry_after = response.headers.get("Retry-After")
    if retry_after and retry_after.isdigit():
        return min(float(retry_after), MAX_WAIT)
    reset = response.headers.get("x-rate-limit-reset")
    if reset and reset.isdigit():
        return min(max(0.0, float(reset) - now()), MAX_WAIT)
    backoff: float = min(0.5 * 2**attempt, MAX_WAIT)
    return backoff


def _error_detail(response: requests.Response) -> tuple[str, int | None]:
    try:
        body: Any = response.json()
    except ValueError:
        return response.reason or "", None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):  # Graph API
        return str(error.get("message", "")), error.get("code")
    if isinstance(body, dict) and "detail" in body:  # X API v2
        return str(body["detail"]), None
    return str(body)[:200], None


def call(session: requests.Session, method: str, url: str, *, channel: str,
         sleep: Callable[[float], None] = time.sleep,
         now: Callable[[], float] = time.time, **kwargs: Any) -> dict[str, Any]:
    last = ""
    for attempt in range(ATTEMPTS):
        try:
            response = session.request(method, url, timeout=10, **kwargs)
        except requests.RequestException as error:
            last = f"unreachable ({type(error).__name__})"
            sleep(min(0.5 * 2**attempt, MAX_WAIT))
            continue
        if response.ok:
            data: dict[str, Any] = response.json() if response.content else {}
            return data
        detail, code = _error_detail(response)
        if response.status_code in (401, 403) or code in _META_AUTH_CODES:
            raise ChannelAuthFailed(channel, f"token rejected ({response.status_code}): "
                                             f"{detail}; reconnect the channel")
        if response.status_code == 429 or response.status_code >= 500:
            last = f"answered {response.status_code}"
            if attempt + 1 < ATTEMPTS:
                sleep(_wait(response, attempt, now))
            continue
        raise PlatformFailed(channel, f"refused the reply ({response.status_code}): {detail}")
    raise PlatformFailed(channel, f"{last} {ATTEMPTS} times; the reply was not sent, try again "
                                  "shortly")
