"""bootstrap builds each client and adapter once per container, and `reset()` forgets all of
it: a stale client would call a dead endpoint (tests change the environment between runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.exceptions import ParamValidationError

from chalicelib import bootstrap
from infrastructure.local.aws import Built


def test_each_getter_builds_once_until_reset_and_reset_drops_everything(aws: Built) -> None:
    assert len(bootstrap.GETTERS) > 20, "the registry no longer lists bootstrap's getters"
    first = {name: get() for name, get in bootstrap.GETTERS.items()}
    assert all(get() is first[name] for name, get in bootstrap.GETTERS.items())
    settings, agent = bootstrap.settings(), bootstrap.agent_deps()

    bootstrap.reset()

    again = {name: get() for name, get in bootstrap.GETTERS.items()}
    assert [name for name in first if again[name] is first[name]] == []
    assert bootstrap.settings() is not settings
    assert bootstrap.agent_deps().conversations is not agent.conversations


def test_nothing_in_bootstrap_is_cached_outside_the_one_memo() -> None:
    """A getter cached on its own (functools.cache) would escape `reset()`."""
    own = [name for name, value in vars(bootstrap).items()
           if callable(value) and hasattr(value, "cache_clear") and value is not bootstrap.settings]
    assert own == []


def test_policies_with_no_brand_account_warn_at_start(
        aws: Built, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    bootstrap.reset()
    assert bootstrap.policies().accounts == ()  # the shipped file: none declared
    assert [r.levelname for r in caplog.records if "no brand accounts declared" in
            r.getMessage()] == ["WARNING"]
    caplog.clear()
    declared = Path(__file__).resolve().parents[1] / "fixtures" / "policies" / "accounts.yaml"
    monkeypatch.setenv("REPLYWINDOW_POLICIES", str(declared))
    bootstrap.reset()
    assert len(bootstrap.policies().accounts) == len(
        yaml.safe_load(declared.read_text())["accounts"]) > 0
    assert not [r for r in caplog.records if "no brand accounts" in r.getMessage()]


class _Sent(Exception):
    """Stops a captured request before it goes out."""


def _client(monkeypatch: pytest.MonkeyPatch, validate: str) -> tuple[Any, list[bytes]]:
    """A bootstrap-built DynamoDB client whose requests are captured as they would go out,
    then stopped."""
    monkeypatch.setenv("REPLYWINDOW_VALIDATE_REQUESTS", validate)
    bootstrap.reset()
    ddb = bootstrap.dynamodb()
    sent: list[bytes] = []

    def capture(request: Any, **_: Any) -> None:
        sent.append(bytes(request.body))
        raise _Sent

    ddb.meta.events.register_first("before-send.dynamodb", capture)
    return ddb, sent


def _put(ddb: Any) -> None:
    with pytest.raises(_Sent):
        ddb.put_item(TableName="t", Item={
            "PK": {"S": "CONV#x"}, "SK": {"S": "META"}, "v": {"N": "3"},
            "tags": {"SS": ["a", "b"]}, "m": {"M": {"at": {"S": "2026-12-02T10:00:00Z"}}}},
            ConditionExpression="attribute_not_exists(PK) OR v < :v",
            ExpressionAttributeValues={":v": {"N": "3"}})


MALFORMED: dict[str, Any] = {"TableName": "t", "Key": {"PK": {"S": 3}}}  # a number as a string


def test_the_functions_skip_the_sdk_parameter_check_and_send_the_same_request(
        aws: Built, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check only raises: a valid request is sent byte for byte the same without it (a
    botocore upgrade that made it transform requests would show here)."""
    checked, checked_sent = _client(monkeypatch, "1")
    _put(checked)
    unchecked, unchecked_sent = _client(monkeypatch, "")
    _put(unchecked)
    assert unchecked_sent == checked_sent and len(checked_sent) == 1
    with pytest.raises(_Sent):  # not checked: it went out
        unchecked.get_item(**MALFORMED)


def test_the_tests_keep_the_sdk_parameter_check(aws: Built) -> None:
    """tests/conftest.py turns it on, so a malformed request fails in the tests."""
    bootstrap.reset()
    with pytest.raises(ParamValidationError):
        bootstrap.dynamodb().get_item(**MALFORMED)


def test_clients_share_one_sdk_session_and_reset_takes_a_changed_environment(
        aws: Built, monkeypatch: pytest.MonkeyPatch) -> None:
    """The session is built once per container like the clients, so it must be dropped with
    them: a client built after `reset()` follows the environment as it is now."""
    bootstrap.reset()
    first = bootstrap._session()
    assert bootstrap.dynamodb().meta.region_name == "us-east-1"
    bootstrap.sqs()
    assert bootstrap._session() is first
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    bootstrap.reset()
    assert bootstrap._session() is not first
    assert bootstrap.dynamodb().meta.region_name == "eu-west-1"
