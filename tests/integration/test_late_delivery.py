"""A late delivery through the real webhook and worker (moto): its whole window had passed,
so the turn opens one window before its receipt (due on arrival, its escalation later), and
is marked in the conversation, the agent API and the turn record."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.webhooks.signatures import meta_signature
from tests.integration.conftest import SECRETS, run_inbound_worker
from tests.integration.test_sweeper import PAGE, client, conv  # noqa: F401

ADMIN = {"Authorization": f"Bearer {SECRETS['admin_token']}"}


def test_a_message_delivered_36_hours_late_is_honest_about_it(client: Client) -> None:  # noqa: F811
    received = datetime.now(UTC)
    sent = received - timedelta(hours=36)
    body = json.dumps({"object": "page", "entry": [{"id": PAGE, "time": 1, "messaging": [{
        "sender": {"id": "late1"}, "recipient": {"id": PAGE},
        "timestamp": int(sent.timestamp() * 1000),
        "message": {"mid": "m-late-1", "text": "my parcel never came"}}]}]}).encode()
    answer = client.http.post("/webhooks/meta", body=body, headers={
        "X-Hub-Signature-256": meta_signature(SECRETS["meta_app_secret"], body),
        "Content-Type": "application/json"})
    assert answer.status_code == 200
    run_inbound_worker()
    c = bootstrap.conversations().get(conv("late1"))
    assert c is not None and c.late_delivery and c.due_at and c.escalate_at
    assert abs((c.due_at - received).total_seconds()) < 30  # due on arrival
    assert c.escalate_at - c.due_at >= timedelta(minutes=10)  # not in the next bucket
    shown = json.loads(client.http.get(f"/api/conversations/{c.id}", headers=ADMIN).body)
    assert shown["late_delivery"] is True
    turns = bootstrap.conversations().turns(received.date() - timedelta(days=1),
                                            received.date())
    [turn] = [t for t in turns if t.get("conversation") == c.id or c.thread in str(t["PK"])]
    assert turn["late_delivery"] is True
