"""Reading the platform secret: a `null` or empty value is missing, and the key that signs ack
links and cursors is never empty."""

from __future__ import annotations

import pytest

from chalicelib.adapters.dynamodb.ack_links import DynamoAckLinks
from chalicelib.adapters.secrets import MissingSecret, PlatformSecrets, parse_secrets


def test_null_and_empty_values_are_missing_never_the_text_none() -> None:
    s = parse_secrets({"meta_app_secret": None, "meta_verify_token": "", "admin_token": "  ",
                       "x_consumer_secret": "xs", "unknown_key": "ignored"})
    assert s.meta_app_secret == "" and s.meta_verify_token == "" and s.admin_token == ""
    assert s.x_consumer_secret == "xs"
    assert "None" not in (s.meta_app_secret, s.meta_verify_token, s.admin_token)


def test_a_secret_that_is_not_an_object_is_refused_with_a_reason() -> None:
    for raw in (None, "text", ["a"]):
        with pytest.raises(MissingSecret, match="JSON object"):
            parse_secrets(raw)


def test_an_empty_or_null_ack_signing_key_refuses_to_sign() -> None:
    for value in (None, "", "   "):
        s = parse_secrets({"ack_signing_key": value, "admin_token": "a"})
        with pytest.raises(MissingSecret, match="ack_signing_key"):
            s.signing_key()
    assert parse_secrets({"ack_signing_key": "k" * 32}).signing_key() == "k" * 32


def test_ack_links_are_never_signed_with_an_empty_key() -> None:
    links = DynamoAckLinks(client=None, table="t",  # type: ignore[arg-type]
                           signing_key=lambda: PlatformSecrets().signing_key())
    with pytest.raises(MissingSecret):
        links.redeem("abc.def", now=None)  # type: ignore[arg-type]


def test_secrets_never_print() -> None:
    assert "k" * 32 not in repr(parse_secrets({"ack_signing_key": "k" * 32}))


def test_a_null_admin_token_admits_nobody_as_admin() -> None:
    """Read as the text "None", `Bearer None` would have been the admin."""
    from chalicelib.domain.errors import Unauthorized
    from chalicelib.services.auth import AuthDeps, authenticate

    s = parse_secrets({"admin_token": None})
    deps = AuthDeps(admin_token=lambda: s.admin_token, find_token=lambda token: None)
    for header in ("Bearer None", "Bearer null", "Bearer "):
        with pytest.raises(Unauthorized):
            authenticate(header, deps)


@pytest.mark.parametrize("value", [False, True, 0, 1, 0.0, {}, {"k": "v"}, [], ["k"]])
def test_a_value_that_is_not_a_string_is_missing_never_its_text(value: object) -> None:
    from chalicelib.domain.errors import Unauthorized
    from chalicelib.services.auth import AuthDeps, authenticate

    s = parse_secrets({"admin_token": value, "ack_signing_key": value,
                       "meta_app_secret": value})
    assert (s.admin_token, s.ack_signing_key, s.meta_app_secret) == ("", "", "")
    with pytest.raises(MissingSecret, match="ack_signing_key"):
        s.signing_key()  # `{}` would have been the key "{}"
    deps = AuthDeps(admin_token=lambda: s.admin_token, find_token=lambda token: None)
    for header in (f"Bearer {value}", "Bearer False", "Bearer {}", "Bearer 0"):
        with pytest.raises(Unauthorized):
            authenticate(header, deps)
