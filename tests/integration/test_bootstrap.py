"""bootstrap builds each client and adapter once per container, and `reset()` forgets all of
it: a stale client would call a dead endpoint (tests change the environment between runs)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

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
