"""The AWS bill per million inbound messages, from a replayed day of traffic.

A scripted mix (DMs, public mentions, follow-ups; most answered natively in time, some not)
goes through a local stack while every AWS request is counted by service and operation (all
clients live in this process), and every Step Functions state transition is counted from the
executions' histories. Counts times the dated price table below give dollars per million
inbound messages, split by service, at three daily volumes. Beside it, the same traffic
priced for the naive design: one Step Functions execution per conversation turn.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter
from typing import Any

import boto3
import botocore.client
import requests

from bench.stack import SECRETS, local_stack
from chalicelib.webhooks.signatures import meta_signature
from infrastructure.local.demo import DEMO_POLICIES

PRICES_DATE = "2026-11 (us-east-1, public on-demand prices)"
PRICE = {
    "apigw_request": 3.50e-6,          # REST API, first 333M requests/month
    "lambda_request": 0.20e-6,
    "lambda_gb_second": 0.0000166667,
    "ddb_write_unit": 0.625e-6,        # on-demand WRU
    "ddb_read_unit": 0.125e-6,         # on-demand RRU
    "sqs_fifo_request": 0.50e-6,
    "sqs_request": 0.40e-6,
    "sfn_transition": 25e-6,           # Standard workflows
    "sns_publish": 0.50e-6,
    "sns_email": 2.0e-5,               # SMS excluded: priced per country
    "secrets_call": 0.05e-4,
}
LAMBDA_GB = 0.5
LAMBDA_SECONDS = {"webhook": 0.06, "triage": 0.08, "ring": 0.1}  # per invocation, assumed
MESSAGES = int(os.environ.get("BENCH_COST_N", "120"))
PAGE = "1000000005"
NAIVE_TRANSITIONS_PER_TURN = 10  # 3 x (Wait, Choice "answered?", Task alert) + start/end


def _count_calls() -> tuple[Counter[tuple[str, str]], Counter[str]]:
    """Count every AWS call made in this process (and the items of each transaction)."""
    counts: Counter[tuple[str, str]] = Counter()
    items: Counter[str] = Counter()
    original = botocore.client.BaseClient._make_api_call

    def counting(self: Any, operation: str, params: dict[str, Any]) -> Any:
        service = self.meta.service_model.service_name
        counts[(service, operation)] += 1
        if operation == "TransactWriteItems":
            items["transact_items"] += len(params.get("TransactItems", []))
        return original(self, operation, params)

    botocore.client.BaseClient._make_api_call = counting  # type: ignore[method-assign]
    return counts, items


def _replay(api: str, secret: str) -> dict[str, int]:
    """The mix: 60% first DMs, 25% follow-ups, 15% brand echoes (answers in time)."""
    run = uuid.uuid4().hex[:6]
    customers = max(1, MESSAGES // 2)
    sent = Counter[str]()
    for n in range(MESSAGES):
        customer = f"{run}{n % customers:05d}"
        kind = "first" if n < customers else ("echo" if n % 3 == 0 else "follow_up")
        sender, recipient = (PAGE, customer) if kind == "echo" else (customer, PAGE)
        message: dict[str, Any] = {"mid": f"m_{run}_{n}", "text": "order late, refund?"}
        if kind == "echo":
            message["is_echo"] = True
        body = json.dumps({"object": "page", "entry": [{"id": PAGE, "time": 1, "messaging": [{
            "sender": {"id": sender}, "recipient": {"id": recipient},
            "timestamp": int(time.time() * 1000), "message": message}]}]}).encode()
        requests.post(f"{api}/webhooks/meta", data=body, timeout=30, headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": meta_signature(secret, body)}).raise_for_status()
        sent["inbound" if kind != "echo" else "echo"] += 1
        sent["webhooks"] += 1
    return dict(sent)


def measure() -> dict[str, Any]:
    counts, items = _count_calls()
    with local_stack(DEMO_POLICIES) as runtime:
        sent = _replay(runtime.api_url, SECRETS["REPLYWINDOW_META_APP_SECRET"])
        time.sleep(45)  # every warning, breach and escalation of the unanswered turns
        replay_counts = Counter(counts)
        sfn = boto3.client("stepfunctions", endpoint_url=runtime.aws.endpoint,
                           region_name="us-east-1")
        machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
        executions = sfn.list_executions(stateMachineArn=machine, maxResults=1000)[
            "executions"]
        transitions = sum(
            sum(e["type"].endswith("StateEntered") for e in sfn.get_execution_history(
                executionArn=x["executionArn"], maxResults=1000)["events"])
            for x in executions)
        ddb = boto3.client("dynamodb", endpoint_url=runtime.aws.endpoint,
                           region_name="us-east-1")
        turns = sum(1 for i in ddb.scan(TableName=os.environ["REPLYWINDOW_TABLE"],
                                        FilterExpression="begins_with(SK, :t)",
                                        ExpressionAttributeValues={":t": {"S": "TURN#"}})[
                                            "Items"])
    return _price(sent, replay_counts, items["transact_items"], len(executions), transitions,
                  turns)


def _price(sent: dict[str, int], counts: Counter[tuple[str, str]], transact_items: int,
           executions: int, transitions: int, turns: int) -> dict[str, Any]:
    inbound = sent["inbound"]
    op = {f"{s}:{o}": n for (s, o), n in counts.items()}

    def n(prefix: str) -> int:
        return sum(v for k, v in op.items() if k.startswith(prefix))

    writes = (op.get("dynamodb:PutItem", 0) + op.get("dynamodb:UpdateItem", 0)
              + op.get("dynamodb:DeleteItem", 0) + 2 * transact_items)
    reads = (op.get("dynamodb:GetItem", 0) + op.get("dynamodb:Query", 0))
    ring_invocations = op.get("sqs:ReceiveMessage", 0) and executions
    triage_invocations = sent["webhooks"]
    cost = {
        "API Gateway": sent["webhooks"] * PRICE["apigw_request"],
        "Lambda": (sent["webhooks"] + triage_invocations + ring_invocations)
        * PRICE["lambda_request"] + PRICE["lambda_gb_second"] * LAMBDA_GB * (
            sent["webhooks"] * LAMBDA_SECONDS["webhook"] + triage_invocations
            * LAMBDA_SECONDS["triage"] + ring_invocations * LAMBDA_SECONDS["ring"]),
        "DynamoDB": writes * PRICE["ddb_write_unit"] + reads * PRICE["ddb_read_unit"],
        "SQS": op.get("sqs:SendMessage", 0) * PRICE["sqs_fifo_request"]
        + 2 * (triage_invocations + executions) * PRICE["sqs_request"],  # receive+delete
        "Step Functions": transitions * PRICE["sfn_transition"],
        "SNS (publish+email)": n("sns:Publish") * (PRICE["sns_publish"] + PRICE["sns_email"]),
        "Secrets Manager": n("secretsmanager:") * PRICE["secrets_call"],
    }
    per_million = {k: round(v / inbound * 1e6, 2) for k, v in cost.items()}
    total = round(sum(per_million.values()), 2)
    # The naive design: one execution per turn, ~10 transitions each, at the same volume.
    naive_sfn = turns * NAIVE_TRANSITIONS_PER_TURN * PRICE["sfn_transition"] / inbound * 1e6
    naive_total = round(total - per_million["Step Functions"] + naive_sfn, 2)
    # Buckets cap executions at 86400/resolution a day: at volume, transitions per message
    # shrink; the naive design's grow with turns.
    checks_per_message = executions and transitions / inbound
    volumes = {}
    for daily in (10_000, 1_000_000, 10_000_000):
        bucket_cap = 86400 / 10 * 3 * 3  # 10 s buckets, 3 levels, ~3 transitions
        sfn_day = min(daily * checks_per_message, bucket_cap) * PRICE["sfn_transition"]
        rest = (total - per_million["Step Functions"]) * daily / 1e6
        volumes[f"$/million at {daily:,}/day"] = round((rest + sfn_day) / daily * 1e6, 2)
    return {"prices": PRICES_DATE, "webhooks replayed": sent["webhooks"],
            "inbound customer messages": inbound, "turns": turns,
            "alarm-clock executions": executions, "state transitions": transitions,
            "AWS requests counted": sum(counts.values()),
            **{f"$/million inbound, {k}": v for k, v in per_million.items()},
            "$/million inbound, total (excl. SMS)": total,
            "$/million inbound, naive per-turn executions": naive_total,
            "alarm clock saving (naive/ours)": round(naive_total / total, 2) if total else None,
            **volumes}


if __name__ == "__main__":
    for name, value in measure().items():
        print(f"{name}: {value}")
