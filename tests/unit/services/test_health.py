"""GET /health's report: a stranger learns only that the API is up; the admin gets the
deployment's names, the channels and ReplyWindow's own health, even when the channels' store
cannot be read."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from chalicelib.domain.errors import StoreUnavailable
from chalicelib.domain.policies import parse_policies
from chalicelib.services import health
from chalicelib.services.channel_watch import ChannelDeps, WatchLog
from tests.fakes import FakeChannelStore

POLICIES = parse_policies((Path(__file__).resolve().parents[2] / "fixtures" / "policies" /
                           "seconds.yaml").read_text())
AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
RESOURCES = {"stage": "dev", "table": "replywindow-dev"}


class Watch:
    def dead_letters(self) -> dict[str, int]:
        return {"inbound": 0, "alerts": 1}

    def alarms(self) -> list[dict[str, Any]]:
        return []

    def failed_executions(self) -> dict[str, int]:
        return {"failed": 0, "timed_out": 0, "aborted": 0}

    def sms(self) -> dict[str, Any]:
        return {"sandbox": False, "spend_limit_usd": 50.0, "spent_usd": 1.0}


class Unreadable(FakeChannelStore):
    def all(self) -> list[Any]:
        raise StoreUnavailable("DynamoDB is throttling")


def _deps(store: FakeChannelStore, texts_failed: Callable[[], int] = lambda: 2
          ) -> health.HealthDeps:
    channels = ChannelDeps(store=store, notify_admins=lambda subject, sms: None,
                           policies=lambda: POLICIES, public_url="", now=lambda: AT)
    return health.HealthDeps(resources=lambda: RESOURCES, watchtower=Watch,
                             channels=lambda: channels, texts_failed=texts_failed)


def _never_built() -> NoReturn:
    raise AssertionError("a stranger's /health must read nothing")


def test_a_stranger_learns_only_that_it_is_up_and_nothing_is_read() -> None:
    deps = health.HealthDeps(resources=_never_built, watchtower=_never_built,
                             channels=_never_built, texts_failed=_never_built)
    assert health.report(False, deps) == {"status": "ok"}


def test_the_admin_gets_the_resources_channels_and_self_watch() -> None:
    store = FakeChannelStore()
    WatchLog(store=store, policies=lambda: POLICIES, now=lambda: AT).seen(["x"])
    shown = health.report(True, _deps(store))
    assert (shown["status"], shown["stage"], shown["table"]) == ("ok", "dev", "replywindow-dev")
    assert list(shown["channels"]) == ["x"]
    assert shown["dead_letters"] == {"inbound": 0, "alerts": 1}
    assert shown["sms_failed"] == {"this_month": 2}
    assert {row["check"] for row in shown["sms_checks"]} == {
        "sms sandbox", "sms spend this month", "sms failed this month"}


def test_failed_texts_that_cannot_be_counted_are_said_and_the_rest_still_shown() -> None:
    def throttled() -> int:
        raise StoreUnavailable("DynamoDB is throttling")

    shown = health.report(True, _deps(FakeChannelStore(), throttled))
    assert shown["sms_failed"] == {"error": "unavailable (StoreUnavailable)"}
    assert shown["dead_letters"] == {"inbound": 0, "alerts": 1}
    assert [row["bad"] for row in shown["sms_checks"]
            if row["check"] == "sms failed this month"] == [True]


def test_an_unreadable_channel_store_is_said_and_the_rest_still_shown() -> None:
    shown = health.report(True, _deps(Unreadable()))
    assert shown["channels"] == {"error": "channel health unavailable"}
    assert shown["dead_letters"] == {"inbound": 0, "alerts": 1}
