"""Replies leave as the account the customer wrote to, with that account's credentials only:
the stand-in platforms (tests/platform_fake.py) check which token signed or authorised each
call and that a token acts for its own account only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.adapters.platforms.senders import PlatformSenders
from chalicelib.adapters.secrets import PlatformSecrets, parse_secrets
from chalicelib.domain.errors import (
    BadPlatformId,
    NotConfigured,
    PlatformRefused,
    ReplyRefused,
)
from chalicelib.domain.events import Platform
from chalicelib.domain.policies import Policies, load_policies
from chalicelib.domain.replies import ReplyRoute
from tests.platform_fake import (
    PAGE_TOKEN,
    WHATSAPP_TOKEN,
    X_ACCOUNT_TOKENS,
    X_KEYS,
    FakePlatforms,
    fake_platforms,
)

ACCOUNTS = load_policies(Path(__file__).resolve().parents[2] / "tests" / "fixtures" /
                         "policies" / "accounts.yaml")
# The single-account keys are set too: a reply must never fall back to them.
SECRET = {"x_consumer_key": X_KEYS["client_key"], "x_consumer_secret": X_KEYS["client_secret"],
          "x_access_token": X_KEYS["token"], "x_access_token_secret": X_KEYS["token_secret"],
          "meta_page_token": PAGE_TOKEN, "whatsapp_token": WHATSAPP_TOKEN,
          "x_main_token": "at-main-0123456789", "x_main_secret": "ats-main",
          "x_help_token": "at-help-0123456789", "x_help_secret": "ats-help",
          "page_uk_token": "page-uk-token", "page_us_token": "page-us-token",
          "wa_uk_token": "wa-uk-token", "wa_us_token": "wa-us-token"}


@pytest.fixture
def platforms() -> Iterator[FakePlatforms]:
    with fake_platforms() as fake:
        yield fake


def senders(fake: FakePlatforms, secret: dict[str, str] | None = None,
            policies: Policies | None = ACCOUNTS) -> PlatformSenders:
    secrets: PlatformSecrets = parse_secrets(secret or SECRET)
    return PlatformSenders(lambda: secrets, fake.url, fake.url, policies=lambda: policies)


@pytest.mark.parametrize(("platform", "kind", "recipient", "account", "token"), [
    (Platform.X, "public_reply", "1234567890", "1001", "at-main-0123456789"),
    (Platform.X, "dm", "42", "1002", "at-help-0123456789"),
    (Platform.MESSENGER, "dm", "777", "2001", "page-uk-token"),
    (Platform.MESSENGER, "dm", "777", "2002", "page-us-token"),
    (Platform.FACEBOOK, "comment_reply", "11_22", "2002", "page-us-token"),
    (Platform.INSTAGRAM, "dm", "888", "4001", "page-uk-token"),  # its Page's token
    (Platform.INSTAGRAM, "dm", "888", "4002", "page-us-token"),
    (Platform.WHATSAPP, "dm", "447700900123", "3001", "wa-uk-token"),
    (Platform.WHATSAPP, "dm", "447700900123", "3002", "wa-us-token"),
])
def test_a_reply_goes_out_as_the_account_written_to_with_its_own_credentials(
        platforms: FakePlatforms, platform: Platform, kind: str, recipient: str, account: str,
        token: str) -> None:
    route = ReplyRoute(platform=platform, kind=kind, recipient=recipient, brand_id=account)
    assert senders(platforms).send(route, "Sorry about that - on it.")
    [request] = platforms.requests
    assert request["token"] == token
    if platform is Platform.X:
        assert request["oauth_valid"] and request["as_account"] == account
    elif kind != "comment_reply":  # a comment is answered on its id, as its Page's token
        assert request["as_account"] == account
    if platform is Platform.WHATSAPP:
        assert request["path"] == f"/{account}/messages"  # the number's own id


def test_a_reply_never_leaves_through_another_account(platforms: FakePlatforms) -> None:
    undeclared = ReplyRoute(platform=Platform.X, kind="dm", recipient="42", brand_id="1003")
    with pytest.raises(ReplyRefused, match="not declared"):
        senders(platforms).send(undeclared, "hello")
    # A Page id is no Instagram account, though Instagram replies use a Page token too.
    page_as_ig = ReplyRoute(platform=Platform.INSTAGRAM, kind="dm", recipient="5",
                            brand_id="2001")
    with pytest.raises(ReplyRefused, match="not declared"):
        senders(platforms).send(page_as_ig, "hello")
    # The account's key missing from the secret: refused, never the single-account token.
    missing = {k: v for k, v in SECRET.items() if k != "wa_us_token"}
    with pytest.raises(NotConfigured, match="set wa_us_token in the platform secret"):
        senders(platforms, missing).send(ReplyRoute(
            platform=Platform.WHATSAPP, kind="dm", recipient="447700900123",
            brand_id="3002"), "hello")
    assert platforms.requests == []
    # And the stand-in refuses a token acting for another number, as WhatsApp would.
    wrong = {**SECRET, "wa_us_token": "wa-uk-token"}
    with pytest.raises(PlatformRefused, match="not for this account"):
        senders(platforms, wrong).send(ReplyRoute(
            platform=Platform.WHATSAPP, kind="dm", recipient="447700900123",
            brand_id="3002"), "hello")


@pytest.mark.parametrize(("comment", "sent"), [
    ("18", {"media_id": "17", "comment_id": "18", "message": "Thanks!"}),
    (None, {"media_id": "17", "message": "Thanks!"}),  # a caption mention: the media only
])
def test_an_instagram_mention_is_answered_as_the_mentioned_account_with_its_pages_token(
        platforms: FakePlatforms, comment: str | None, sent: dict[str, str]) -> None:
    mention = ReplyRoute(platform=Platform.INSTAGRAM, kind="mention_reply", recipient="17",
                         brand_id="4002", comment_id=comment)
    assert senders(platforms).send(mention, "Thanks!")
    [request] = platforms.requests
    assert (request["path"], request["token"], request["json"]) == (
        "/4002/mentions", "page-us-token", sent)


def test_a_pages_token_never_answers_for_another_pages_instagram_account(
        platforms: FakePlatforms) -> None:
    # The stand-in refuses it, as the Graph API would: 4002 is linked to the other Page.
    crossed = {**SECRET, "page_us_token": "page-uk-token"}
    for kind in ("dm", "mention_reply"):
        with pytest.raises(PlatformRefused, match="not for this account"):
            senders(platforms, crossed).send(ReplyRoute(
                platform=Platform.INSTAGRAM, kind=kind, recipient="17", brand_id="4002"), "hi")
    with pytest.raises(BadPlatformId):  # never a path of our own making
        senders(platforms).send(ReplyRoute(
            platform=Platform.INSTAGRAM, kind="mention_reply", recipient="17",
            brand_id="4002", comment_id="../me"), "hi")
    assert len(platforms.requests) == 2


def test_with_no_account_declared_the_single_account_keys_are_used(
        platforms: FakePlatforms) -> None:
    single = senders(platforms, policies=load_policies(
        Path(__file__).resolve().parents[2] / "chalicelib" / "policies.yaml"))
    single.send(ReplyRoute(platform=Platform.X, kind="dm", recipient="42", brand_id="999"), "hi")
    single.send(ReplyRoute(platform=Platform.WHATSAPP, kind="dm", recipient="4477",
                           brand_id="3009"), "hi")
    assert [r["token"] for r in platforms.requests] == [X_KEYS["token"], WHATSAPP_TOKEN]
    assert X_KEYS["token"] not in X_ACCOUNT_TOKENS


def test_account_credentials_are_kept_apart_and_never_printed() -> None:
    secrets = parse_secrets({**SECRET, "blank": " ", "number": 5})
    assert secrets.accounts["page_uk_token"] == "page-uk-token"
    assert "blank" not in secrets.accounts and "number" not in secrets.accounts
    assert "x_access_token" not in secrets.accounts
    assert "page-uk-token" not in repr(secrets) and "page-uk-token" not in str(secrets)
