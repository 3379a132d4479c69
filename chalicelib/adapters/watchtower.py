"""ReplyWindow's own health from AWS: DLQ depths (SQS), alarm states (CloudWatch), the alarm
clock's failed or timed-out executions (Step Functions), and whether SNS may still send texts
(the account's SMS sandbox and its monthly spend limit against the month's spend)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_stepfunctions import SFNClient

    from chalicelib.adapters.dead_letters import SqsDeadLetters


class AwsWatchtower:
    def __init__(self, dead_letters: SqsDeadLetters, cloudwatch: Any, sfn: SFNClient,
                 alarm_prefix: str, state_machine_arn: str, sns: SNSClient | None = None) -> None:
        self.dlqs, self.cloudwatch, self.sfn = dead_letters, cloudwatch, sfn
        self.prefix, self.machine, self.sns = alarm_prefix, state_machine_arn, sns

    def dead_letters(self) -> dict[str, int]:
        return {source: self.dlqs.depth(source) for source in self.dlqs.sources}

    def alarms(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for page in self.cloudwatch.get_paginator("describe_alarms").paginate(
                AlarmNamePrefix=self.prefix):
            found.extend({"name": a["AlarmName"], "state": a["StateValue"],
                          "metric": a.get("MetricName", "")} for a in page["MetricAlarms"])
        return found

    def failed_executions(self) -> dict[str, int]:
        counts = {}
        for status in ("FAILED", "TIMED_OUT", "ABORTED"):
            # The newest hundred of each: enough to tell "none" from "some" and "many".
            listed = self.sfn.list_executions(stateMachineArn=self.machine,
                                              statusFilter=status,
                                              maxResults=100)
            counts[status.lower()] = len(listed["executions"])
        return counts

    def sms(self) -> dict[str, Any]:
        """The SMS sandbox (verified numbers only), the monthly spend limit and the month's
        spend so far. Each part a call cannot read (an emulator without it, a missing
        permission) is "unknown (why)" rather than an error: the rest still shows."""
        return {"sandbox": _or_unknown(self._sandbox),
                "spend_limit_usd": _or_unknown(self._spend_limit),
                "spent_usd": _or_unknown(self._spent)}

    def _sandbox(self) -> bool:
        assert self.sns is not None
        return bool(self.sns.get_sms_sandbox_account_status()["IsInSandbox"])

    def _spend_limit(self) -> float:
        assert self.sns is not None
        attributes = self.sns.get_sms_attributes(
            attributes=["MonthlySpendLimit"])["attributes"]
        # Unset means SNS's default for an account: $1 a month.
        return float(attributes.get("MonthlySpendLimit") or 1)

    def _spent(self) -> float:
        now = datetime.now(UTC)
        points = self.cloudwatch.get_metric_statistics(
            Namespace="AWS/SNS", MetricName="SMSMonthToDateSpentUSD",
            StartTime=max(now.replace(day=1, hour=0, minute=0, second=0, microsecond=0),
                          now - timedelta(days=1)),
            # A minute ahead: a point published this very second is in (the end is exclusive,
            # at one-second precision).
            EndTime=now + timedelta(minutes=1), Period=3600,
            Statistics=["Maximum"])["Datapoints"]
        # No datapoint: no text sent in the window read (the metric exists once one is).
        return max((float(p["Maximum"]) for p in points), default=0.0)


def _or_unknown(read: Any) -> Any:
    try:
        return read()
    except ClientError as error:
        return f"unknown ({error.response.get('Error', {}).get('Code', 'error')})"
    # An emulator without the call answers an HTML 500 (server) or raises (in process).
    except (BotoCoreError, ResponseParserError, NotImplementedError, AssertionError) as error:
        return f"unknown ({type(error).__name__})"
