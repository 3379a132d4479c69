"""The platforms' documented webhook signatures. Pure; timing-safe comparisons.

- X: CRC `response_token` = "sha256=" + base64(HMAC-SHA256(consumer secret, crc_token)); each POST
  carries `x-twitter-webhooks-signature: sha256=<base64 HMAC-SHA256 of the raw body>`.
- Meta: each POST carries `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body, keyed
  with the app secret>`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

_PREFIX = "sha256="
# What a signature looks like, whatever the key: base64 of 32 bytes (X), 64 hex digits (Meta).
_X_SHAPE = re.compile(r"sha256=[A-Za-z0-9+/]{43}=")
_META_SHAPE = re.compile(r"sha256=[0-9a-fA-F]{64}")


def _mac(secret: str, data: bytes) -> bytes:
    return hmac.new(secret.encode("utf-8"), data, hashlib.sha256).digest()


def x_crc_response(consumer_secret: str, crc_token: str) -> str:
    return _PREFIX + base64.b64encode(_mac(consumer_secret, crc_token.encode("utf-8"))).decode()


def x_signature(consumer_secret: str, body: bytes) -> str:
    return _PREFIX + base64.b64encode(_mac(consumer_secret, body)).decode()


def meta_signature(app_secret: str, body: bytes) -> str:
    return _PREFIX + _mac(app_secret, body).hex()


def _matches(expected: str, header: str | None) -> bool:
    if not header:
        return False
    # compare_digest never short-circuits on the first differing byte.
    return hmac.compare_digest(expected.encode("ascii"), header.strip().encode("utf-8"))


def verify_x(consumer_secret: str, body: bytes, header: str | None) -> bool:
    return bool(consumer_secret) and _matches(x_signature(consumer_secret, body), header)


def verify_meta(app_secret: str, body: bytes, header: str | None) -> bool:
    # Hex is case-insensitive: Meta sends lower case, a proxy in between might not.
    return bool(app_secret) and _matches(meta_signature(app_secret, body),
                                         header.lower() if header else None)


def signed_x(header: str | None) -> bool:
    """Whether a header is an X signature at all (right or wrong key): a rotated secret sends
    these; anything else is not a delivery."""
    return header is not None and _X_SHAPE.fullmatch(header.strip()) is not None


def signed_meta(header: str | None) -> bool:
    return header is not None and _META_SHAPE.fullmatch(header.strip()) is not None
