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

_PREFIX = "sha256="


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
