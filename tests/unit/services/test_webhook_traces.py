"""What a webhook delivery leaves in the channel log: a verified delivery proves the secret
works, a wrong signature starts a run of failures, a POST without one is junk counted apart."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from chalicelib.adapters.secrets import PlatformSecrets
from chalicelib.domain.errors import Unauthorized
from chalicelib.services.ingest import IngestDeps
from chalicelib.services.webhooks import WebhookDeps, receive_meta
from chalicelib.webhooks.signatures import meta_signature
from tests.fakes import FakeChannelLog, FakeQueue

NOW = datetime(2026, 12, 1, tzinfo=UTC)
SECRETS = PlatformSecrets(meta_app_secret="meta-app-secret")
ECHO = (Path(__file__).resolve().parents[2] / "fixtures" / "messenger" /
        "restfb_echo_text.json").read_bytes()


def deps(log: FakeChannelLog) -> WebhookDeps:
    ingest = IngestDeps(queue=FakeQueue(), now=lambda: NOW,
                        channels=log)
    return WebhookDeps(ingest=lambda: ingest, secrets=lambda: SECRETS, max_body_bytes=1 << 20,
                       now=lambda: NOW, channels=log)


def test_a_verified_delivery_ends_a_run_of_bad_signatures_and_shows_the_channel_alive() -> None:
    log = FakeChannelLog()
    receive_meta(ECHO, meta_signature(SECRETS.meta_app_secret, ECHO), deps(log))
    assert log.traces == [("seen", "messenger"), ("signature", "meta", True)]


def test_a_wrong_signature_is_a_failure_and_a_missing_one_is_junk() -> None:
    log = FakeChannelLog()
    with pytest.raises(Unauthorized):
        receive_meta(ECHO, meta_signature("rotated-secret", ECHO), deps(log))
    with pytest.raises(Unauthorized):
        receive_meta(ECHO, None, deps(log))
    with pytest.raises(Unauthorized):
        receive_meta(ECHO, "hello", deps(log))
    assert log.traces == [("signature", "meta", False), ("unsigned", "meta"),
                          ("unsigned", "meta")]
