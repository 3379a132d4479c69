"""A text SNS reports as failed: the agent's email follows (or the admins' when the agent has
none), once per failed MessageId, and it is counted."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain.oncall import Agent
from chalicelib.services import sms_failures
from chalicelib.services.sms_failures import FollowUpsFailed, SmsFailureDeps
from tests.fakes import FakeResender, FakeSentTexts

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def failure_line(message_id: str, status: str = "FAILURE") -> str:
    return json.dumps({
        "notification": {"messageId": message_id, "timestamp": "2026-12-02 09:00:00.559"},
        "delivery": {"mnc": 0, "destination": "+15550100001", "priceInUSD": 0.00645,
                     "smsType": "Transactional", "mcc": 0,
                     "providerResponse": "Unknown error attempting to reach +15550100001",
                     "dwellTimeMs": 1420, "dwellTimeMsUntilDeviceAck": 1692},
        "status": status})


def awslogs(*messages: str) -> dict[str, Any]:
    data = {"messageType": "DATA_MESSAGE", "owner": "123456789012",
            "logGroup": "sns/us-east-1/123456789012/DirectPublishToPhoneNumber/Failure",
            "logStream": "s", "subscriptionFilters": ["f"],
            "logEvents": [{"id": str(i), "timestamp": 0, "message": m}
                          for i, m in enumerate(messages)]}
    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(data).encode()))
                        .decode()}}


class Agents:
    def __init__(self, *agents: Agent) -> None:
        self.by_id = {a.id: a for a in agents}

    def agent(self, agent_id: str) -> Agent | None:
        return self.by_id.get(agent_id)


def deps(texts: FakeSentTexts, notifier: FakeResender) -> SmsFailureDeps:
    return SmsFailureDeps(
        texts=texts, notifier=notifier, public_url="https://care.example.com/api",
        agents=Agents(Agent("alice", "Alice", phone="+15550100001", email="a@example.com"),
                      Agent("carl", "Carl", phone="+15550100009")),
        now=lambda: NOW)


def test_the_failed_texts_are_read_from_a_subscription_event_without_phone_numbers() -> None:
    failures = sms_failures.parse(awslogs(failure_line("m1"), failure_line("m2", "SUCCESS"),
                                          "not json"))
    assert [f.message_id for f in failures] == ["m1"]
    assert "+15550100001" not in failures[0].reason and "Unknown error" in failures[0].reason


def test_the_agents_email_follows_a_failed_text_once_and_it_is_counted() -> None:
    texts, notifier = FakeSentTexts(), FakeResender()
    texts.published("m1", {"agent": "alice", "team": "support", "level": "breach",
                           "conversation": "x.dm-1"}, NOW)
    failures = sms_failures.parse(awslogs(failure_line("m1")))

    report = sms_failures.follow_up(failures, deps(texts, notifier))
    again = sms_failures.follow_up(failures, deps(texts, notifier))  # a redelivered batch

    assert [(m["agent"], m["team"], m["level"]) for m in notifier.resent] == [
        ("alice", "support", "breach")]
    assert "x.dm-1" in notifier.resent[0]["email"]
    assert "+1555" not in notifier.resent[0]["email"]
    assert (report.failed, report.to_agent, again.repeated, again.failed) == (1, 1, 1, 0)
    assert texts.failed_in_month(NOW) == 1


def test_an_agent_without_email_has_the_admins_told() -> None:
    texts, notifier = FakeSentTexts(), FakeResender()
    texts.published("m1", {"agent": "carl", "team": "support", "level": "warning"}, NOW)
    report = sms_failures.follow_up(sms_failures.parse(awslogs(failure_line("m1"))),
                                    deps(texts, notifier))
    assert [m["agent"] for m in notifier.resent] == ["admins"]
    assert "carl" in notifier.resent[0]["email"]
    assert report.to_admins == 1


def test_a_failed_text_unknown_here_reaches_the_admins_and_is_counted() -> None:
    texts, notifier = FakeSentTexts(), FakeResender()
    sms_failures.follow_up(sms_failures.parse(awslogs(failure_line("gone"))),
                           deps(texts, notifier))
    assert [m["agent"] for m in notifier.resent] == ["admins"]
    assert texts.failed_in_month(NOW) == 1


def test_a_follow_up_sns_refuses_is_retried_with_the_batch_and_then_sent_once() -> None:
    texts, notifier = FakeSentTexts(), FakeResender(fail=1)
    texts.published("m1", {"agent": "alice", "team": "support", "level": "breach"}, NOW)
    texts.published("m2", {"agent": "alice", "team": "support", "level": "warning"}, NOW)
    event = awslogs(failure_line("m1"), failure_line("m2"))

    with pytest.raises(FollowUpsFailed):
        sms_failures.follow_up(sms_failures.parse(event), deps(texts, notifier))
    assert [m["level"] for m in notifier.resent] == ["warning"]  # the other one went out
    assert texts.failed_in_month(NOW) == 1

    retried = sms_failures.follow_up(sms_failures.parse(event), deps(texts, notifier))
    assert [m["level"] for m in notifier.resent] == ["warning", "breach"]
    assert (retried.failed, retried.repeated) == (1, 1)
    assert texts.failed_in_month(NOW) == 2


def test_the_sms_subscriptions_filters_are_checked_once_per_batch() -> None:
    texts, notifier = FakeSentTexts(), FakeResender()
    sms_failures.follow_up(sms_failures.parse(awslogs(failure_line("a"), failure_line("b"))),
                           deps(texts, notifier))
    assert notifier.policy_checks == 1
