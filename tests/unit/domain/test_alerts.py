"""Alerts as the on-call agent's phone shows them: one SMS segment, one link."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.alerts import SMS_LIMIT, compose, digest, time_left
from chalicelib.domain.conversations import Conversation
from chalicelib.domain.events import Channel, Person, Platform

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
LINK = "https://abcdefghij.execute-api.eu-west-1.amazonaws.com/api/ack/AbCdEfGh.0123456789ab"
CONV = Conversation(platform=Platform.X, thread="t-1", channel=Channel.PUBLIC, brand_id="9",
                    customer=Person(id="42", handle="ann"), created_at=NOW, turn=1,
                    priority="urgent", due_at=NOW + timedelta(minutes=4),
                    reasons=("negative sentiment", "keyword: refund", "first-time complainer"))


def test_a_warning_sms_says_level_platform_customer_time_reasons_and_link() -> None:
    alert = compose("warning", CONV, NOW, LINK)
    assert alert.sms.startswith("WARN X @ann 4m left (urgent): negative sentiment")
    assert alert.sms.endswith(LINK)
    assert len(alert.sms) <= SMS_LIMIT


def test_a_breach_says_how_late_it_is() -> None:
    alert = compose("breach", CONV, NOW + timedelta(minutes=9), LINK)
    assert alert.sms.startswith("BREACH X @ann 5m over")
    assert "BREACH" in alert.subject and "@ann" in alert.subject


def test_the_email_carries_the_last_messages_and_the_link() -> None:
    alert = compose("escalation", CONV, NOW, LINK,
                    [("@ann", "refund me now"), ("brand", "looking into it")])
    assert "@ann: refund me now" in alert.email
    assert "brand: looking into it" in alert.email
    assert LINK in alert.email


@settings(max_examples=200, deadline=None)
@given(handle=st.text(min_size=1, max_size=40),
       reasons=st.lists(st.text(min_size=1, max_size=24), max_size=6),
       minutes=st.integers(min_value=-3000, max_value=3000))
def test_any_sms_fits_one_gsm_segment_and_keeps_its_link_whole(handle, reasons, minutes) -> None:
    conv = replace(CONV, customer=Person(id="1", handle=handle), reasons=tuple(reasons),
                   due_at=NOW + timedelta(minutes=minutes))
    sms = compose("breach", conv, NOW, LINK).sms
    assert len(sms) <= SMS_LIMIT
    assert sms.endswith(LINK)
    assert sms.isascii()


def test_time_left_reads_naturally() -> None:
    assert time_left(NOW + timedelta(seconds=30), NOW) == "30s left"
    assert time_left(NOW + timedelta(hours=2, minutes=5), NOW) == "2h05m left"
    assert time_left(NOW - timedelta(hours=1), NOW) == "1h over"


def test_a_digest_replaces_a_flood_with_one_link_to_the_inbox() -> None:
    covered = [("warning", replace(CONV, thread=f"t-{n}")) for n in range(12)]
    alert = digest("support", "https://x.example", covered, NOW)
    link = "https://x.example/console?team=support&platform=x"  # waiting: the inbox's default
    assert alert.sms == f"12 conversations for support need a reply now. Inbox: {link}"
    assert alert.email.endswith(f"Open the inbox: {link}")


def test_a_digest_sms_stays_one_segment_and_drops_the_platform_filter_to_do_so() -> None:
    covered = [("warning", replace(CONV, thread=f"t-{n}")) for n in range(120)]
    alert = digest("customer-care-emea", LINK.split("/api/")[0] + "/api", covered, NOW)
    assert len(alert.sms) <= SMS_LIMIT
    assert alert.sms.endswith("/api/console?team=customer-care-emea")
    mixed = [*covered[:2], ("warning", replace(CONV, platform=Platform.WHATSAPP))]
    assert digest("support", "https://x.example", mixed, NOW).sms.endswith(
        "/console?team=support")


def test_a_digest_email_lists_every_conversation_it_covers_most_urgent_first() -> None:
    late = replace(CONV, thread="t-2", platform=Platform.WHATSAPP,
                   customer=Person(id="7", name="Bo"), due_at=NOW - timedelta(minutes=3))
    alert = digest("support", "https://x.example", [("warning", CONV), ("breach", late)], NOW)
    assert alert.email.splitlines()[2:4] == ["  BREACH Bo on WhatsApp, 3m over",
                                            "  WARN @ann on X, 4m left"]


def test_a_conversation_found_by_listening_says_so_in_the_sms_and_the_email() -> None:
    found = replace(CONV, found_by_listening=True, reasons=())
    alert = compose("warning", found, NOW, LINK)
    assert alert.sms.startswith("WARN X @ann 4m left (found by listening) (urgent)")
    assert len(alert.sms) <= SMS_LIMIT and alert.sms.endswith(LINK)
    assert "did not tag the brand" in alert.email
    assert "listening" not in compose("warning", CONV, NOW, LINK).sms
