"""ReplyWindow watching itself, against moto: a CloudWatch alarm's notification reaches the
admins through the alerts topic's admin filter, and the admin's /health shows dead letters,
alarm states and the alarm clock's failures (what `replywindow doctor` prints)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.services import oncall_admin
from infrastructure.local.aws import Built
from tests.integration.conftest import SECRETS

ADMIN = {"Authorization": f"Bearer {SECRETS['admin_token']}"}


@pytest.fixture
def client(aws: Built) -> Iterator[Client]:
    import app

    with Client(app.app) as test_client:
        yield test_client


def alarm_notification(name: str, state: str) -> str:
    """The JSON CloudWatch publishes on an alarm's state change (fields we read, and more)."""
    return json.dumps({"AlarmName": name, "AlarmDescription": "an alert bucket is parked in "
                       "the alerts dead-letter queue (replywindow dlq alerts)",
                       "AWSAccountId": "123456789012", "NewStateValue": state,
                       "NewStateReason": "Threshold Crossed: 1 datapoint [1.0] > 0.0",
                       "OldStateValue": "OK", "Region": "US East (N. Virginia)",
                       "Trigger": {"MetricName": "ApproximateNumberOfMessagesVisible",
                                   "Namespace": "AWS/SQS"}})


def test_an_alarm_reaches_every_admin_and_only_them(client: Client, aws: Built) -> None:
    import app

    deps = bootstrap.admin_deps()
    oncall_admin.create_agent({"id": "dana", "name": "Dana", "phone": "+15550100003",
                               "role": "admin"}, deps)
    oncall_admin.create_agent({"id": "alice", "name": "Alice", "phone": "+15550100001"}, deps)
    published: list[dict[str, Any]] = []
    bootstrap.sns().meta.events.register(
        "before-parameter-build.sns.Publish", lambda params, **_: published.append(params))
    event = {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0", "Sns": {
        "Type": "Notification", "MessageId": "m-1", "Subject": "ALARM: x",
        "TopicArn": aws.refs["OpsAlarmsTopic"], "Timestamp": "2026-12-01T23:00:00.000Z",
        "Message": alarm_notification("replywindow-dev-alerts-dead-letters", "ALARM"),
        "MessageAttributes": {}}}]}
    with Client(app.app) as test_client:
        test_client.lambda_.invoke("ops_alarm_relay", event)
    [sent] = published
    assert sent["TopicArn"] == bootstrap.alerts_topic_arn()
    assert sent["MessageAttributes"]["agent"]["StringValue"] == "admins"
    sms = json.loads(sent["Message"])["sms"]
    assert sms.startswith("ReplyWindow needs attention: an alert bucket is parked")
    # The admin's subscriptions take it, the agent's do not (SNS's own filter matching).
    from moto.sns.utils import FilterPolicyMatcher

    subscriptions = bootstrap.sns().list_subscriptions_by_topic(
        TopicArn=bootstrap.alerts_topic_arn())["Subscriptions"]
    takers = set()
    for s in subscriptions:
        policy = bootstrap.sns().get_subscription_attributes(SubscriptionArn=s[
            "SubscriptionArn"])["Attributes"]["FilterPolicy"]
        if FilterPolicyMatcher(json.loads(policy), None).matches(
                {"agent": {"Type": "String", "Value": "admins"}}, sent["Message"]):
            takers.add(s["Endpoint"])
    assert takers == {"+15550100003"}


def test_an_unreadable_notification_is_ignored_not_retried(client: Client, aws: Built) -> None:
    from chalicelib.services import self_watch

    told: list[tuple[str, str]] = []
    assert self_watch.relay("not json", lambda s, m: told.append((s, m))) is None
    assert self_watch.relay(alarm_notification("x", "INSUFFICIENT_DATA"),
                            lambda s, m: told.append((s, m))) is not None
    ok = self_watch.relay(alarm_notification("x", "OK"), lambda s, m: told.append((s, m)))
    assert ok is not None and told == [("[ReplyWindow] OK: x", ok.sms)]
    assert ok.sms.startswith("ReplyWindow recovered (OK)")


def test_the_admins_health_view_shows_dead_letters_alarms_and_failed_executions(
        client: Client) -> None:
    sqs = bootstrap.sqs()
    dlq = sqs.get_queue_url(QueueName="replywindow-dev-alerts-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"bucket": 1}))
    bootstrap.cloudwatch().set_alarm_state(AlarmName="replywindow-dev-alerts-dead-letters",
                                           StateValue="ALARM", StateReason="test")
    health = json.loads(client.http.get("/health", headers=ADMIN).body)
    assert health["dead_letters"] == {"inbound": 0, "alerts": 1}
    states = {a["name"]: a["state"] for a in health["alarms"]}
    assert states["replywindow-dev-alerts-dead-letters"] == "ALARM"
    assert states["replywindow-dev-inbound-dead-letters"] in ("OK", "INSUFFICIENT_DATA")
    assert health["alarm_clock"] == {"failed": 0, "timed_out": 0, "aborted": 0}
    assert "dead_letters" not in json.loads(client.http.get("/health").body)


def test_health_reports_the_sms_spend_against_the_limit_and_an_unknown_sandbox(
        client: Client) -> None:
    from datetime import UTC, datetime

    bootstrap.sns().set_sms_attributes(attributes={"MonthlySpendLimit": "10"})
    # SNS publishes this metric in AWS; the emulator takes it from the test.
    bootstrap.cloudwatch().put_metric_data(Namespace="AWS/SNS", MetricData=[{
        "MetricName": "SMSMonthToDateSpentUSD", "Value": 8.5, "Unit": "None",
        "Timestamp": datetime.now(UTC)}])
    health = json.loads(client.http.get("/health", headers=ADMIN).body)
    assert health["sms"]["spend_limit_usd"] == 10.0
    assert health["sms"]["spent_usd"] == 8.5
    rows = {r["check"]: (r["state"], r["bad"]) for r in health["sms_checks"]}
    assert rows["sms spend this month"] == (
        "$8.50 of $10.00 (texts stop at the limit: raise it)", True)
    # moto has no GetSMSSandboxAccountStatus: said so, not hidden and not an error.
    assert str(health["sms"]["sandbox"]).startswith("unknown (") or isinstance(
        health["sms"]["sandbox"], bool)
    assert "sms sandbox" in rows
