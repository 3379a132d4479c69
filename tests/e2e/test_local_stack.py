"""The local stack `make run` starts: health, the real state machine executing, pollers."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import requests

from tests.e2e.conftest import SECRETS, LocalStack, wait_for


def test_health_names_the_resources_in_use_to_the_admin_only(stack: LocalStack) -> None:
    assert requests.get(f"{stack.api}/health", timeout=5).json() == {"status": "ok"}
    body = requests.get(f"{stack.api}/health", timeout=5, headers={
        "Authorization": f"Bearer {SECRETS['admin_token']}"}).json()
    assert body["status"] == "ok"
    assert body["table"] == "replywindow-dev"
    assert body["queues"] == {"inbound": "replywindow-dev-inbound.fifo",
                              "alerts": "replywindow-dev-alerts"}
    names = stack.client("dynamodb").list_tables()["TableNames"]
    assert body["table"] in names
    machines = [m["name"] for m in stack.client("stepfunctions").list_state_machines()
                ["stateMachines"]]
    assert body["state_machine"] in machines


def test_alarm_clock_definition_executes_and_rings_the_bucket(stack: LocalStack) -> None:
    """Start the deployed definition with a tiny input: it waits, then its SQS task wakes the
    alert_worker poller, which marks the bucket as rung in DynamoDB."""
    sfn, ddb = stack.client("stepfunctions"), stack.client("dynamodb")
    machine = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]
                   if m["name"] == "replywindow-dev-alarm-clock")
    bucket = int(time.time()) + 2
    at = datetime.fromtimestamp(bucket, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    started = time.monotonic()
    execution = sfn.start_execution(stateMachineArn=machine, name=f"test-{bucket}",
                                    input=json.dumps({"bucket": bucket, "at": at}))
    wait_for(lambda: sfn.describe_execution(executionArn=execution["executionArn"])["status"]
          == "SUCCEEDED")
    assert time.monotonic() - started >= 1.0  # the Wait state was honoured, not skipped
    rang = wait_for(lambda: ddb.get_item(TableName="replywindow-dev",
                                      Key={"PK": {"S": f"DUE#{bucket}"}, "SK": {"S": "~RANG"}})
                 .get("Item"))
    assert rang["PK"]["S"] == f"DUE#{bucket}"
    history = [e["type"] for e in sfn.get_execution_history(
        executionArn=execution["executionArn"])["events"]]
    assert "WaitStateExited" in history
    assert "TaskSucceeded" in history


def test_make_run_prints_the_console_and_how_to_sign_in_without_the_admins_token(
        stack: LocalStack) -> None:
    printed = (stack.state_dir / "stack.log").read_text()
    assert f"{stack.api}/console/sign-in" in printed
    assert requests.get(f"{stack.api}/console/sign-in", timeout=5).status_code == 200
    assert SECRETS["admin_token"] not in printed  # a token set by the user is never printed
