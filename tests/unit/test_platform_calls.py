"""A post to a platform within its time budget, against a real local HTTP server: resent only
when it certainly did not arrive, and never past the deadline."""

from __future__ import annotations

import socket
import time

import pytest
import requests

from chalicelib.adapters.platforms.calls import Budget, call
from chalicelib.domain.errors import ChannelAuthFailed, PlatformFailed, ReplyMaybeSent, ReplyRefused
from tests.platform_fake import WHATSAPP_TOKEN, fake_platforms

API_GATEWAY_LIMIT = 29.0


def _session() -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {WHATSAPP_TOKEN}"
    return session


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_default_budget_leaves_room_under_api_gateways_limit() -> None:
    b = Budget()
    # The last attempt can start just before the deadline and is cut at it; the rest of the
    # reply (a few DynamoDB calls) has the remaining seconds.
    assert b.connect + b.read <= b.total <= API_GATEWAY_LIMIT - 5


def test_a_platform_that_is_never_reachable_stops_at_the_deadline_not_sent() -> None:
    budget = Budget(connect=0.2, read=0.5, total=1.2)
    started = time.monotonic()
    with pytest.raises(PlatformFailed, match="was not sent") as failed:
        call(_session(), "POST", f"http://127.0.0.1:{_closed_port()}/1/messages",
             channel="whatsapp", budget=budget, json={})
    assert time.monotonic() - started < budget.total
    assert not isinstance(failed.value, ReplyMaybeSent)


def test_a_slow_answer_is_cut_at_the_read_timeout_and_may_have_been_sent() -> None:
    with fake_platforms() as fake:
        fake.delay_next(1.5)
        started = time.monotonic()
        with pytest.raises(ReplyMaybeSent, match="may have been sent") as unsure:
            call(_session(), "POST", f"{fake.url}/1/messages", channel="whatsapp",
                 budget=Budget(connect=0.5, read=0.5, total=2.0), json={})
        assert time.monotonic() - started < 1.0
        assert unsure.value.timed_out
        time.sleep(1.1)
        assert fake.counter == 1 and len(fake.requests) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_is_never_resent(status: int) -> None:
    with fake_platforms() as fake:
        fake.fail_next(status, times=3, headers={"Retry-After": "0"})
        with pytest.raises(ReplyMaybeSent, match=f"answered {status}") as unsure:
            call(_session(), "POST", f"{fake.url}/1/messages", channel="whatsapp", json={})
        assert not unsure.value.timed_out
        assert len(fake.requests) == 1


def test_a_429_with_a_reset_inside_the_budget_is_waited_for_then_sent_once() -> None:
    waits: list[float] = []
    with fake_platforms() as fake:
        fake.fail_next(429, headers={"Retry-After": "2"})
        data = call(_session(), "POST", f"{fake.url}/1/messages", channel="whatsapp",
                    sleep=waits.append, json={})
        assert data["messages"][0]["id"] and waits == [2.0]
        assert len(fake.requests) == 2 and fake.counter == 1


def test_a_429_with_a_reset_beyond_the_budget_is_not_sent_and_says_when() -> None:
    waits: list[float] = []
    with fake_platforms() as fake:
        fake.fail_next(429, headers={"Retry-After": "60"})
        with pytest.raises(PlatformFailed, match="rate limited for 60 s more"):
            call(_session(), "POST", f"{fake.url}/1/messages", channel="whatsapp",
                 sleep=waits.append, json={})
        assert waits == [] and len(fake.requests) == 1


# X API v2's answer to a post it will not take twice (its published 403 problem body).
X_DUPLICATE = {"detail": "You are not allowed to create a Tweet with duplicate content.",
               "type": "about:blank", "title": "Forbidden", "status": 403}
META_OUTSIDE_WINDOW = {"error": {
    "message": "(#10) This message is sent outside of allowed window.", "type": "OAuthException",
    "code": 10, "error_subcode": 2018278, "fbtrace_id": "AbCdEf"}}


@pytest.mark.parametrize(("channel", "status", "body", "auth"), [
    ("x", 403, X_DUPLICATE, False),
    ("x", 403, {"detail": "You cannot send messages to users who are not following you."},
     False),
    ("x", 401, {"detail": "Unauthorized", "status": 401}, True),
    ("messenger", 400, META_OUTSIDE_WINDOW, False),
    ("messenger", 403, {"error": {"message": "(#200) Permissions error", "code": 200}}, False),
    ("messenger", 400, {"error": {"message": "Error validating access token: session expired",
                                  "code": 190, "error_subcode": 463}}, True),
    ("instagram", 400, {"error": {"message": "(#102) Session key invalid", "code": 102}}, True),
    ("messenger", 400, {"error": {"message": "(#10) App removed", "code": 10,
                                  "error_subcode": 458}}, True),
])
def test_only_a_rejected_token_is_a_channel_problem_any_other_refusal_is_this_replys(
        channel: str, status: int, body: dict[str, object], auth: bool) -> None:
    with fake_platforms() as fake:
        fake.fail_next(status, body=body)
        with pytest.raises(PlatformFailed if auth else ReplyRefused) as refused:
            call(_session(), "POST", f"{fake.url}/1/messages", channel=channel, json={})
    assert isinstance(refused.value, ChannelAuthFailed) is auth
    detail = body.get("detail") or body["error"]["message"]  # type: ignore[index]
    assert str(detail) in str(refused.value)  # the platform's own reason, for the agent
    assert len(fake.requests) == 1
