"""Retention: every item a message leaves expires through the table's TTL after the deployer's
RetentionDays (a template parameter, in every function's environment, read locally too)."""

from __future__ import annotations

import json
import time

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.webhooks.signatures import meta_signature
from infrastructure.local.aws import Built, function_environment
from infrastructure.template import load_resources
from tests.integration.conftest import SECRETS, run_inbound_worker
from tests.unit.webhooks.conftest import fixture


def test_the_local_runtime_reads_retention_from_the_template() -> None:
    template = load_resources()
    assert template["Parameters"]["RetentionDays"]["Default"] == 400
    assert function_environment(template, "dev") == {
        "REPLYWINDOW_RETENTION_DAYS": "400", "REPLYWINDOW_RETRY_BASE_SECONDS": "2",
        "REPLYWINDOW_RETRY_CAP_SECONDS": "300", "REPLYWINDOW_SWEEP_MINUTES": "5"}


@pytest.mark.parametrize("days", [30, 400])
def test_a_messages_items_expire_after_the_configured_days(
        aws: Built, monkeypatch: pytest.MonkeyPatch, days: int) -> None:
    import app

    monkeypatch.setenv("REPLYWINDOW_RETENTION_DAYS", str(days))
    bootstrap.reset()
    body = json.dumps(fixture("whatsapp/pywa_text.json")).encode()
    with Client(app.app) as client:
        assert client.http.post("/webhooks/meta", body=body, headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": meta_signature(SECRETS["meta_app_secret"], body)}
        ).status_code == 200
    run_inbound_worker()
    items = bootstrap.dynamodb().scan(TableName=bootstrap.settings().table)["Items"]
    customer_data = [i for i in items if not i["PK"]["S"].startswith("CHANNELS")]
    kinds = {i["SK"]["S"].split("#")[0] for i in customer_data}
    # No claim: the webhook writes none (the worker claims only a Meta comment's id and an
    # agent reply's, which the set below would check too).
    assert {"META", "MSG", "PROFILE", "TURN"} <= kinds
    expected = time.time() + days * 86400
    for item in customer_data:
        if item["SK"]["S"].split("#")[0] not in {"META", "MSGID", "MSG", "PROFILE", "TURN"}:
            continue  # timers and their bookkeeping expire with the turn, not the retention
        assert abs(int(item["expires_at"]["N"]) - expected) < 60, item["SK"]["S"]
