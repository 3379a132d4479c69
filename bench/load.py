"""N signed webhooks from C concurrent senders against a local stack, then a count of what
reached DynamoDB and the triage worker (through the queue): accepted, stored, queued, lost
(must be 0) and duplicated (must be 0). Throughput is given as a ratio of the floor's (signed
put + send from the same senders to the same emulator) measured in the same run."""

from __future__ import annotations

import json
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import requests

from bench.stack import SECRETS, local_stack
from chalicelib.adapters.dynamodb.records import MESSAGE, META
from chalicelib.webhooks.signatures import meta_signature

N = int(os.environ.get("BENCH_LOAD_N", "300"))
C = int(os.environ.get("BENCH_LOAD_C", "8"))
PAGE = "1000000009"


def _body(n: int, run: str) -> bytes:
    return json.dumps({"object": "page", "entry": [{"id": PAGE, "time": 1, "messaging": [{
        "sender": {"id": f"{run}{n:06d}"}, "recipient": {"id": PAGE},
        "timestamp": int(time.time() * 1000),
        "message": {"mid": f"m_{run}_{n}", "text": "my order is late"}}]}]}).encode()


def measure(n: int = N, c: int = C) -> dict[str, Any]:
    with local_stack() as runtime:
        api, secret = runtime.webhook_url, SECRETS["REPLYWINDOW_META_APP_SECRET"]
        run = uuid.uuid4().hex[:6]
        session = requests.Session()

        def deliver(i: int) -> int:
            body = _body(i, run)
            for _ in range(5):  # like a platform: retry a 5xx
                status = session.post(f"{api}/webhooks/meta", data=body, timeout=30, headers={
                    "Content-Type": "application/json",
                    "X-Hub-Signature-256": meta_signature(secret, body)}).status_code
                if status < 500:
                    return status
            return status

        start = time.perf_counter()
        with ThreadPoolExecutor(c) as pool:
            statuses = list(pool.map(deliver, range(n)))
        ours_s = time.perf_counter() - start
        accepted = statuses.count(200)

        ddb = boto3.client("dynamodb", endpoint_url=runtime.aws.endpoint,
                           region_name="us-east-1")
        sqs = boto3.client("sqs", endpoint_url=runtime.aws.endpoint, region_name="us-east-1")
        table = os.environ["REPLYWINDOW_TABLE"]

        def scan() -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = []
            kwargs: dict[str, Any] = {}
            while True:
                page = ddb.scan(TableName=table, **kwargs)
                items += page["Items"]
                if "LastEvaluatedKey" not in page:
                    return items
                kwargs = {"ExclusiveStartKey": page["LastEvaluatedKey"]}

        deadline, progress = time.monotonic() + 60, -1
        while True:  # wait for the triage worker to drain the queue, while it makes progress
            items = [i for i in scan() if f"dm-{PAGE}-{run}" in i["PK"]["S"]]
            triaged = [i for i in items if i["SK"]["S"] == META and "priority" in i]
            # The message item is the worker's last write, after the conversation's commit.
            messages = [i for i in items if i["SK"]["S"].startswith(MESSAGE)]
            stored_ids = [i["message_id"]["S"] for i in messages]
            done = len(triaged) + len(set(stored_ids))
            if done >= 2 * accepted or time.monotonic() > deadline:
                break
            if done > progress:
                progress, deadline = done, time.monotonic() + 60
            time.sleep(3)

        floor_queue = sqs.create_queue(QueueName="bench-load-floor.fifo",
                                       Attributes={"FifoQueue": "true"})["QueueUrl"]

        def floor(i: int) -> None:
            body = _body(i, run + "f")
            meta_signature(secret, body)
            key = f"{run}-{i}"
            ddb.put_item(TableName=table, Item={"PK": {"S": f"FLOOR#{key}"},
                                                "SK": {"S": "F"}},
                         ConditionExpression="attribute_not_exists(PK)")
            sqs.send_message(QueueUrl=floor_queue, MessageBody=body.decode(),
                             MessageGroupId=key, MessageDeduplicationId=key)

        start = time.perf_counter()
        with ThreadPoolExecutor(c) as pool:
            list(pool.map(floor, range(n)))
        floor_s = time.perf_counter() - start
    return {"webhooks": n, "senders": c, "accepted": accepted,
            "stored": len(set(stored_ids)), "queued (triaged)": len(triaged),
            "lost": accepted - len(set(stored_ids)) + (accepted - len(triaged)),
            "duplicated": len(stored_ids) - len(set(stored_ids)),
            "ours webhooks/s": round(n / ours_s, 1), "floor ops/s": round(n / floor_s, 1),
            "throughput ratio ours/floor": round((n / ours_s) / (n / floor_s), 2)}


if __name__ == "__main__":
    for name, value in measure().items():
        print(f"{name}: {value}")
