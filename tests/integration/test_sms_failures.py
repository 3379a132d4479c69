"""A failed text against moto: the alert publish is recorded by its MessageId, the failure line
SNS writes comes to the function as CloudWatch Logs delivers it (gzip, base64), the agent's
email follows through the topic's filters (not their phone), once, and /health counts it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.adapters.dynamodb.records import sent_text_pk
from infrastructure.local import outbox
from infrastructure.local.aws import Built
from infrastructure.local.pollers import LogSubscriptionPoller
from tests.integration.conftest import SECRETS, seed_support_team
from tests.unit.services.test_sms_failures import awslogs, failure_line

ADMIN = {"Authorization": f"Bearer {SECRETS['admin_token']}"}
GROUP = "sns/us-east-1/123456789012/DirectPublishToPhoneNumber/Failure"


@pytest.fixture
def client(aws: Built, tmp_path: Path) -> Iterator[Client]:
    import app

    outbox.install(tmp_path / "outbox.jsonl")
    with Client(app.app) as test_client:
        seed_support_team(test_client, {
            "alice": {"phone": "+15550100001", "email": "alice@example.com"},
            "bob": {"phone": "+15550100002"},  # no email: the admins hear of his
            "erin": {"email": "erin@example.com", "role": "admin"}})
        yield test_client


def deliveries(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "outbox.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def texted(tmp_path: Path, agent: str, level: str, conversation: str) -> tuple[str, int]:
    """An alert to `agent` published: its one text's MessageId, and how many deliveries
    there were before any follow-up."""
    bootstrap.notifier().notify(agent=agent, team="support", level=level,
                                conversation=conversation, subject="s", sms="text", email="mail")
    [sms] = [d for d in deliveries(tmp_path) if d["protocol"] == "sms"]
    return sms["message_id"], len(deliveries(tmp_path))


def test_the_publish_is_recorded_by_message_id_without_a_phone_number(
        client: Client, tmp_path: Path) -> None:
    bootstrap.notifier().notify(agent="alice", team="support", level="breach",
                                conversation="whatsapp.wa-1-447700900123",
                                subject="s", sms="text", email="mail")
    [sms] = [d for d in deliveries(tmp_path) if d["protocol"] == "sms"]
    item = bootstrap.dynamodb().get_item(
        TableName=bootstrap.settings().table,
        Key={"PK": {"S": sent_text_pk(sms["message_id"])}, "SK": {"S": "SMS"}})["Item"]
    assert {k: v["S"] for k, v in item.items() if "S" in v and k not in ("PK", "SK",
                                                                        "sent_at")} == {
        "agent": "alice", "team": "support", "level": "breach",
        "conversation": sms["conversation"]}
    assert "447700900123" not in json.dumps(item)
    assert int(item["expires_at"]["N"]) > 0


def test_a_failed_text_is_followed_by_the_agents_email_once_and_counted(
        client: Client, tmp_path: Path) -> None:
    import app

    message_id, before = texted(tmp_path, "alice", "breach", "x.dm-1")
    event = awslogs(failure_line(message_id))

    first = app.sms_failures(event, None)
    second = app.sms_failures(event, None)  # CloudWatch Logs delivers it again

    followed = deliveries(tmp_path)[before:]
    assert [(d["protocol"], d["to"]) for d in followed] == [("email", "alice@example.com")]
    assert "x.dm-1" in followed[0]["text"] and "+1555" not in followed[0]["text"]
    assert (first["failed"], first["to_agent"], second["repeated"]) == (1, 1, 1)
    health = json.loads(client.http.get("/health", headers=ADMIN).body)
    assert health["sms_failed"] == {"this_month": 1}
    assert {"check": "sms failed this month", "bad": True,
            "state": "1 text(s) failed, each followed by an email"} in health["sms_checks"]
    # The SLA report counts it for the alert's team, and for no other.
    report = client.http.get("/api/reports/sla", headers=ADMIN)
    assert json.loads(report.body)["texts_failed"] == 1
    other = client.http.get("/api/reports/sla?team=social", headers=ADMIN)
    assert json.loads(other.body)["texts_failed"] == 0


def test_an_agent_without_email_has_the_admins_emailed_and_no_phone_texted_again(
        client: Client, tmp_path: Path) -> None:
    import app

    message_id, before = texted(tmp_path, "bob", "warning", "x.dm-2")
    app.sms_failures(awslogs(failure_line(message_id)), None)
    followed = deliveries(tmp_path)[before:]
    assert [(d["protocol"], d["to"]) for d in followed] == [("email", "erin@example.com")]
    assert "bob" in followed[0]["text"]


def test_an_sms_subscription_made_before_follow_ups_gets_the_filter_that_refuses_them(
        client: Client, tmp_path: Path) -> None:
    import app

    sns, topic = bootstrap.sns(), bootstrap.alerts_topic_arn()
    old = sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint="+15550100007",
                        Attributes={"FilterPolicy": json.dumps({"agent": ["alice"]})},
                        ReturnSubscriptionArn=True)["SubscriptionArn"]
    bootstrap.notifier().notify(agent="alice", team="support", level="breach",
                                conversation="x.dm-3", subject="s", sms="text", email="mail")
    message_id = next(d["message_id"] for d in deliveries(tmp_path) if d["protocol"] == "sms")
    before = len(deliveries(tmp_path))
    app.sms_failures(awslogs(failure_line(message_id)), None)
    assert [d["protocol"] for d in deliveries(tmp_path)[before:]] == ["email"]
    policy = json.loads(sns.get_subscription_attributes(SubscriptionArn=old)["Attributes"][
        "FilterPolicy"])
    assert policy == {"agent": ["alice"], "resend": [{"exists": False}]}


def test_the_first_sweep_gives_old_sms_subscriptions_the_filter_that_refuses_follow_ups(
        client: Client) -> None:
    from chalicelib import handlers

    sns, topic = bootstrap.sns(), bootstrap.alerts_topic_arn()
    old = sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint="+15550100008",
                        Attributes={"FilterPolicy": json.dumps({"agent": ["bob", "admins"]})},
                        ReturnSubscriptionArn=True)["SubscriptionArn"]
    handlers.sweep()
    policy = json.loads(sns.get_subscription_attributes(SubscriptionArn=old)["Attributes"][
        "FilterPolicy"])
    assert policy == {"agent": ["bob", "admins"], "resend": [{"exists": False}]}
    # Email subscriptions keep theirs: the follow-up is for them.
    emails = [s["SubscriptionArn"] for s in sns.list_subscriptions_by_topic(TopicArn=topic)[
        "Subscriptions"] if s["Protocol"] == "email"]
    assert emails and all("resend" not in sns.get_subscription_attributes(
        SubscriptionArn=arn)["Attributes"].get("FilterPolicy", "") for arn in emails)


def test_the_local_log_subscription_delivers_only_matching_lines_once_in_awslogs_form(
        client: Client, tmp_path: Path) -> None:
    logs = bootstrap._client("logs")
    logs.create_log_stream(logGroupName=GROUP, logStreamName="s1")
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=GROUP, logStreamName="s1", logEvents=[
        {"timestamp": now, "message": failure_line("m1")},
        {"timestamp": now + 1, "message": failure_line("m2", "SUCCESS")}])
    handed: list[dict[str, Any]] = []
    poller = LogSubscriptionPoller(name="sms_failures", logs=logs, log_group=GROUP,
                                   filter_name="f", pattern='{ $.status = "FAILURE" }',
                                   handler=lambda event, _context: handed.append(event))
    assert poller.poll_once() == 1
    assert poller.poll_once() == 0  # delivered already
    from chalicelib.services.sms_failures import parse

    assert [f.message_id for f in parse(handed[0])] == ["m1"]
