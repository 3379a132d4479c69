"""The whole local stack (`python -m infrastructure.local`, what `make run` starts) as a
subprocess on free ports, driven over HTTP like a platform or an agent would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from chalicelib.webhooks.signatures import meta_signature, x_signature
from infrastructure.local.runtime import free_port
from tests.platform_fake import (
    PAGE_TOKEN,
    WHATSAPP_TOKEN,
    X_BEARER,
    X_KEYS,
    FakePlatforms,
    fake_platforms,
)

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {"x_consumer_key": X_KEYS["client_key"], "x_consumer_secret": X_KEYS["client_secret"],
           "x_access_token": X_KEYS["token"], "x_access_token_secret": X_KEYS["token_secret"],
           "meta_app_secret": "e2e-meta-secret", "meta_verify_token": "e2e-verify",
           "meta_page_token": PAGE_TOKEN, "whatsapp_token": WHATSAPP_TOKEN,
           "admin_token": "e2e-admin", "x_bearer_token": X_BEARER}



@dataclass
class LocalStack:
    api: str
    aws: str
    state_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[str]
    platforms: FakePlatforms
    webhooks: str  # the webhooks' function URL (its own port, as in AWS)

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.aws,  # type: ignore[call-overload]
                            region_name="us-east-1")

    @property
    def outbox(self) -> Path:
        return self.state_dir / "outbox.jsonl"

    def deliveries(self) -> list[dict[str, Any]]:
        if not self.outbox.exists():
            return []
        return [json.loads(line) for line in self.outbox.read_text().splitlines() if line]

    def post_x(self, payload: dict[str, Any]) -> requests.Response:
        body = json.dumps(payload).encode()
        return requests.post(f"{self.webhooks}/webhooks/x", data=body, timeout=10, headers={
            "Content-Type": "application/json",
            "x-twitter-webhooks-signature": x_signature(SECRETS["x_consumer_secret"], body)})

    def post_meta(self, payload: dict[str, Any]) -> requests.Response:
        body = json.dumps(payload).encode()
        return requests.post(f"{self.webhooks}/webhooks/meta", data=body, timeout=10, headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": meta_signature(SECRETS["meta_app_secret"], body)})

    def admin(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, f"{self.api}{path}", timeout=10, headers={
            "Authorization": f"Bearer {SECRETS['admin_token']}"}, **kwargs)

    def item(self, pk: str, sk: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.client("dynamodb").get_item(
            TableName="replywindow-dev", Key={"PK": {"S": pk}, "SK": {"S": sk}},
            ConsistentRead=True).get("Item")
        return found


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition"
             ) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"{what} not met within {timeout}s")


@pytest.fixture(scope="session")
def platforms() -> Iterator[FakePlatforms]:
    with fake_platforms() as fake:
        yield fake


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory,
          platforms: FakePlatforms) -> Iterator[LocalStack]:
    with running_stack(tmp_path_factory.mktemp("replywindow"), platforms,
                       ROOT / "tests" / "fixtures" / "policies" / "seconds.yaml") as local:
        yield local


@contextmanager
def running_stack(state_dir: Path, platforms: FakePlatforms, policies: Path,
                  extra_env: dict[str, str] | None = None) -> Iterator[LocalStack]:
    """A local stack on free ports with this policies file (a test module may start its own,
    for policies the session's stack does not have)."""
    api_port, webhook_port, aws_port = free_port(), free_port(), free_port()
    env = {**os.environ, "REPLYWINDOW_PORT": str(api_port), "REPLYWINDOW_AWS_PORT":
           str(aws_port), "REPLYWINDOW_WEBHOOK_PORT": str(webhook_port),
           "REPLYWINDOW_STATE_DIR": str(state_dir), "PYTHONUNBUFFERED": "1",
           "REPLYWINDOW_POLICIES": str(policies),
           # Every test here alerts the same demo agents: no flood digests between tests
           # (the digest itself is covered by tests/unit/services/test_alerting.py).
           "REPLYWINDOW_DIGEST_AFTER": "10000",
           "REPLYWINDOW_LOCAL_SCHEDULE_SECONDS": "1",  # the channel watch, every second
           "REPLYWINDOW_X_API_URL": platforms.url,
           "REPLYWINDOW_GRAPH_API_URL": platforms.url,
           **{f"REPLYWINDOW_{k.upper()}": v for k, v in SECRETS.items()}, **(extra_env or {})}
    log = (state_dir / "stack.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "infrastructure.local"], cwd=ROOT, env=env, stdout=log,
        stderr=subprocess.STDOUT, text=True)
    api = f"http://127.0.0.1:{api_port}"
    # Generous: the first start of a fresh clone packages the template (`chalice package`),
    # which takes tens of seconds on a busy machine.
    deadline = time.monotonic() + 240
    while True:
        if process.poll() is not None:
            raise RuntimeError((state_dir / "stack.log").read_text())
        try:
            started = "ReplyWindow is running" in (state_dir / "stack.log").read_text()
            if started and requests.get(f"{api}/health", timeout=2).ok:
                break
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("local stack did not start:\n"
                               + (state_dir / "stack.log").read_text())
        time.sleep(0.2)
    try:
        yield LocalStack(api, f"http://127.0.0.1:{aws_port}", state_dir, env, process,
                         platforms, webhooks=f"http://127.0.0.1:{webhook_port}")
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a slow shutdown is not a test failure
            process.kill()
            process.wait(timeout=10)
        log.close()
