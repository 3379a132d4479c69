"""Phone numbers never appear in logs, metrics or SNS message attributes: a WhatsApp
customer's id is their phone number, an agent's SMS number is one. A WhatsApp message is run
through the webhook, the worker and an SMS alert with logging at DEBUG; everything printed,
and every publish SNS received (moto's own record of it), is searched."""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from typing import Any

import pytest
from chalice.test import Client
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends

from chalicelib import bootstrap
from chalicelib.services import alerting, inbound
from chalicelib.webhooks.signatures import meta_signature
from infrastructure.local.aws import Built
from tests.integration.conftest import SECRETS

CUSTOMER_PHONE = "15557654321"  # a WhatsApp id: the customer's number, without its +
AGENT_PHONE = "+15550100001"
UNKNOWN_PHONE = "15550009999"
ADMIN = {"Authorization": f"Bearer {SECRETS['admin_token']}"}


def _whatsapp_message() -> bytes:
    return json.dumps({"object": "whatsapp_business_account", "entry": [{
        "id": "1234567890987654321", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550001111",
                         "phone_number_id": "1122334455667"},
            "contacts": [{"profile": {"name": "Test Name"}, "wa_id": CUSTOMER_PHONE}],
            "messages": [{"from": CUSTOMER_PHONE, "id": "wamid.phones",
                          "timestamp": str(int(datetime.now(UTC).timestamp())),
                          "text": {"body": "my order never came"}, "type": "text"}]}}]}]}
                      ).encode()


class _Records(logging.Handler):
    """Every record whole, `extra` fields included: Chalice's handler on the app's logger
    ("replywindow", which stops propagation) prints the message only, and caplog sees none."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def dump(self) -> str:
        return json.dumps([{k: v for k, v in vars(r).items() if k not in ("exc_info", "args")}
                           | {"message": r.getMessage()} for r in self.records], default=str)


def _published() -> list[tuple[str, str, str | None, dict[str, Any] | None, str | None]]:
    backend = sns_backends[DEFAULT_ACCOUNT_ID][os.environ["AWS_DEFAULT_REGION"]]
    return [sent for topic in backend.topics.values() for sent in topic.sent_notifications]


def test_a_whatsapp_pass_and_an_sms_alert_name_no_phone_number(
        aws: Built, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    import app

    caplog.set_level(logging.DEBUG)
    handler = _Records()
    for name in ("replywindow", ""):  # the app's loggers, and every other one
        logging.getLogger(name).addHandler(handler)
    try:
        _run_the_pass(app.app)
    finally:
        for name in ("replywindow", ""):
            logging.getLogger(name).removeHandler(handler)
    printed = capsys.readouterr()
    records = handler.dump()
    everything = printed.out + printed.err + caplog.text + records
    assert "turn planned" in records and "refused" in records  # logs were captured,
    assert '"conversation": "whatsapp.wa-' in records  # with their extra fields
    published = _published()
    assert len(published) == 3  # one publish per alert level, to the agent's SMS and email
    attributes = json.dumps([sent[3] for sent in published])
    assert '"conversation"' in attributes and '"agent"' in attributes
    for phone in (CUSTOMER_PHONE, AGENT_PHONE, UNKNOWN_PHONE):
        national = phone.lstrip("+")[1:]  # no substring of it either
        assert national not in everything, f"a log line names {phone[:4]}…"
        assert national not in attributes, f"an SNS message attribute names {phone[:4]}…"


def _run_the_pass(chalice_app: Any) -> None:
    with Client(chalice_app) as client:
        assert client.http.post("/api/agents", headers=ADMIN, body=json.dumps(
            {"id": "alice", "name": "Alice", "phone": AGENT_PHONE})).status_code in (200, 201)
        payload = _whatsapp_message()
        assert client.http.post("/webhooks/meta", body=payload, headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": meta_signature(SECRETS["meta_app_secret"], payload),
        }).status_code == 200
        sqs = bootstrap.sqs()
        url = sqs.get_queue_url(QueueName=bootstrap.settings().inbound_queue)["QueueUrl"]
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]:
            inbound.handle(json.loads(m["Body"]), bootstrap.inbound_deps())
        conv = bootstrap.conversations().get(f"whatsapp.wa-1122334455667-{CUSTOMER_PHONE}")
        assert conv is not None and conv.turn_opened_at is not None and conv.team
        rota = {"members": ["alice"], "shift": 86400, "handoff": "00:00", "timezone": "UTC",
                "starts_on": "2026-01-01"}
        assert client.http.put(f"/api/teams/{conv.team}/rota", body=json.dumps(rota),
                               headers=ADMIN).status_code == 200
        plan = bootstrap.policies().for_team(conv.team).plan(
            conv.turn_opened_at, conv.priority or "normal", first=True)
        for check in plan.checks(conv.id, 1):  # ring them all now, in one bucket
            bootstrap.due_checks().add(1, check)
        assert alerting.ring_bucket(1, bootstrap.alerting_deps()).sent == 3
        # Refusals are logged with their reason: here one naming a phone number.
        assert client.http.get(f"/api/customers/whatsapp/{UNKNOWN_PHONE}",
                               headers=ADMIN).status_code == 404

