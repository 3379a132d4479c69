"""GET /health: up or not, for anyone; for the admin, what runs where, the channels' state and
ReplyWindow's own health (the same rows `replywindow doctor` prints)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.errors import StoreUnavailable
from chalicelib.services import channel_watch, self_watch
from chalicelib.services.channel_watch import ChannelDeps
from chalicelib.services.self_watch import Watchtower


@dataclass(frozen=True)
class HealthDeps:
    # Each read only for the admin: a stranger's /health touches nothing (not even settings).
    resources: Callable[[], Mapping[str, Any]]  # the deployment's names: stage, table...
    watchtower: Callable[[], Watchtower]
    channels: Callable[[], ChannelDeps]
    texts_failed: Callable[[], int]  # this month's alert texts SNS reported failed


def report(admin: bool, deps: HealthDeps) -> dict[str, Any]:
    """Resource names and the channels' platform errors help an attacker map the deployment:
    only the admin sees them; anyone else learns the API is up."""
    if not admin:
        return {"status": "ok"}
    watched = own_health(deps)
    return {
        "status": "ok",
        **deps.resources(),
        "channels": _channels_or_unknown(deps),
        **watched,
        # Rows as `replywindow doctor` prints them, worded here once.
        "sms_checks": self_watch.sms_rows(watched.get("sms"), watched["sms_failed"]),
    }


def _channels_or_unknown(deps: HealthDeps) -> dict[str, Any]:
    # The rest of the report is worth having when the channels' store cannot be read.
    try:
        return channel_watch.overview(deps.channels())
    except StoreUnavailable:
        return {"error": "channel health unavailable"}


def own_health(deps: HealthDeps) -> dict[str, Any]:
    """ReplyWindow's own state (dead letters, alarms, the alarm clock, SMS) and the month's
    alert texts SNS reported failed: what `replywindow doctor` and the console show."""
    watched = self_watch.overview(deps.watchtower())
    try:
        watched["sms_failed"] = {"this_month": deps.texts_failed()}
    except Exception as error:  # the health page must answer while AWS is in trouble
        watched["sms_failed"] = {"error": f"unavailable ({type(error).__name__})"}
    return watched
