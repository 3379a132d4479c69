"""Logs never carry message text, tokens or secrets: a full pass (webhook, triage, alert, ack
link, reply) is run with logging at DEBUG and everything printed is searched."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.services import alerting, inbound
from chalicelib.webhooks.signatures import meta_signature
from infrastructure.local.aws import Built
from tests.integration.conftest import SECRETS

SENSITIVE_TEXT = "my card 4242-4242-4242-4242 expires 12/29"


def test_a_full_pass_logs_no_text_and_no_secret(aws: Built, capsys, caplog) -> None:
    import app

    caplog.set_level(logging.DEBUG)
    with Client(app.app) as client:
        agent = json.loads(client.http.post("/api/agents", headers={
            "Authorization": f"Bearer {SECRETS['admin_token']}"}, body=json.dumps(
            {"id": "alice", "name": "Alice", "phone": "+15550100001"})).body)
        payload = json.dumps({"object": "page", "entry": [{"id": "P1", "time": 1,
                                                           "messaging": [{
            "sender": {"id": "U1"}, "recipient": {"id": "P1"},
            "timestamp": int(datetime.now(UTC).timestamp() * 1000),
            "message": {"mid": "m_secret", "text": SENSITIVE_TEXT}}]}]}).encode()
        assert client.http.post("/webhooks/meta", body=payload, headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": meta_signature(SECRETS["meta_app_secret"], payload),
        }).status_code == 200
        client.http.post("/webhooks/meta", body=b"{bad json", headers={
            "X-Hub-Signature-256": meta_signature(SECRETS["meta_app_secret"], b"{bad json")})
        sqs = bootstrap.sqs()
        url = sqs.get_queue_url(QueueName=bootstrap.settings().inbound_queue)["QueueUrl"]
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]:
            inbound.handle(json.loads(m["Body"]), bootstrap.inbound_deps())
        rota = {"members": ["alice"], "shift": 86400, "handoff": "00:00", "timezone": "UTC",
                "starts_on": "2026-01-01"}
        client.http.put("/api/teams/support/rota", body=json.dumps(rota), headers={
            "Authorization": f"Bearer {SECRETS['admin_token']}"})
        conv = bootstrap.conversations().get("messenger.dm-P1-U1")
        assert conv is not None and conv.turn_opened_at is not None
        plan = bootstrap.policies().for_team("support").plan(
            conv.turn_opened_at, conv.priority or "normal", first=True)
        for check in plan.checks(conv.id, 1):  # ring them all now, in one bucket
            bootstrap.due_checks().add(1, check)
        report = alerting.ring_bucket(1, bootstrap.alerting_deps())
        assert report.sent == 3  # warning, breach and escalation (email carries the text)
    printed = capsys.readouterr()
    everything = printed.out + printed.err + caplog.text
    assert "bucket rang" in everything or "turn planned" in everything  # logs were captured
    for secret in (SENSITIVE_TEXT, "4242", SECRETS["admin_token"], SECRETS["meta_app_secret"],
                   agent["token"], SECRETS["ack_signing_key"]):
        assert secret not in everything, f"a log line carries {secret[:6]}…"


@pytest.mark.parametrize("name", ["x_consumer_secret", "meta_app_secret", "admin_token"])
def test_secrets_do_not_print_even_by_accident(name: str) -> None:
    from chalicelib.adapters.secrets import parse_secrets

    values = parse_secrets({name: "s3cr3t"})
    assert "s3cr3t" not in repr(values) and "s3cr3t" not in str(values)
