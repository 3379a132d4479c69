"""Signed page cursors: `<position>.<signature>`, the signature an HMAC over the position and
the query it was minted for.

The position is the store's own resume point; an agent who edits it could start a page in
another team's queue. Signing it (with a key of its own, derived for this purpose, so an
alert link's signature can never pass as a cursor's) and binding it to the query makes a
tampered, forged or replayed-elsewhere cursor a plain refusal.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

_PURPOSE = b"replywindow/inbox-cursor/v1"


def _signature(secret: str, query: str, position: str) -> str:
    key = hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()
    digest = hmac.new(key, f"{query}\n{position}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()  # 144 bits, no padding needed


def sign(secret: str, query: str, position: str) -> str:
    return f"{position}.{_signature(secret, query, position)}"


def open_cursor(secret: str, query: str, cursor: str) -> str | None:
    """The position, or None when the cursor was not minted by us for this very query."""
    position, dot, signature = cursor.rpartition(".")
    if not dot or not position or not secret:
        return None
    if not hmac.compare_digest(_signature(secret, query, position).encode(),
                               signature.encode()):
        return None
    return position
