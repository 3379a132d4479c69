"""The console inbox's live refresh: what one poll costs when nothing changed (304 after the
ETag matches) against a full render of the inbox page, on one embedded moto server.

Both still read the inbox from DynamoDB (the ETag is computed over the rows); the 304 saves the
render and the transfer. Printed: milliseconds per request, bytes sent, the inbox read alone
(the part a 304 cannot skip), and the ratio."""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any

N = int(os.environ.get("BENCH_CONSOLE_N", "60"))
CONVERSATIONS = 25  # one inbox page
WARM_UP = 5
ADMIN = "bench-admin"
PAGE_ID = "1000000001"


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
        os.environ.update(AWS_ENDPOINT_URL=aws.endpoint)
        secrets = {"meta_app_secret": "bench-m", "admin_token": ADMIN}
        aws.client("secretsmanager").put_secret_value(
            SecretId=os.environ["REPLYWINDOW_SECRETS"], SecretString=json.dumps(secrets))
        return _run(secrets)
    finally:
        aws.stop()


def _fill_inbox(secrets: dict[str, str]) -> None:
    """CONVERSATIONS customers write on Messenger; the triage worker files them."""
    import app
    from chalicelib import bootstrap, handlers
    from chalicelib.config import settings
    from chalicelib.webhooks.signatures import meta_signature
    from infrastructure.local.function_url import url_event
    from infrastructure.local.pollers import QueuePoller

    for n in range(CONVERSATIONS):
        psid = uuid.uuid4().hex[:10]
        body = json.dumps({"object": "page", "entry": [{"id": PAGE_ID, "time": 1,
                                                         "messaging": [{
            "sender": {"id": psid}, "recipient": {"id": PAGE_ID},
            "timestamp": int(time.time() * 1000) + n,
            "message": {"mid": f"m_{psid}", "text": "refund please, order late"}}]}]}).encode()
        event = url_event("POST", "/webhooks/meta", [
            ("Content-Type", "application/json"),
            ("X-Hub-Signature-256", meta_signature(secrets["meta_app_secret"], body))],
            body, "192.0.2.1", "bench")
        assert app.webhook_url(event, None)["statusCode"] == 200
    sqs = bootstrap.sqs()
    url = sqs.get_queue_url(QueueName=settings().inbound_queue)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    worker = QueuePoller(name="inbound", sqs=sqs, queue_url=url, queue_arn=arn,
                         region=sqs.meta.region_name, handler=handlers.inbound_batch,
                         batch_size=10, wait_seconds=0)
    while worker.poll_once():
        pass


def _run(secrets: dict[str, str]) -> dict[str, Any]:
    from chalice.test import Client

    from chalicelib import bootstrap

    bootstrap.reset()
    import app

    _fill_inbox(secrets)
    with Client(app.app) as client:
        signed = client.http.post("/console/sign-in", body=f"token={ADMIN}", headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Sec-Fetch-Site": "same-origin"})
        assert signed.status_code == 303, signed.body
        cookie = {"Cookie": signed.headers["Set-Cookie"].split(";", 1)[0]}
        etag = client.http.get("/console/inbox.json", headers=cookie).headers["ETag"]
        page_s = poll_s = full_s = 0.0
        page_bytes = full_bytes = 0
        for n in range(WARM_UP + N):
            if n == WARM_UP:
                page_s = poll_s = full_s = 0.0
            start = time.perf_counter()
            page = client.http.get("/console", headers=cookie)
            page_s += time.perf_counter() - start
            start = time.perf_counter()
            full = client.http.get("/console/inbox.json", headers=cookie)
            full_s += time.perf_counter() - start
            start = time.perf_counter()
            unchanged = client.http.get("/console/inbox.json",
                                        headers={**cookie, "If-None-Match": etag})
            poll_s += time.perf_counter() - start
            assert page.status_code == 200
            assert full.status_code == 200
            assert unchanged.status_code == 304
            assert not unchanged.body
            page_bytes, full_bytes = len(page.body), len(full.body)
        rows = len(json.loads(full.body)["conversations"])
        from chalicelib.console import actions
        from chalicelib.services.auth import Principal

        admin = Principal(id="admin", role="admin")
        start = time.perf_counter()
        for _ in range(N):  # what the console reads: every team's queue, merged
            actions.inbox(admin, {}, 25)
        read_s = time.perf_counter() - start
    return {"inbox rows": rows, "requests timed (each kind)": N,
            "full page ms": round(page_s / N * 1000, 2),
            "json 200 ms": round(full_s / N * 1000, 2),
            "poll 304 ms": round(poll_s / N * 1000, 2),
            "inbox read alone ms": round(read_s / N * 1000, 2),
            "full page bytes": page_bytes, "json 200 bytes": full_bytes, "poll 304 bytes": 0,
            "ratio 304/full page (time)": round(poll_s / page_s, 2)}


if __name__ == "__main__":
    for name, value in measure().items():
        print(f"{name}: {value}")
