"""Peak memory (RSS) of a Lambda's process: a fresh Python that imports app.py, takes signed
webhooks through the webhooks' entry point, triages what they queued through the inbound
worker, in batches as the SQS event source hands them over, and rings the alarm clock's
buckets through the alert worker when their warnings fall due (a few seconds later, on the
emulator's Step Functions). One process does what three functions do apart: an upper bound
for each. What sizes `lambda_memory_size` (.chalice/config.json): the size should leave at
least twice the peak.

The emulator runs in this (the parent) process, so the measured child holds only what a
Lambda's process holds: the interpreter, app.py, boto3 and our code. Lambda's own runtime
client adds a few MB more."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WEBHOOKS = int(os.environ.get("BENCH_MEMORY_WEBHOOKS", "40"))
SIZES_MB = (256, 512)
RING_WAIT_S = 60  # for the first ring; the last is the one 3 s go by without another
# The replay's policies with every window at 4 s: warnings fall due 2 s after triage.
POLICIES = (ROOT / "bench" / "day_policies.yaml").read_text().replace("120s", "4s")


def _peak_mb() -> float:
    """This process's peak RSS. VmHWM, not getrusage's ru_maxrss: that one keeps the parent's
    peak across fork and exec (here, the emulator's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def child(events_file: str) -> None:
    """The Lambda's process: prints its peak RSS after each stage, one `name: MB` a line."""
    print(f"peak RSS, interpreter alone (MB): {_peak_mb():.0f}")
    import app  # the Lambda's init
    from infrastructure.local.pollers import LambdaContext, to_lambda_event

    print(f"peak RSS after import app (MB): {_peak_mb():.0f}")
    events = json.loads(Path(events_file).read_text())
    for event in events:
        answer = app.webhook_url(event, LambdaContext("webhook_url"))
        assert answer["statusCode"] == 200, answer
    print(f"peak RSS after {len(events)} webhooks (MB): {_peak_mb():.0f}")
    from chalicelib import bootstrap
    from chalicelib.config import settings

    sqs = bootstrap.sqs()
    url = sqs.get_queue_url(QueueName=settings().inbound_queue)["QueueUrl"]
    handled = 0
    while True:
        messages = _receive(sqs, url, wait_seconds=0)
        if not messages:
            break
        result = app.inbound_worker(to_lambda_event(messages, "arn:aws:sqs:local:1:inbound",
                                                    "us-east-1"),
                                    LambdaContext("inbound_worker", timeout_seconds=60))
        assert not (result or {}).get("batchItemFailures"), result
        sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
        handled += len(messages)
    assert handled == len(events), (handled, len(events))
    print(f"peak RSS after triaging {handled} messages (MB): {_peak_mb():.0f}")
    alerts = sqs.get_queue_url(QueueName=settings().alerts_queue)["QueueUrl"]
    rings, last = 0, time.monotonic()
    deadline = last + RING_WAIT_S
    while time.monotonic() < deadline and not (rings and time.monotonic() - last > 3):
        messages = _receive(sqs, alerts, wait_seconds=1)
        if not messages:
            continue
        result = app.alert_worker(to_lambda_event(messages, "arn:aws:sqs:local:1:alerts",
                                                  "us-east-1"),
                                  LambdaContext("alert_worker", timeout_seconds=60))
        assert not (result or {}).get("batchItemFailures"), result
        sqs.delete_message_batch(QueueUrl=alerts, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
        rings, last = rings + len(messages), time.monotonic()
    assert rings, "no bucket rang"
    print(f"peak RSS after ringing {rings} buckets (MB): {_peak_mb():.0f}")


def _receive(sqs: Any, url: str, wait_seconds: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds,
        AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", [])
    return messages


def _events(secret: str) -> list[dict[str, Any]]:
    from chalicelib.webhooks.signatures import meta_signature
    from infrastructure.local.demo import messenger_message
    from infrastructure.local.function_url import url_event

    events = []
    for n in range(WEBHOOKS):
        body = json.dumps(messenger_message(f"{uuid.uuid4().hex[:8]}{n:04d}",
                                            "my order never arrived, I want a refund")).encode()
        events.append(url_event("POST", "/webhooks/meta", [
            ("Content-Type", "application/json"),
            ("X-Hub-Signature-256", meta_signature(secret, body))], body, "192.0.2.1", "bench"))
    return events


def _seed_rota(env: dict[str, str]) -> None:
    """Agents on call, so that a ring alerts someone (SNS included), as on a real stack."""
    from chalicelib import bootstrap
    from chalicelib.services import oncall_admin
    from infrastructure.local.runtime import DEMO_AGENTS

    os.environ.update(env)
    bootstrap.reset()
    deps = bootstrap.admin_deps()
    for agent in DEMO_AGENTS:
        oncall_admin.create_agent(agent, deps)
    oncall_admin.put_rota(bootstrap.policies().default_team, {
        "members": ["alice", "bob"], "shift": 86400, "handoff": "09:00", "timezone": "UTC",
        "starts_on": bootstrap.now().date().isoformat(), "lead": "dana"}, deps)
    bootstrap.reset()


def measure() -> dict[str, Any]:
    from infrastructure.local.aws import EmbeddedAws, build_resources
    from infrastructure.local.runtime import _chalice_stage_environment, free_port
    from infrastructure.template import load_resources

    port = free_port()
    aws = EmbeddedAws("127.0.0.1", port, "us-east-1")
    credentials = dict(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                       AWS_DEFAULT_REGION="us-east-1")
    os.environ.update(MOTO_PORT=str(port), **credentials)
    aws.start()
    try:
        build_resources(aws, load_resources(), "dev")
        env = {**os.environ, **_chalice_stage_environment("dev"), **credentials,
               "AWS_ENDPOINT_URL": aws.endpoint, "POWERTOOLS_LOG_LEVEL": "WARNING",
               "POWERTOOLS_TRACE_DISABLED": "true", "PYTHONPATH": str(ROOT)}
        secrets = {"meta_app_secret": "bench-m", "x_consumer_secret": "bench-x",
                   "ack_signing_key": "bench-k"}
        aws.client("secretsmanager").put_secret_value(
            SecretId=env["REPLYWINDOW_SECRETS"], SecretString=json.dumps(secrets))
        with tempfile.NamedTemporaryFile("w", suffix=".json") as events, \
                tempfile.NamedTemporaryFile("w", suffix=".yaml") as policies:
            policies.write(POLICIES)
            policies.flush()
            env["REPLYWINDOW_POLICIES"] = policies.name
            _seed_rota(env)
            json.dump(_events(secrets["meta_app_secret"]), events)
            events.flush()
            run = subprocess.run([sys.executable, "-m", "bench.memory", "--child", events.name],
                                 cwd=ROOT, env=env, capture_output=True, text=True,
                                 check=False)
    finally:
        aws.stop()
    if run.returncode:
        raise SystemExit(f"the measured process failed:\n{run.stderr[-3000:]}")
    figures: dict[str, Any] = {}
    for line in run.stdout.splitlines():
        if line.startswith("peak RSS"):
            name, value = line.rsplit(": ", 1)
            figures[name] = float(value)
    peak = max(figures.values())
    for mb in SIZES_MB:
        figures[f"headroom at {mb} MB (size / peak)"] = round(mb / peak, 2)
    return figures


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2])
    else:
        for name, value in measure().items():
            print(f"{name}: {value}")
