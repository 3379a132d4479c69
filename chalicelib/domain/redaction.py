"""Phone numbers out of logs, metrics and alert attributes: a WhatsApp customer's id is their
phone number (so their conversation's id holds it), and an agent's SMS number is one.

A run of 7 to 15 digits (E.164's longest), with or without its `+`, becomes a short hash:
lines about one number still match each other, and the hash names thousands of numbers, so it
gives none away. Longer ids (X's 19 digits, Meta's page-scoped ids) are left as they are."""

from __future__ import annotations

import hashlib
import re

_PHONE = re.compile(r"(?<!\d)\+?\d{7,15}(?!\d)")


def _hashed(match: re.Match[str]) -> str:
    return "~" + hashlib.sha256(match.group().lstrip("+").encode()).hexdigest()[:6]


def hide_phones(text: str) -> str:
    return _PHONE.sub(_hashed, text)
