"""ReplyWindow watching itself: its CloudWatch alarms reach the admins like a channel alert.

CloudWatch publishes an alarm's state change to the ops topic (resources.yaml explains why not
straight to the alerts topic); this relays it, one short line, to every admin through the
alerts topic's `admins` filter, so an admin hears of a dead letter or a failing function by
SMS and email. What the admin view of /health and `replywindow doctor` show comes from here too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aws_lambda_powertools import Logger

logger = Logger(child=True)


@dataclass(frozen=True)
class AlarmChange:
    name: str
    state: str  # ALARM | OK | INSUFFICIENT_DATA
    description: str

    @property
    def sms(self) -> str:
        what = self.description or self.name
        if self.state == "ALARM":
            return f"ReplyWindow needs attention: {what}. Run `replywindow doctor`."
        return f"ReplyWindow recovered ({self.state}): {what}."


def parse(message: str) -> AlarmChange | None:
    """A CloudWatch alarm notification, or None for anything else on the topic."""
    try:
        body = json.loads(message)
    except ValueError:
        return None
    if not isinstance(body, Mapping) or "AlarmName" not in body:
        return None
    return AlarmChange(name=str(body["AlarmName"]), state=str(body.get("NewStateValue", "")),
                       description=str(body.get("AlarmDescription") or ""))


def relay(message: str, notify_admins: Callable[[str, str], None]) -> AlarmChange | None:
    change = parse(message)
    if change is None:
        logger.warning("not an alarm notification: ignored")
        return None
    if change.state == "INSUFFICIENT_DATA":
        return change  # a metric without data says nothing about our health
    notify_admins(f"[ReplyWindow] {change.state}: {change.name}"[:100], change.sms)
    logger.info("alarm relayed", extra={"alarm": change.name, "state": change.state})
    return change


class Watchtower(Protocol):
    """What the product knows of its own health (port; SQS, CloudWatch, Step Functions)."""

    def dead_letters(self) -> dict[str, int]: ...

    def alarms(self) -> list[dict[str, Any]]: ...

    def failed_executions(self) -> dict[str, int]: ...

    def sms(self) -> dict[str, Any]: ...


def overview(watch: Watchtower) -> dict[str, Any]:
    """Dead letters waiting, alarms and their states, the alarm clock's failures: every part
    that cannot be read is reported so, not hidden."""
    out: dict[str, Any] = {}
    for name, read in (("dead_letters", watch.dead_letters), ("alarms", watch.alarms),
                       ("alarm_clock", watch.failed_executions), ("sms", watch.sms)):
        try:
            out[name] = read()
        except Exception as error:  # the health page must answer while AWS is in trouble
            out[name] = {"error": f"unavailable ({type(error).__name__})"}
    return out


def checks(seen: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The overview as rows (check, state, needs attention), in the order and words of
    `replywindow doctor`: what the console's channels page shows an admin."""
    rows: list[dict[str, Any]] = []

    def row(check: str, state: str, bad: bool) -> None:
        rows.append({"check": check, "state": state, "bad": bad})

    def unreadable(part: Any) -> str | None:
        return str(part["error"]) if isinstance(part, dict) and "error" in part else None

    letters = seen.get("dead_letters", {})
    if (error := unreadable(letters)) is not None:
        row("dead letters", error, True)
    else:
        for queue, depth in sorted(letters.items()):
            row(f"dead letters: {queue}", f"{depth} waiting (replywindow dlq {queue})"
                if depth else "none", depth > 0)
    alarms = seen.get("alarms", [])
    if (error := unreadable(alarms)) is not None:
        row("alarms", error, True)
    else:
        for alarm in sorted(alarms, key=lambda a: a["name"]):
            row(f"alarm: {alarm['name']}", alarm["state"], alarm["state"] == "ALARM")
    clock = seen.get("alarm_clock", {})
    if (error := unreadable(clock)) is not None:
        row("alarm clock", error, True)
    else:
        row("alarm clock executions", ", ".join(f"{n} {k.replace('_', ' ')}"
                                                for k, n in clock.items()),
            sum(clock.values()) > 0)
    rows.extend(sms_rows(seen.get("sms", {}), seen.get("sms_failed")))
    return rows


SPEND_WARNING = 0.8  # the template's SMS spend alarm fires at the same share of the limit


def sms_rows(sms: Any, failed: Any = None) -> list[dict[str, Any]]:
    """Whether SNS may still text the agents: out of the sandbox, under the spend limit, and
    the month's texts SNS reported failed (each followed by an email). A part the platform
    cannot tell (an emulator) is shown as unknown, not as trouble."""
    return _account_rows(sms) + _failed_rows(failed)


def _account_rows(sms: Any) -> list[dict[str, Any]]:
    if not isinstance(sms, Mapping):
        return []
    if "error" in sms:
        return [{"check": "sms", "state": str(sms["error"]), "bad": True}]
    rows: list[dict[str, Any]] = []
    sandbox = sms.get("sandbox")
    if sandbox is True:
        rows.append({"check": "sms sandbox", "bad": True, "state":
                     "in the sandbox: texts reach verified numbers only (README, deploy)"})
    elif sandbox is False:
        rows.append({"check": "sms sandbox", "state": "out of the sandbox", "bad": False})
    elif sandbox is not None:
        rows.append({"check": "sms sandbox", "state": str(sandbox), "bad": False})
    limit, spent = sms.get("spend_limit_usd"), sms.get("spent_usd")
    if isinstance(limit, int | float) and isinstance(spent, int | float):
        near = spent >= SPEND_WARNING * limit
        rows.append({"check": "sms spend this month", "bad": near,
                     "state": f"${spent:.2f} of ${limit:.2f}"
                              + (" (texts stop at the limit: raise it)" if near else "")})
    elif limit is not None or spent is not None:
        shown = [f"${v:.2f}" if isinstance(v, int | float) else str(v) for v in (spent, limit)]
        rows.append({"check": "sms spend this month", "bad": False,
                     "state": f"{shown[0]} of {shown[1]}"})
    return rows


def _failed_rows(failed: Any) -> list[dict[str, Any]]:
    if not isinstance(failed, Mapping):
        return []
    if "error" in failed:
        return [{"check": "sms failed this month", "state": str(failed["error"]), "bad": True}]
    count = int(failed.get("this_month", 0))
    return [{"check": "sms failed this month", "bad": count > 0,
             "state": f"{count} text(s) failed, each followed by an email" if count
             else "none"}]
