"""Every WhatsApp fixture -> its exact normalised events."""

from __future__ import annotations

import copy

import pytest

from chalicelib.domain.events import (
    Attachment,
    Channel,
    ChannelSignal,
    Direction,
    Ignored,
    MalformedPayload,
    MessageEvent,
    Person,
    Platform,
)
from chalicelib.webhooks.whatsapp_parser import parse_whatsapp
from tests.unit.webhooks.conftest import RECEIVED, fixture, s

WA = Platform.WHATSAPP
PYWA_PHONE, PYWA_CUSTOMER = "1122334455667", "972987654321"
RESTFB_PHONE, RESTFB_CUSTOMER = "10634295353625", "491234567890"
RESTFB_ID = "wamid.HBgNNDkxNTIwOTgzMzM5OBUCABIYHGDEHJVFHJEVCFHJEVBCMTkyODk1OEIyAA=="


def message(phone: str, customer: str, name: str, mid: str, text: str, at, *,
            attachments=(), reply_to=None) -> MessageEvent:
    who = Person(id=customer, handle=customer, name=name)
    return MessageEvent(platform=WA, thread=f"wa-{phone}-{customer}", message_id=mid,
                        direction=Direction.IN, channel=Channel.PRIVATE, brand_id=phone,
                        customer=who, author=who, text=text, attachments=attachments,
                        created_at=at, reply_to=reply_to)


def pywa(mid: str, text: str, at, **kwargs) -> MessageEvent:
    return message(PYWA_PHONE, PYWA_CUSTOMER, "Test Name", mid, text, at, **kwargs)


def restfb(text: str, **kwargs) -> MessageEvent:
    return message(RESTFB_PHONE, RESTFB_CUSTOMER, "TestUser", RESTFB_ID, text, s(1653253313),
                   **kwargs)


@pytest.mark.parametrize(("name", "expected"), [
    ("pywa_text.json", pywa("wamid.xyzxyz", "Body Text", s(1697043223))),
    ("pywa_image.json", pywa("wamid.xyzxyz", "", s(1697043379), attachments=(
        Attachment(type="image", media_id="65463453"),))),
    ("pywa_reply_with_context.json", pywa("wamid.xyzxyz", "replied text", s(1697044746),
                                          reply_to="wamid.xyzxyz==")),
    ("pywa_interactive_button_reply.json", pywa("wamid.xyzxyz", "title", s(1698266730),
                                                reply_to="wamid.xyzxyz")),
    ("pywa_interactive_list_reply.json", pywa("wamid.zyzxyz", "title", s(1698266905),
                                              reply_to="wamid.xyzxyz")),
    ("pywa_template_quick_reply_button.json", pywa("wamid.xsidjw", "title", s(1698269027),
                                                   reply_to="wamid.xyzxyz==")),
    ("restfb_text.json", restfb("Test")),
    ("restfb_image.json", restfb("Some awesome image", attachments=(
        Attachment(type="image", media_id="400962571939895", caption="Some awesome image"),))),
    ("restfb_interactive_button_reply.json", restfb("button-text")),
    ("restfb_interactive_list_reply.json", restfb("list_reply_title - list_reply_description")),
])
def test_customer_messages(name: str, expected: MessageEvent) -> None:
    assert parse_whatsapp(fixture(f"whatsapp/{name}"), RECEIVED) == [expected]


def test_a_reaction_is_not_a_message() -> None:
    assert parse_whatsapp(fixture("whatsapp/pywa_reaction.json"), RECEIVED) == [
        Ignored(platform=WA, event_type="reaction", reason="a reaction is not a message")]


@pytest.mark.parametrize(("name", "signal", "at"), [
    ("pywa_status_sent.json", "sent", s(1698266945)),
    ("pywa_status_delivered.json", "delivered", s(1698266945)),
    ("pywa_status_read.json", "read", s(1689380458)),
])
def test_statuses_of_the_brands_messages_are_channel_signals(name, signal, at) -> None:
    assert parse_whatsapp(fixture(f"whatsapp/{name}"), RECEIVED) == [
        ChannelSignal(platform=WA, brand_id=PYWA_PHONE, signal=signal,
                      message_id="wamid.xyzxyz", at=at)]


def test_a_failed_send_names_the_error_without_any_message_text() -> None:
    assert parse_whatsapp(fixture("whatsapp/pywa_status_failed.json"), RECEIVED) == [
        ChannelSignal(platform=WA, brand_id=PYWA_PHONE, signal="send_failed",
                      detail="130472 User's number is part of an experiment",
                      message_id="wamid.xyzxyz", at=s(1689380458))]
    assert parse_whatsapp(fixture("whatsapp/restfb_status_failed_errors.json"), RECEIVED) == [
        ChannelSignal(platform=WA, brand_id="REDACTED", signal="send_failed",
                      detail="131026 Receiver is incapable of receiving this message",
                      message_id="wamid.HBgLMzI0NzY3NTUzNzYVAgARGBIzOTI2MzFGRjdBRjA4M0Y2RDQA",
                      at=s(1698231447))]


def test_placeholder_timestamps_fall_back_to_receipt_time() -> None:
    assert parse_whatsapp(fixture("whatsapp/restfb_status_sent_placeholders.json"),
                          RECEIVED) == [ChannelSignal(platform=WA, brand_id=RESTFB_PHONE,
                                                      signal="sent", message_id="wamid.ID",
                                                      at=RECEIVED)]


def test_messages_and_statuses_in_one_body_are_each_handled() -> None:
    payload = copy.deepcopy(fixture("whatsapp/pywa_text.json"))
    value = payload["entry"][0]["changes"][0]["value"]
    status = fixture("whatsapp/pywa_status_read.json")["entry"][0]["changes"][0]["value"]
    value["messages"].append({**value["messages"][0], "id": "wamid.second"})
    value["statuses"] = status["statuses"]
    assert [(e.kind, getattr(e, "message_id", None)) for e in
            parse_whatsapp(payload, RECEIVED)] == [
        ("message", "wamid.xyzxyz"), ("message", "wamid.second"), ("channel", "wamid.xyzxyz")]


def test_unknown_message_types_are_accepted_and_ignored() -> None:
    payload = copy.deepcopy(fixture("whatsapp/pywa_text.json"))
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["type"] = "order"
    assert parse_whatsapp(payload, RECEIVED) == [
        Ignored(platform=WA, event_type="order", reason="unsupported event type")]


@pytest.mark.parametrize(("mutate", "reason"), [
    (lambda p: p.pop("entry"), "entry must be a list"),
    (lambda p: p["entry"][0].update(changes={"a": 1}), "changes must be a list"),
    (lambda p: p["entry"][0]["changes"][0]["value"]["messages"][0].pop("id"), "message.id"),
    (lambda p: p["entry"][0]["changes"][0]["value"]["messages"][0].pop("from"),
     "message.from"),
    (lambda p: p["entry"][0]["changes"][0]["value"]["metadata"].pop("phone_number_id"),
     "phone_number_id"),
    (lambda p: p["entry"][0]["changes"][0]["value"].update(messages="x"), "must be a list"),
])
def test_bodies_not_of_whatsapps_shape_are_refused(mutate, reason) -> None:
    payload = copy.deepcopy(fixture("whatsapp/pywa_text.json"))
    mutate(payload)
    with pytest.raises(MalformedPayload, match=reason):
        parse_whatsapp(payload, RECEIVED)
