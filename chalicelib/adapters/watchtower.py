"""ReplyWindow's own health from AWS: DLQ depths (SQS), alarm states (CloudWatch) and the alarm
clock's failed or timed-out executions (Step Functions)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

    from chalicelib.adapters.dead_letters import SqsDeadLetters


class AwsWatchtower:
    def __init__(self, dead_letters: SqsDeadLetters, cloudwatch: Any, sfn: SFNClient,
                 alarm_prefix: str, state_machine_arn: str) -> None:
        self.dlqs, self.cloudwatch, self.sfn = dead_letters, cloudwatch, sfn
        self.prefix, self.machine = alarm_prefix, state_machine_arn

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
