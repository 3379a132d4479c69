"""Wiring: cached lazy getters that build adapters once per container, on first use.

Import stays cheap (no clients at import: cold start is a measured figure), and tests can swap
in fakes by calling `reset()` after changing the environment.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from chalicelib.config import settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient

    from chalicelib.adapters.dynamodb.due_checks import DynamoDueChecks
    from chalicelib.adapters.stepfunctions_clock import StepFunctionsAlarmClock
    from chalicelib.services.alerting import AlertingDeps


def _client(service: str) -> Any:
    import boto3  # the endpoint comes from AWS_ENDPOINT_URL: local and cloud run the same code

    return boto3.session.Session().client(service)  # type: ignore[call-overload]


@cache
def dynamodb() -> DynamoDBClient:
    client: DynamoDBClient = _client("dynamodb")
    return client


@cache
def sqs() -> SQSClient:
    client: SQSClient = _client("sqs")
    return client


@cache
def sns() -> SNSClient:
    client: SNSClient = _client("sns")
    return client


@cache
def stepfunctions() -> SFNClient:
    client: SFNClient = _client("stepfunctions")
    return client


@cache
def account_id() -> str:
    account: str = _client("sts").get_caller_identity()["Account"]
    return account


def _arn(service: str, resource: str) -> str:
    region = dynamodb().meta.region_name
    return f"arn:aws:{service}:{region}:{account_id()}:{resource}"


@cache
def alarm_clock_arn() -> str:
    return _arn("states", f"stateMachine:{settings().alarm_clock}")


@cache
def alerts_topic_arn() -> str:
    return _arn("sns", settings().alerts_topic)


@cache
def due_checks() -> DynamoDueChecks:
    from chalicelib.adapters.dynamodb.due_checks import DynamoDueChecks

    return DynamoDueChecks(dynamodb(), settings().table)


@cache
def alarm_clock() -> StepFunctionsAlarmClock:
    from chalicelib.adapters.stepfunctions_clock import StepFunctionsAlarmClock

    return StepFunctionsAlarmClock(stepfunctions(), alarm_clock_arn())


def alerting_deps() -> AlertingDeps:
    from chalicelib.services.alerting import AlertingDeps

    return AlertingDeps(due_checks=due_checks())


def health() -> dict[str, Any]:
    s = settings()
    return {
        "status": "ok",
        "stage": s.stage,
        "table": s.table,
        "queues": {"inbound": s.inbound_queue, "alerts": s.alerts_queue},
        "topic": s.alerts_topic,
        "state_machine": s.alarm_clock,
    }


def reset() -> None:
    """Forget every cached client and setting (tests change the environment between runs)."""
    for getter in (settings, dynamodb, sqs, sns, stepfunctions, account_id, alarm_clock_arn,
                   alerts_topic_arn, due_checks, alarm_clock):
        getter.cache_clear()
