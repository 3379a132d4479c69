"""The on-call answer against moto's SNS: each agent's subscriptions, read back from the topic
by their FilterPolicy, with their state; an agent with no confirmed one is flagged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends

from chalicelib import bootstrap
from infrastructure.local.aws import Built
from tests.integration.conftest import SECRETS, seed_support_team

ADMIN = {"Authorization": f"Bearer {SECRETS['admin_token']}",
         "Content-Type": "application/json"}


@pytest.fixture
def client(aws: Built) -> Iterator[Client]:
    import app

    with Client(app.app) as test_client:
        seed_support_team(test_client, {
            "alice": {"phone": "+15550100001", "email": "alice@example.com"},
            "bob": {"email": "bob@example.com"}, "erin": {"email": "erin@example.com"}})
        yield test_client


def _arns(agent: str) -> list[str]:
    record = bootstrap.oncall().agent_record(agent)
    assert record is not None
    return list(record["subscriptions"])


def test_the_oncall_answer_shows_each_subscription_state_and_the_unreachable(
        client: Client) -> None:
    # bob has not clicked SNS's confirmation mail; erin's subscription was deleted in SNS.
    [bobs] = _arns("bob")
    sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].subscriptions[bobs].attributes[
        "PendingConfirmation"] = True
    [erins] = _arns("erin")
    bootstrap.sns().unsubscribe(SubscriptionArn=erins)
    # A subscription added by hand in SNS, filtered to alice, counts as hers.
    bootstrap.sns().subscribe(TopicArn=bootstrap.alerts_topic_arn(), Protocol="email",
                              Endpoint="alice.home@example.com",
                              Attributes={"FilterPolicy": json.dumps({"agent": ["alice"]})})

    answer = client.http.get("/api/teams/support/oncall", headers=ADMIN)
    assert answer.status_code == 200, answer.body
    shown = json.loads(answer.body)
    assert {shown["primary"], shown["then"]["primary"]} == {"alice", "bob"}
    assert sorted((c["protocol"], c["state"], c["endpoint"])
                  for c in shown["channels"]["alice"]) == [
        ("email", "confirmed", "a…@example.com"), ("email", "confirmed", "a…@example.com"),
        ("sms", "confirmed", "…001")]
    assert shown["channels"]["bob"] == [{"protocol": "email", "state": "pending",
                                         "endpoint": "b…@example.com"}]
    assert shown["channels"]["erin"] == [{"protocol": "unknown", "state": "missing"}]
    assert shown["unreachable"] == ["bob", "erin"]
    assert "+15550100001" not in answer.body.decode()  # phone numbers are personal


def test_agents_only_cannot_read_the_oncall_channels(client: Client) -> None:
    made = client.http.post("/api/agents", headers=ADMIN, body=json.dumps(
        {"id": "zed", "name": "Zed", "email": "zed@example.com"}))
    token = json.loads(made.body)["token"]
    refused = client.http.get("/api/teams/support/oncall",
                              headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403


def test_the_console_oncall_page_lists_the_channels_and_flags_the_unreachable(
        client: Client) -> None:
    [bobs] = _arns("bob")
    sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].subscriptions[bobs].attributes[
        "PendingConfirmation"] = True
    signed = client.http.post("/console/sign-in", headers={
        "Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin"},
        body=f"token={SECRETS['admin_token']}")
    assert signed.status_code == 303
    cookie = signed.headers["Set-Cookie"].split(";", 1)[0]
    page = client.http.get("/console/oncall", headers={"Cookie": cookie})
    assert page.status_code == 200
    text = page.body.decode()
    assert "No confirmed alert channel for bob:" in text
    assert "<tr><td>bob</td><td>email b…@example.com</td><td>pending</td></tr>" in text
    assert "<tr><td>alice</td><td>sms …001</td><td>confirmed</td></tr>" in text
    assert "+15550100001" not in text


def test_the_sweep_tells_the_admins_once_of_an_unreachable_agent_on_call(
        client: Client) -> None:
    [bobs] = _arns("bob")
    sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].subscriptions[bobs].attributes[
        "PendingConfirmation"] = True
    published: list[dict[str, Any]] = []
    bootstrap.sns().meta.events.register(
        "before-parameter-build.sns.Publish", lambda params, **_: published.append(params))
    event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event",
                                            detail={}, resources=[])
    first = client.lambda_.invoke("sweeper", event).payload
    # bob is primary or secondary in every slot of a two-person rota: named now (and again
    # for the next slot when it starts within two hours), never alice or erin.
    assert first["unreachable_warned"] == len(published) >= 1
    for sent in published:
        assert sent["MessageAttributes"]["agent"]["StringValue"] == "admins"
        assert "bob is on call for support" in json.loads(sent["Message"])["sms"]
    second = client.lambda_.invoke("sweeper", event).payload
    assert second["unreachable_warned"] == 0
    assert second["failed"] == 0
