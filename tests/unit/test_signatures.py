"""Webhook signatures against test vectors computed independently with openssl:
    printf '<data>' | openssl dgst -sha256 -hmac '<secret>' [-binary | base64]"""

from __future__ import annotations

import pytest

from chalicelib.webhooks import signatures

X_SECRET = "x-consumer-secret"
META_SECRET = "meta-app-secret"
X_BODY = b'{"for_user_id":"1"}'
X_SIG = "sha256=hfVR+B7xHXLf2eIjgiQpYAk6I3c21h4ceJtmD/P/7tI="
META_BODY = b'{"object":"page","entry":[]}'
META_SIG = "sha256=5dcb51eb590634700c8d9cc1fde4d2d5981ca7bb83f250eb3fb71bfd849057ed"


def test_x_crc_response_matches_the_documented_algorithm() -> None:
    assert signatures.x_crc_response(X_SECRET, "challenge-token-123") == (
        "sha256=CmBvj7AGUxwzCxYJc7XUiLou4CfyXRizZIqjBwI+0Po=")


def test_x_post_signature_is_accepted() -> None:
    assert signatures.verify_x(X_SECRET, X_BODY, X_SIG)


def test_meta_post_signature_is_accepted_in_either_hex_case() -> None:
    assert signatures.verify_meta(META_SECRET, META_BODY, META_SIG)
    assert signatures.verify_meta(META_SECRET, META_BODY, "sha256=" + META_SIG[7:].upper())


@pytest.mark.parametrize("header", [None, "", "sha256=", X_SIG[:-2], X_SIG + "x",
                                    X_SIG.replace("sha256=", "sha1="), "garbage"])
def test_x_rejects_missing_truncated_or_foreign_signatures(header: str | None) -> None:
    assert not signatures.verify_x(X_SECRET, X_BODY, header)


def test_a_modified_body_fails_both_platforms() -> None:
    assert not signatures.verify_x(X_SECRET, X_BODY + b" ", X_SIG)
    assert not signatures.verify_meta(META_SECRET, META_BODY.replace(b"page", b"pagE"),
                                      META_SIG)


def test_a_signature_from_the_other_platform_is_refused() -> None:
    # Same body, same secret, other platform's encoding: never interchangeable.
    cross = signatures.meta_signature(X_SECRET, X_BODY)
    assert not signatures.verify_x(X_SECRET, X_BODY, cross)
    assert not signatures.verify_meta(META_SECRET, X_BODY, X_SIG)


def test_an_unset_secret_verifies_nothing() -> None:
    assert not signatures.verify_x("", X_BODY, signatures.x_signature("", X_BODY))
    assert not signatures.verify_meta("", META_BODY, signatures.meta_signature("", META_BODY))
