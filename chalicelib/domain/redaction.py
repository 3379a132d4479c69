"""Phone numbers out of logs, metrics and alert attributes: a WhatsApp customer's id is their
phone number (so their conversation's id holds it), and an agent's SMS number is one.

A number becomes a short hash: lines about one number still match each other, and the hash
names thousands of numbers, so it gives none away. In free text (a refusal's reason), any run
of 7 to 15 digits (E.164's longest), with or without its `+`; longer ids (X's 19 digits, Meta's
page-scoped ids) are left as they are. In a conversation id, only a WhatsApp customer's part:
an id other tools match on (alerts by conversation) stays the same for every other platform."""

from __future__ import annotations

import hashlib
import re

_PHONE = re.compile(r"(?<!\d)\+?\d{7,15}(?!\d)")


def _hashed(match: re.Match[str]) -> str:
    return "~" + hashlib.sha256(match.group().lstrip("+").encode()).hexdigest()[:6]


def hide_phones(text: str) -> str:
    return _PHONE.sub(_hashed, text)


def conversation_label(conversation_id: str) -> str:
    """A conversation's id as logs and alert attributes carry it."""
    if not conversation_id.startswith("whatsapp."):
        return conversation_id
    head, _, customer = conversation_id.rpartition("-")  # whatsapp.wa-<number id>-<wa_id>
    return f"{head}-{hide_phones(customer)}" if head else hide_phones(conversation_id)
