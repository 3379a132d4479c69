"""Receiving a platform's webhook: check size, verify the signature, parse, ingest.

Nothing is parsed before the signature is verified, and nothing is written unless the whole body
parsed: a body with one malformed item is refused whole (400), so the platform's retry of a
fixed body is not half-applied.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib.domain.errors import (
    BadRequest,
    Forbidden,
    MalformedPayload,
    NotConfigured,
    PayloadTooLarge,
    Unauthorized,
)
from chalicelib.webhooks import handshakes, signatures

if TYPE_CHECKING:
    from chalicelib.adapters.secrets import PlatformSecrets
    from chalicelib.domain.events import WebhookEvent
    from chalicelib.domain.ports import ChannelLog
    from chalicelib.services.ingest import IngestDeps, IngestReport

MAX_DEPTH = 64  # deeper JSON is not a platform's payload; refuse before walking it


@dataclass(frozen=True)
class WebhookDeps:
    ingest: Callable[[], IngestDeps]  # built only once a delivery is verified and parsed
    secrets: Callable[[], PlatformSecrets]
    max_body_bytes: int
    now: Callable[[], datetime]
    # A run of failed signatures is a channel problem (a rotated app secret), not just bad
    # requests; a POST with no signature at all is junk, counted apart.
    channels: ChannelLog


def x_crc(crc_token: str | None, deps: WebhookDeps) -> dict[str, str]:
    if not crc_token:
        raise BadRequest("crc_token query parameter is required")
    if not handshakes.x_crc_token_ok(crc_token):
        # Its answer would be a valid delivery signature for this text: never for a body.
        raise BadRequest("crc_token must be 8 to 128 base64 characters")
    secret = deps.secrets().x_consumer_secret
    if not secret:
        # An HMAC under an empty key is no proof of anything, to X or to a forger.
        raise NotConfigured("X is not configured: set x_consumer_secret in the platform secret")
    return {"response_token": signatures.x_crc_response(secret, crc_token)}


def meta_verify(mode: str | None, token: str | None, challenge: str | None,
                deps: WebhookDeps) -> str:
    if mode != "subscribe" or not challenge:
        raise BadRequest("expected hub.mode=subscribe with a hub.challenge")
    expected = deps.secrets().meta_verify_token
    if not token or not expected or not hmac.compare_digest(
            token.encode(), expected.encode()):
        raise Forbidden("hub.verify_token does not match")
    if not handshakes.meta_challenge_ok(challenge):
        raise BadRequest("hub.challenge must be 1 to 128 letters, digits, '-' or '_'")
    return challenge


def receive_x(body: bytes, signature: str | None, deps: WebhookDeps) -> IngestReport:
    _check_size(body, deps)
    if not _verified("x", signatures.verify_x(deps.secrets().x_consumer_secret, body,
                                              signature), signatures.signed_x(signature), deps):
        raise Unauthorized("missing or invalid x-twitter-webhooks-signature")
    from chalicelib.webhooks.x_parser import parse_x

    return _ingest("x", body, deps, lambda payload, at: parse_x(payload, at))


def receive_meta(body: bytes, signature: str | None, deps: WebhookDeps) -> IngestReport:
    _check_size(body, deps)
    if not _verified("meta", signatures.verify_meta(deps.secrets().meta_app_secret, body,
                                                    signature), signatures.signed_meta(signature),
                     deps):
        raise Unauthorized("missing or invalid X-Hub-Signature-256")
    from chalicelib.webhooks.meta_router import parse_meta

    return _ingest("meta", body, deps, parse_meta)


def _verified(route: str, ok: bool, signed: bool, deps: WebhookDeps) -> bool:
    """Count a failure only for a POST that carries a signature of the platform's shape (what a
    rotated secret sends); one without is anyone's junk, counted apart."""
    if ok:
        return True
    if signed:
        deps.channels.signature(route, False)
    else:
        deps.channels.unsigned(route)
    return False


def _check_size(body: bytes, deps: WebhookDeps) -> None:
    if len(body) > deps.max_body_bytes:
        raise PayloadTooLarge(f"body is {len(body)} bytes; the limit is {deps.max_body_bytes}")


Parser = Callable[[Any, datetime], "list[WebhookEvent]"]


def _ingest(route: str, body: bytes, deps: WebhookDeps, parse: Parser) -> IngestReport:
    payload = decode_json(body)
    try:
        events = parse(payload, deps.now())
    except MalformedPayload as error:
        raise BadRequest(str(error)) from error
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        # A parser tripping over a wrong type is still the body's fault, not ours.
        raise BadRequest(f"unexpected payload shape: {type(error).__name__}") from error
    from chalicelib.services.ingest import ingest  # after the signature and the parse

    report = ingest(events, deps.ingest())
    if events:
        deps.channels.signature(route, True)  # the secret works: ends a run of bad signatures
    return report


def decode_json(body: bytes) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequest("body is not valid UTF-8") from error
    try:
        payload = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise BadRequest("body is not valid JSON") from error
    if _depth(payload) > MAX_DEPTH:
        raise BadRequest("body is nested too deeply")
    if not isinstance(payload, dict):
        raise BadRequest("body must be a JSON object")
    return payload


def _depth(value: Any) -> int:
    depth, level = 0, [value]
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            return depth
        nxt: list[Any] = []
        for v in level:
            if isinstance(v, dict):
                nxt.extend(v.values())
            elif isinstance(v, list):
                nxt.extend(v)
        level = nxt
    return depth
