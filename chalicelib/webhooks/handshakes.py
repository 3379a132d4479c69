"""The shapes the platforms' subscription handshakes may take. Pure.

Both handshakes are answered to anyone who calls, before any secret of theirs is known, so what
they answer must be useless to a forger:

- X's CRC answers `sha256=` + base64(HMAC-SHA256(consumer secret, crc_token)): the very HMAC a
  delivery's `x-twitter-webhooks-signature` carries over its body. Answering any `crc_token`
  would sign any body. A delivery body is a JSON object, so it starts with `{` (after optional
  whitespace); a token of base64 characters never contains one, nor whitespace, quotes or
  brackets, so no answer can ever be a valid signature of a body we would ingest.
- Meta's `hub.challenge` is echoed back only after `hub.verify_token` matched, and only if it is
  a short token: the echo cannot carry markup or script.
"""

from __future__ import annotations

import re

# X sends a nonce encoded as base64 (seen in the wild: base64 of a UUID, 48 characters). Its docs
# do not fix the alphabet, so both base64 alphabets and padding pass; 8..128 characters holds any
# nonce X would use, with room, and nothing the size of a delivery.
_X_CRC_TOKEN = re.compile(r"[A-Za-z0-9+/_=-]{8,128}")

# Meta sends a random integer; a bounded URL-safe token leaves room for a change of format
# while keeping the echo inert text.
_META_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{1,128}")


def x_crc_token_ok(token: str) -> bool:
    # fullmatch: `$` would also accept a trailing newline.
    return _X_CRC_TOKEN.fullmatch(token) is not None


def meta_challenge_ok(challenge: str) -> bool:
    return _META_CHALLENGE.fullmatch(challenge) is not None
