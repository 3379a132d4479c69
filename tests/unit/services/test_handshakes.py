"""The subscription handshakes answer anyone, unauthenticated: what they answer must never be a
signature a forger can use, nor a page a browser would render."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.adapters.secrets import PlatformSecrets
from chalicelib.domain.errors import BadRequest, Forbidden, NotConfigured
from chalicelib.services.webhooks import WebhookDeps, meta_verify, x_crc
from chalicelib.webhooks.signatures import verify_x, x_crc_response
from tests.fakes import FakeChannelLog

SECRETS = PlatformSecrets(x_consumer_secret="x-consumer-secret", meta_verify_token="verify-me")


def deps() -> WebhookDeps:
    def no_ingest() -> Any:
        raise AssertionError("a handshake must never ingest")

    return WebhookDeps(ingest=no_ingest, secrets=lambda: SECRETS, max_body_bytes=1 << 20,
                       now=lambda: datetime(2026, 12, 1, tzinfo=UTC), channels=FakeChannelLog())


_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
_containers = st.lists(_json, max_size=4) | st.dictionaries(st.text(max_size=8), _json,
                                                             max_size=4)


@settings(max_examples=300, deadline=None)
@given(document=_containers, compact=st.booleans(), padding=st.sampled_from(["", " ", "\n"]))
def test_the_crc_never_signs_anything_that_parses_as_a_json_object_or_array(
        document: Any, compact: bool, padding: str) -> None:
    # Given a body a forger would POST to /webhooks/x, in any of its spellings
    body = padding + json.dumps(document, separators=(",", ":") if compact else None) + padding
    # When they ask the CRC to sign it as a crc_token, it refuses: no response_token to reuse
    with pytest.raises(BadRequest):
        x_crc(body, deps())


def test_a_crc_token_shaped_like_x_sends_gets_the_documented_answer() -> None:
    token = "M2RkODJkZmMtYjlkYi00NmQ4LTk0MGUtM2JjYzkwM2Q4MjQ0"  # base64 of a UUID, as X sends
    assert x_crc(token, deps()) == {
        "response_token": x_crc_response(SECRETS.x_consumer_secret, token)}
    for other in ("challenge-token-123", "abc+/def==", "t_0-k" * 25):
        assert x_crc(other, deps())["response_token"].startswith("sha256=")


def test_the_crc_answers_503_not_an_empty_keys_hmac_while_x_is_not_configured() -> None:
    from dataclasses import replace

    token = "M2RkODJkZmMtYjlkYi00NmQ4LTk0MGUtM2JjYzkwM2Q4MjQ0"
    unset = replace(deps(), secrets=lambda: PlatformSecrets(meta_verify_token="verify-me"))
    with pytest.raises(NotConfigured, match="X is not configured"):
        x_crc(token, unset)


@pytest.mark.parametrize("token", ["", "short", "a" * 129, "abc def12", "abcdefgh\n",
                                   '"abcdefgh"', "<script>", "{}", "[1,2,3]",
                                   '{"for_user_id":"1"}'])
def test_a_crc_token_of_any_other_shape_is_refused(token: str) -> None:
    with pytest.raises(BadRequest):
        x_crc(token, deps())


def test_the_refused_crc_would_have_signed_a_forged_delivery() -> None:
    """Why it matters: the CRC answer for a body is that body's delivery signature."""
    body = '{"for_user_id":"1","direct_message_events":[]}'
    assert verify_x(SECRETS.x_consumer_secret, body.encode(),
                    x_crc_response(SECRETS.x_consumer_secret, body))
    with pytest.raises(BadRequest):
        x_crc(body, deps())


def test_meta_echoes_a_numeric_challenge_after_the_verify_token_matched() -> None:
    assert meta_verify("subscribe", "verify-me", "1158201444", deps()) == "1158201444"


@pytest.mark.parametrize("challenge", ["1158201444", "<b>hi</b>", "a" * 500])
def test_a_wrong_verify_token_is_refused_whatever_the_challenge(challenge: str) -> None:
    with pytest.raises(Forbidden):
        meta_verify("subscribe", "nope", challenge, deps())


@pytest.mark.parametrize("challenge", ["<script>alert(1)</script>", "a" * 129, "12 34",
                                       '{"a":1}', "1158201444\n"])
def test_a_challenge_that_is_not_a_short_token_is_never_echoed(challenge: str) -> None:
    with pytest.raises(BadRequest):
        meta_verify("subscribe", "verify-me", challenge, deps())
