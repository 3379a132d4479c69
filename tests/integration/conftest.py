"""Integration fixtures: an embedded moto server with every resource of resources.yaml built."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from infrastructure.local.aws import Built, EmbeddedAws, build_resources
from infrastructure.local.runtime import free_port
from infrastructure.template import load_resources


@pytest.fixture(scope="session")
def embedded_aws() -> Iterator[tuple[EmbeddedAws, Built]]:
    port = free_port()
    os.environ["MOTO_PORT"] = str(port)
    aws = EmbeddedAws("127.0.0.1", port, "us-east-1")
    aws.start()
    built = build_resources(aws, load_resources(), "dev")
    yield aws, built
    aws.stop()


SECRETS = {
    "x_consumer_key": "ck", "x_consumer_secret": "x-consumer-secret",
    "x_access_token": "at", "x_access_token_secret": "ats",
    "meta_app_secret": "meta-app-secret", "meta_verify_token": "verify-me",
    "meta_page_token": "page-token", "whatsapp_token": "wa-token",
    "admin_token": "admin-token", "ack_signing_key": "ack-key",
}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Built]:
    """moto in-process, every resource of resources.yaml built from the template, the app's
    environment taken from .chalice/config.json (dev), secrets seeded."""
    import json

    from aws_lambda_powertools.utilities import parameters
    from moto import mock_aws
    from moto.core.config import default_user_config

    from chalicelib import bootstrap
    from infrastructure.local.aws import InProcessAws
    from infrastructure.local.runtime import _chalice_stage_environment

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name, value in _chalice_stage_environment("dev").items():
        monkeypatch.setenv(name, value)
    with mock_aws(config={**default_user_config,
                          "stepfunctions": {"execute_state_machine": True}}):
        clients = InProcessAws()
        built = build_resources(clients, load_resources(), "dev")
        clients.client("secretsmanager").put_secret_value(
            SecretId=os.environ["REPLYWINDOW_SECRETS"], SecretString=json.dumps(SECRETS))
        parameters.clear_caches()  # type: ignore[no-untyped-call]
        bootstrap.reset()
        yield built
        parameters.clear_caches()  # type: ignore[no-untyped-call]
        bootstrap.reset()


def run_inbound_worker() -> int:
    """What Lambda's SQS trigger does: hand the inbound queue's messages, in batches, to the
    real handler until none is visible. Returns how many were handed over."""
    from chalicelib import bootstrap, handlers
    from infrastructure.local.pollers import QueuePoller

    sqs = bootstrap.sqs()
    url = sqs.get_queue_url(QueueName=bootstrap.settings().inbound_queue)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    worker = QueuePoller(name="inbound", sqs=sqs, queue_url=url, queue_arn=arn,
                         region=sqs.meta.region_name, handler=handlers.inbound_batch,
                         batch_size=10, wait_seconds=0)
    handed = 0
    while batch := worker.poll_once():
        handed += batch
    return handed


def store_secrets(secrets: dict[str, Any]) -> None:
    """The platform secret replaced by `secrets`, and every cached client and secret dropped."""
    from chalicelib import bootstrap

    bootstrap.reset()
    bootstrap._client("secretsmanager").put_secret_value(
        SecretId=bootstrap.settings().secrets_name, SecretString=json.dumps(secrets))
    bootstrap.reset()


def post_webhook(client: Any, platform: str, payload: dict[str, Any]) -> dict[str, Any]:
    """`payload` to /webhooks/<platform> ("x" or "meta"), signed with the secret the fixtures
    store, then the inbound worker run; returns the webhook's answer (it must be a 200)."""
    from chalicelib.webhooks.signatures import meta_signature, x_signature
    from tests.platform_fake import X_KEYS

    body = json.dumps(payload).encode()
    header, signature = {
        "x": ("x-twitter-webhooks-signature", x_signature(X_KEYS["client_secret"], body)),
        "meta": ("X-Hub-Signature-256", meta_signature(SECRETS["meta_app_secret"], body)),
    }[platform]
    response = client.http.post(f"/webhooks/{platform}", body=body, headers={
        header: signature, "Content-Type": "application/json"})
    assert response.status_code == 200, response.body
    run_inbound_worker()
    return dict(json.loads(response.body))


def seed_support_team(client: Any, agents: dict[str, dict[str, str]]) -> None:
    """Agents created by the admin, then support's rota: alice and bob on call, erin the lead."""
    admin = {"Authorization": f"Bearer {SECRETS['admin_token']}",
             "Content-Type": "application/json"}
    for agent, channels in agents.items():
        made = client.http.post("/api/agents", headers=admin, body=json.dumps(
            {"id": agent, "name": agent.title(), **channels}))
        assert made.status_code == 201, made.body
    rota = client.http.put("/api/teams/support/rota", headers=admin, body=json.dumps(
        {"members": ["alice", "bob"], "lead": "erin", "starts_on": "2026-01-01",
         "handoff": "09:00", "timezone": "UTC"}))
    assert rota.status_code == 200, rota.body
