"""Brand accounts in the policies file: declared, checked at load, and routing to teams."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.domain.policies import PolicyError, load_policies, parse_policies
from tests.unit.domain.test_policies import MINIMAL

ROOT = Path(__file__).resolve().parents[3]
ACCOUNTS = ROOT / "tests" / "fixtures" / "policies" / "accounts.yaml"
BASE = MINIMAL + """
teams:
  care: {}
"""
X_ACCOUNT = """
  - {platform: x, id: "1001", name: "@Main", team: care,
     credentials: {access_token: t, access_secret: s}}
"""


def test_each_declared_account_is_answered_by_its_team() -> None:
    policies = load_policies(ACCOUNTS)
    assert len(policies.accounts) == 8
    assert policies.team_for("x", "public", "1001") == "sales"
    assert policies.team_for("x", "private", "1002") == "care"
    assert policies.team_for("messenger", "private", "2001") == "uk"  # the Page's inbox
    assert policies.team_for("facebook", "public", "2002") == "us"  # and its feed
    assert policies.team_for("instagram", "private", "4001") == "uk"  # its DMs
    assert policies.team_for("instagram", "public", "4002") == "us"  # its comments, mentions
    assert policies.team_for("whatsapp", "private", "3001") == "wa_uk"
    assert policies.team_for("whatsapp", "private", "3002") == "wa_us"
    assert policies.team_for("whatsapp", "private", "9999") == "support"  # not declared
    help_account = policies.account("x", "1002")
    assert help_account is not None
    assert help_account.credentials == {"access_token": "x_help_token",
                                        "access_secret": "x_help_secret"}
    assert policies.accepts("x", "1001") and not policies.accepts("x", "2001")
    assert not policies.accepts("instagram", "2001")  # a Page id is not an Instagram account


def test_a_team_rule_says_otherwise() -> None:
    policies = parse_policies(BASE + """
  social: {platforms: [x], channels: [public]}
accounts:""" + X_ACCOUNT)
    assert policies.team_for("x", "public", "1001") == "social"  # the rule
    assert policies.team_for("x", "private", "1001") == "care"  # the account


def test_with_no_account_declared_every_account_is_accepted() -> None:
    policies = parse_policies(BASE)
    assert policies.accounts == ()
    assert policies.accepts("x", "anything") and policies.accepts("whatsapp", None)


@pytest.mark.parametrize(("accounts", "error"), [
    ("accounts: {x: 1}", "accounts: expected a list"),
    ("accounts:\n  - {platform: x, id: '1', name: a, team: care}",
     "accounts[0].credentials: missing"),
    ("accounts:\n  - {platform: tiktok, id: '1', name: a, team: care, credentials: {}}",
     "accounts[0].platform: one of x, facebook, instagram, whatsapp"),
    ("accounts:\n  - {platform: x, id: '../me', name: a, team: care, credentials: {}}",
     "accounts[0].id: the account's numeric id"),
    ("accounts:\n  - {platform: x, id: '1', name: a, team: nobody, credentials: {}}",
     "accounts[0].team: 'nobody' is not a team"),
    ("accounts:\n  - {platform: x, id: '1', name: a, team: care, "
     "credentials: {access_token: t}}", "accounts[0].credentials.access_secret: the name"),
    ("accounts:\n  - {platform: whatsapp, id: '1', name: a, team: care, "
     "credentials: {page_token: t}}", "accounts[0].credentials.page_token: unknown key"),
    ("accounts:\n  - {platform: x, id: '1', name: a, team: care, colour: red, "
     "credentials: {}}", "accounts[0].colour: unknown key"),
    ("accounts:" + X_ACCOUNT + X_ACCOUNT,
     "accounts[1].id: x account 1001 is already declared at accounts[0]"),
])
def test_invalid_accounts_are_refused_with_the_path_of_the_mistake(
        accounts: str, error: str) -> None:
    with pytest.raises(PolicyError) as raised:
        parse_policies(BASE + accounts)
    assert error in str(raised.value)


def test_the_same_id_on_two_platforms_is_two_accounts() -> None:
    policies = parse_policies(BASE + "accounts:" + X_ACCOUNT + """
  - {platform: instagram, id: "1001", name: main, team: support,
     credentials: {page_token: p}}
""")
    assert policies.team_for("instagram", "private", "1001") == "support"
    assert policies.team_for("x", "private", "1001") == "care"


def test_a_listening_query_must_belong_to_a_declared_account() -> None:
    listening = """
listening:
  - {query: scruffy, account: '@Other', period_minutes: 15, daily_requests: 96}
"""
    with pytest.raises(PolicyError, match=r"listening\[0\].account: '@Other' is not a "
                                          "declared X account"):
        parse_policies(BASE + "accounts:" + X_ACCOUNT + listening)
    # By name or by id, with or without the @; and anything goes with no account declared.
    assert parse_policies(BASE + "accounts:" + X_ACCOUNT + listening.replace("@Other", "Main"))
    assert parse_policies(BASE + "accounts:" + X_ACCOUNT + listening.replace("@Other", "1001"))
    assert parse_policies(BASE + listening)


def test_a_listening_query_takes_its_accounts_id_and_handle() -> None:
    query = load_policies(ACCOUNTS).listening[0]
    assert (query.account, query.account_id, query.handle) == (
        "@ScruffyHelp", "1002", "ScruffyHelp")


def test_a_credentials_health_is_kept_per_declared_account() -> None:
    policies = load_policies(ACCOUNTS)
    assert policies.health_channel("messenger", "2001") == "messenger:2001"
    assert policies.health_channel("whatsapp", "3002") == "whatsapp:3002"
    assert policies.health_channel("x", "9999") == "x"  # not declared: the platform
    assert parse_policies(BASE).health_channel("x", "1001") == "x"  # none declared
