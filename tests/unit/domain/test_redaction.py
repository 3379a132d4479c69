"""Phone numbers become short hashes; other ids stay readable."""

from __future__ import annotations

import pytest

from chalicelib.domain.redaction import conversation_label, hide_phones


@pytest.mark.parametrize(("text", "phone"), [
    ("whatsapp.wa-1122334455667-15557654321", "15557654321"),
    ("no data held about whatsapp user 15557654321", "15557654321"),
    ("agent sms +15550100001", "5550100001"),
    ("+447700900123", "7700900123"),
])
def test_a_phone_number_is_hidden(text: str, phone: str) -> None:
    hidden = hide_phones(text)
    assert phone not in hidden and "~" in hidden
    assert hide_phones(text) == hidden  # the same number, the same hash: lines still match


def test_the_same_number_with_or_without_plus_hashes_alike() -> None:
    assert hide_phones("+15557654321") == hide_phones("15557654321")


@pytest.mark.parametrize("text", [
    "x.dm-1111111111111111111-2222222222222222222",  # X ids: 19 digits
    "messenger.dm-P1-U1", "turn 3", "bucket 123456", "2026-12-01T22:59:50+00:00",
])
def test_other_ids_stay_readable(text: str) -> None:
    assert hide_phones(text) == text


def test_a_conversation_label_hides_only_a_whatsapp_customer() -> None:
    label = conversation_label("whatsapp.wa-1122334455667-15557654321")
    assert label.startswith("whatsapp.wa-1122334455667-~") and "15557654321" not in label
    for other in ("messenger.dm-123456789012345-7654321", "x.dm-1234567-7654321",
                  "instagram.dm-17841400000000-1234567"):
        assert conversation_label(other) == other  # what alerts are matched on stays
