"""Every Lambda entry point prints the metrics its invocation recorded (EMF, which powertools
prints to stdout and CloudWatch reads from the log), before it returns: run through its real
path (the queue's handler as the SQS trigger calls it) on moto. The HTTP front's metric (a
reply's response time) is tests/integration/test_agent_api.py's
test_a_reply_emits_the_response_time_as_an_emf_metric."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import bootstrap, handlers
from chalicelib.webhooks.signatures import meta_signature
from infrastructure.local.aws import Built
from infrastructure.local.pollers import QueuePoller
from tests.integration.conftest import SECRETS

ADMIN = {"Authorization": f"Bearer {SECRETS['admin_token']}", "Content-Type": "application/json"}


@pytest.fixture
def client(aws: Built) -> Iterator[Client]:
    import app

    with Client(app.app) as test_client:
        yield test_client


def _drain(queue: str, handler: Callable[[dict[str, Any], Any], dict[str, Any]]) -> int:
    """What Lambda's SQS trigger does: hand the queue's messages to `handler` until none is
    visible. Returns how many were handed over."""
    sqs = bootstrap.sqs()
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    poller = QueuePoller(name=queue, sqs=sqs, queue_url=url, queue_arn=arn,
                         region=sqs.meta.region_name, handler=handler, batch_size=10,
                         wait_seconds=0)
    handed = 0
    while batch := poller.poll_once():
        handed += batch
    return handed


def _emf(printed: str) -> dict[str, dict[str, Any]]:
    """The EMF documents printed, by metric name."""
    found: dict[str, dict[str, Any]] = {}
    for line in printed.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == "ReplyWindow"
            for metric in directive["Metrics"]:
                found[metric["Name"]] = document
    return found


def _messenger(mid: str, *, echo: bool = False) -> bytes:
    sender, recipient = ("PAGE1", "U1") if echo else ("U1", "PAGE1")
    message: dict[str, Any] = {"mid": mid, "text": "on it" if echo else "help"}
    if echo:
        message["is_echo"] = True
    return json.dumps({"object": "page", "entry": [{"id": "PAGE1", "time": 1, "messaging": [{
        "sender": {"id": sender}, "recipient": {"id": recipient},
        "timestamp": int(datetime.now(UTC).timestamp() * 1000),
        "message": message}]}]}).encode()


def _post(client: Client, body: bytes) -> None:
    response = client.http.post("/webhooks/meta", body=body, headers={
        "X-Hub-Signature-256": meta_signature(SECRETS["meta_app_secret"], body),
        "Content-Type": "application/json"})
    assert response.status_code == 200, response.body


def test_the_inbound_worker_prints_the_response_time_it_records(
        client: Client, capsys: pytest.CaptureFixture[str]) -> None:
    _post(client, _messenger("m_question"))
    assert _drain(bootstrap.settings().inbound_queue, handlers.inbound_batch) == 1
    _post(client, _messenger("m_answer", echo=True))  # answered natively, in Messenger
    capsys.readouterr()  # what the webhooks printed
    assert _drain(bootstrap.settings().inbound_queue, handlers.inbound_batch) == 1
    emf = _emf(capsys.readouterr().out)
    assert "FirstResponseTime" in emf, "the worker returned with its metric unprinted"
    assert emf["FirstResponseTime"]["platform"] == "messenger"


def test_the_alarm_ring_prints_the_alerts_it_sent(
        client: Client, capsys: pytest.CaptureFixture[str]) -> None:
    assert client.http.post("/api/agents", headers=ADMIN, body=json.dumps(
        {"id": "alice", "name": "Alice", "phone": "+15550100001"})).status_code == 201
    rota = {"members": ["alice"], "shift": 86400, "handoff": "00:00", "timezone": "UTC",
            "starts_on": "2026-01-01"}
    assert client.http.put("/api/teams/support/rota", headers=ADMIN,
                           body=json.dumps(rota)).status_code == 200
    _post(client, _messenger("m_unanswered"))
    assert _drain(bootstrap.settings().inbound_queue, handlers.inbound_batch) == 1
    conv = bootstrap.conversations().get("messenger.dm-PAGE1-U1")
    assert conv is not None and conv.turn_opened_at is not None and conv.team == "support"
    plan = bootstrap.policies().for_team("support").plan(
        conv.turn_opened_at, conv.priority or "normal", first=True)
    bootstrap.due_checks().add(1, plan.checks(conv.id, 1)[0])  # its warning, due now
    sqs = bootstrap.sqs()
    sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName=bootstrap.settings().alerts_queue)[
        "QueueUrl"], MessageBody=json.dumps({"bucket": 1}))  # what the alarm clock sends
    capsys.readouterr()
    # At least ours: the emulated alarm clock may ring the turn's own bucket meanwhile.
    assert _drain(bootstrap.settings().alerts_queue, handlers.ring_batch) >= 1
    emf = _emf(capsys.readouterr().out)
    assert "Warnings" in emf, "the ring returned with its metric unprinted"
    assert emf["Warnings"]["platform"] == "messenger"
