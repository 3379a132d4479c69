"""A text SNS reports as failed is followed by an email, and counted.

SNS writes each failed text to its CloudWatch Logs group (DirectPublishToPhoneNumber/Failure);
a subscription filter hands the lines to this function. Each line names the publish by its
MessageId, which the alerter recorded with what it covered: the agent gets an email-only
follow-up (SMS subscriptions refuse it, adapters/sns_alerts.py), or every admin does when the
agent has no email (or the publish is unknown here). Each failed MessageId is handled once: a
redelivered batch, or a line seen twice, sends nothing twice. A follow-up that cannot be sent
is released and the invocation fails, so Lambda's retry of the log batch sends it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import CloudWatchLogsEvent

from chalicelib import observability
from chalicelib.domain.oncall import Agent
from chalicelib.domain.redaction import hide_phones

logger = Logger(child=True)

ADMINS = "admins"  # as adapters/sns_alerts.py: the `agent` every admin's filter matches
CLAIM_LEASE = timedelta(minutes=2)  # longer than the function runs: a live sender is done


@dataclass(frozen=True)
class FailedText:
    message_id: str
    reason: str  # SNS's providerResponse, phone numbers hidden


class SentTexts(Protocol):
    """What each alert publish covered, by its SNS MessageId: a text SNS later reports as
    failed (by that id) is traced back to its agent. Never a phone number
    (adapters/dynamodb/sent_texts.py; each publish reaches it through adapters/sns_alerts.py)."""

    def published(self, message_id: str, covered: Mapping[str, str], at: datetime) -> None:
        """`covered`: the publish's attributes (agent, team, level, conversation label)."""
        ...

    def claim_failure(self, message_id: str, at: datetime,
                      lease: timedelta) -> dict[str, str] | None:
        """What the failed publish covered ({} if it is unknown here), the claim held until
        `at + lease`; None if this failure was handled already or is being handled."""
        ...

    def release(self, message_id: str) -> None:
        """The follow-up could not be sent: a retry may claim the failure at once."""
        ...

    def failed(self, message_id: str, at: datetime, team: str) -> None:
        """The follow-up went out: the failure is done, and counted on the day of `at`, for
        `team` (the alert's)."""
        ...

    def failed_in_month(self, at: datetime) -> int:
        """Texts SNS reported failed in the month of `at`."""
        ...


class Agents(Protocol):
    def agent(self, agent_id: str) -> Agent | None: ...


class Resender(Protocol):
    def resend(self, *, agent: str, team: str, level: str, subject: str, email: str) -> None:
        ...

    def refuse_resends_by_sms(self) -> int: ...


@dataclass(frozen=True)
class SmsFailureDeps:
    texts: SentTexts
    agents: Agents
    notifier: Resender
    public_url: str
    now: Callable[[], datetime]


@dataclass
class FailureReport:
    failed: int = 0  # failure lines handled now
    to_agent: int = 0
    to_admins: int = 0
    repeated: int = 0  # handled before (a redelivery) or being handled
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {"failed": self.failed, "to_agent": self.to_agent, "to_admins": self.to_admins,
                "repeated": self.repeated, "errors": len(self.errors)}


class FollowUpsFailed(RuntimeError):
    """Some follow-ups could not be sent: the log batch is retried for them."""


def parse(event: Mapping[str, Any]) -> list[FailedText]:
    """The failed texts of a CloudWatch Logs subscription event (`awslogs.data`, gzip and
    base64); a line that is not a failed delivery is skipped."""
    failures = []
    for log_event in CloudWatchLogsEvent(dict(event)).parse_logs_data().log_events:
        try:
            line = json.loads(log_event.message)
            message_id = str(line["notification"]["messageId"])
        except (ValueError, KeyError, TypeError):
            logger.warning("not a delivery status line: skipped")
            continue
        if line.get("status") != "FAILURE":
            continue
        reason = str((line.get("delivery") or {}).get("providerResponse") or "unknown")
        failures.append(FailedText(message_id, hide_phones(reason)[:200]))
    return failures


def follow_up(failures: list[FailedText], deps: SmsFailureDeps) -> FailureReport:
    report = FailureReport()
    policies_checked = False
    for failure in failures:
        now = deps.now()
        covered = deps.texts.claim_failure(failure.message_id, now, CLAIM_LEASE)
        if covered is None:
            report.repeated += 1
            continue
        try:
            if not policies_checked:
                # Subscriptions made before follow-ups existed would text this too.
                _best_effort(deps.notifier.refuse_resends_by_sms, "filter policies")
                policies_checked = True
            recipient = _recipient(covered.get("agent"), deps)
            deps.notifier.resend(agent=recipient, team=covered.get("team") or ADMINS,
                                 level=covered.get("level") or "unknown",
                                 **_message(failure, covered, recipient, deps.public_url))
        except Exception as error:
            logger.warning("follow-up failed", extra={"error": type(error).__name__})
            _best_effort(partial(deps.texts.release, failure.message_id), "release")
            report.errors.append(failure.message_id)
            continue
        _best_effort(partial(deps.texts.failed, failure.message_id, now,
                             covered.get("team") or ADMINS), "count")
        observability.sms_failed(covered.get("level") or "unknown")
        report.failed += 1
        if recipient == ADMINS and covered.get("agent") != ADMINS:
            report.to_admins += 1
        else:
            report.to_agent += 1
    logger.info("failed texts followed up", extra=report.as_dict())
    if report.errors:
        raise FollowUpsFailed(f"{len(report.errors)} follow-up(s) not sent")
    return report


def _recipient(agent_id: str | None, deps: SmsFailureDeps) -> str:
    """The agent, by email; every admin when the agent has no email or is unknown here."""
    if not agent_id or agent_id == ADMINS:
        return ADMINS
    agent = deps.agents.agent(agent_id)
    return agent_id if agent is not None and agent.email else ADMINS


def _message(failure: FailedText, covered: Mapping[str, str], recipient: str,
             public_url: str) -> dict[str, str]:
    level = covered.get("level") or "unknown"
    conversation = covered.get("conversation")
    about = f" about {conversation}" if conversation else ""
    if recipient == ADMINS and covered.get("agent") not in (None, ADMINS):
        who = f"{covered['agent']}'s phone (they have no email for alerts)"
    elif not covered.get("agent"):
        who = "a phone (the alert is no longer known here)"
    else:
        who = "your phone"
    body = (f"An alert text ({level}){about} could not be delivered to {who}: {failure.reason}.\n\n"
            f"Open the inbox: {public_url}/console\n\n"
            "Check the phone number in the on-call settings; `replywindow doctor` shows "
            "the SMS sandbox and spend limit.")
    return {"subject": f"[ReplyWindow] an alert text ({level}) failed"[:100], "email": body}


def _best_effort(write: Callable[[], Any], what: str) -> None:
    try:
        write()
    except Exception as error:
        logger.warning(f"{what} not written", extra={"error": type(error).__name__})
