"""A text SNS reports as failed, on the running local stack: an alert goes out, the failure
line SNS would write lands in SNS's log group, and the agent's email follows exactly once
through the template's subscription filter; /health counts it."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.e2e.conftest import LocalStack, wait_for
from tests.e2e.test_sla_engine import PAGE_ID, messenger
from tests.unit.services.test_sms_failures import failure_line

pytestmark = pytest.mark.e2e

GROUP = "sns/us-east-1/123456789012/DirectPublishToPhoneNumber/Failure"


def follow_ups(stack: LocalStack) -> list[dict[str, Any]]:
    return [d for d in stack.deliveries() if d["protocol"] == "email"
            and "alert text" in (d["subject"] or "") and "failed" in d["subject"]]


def test_a_failed_text_is_followed_by_the_agents_email_exactly_once(stack: LocalStack) -> None:
    psid = "7301"
    assert stack.post_meta(messenger(psid, "Where is my order? Nobody answers")).ok
    conversation = f"messenger.dm-{PAGE_ID}-{psid}"
    warning = wait_for(lambda: [d for d in stack.deliveries() if d["conversation"] == conversation
                                and d["level"] == "warning" and d["protocol"] == "sms"],
                       timeout=30, what="warning SMS")
    [text] = warning
    assert text["to"] == "+15550100001"  # alice, primary

    logs = stack.client("logs")
    stream = f"e2e-{uuid.uuid4().hex}"
    logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
    line: dict[str, Any] = {"timestamp": int(time.time() * 1000),
                            "message": failure_line(text["message_id"])}
    logs.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=[line])
    # SNS writes a line once; a second, identical line (a redelivery) must not email twice.
    logs.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=[
        {**line, "timestamp": line["timestamp"] + 1}])

    [email] = wait_for(lambda: follow_ups(stack), timeout=20, what="the follow-up email")
    assert email["to"] == "alice@example.com"
    assert conversation in email["text"] and "Unknown error" in email["text"]
    time.sleep(3)  # several polls of the log group later: still one
    assert len(follow_ups(stack)) == 1
    # Not texted again: the follow-up reaches no phone.
    assert not [d for d in stack.deliveries() if d["protocol"] == "sms" and "failed" in d["text"]]

    health = stack.admin("GET", "/health").json()
    assert health["sms_failed"] == {"this_month": 1}
    assert any(r["check"] == "sms failed this month" and r["bad"]
               for r in health["sms_checks"])
