"""Per-webhook cost of our handler (the webhooks' Lambda entry point as its function URL calls
it: routing, verify, parse, store, enqueue) against the floor on the same emulator in the same
run: HMAC check + one SQS send (the webhook writes nothing to DynamoDB: the worker drops
duplicates, services/ingest.py).

Both run in this process against one embedded moto server, interleaved, over the published
WhatsApp, Messenger and X fixtures (ids made unique per delivery)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
N = int(os.environ.get("BENCH_INGEST_N", "150"))
WARM_UP = 6


def _deliveries() -> list[tuple[str, Any]]:
    text = json.loads((FIXTURES / "whatsapp" / "pywa_text.json").read_text())
    dm = json.loads((FIXTURES / "messenger" / "restfb_message_quick_reply.json").read_text())
    x_dm = json.loads((FIXTURES / "twitter" / "aaa_docs_direct_message_events.json")
                      .read_text())
    out: list[tuple[str, Any]] = []
    for n in range(N):
        unique = uuid.uuid4().hex
        kind = n % 3
        if kind == 0:
            body = copy.deepcopy(text)
            message = body["entry"][0]["changes"][0]["value"]["messages"][0]
            message["id"], message["from"] = f"wamid.{unique}", f"4470{n:07d}"
            out.append(("meta", body))
        elif kind == 1:
            body = copy.deepcopy(dm)
            item = body["entry"][0]["messaging"][0]
            item["message"]["mid"], item["sender"]["id"] = f"m_{unique}", f"9{n:08d}"
            out.append(("meta", body))
        else:
            body = copy.deepcopy(x_dm)
            event = body["direct_message_events"][0]
            event["id"], event["message_create"]["sender_id"] = unique, f"8{n:08d}"
            out.append(("x", body))
    return out


def measure() -> dict[str, Any]:
    from infrastructure.local.aws import EmbeddedAws, build_resources
    from infrastructure.local.runtime import _chalice_stage_environment, free_port
    from infrastructure.template import load_resources

    port = free_port()
    os.environ.update(MOTO_PORT=str(port), AWS_ACCESS_KEY_ID="bench",
                      AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    aws = EmbeddedAws("127.0.0.1", port, "us-east-1")
    aws.start()
    try:
        build_resources(aws, load_resources(), "dev")
        os.environ.update(_chalice_stage_environment("dev"))
        os.environ.update(AWS_ENDPOINT_URL=aws.endpoint, AWS_ACCESS_KEY_ID="bench",
                          AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
        secrets = {"x_consumer_secret": "bench-x", "meta_app_secret": "bench-m"}
        aws.client("secretsmanager").put_secret_value(
            SecretId=os.environ["REPLYWINDOW_SECRETS"], SecretString=json.dumps(secrets))
        return _run(aws, secrets)
    finally:
        aws.stop()


def _run(aws: Any, secrets: dict[str, str]) -> dict[str, Any]:
    from chalicelib import bootstrap
    from chalicelib.webhooks.signatures import meta_signature, x_signature
    from infrastructure.local.function_url import url_event

    bootstrap.reset()
    import app  # after the environment: the webhooks' Lambda, as deployed

    sqs = bootstrap.sqs()
    floor_queue = sqs.create_queue(QueueName="bench-floor.fifo", Attributes={
        "FifoQueue": "true"})["QueueUrl"]
    ours_s = floor_s = 0.0
    # A warm container, as a Lambda serving traffic is: clients, secrets and the table's
    # endpoint resolved by a few untimed deliveries first (cold start is bench/coldstart.py).
    deliveries = _deliveries()
    for n, (platform, payload) in enumerate(deliveries):
        if n == WARM_UP:
            ours_s = floor_s = 0.0
        body = json.dumps(payload).encode()
        # Ours: the webhooks' Lambda handler as its function URL calls it (translation to
        # Chalice's event, routing, signature, parse, enqueue, metrics).
        header = ("x-twitter-webhooks-signature", x_signature(secrets["x_consumer_secret"], body)
                  ) if platform == "x" else (
            "X-Hub-Signature-256", meta_signature(secrets["meta_app_secret"], body))
        event = url_event("POST", f"/webhooks/{platform}", [
            ("Content-Type", "application/json"), header], body, "192.0.2.1", "bench")
        start = time.perf_counter()
        answer = app.webhook_url(event, None)
        ours_s += time.perf_counter() - start
        assert answer["statusCode"] == 200, answer
        # The floor: verify, one send.
        signature = meta_signature(secrets["meta_app_secret"], body)
        start = time.perf_counter()
        expected = "sha256=" + hmac.new(secrets["meta_app_secret"].encode(), body,
                                        hashlib.sha256).hexdigest()
        assert hmac.compare_digest(expected, signature)
        key = uuid.uuid4().hex
        sqs.send_message(QueueUrl=floor_queue, MessageBody=body.decode(), MessageGroupId=key,
                         MessageDeduplicationId=key)
        floor_s += time.perf_counter() - start
    timed = len(deliveries) - WARM_UP
    return {"deliveries": timed, "ours ms/webhook": round(ours_s / timed * 1000, 2),
            "floor ms/webhook": round(floor_s / timed * 1000, 2),
            "ratio ours/floor": round(ours_s / floor_s, 2)}


if __name__ == "__main__":
    for name, value in measure().items():
        print(f"{name}: {value}")
