"""M conversations whose warnings fall due over a short window on a local stack (the demo's
seconds-long policies): lateness of each warning SMS against its planned time, and missed
warnings (must be 0). The alarm clock's resolution (1 s here) is the designed upper bound.

Then the sweeper's worst case: the same with the alarm clock's state machine deleted (every
timer lost), the sweeper running every SWEEP_S seconds: each warning arrives through the
sweeper, within its grace (a minute) plus one period of its time (in AWS, SweepMinutes)."""

from __future__ import annotations

import json
import os
import statistics
import time
import uuid
from datetime import datetime
from typing import Any

import boto3
import requests

from bench.stack import SECRETS, local_stack
from chalicelib.adapters.dynamodb.records import META, conversation_pk
from chalicelib.domain.events import Platform
from chalicelib.webhooks.signatures import meta_signature
from infrastructure.local.demo import DEMO_POLICIES

M = int(os.environ.get("BENCH_LATENESS_M", "40"))
PAGE = "1000000007"
SWEEP_S = 10  # the sweeper's period on the local stack for the lost-timer run


def measure(m: int = M, *, timers_lost: bool = False) -> dict[str, Any]:
    saved = os.environ.get("REPLYWINDOW_LOCAL_SCHEDULE_SECONDS")
    if timers_lost:
        os.environ["REPLYWINDOW_LOCAL_SCHEDULE_SECONDS"] = str(SWEEP_S)
    with local_stack(DEMO_POLICIES) as runtime:
        if saved is None:
            os.environ.pop("REPLYWINDOW_LOCAL_SCHEDULE_SECONDS", None)  # restored on exit
        if timers_lost:
            sfn = boto3.client("stepfunctions", endpoint_url=runtime.aws.endpoint,
                               region_name="us-east-1")
            sfn.delete_state_machine(stateMachineArn=runtime.built.refs["AlarmClock"])
        secret = SECRETS["REPLYWINDOW_META_APP_SECRET"]
        run = uuid.uuid4().hex[:6]
        for n in range(m):
            body = json.dumps({"object": "page", "entry": [{"id": PAGE, "time": 1,
                                                            "messaging": [{
                "sender": {"id": f"{run}{n:04d}"}, "recipient": {"id": PAGE},
                "timestamp": int(time.time() * 1000),
                "message": {"mid": f"m_{run}_{n}", "text": "where is my parcel"}}]}]}).encode()
            requests.post(f"{runtime.webhook_url}/webhooks/meta", data=body, timeout=30, headers={
                "Content-Type": "application/json",
                "X-Hub-Signature-256": meta_signature(secret, body)}).raise_for_status()
            time.sleep(0.25)  # spread over ~10 s: many buckets, several checks per bucket
        ddb = boto3.client("dynamodb", endpoint_url=runtime.aws.endpoint,
                           region_name="us-east-1")
        planned: dict[str, datetime] = {}
        deadline = time.monotonic() + 60
        threads = conversation_pk(Platform.MESSENGER, f"dm-{PAGE}-{run}")
        while len(planned) < m and time.monotonic() < deadline:
            items = ddb.scan(TableName=os.environ["REPLYWINDOW_TABLE"],
                             FilterExpression="SK = :m AND begins_with(PK, :p)",
                             ExpressionAttributeValues={":m": {"S": META},
                                                        ":p": {"S": threads}})["Items"]
            planned = {i["id"]["S"]: datetime.fromisoformat(i["warn_at"]["S"])
                       for i in items if "warn_at" in i}
            time.sleep(0.5)
        last = max(planned.values()).timestamp() if planned else time.time()
        # The sweeper takes over a minute after a warning's time, within one of its periods.
        time.sleep(max(0.0, last - time.time()) + (60 + 2 * SWEEP_S + 5 if timers_lost else 4))
        warnings: dict[str, datetime] = {}
        for line in runtime.outbox.read_text().splitlines():
            d = json.loads(line)
            if d["level"] == "warning" and d["protocol"] == "sms" and d["conversation"] in (
                    planned):
                warnings.setdefault(d["conversation"], datetime.fromisoformat(d["at"]))
    late = sorted((warnings[c] - planned[c]).total_seconds() for c in warnings)
    p99 = late[min(len(late) - 1, int(0.99 * len(late)))] if late else None
    return {"conversations": m, "warnings planned": len(planned),
            "warnings sent": len(warnings), "missed": len(planned) - len(warnings),
            "early (must be 0)": sum(x < 0 for x in late),
            "lateness p50 (s)": round(statistics.median(late), 2) if late else None,
            "lateness p99 (s)": round(p99, 2) if p99 is not None else None,
            "lateness max (s)": round(max(late), 2) if late else None}


if __name__ == "__main__":
    for name, value in measure().items():
        print(f"{name}: {value}")
    for name, value in measure(8, timers_lost=True).items():
        print(f"timers lost, sweeper every {SWEEP_S} s: {name}: {value}")
    print(f"timers lost: designed bound (s): 60 (grace) + the sweep period ({SWEEP_S} here, "
          "SweepMinutes x 60 in AWS) + one bucket + the sweep's own run")
