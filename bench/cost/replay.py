"""The replayed day: signed webhooks through a local stack while every AWS request is counted.

The mix, per 100 conversations: 60 Messenger DMs and 40 public X mentions; 30 customers write
a follow-up before anyone answers; 92 are answered natively in time (the echo of the brand's
Messenger reply, the brand's public reply on X) and 8 are never answered (each fires its
warning, breach and escalation); 40% of the answered customers write back once and that turn
is answered in time too. Lambda invocations are those the pollers made, alerts delivered by
email are read from the outbox, and Step Functions state transitions come from the
executions' histories."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import requests

from bench.cost.prices import DayCounts, FunctionCounts
from bench.cost.recorder import Recorder
from bench.stack import SECRETS, local_stack
from chalicelib.adapters.dynamodb.records import TURN
from chalicelib.webhooks.signatures import meta_signature, x_signature
from infrastructure.local.demo import BRAND_X, messenger_message, x_post
from infrastructure.local.runtime import LocalRuntime
from infrastructure.template import load_resources

POLICIES = Path(__file__).resolve().parent.parent / "day_policies.yaml"
PAGE = "1000000001"  # the demo page
LEVELS = ("warning", "breach", "escalation")


class Replay:
    """Posts the day's webhooks, signed as the platforms sign them, and counts what it sent."""

    def __init__(self, api: str) -> None:
        self.api, self.run = api, uuid.uuid4().hex[:6]
        self.sent: Counter[str] = Counter()

    def post(self, platform: str, payload: dict[str, Any], *, inbound: bool) -> None:
        body = json.dumps(payload).encode()
        if platform == "x":
            header = {"x-twitter-webhooks-signature": x_signature(
                SECRETS["REPLYWINDOW_X_CONSUMER_SECRET"], body)}
        else:
            header = {"X-Hub-Signature-256": meta_signature(
                SECRETS["REPLYWINDOW_META_APP_SECRET"], body)}
        requests.post(f"{self.api}/webhooks/{'x' if platform == 'x' else 'meta'}", data=body,
                      timeout=30, headers={"Content-Type": "application/json", **header}
                      ).raise_for_status()
        self.sent["webhooks"] += 1
        self.sent["inbound" if inbound else "brand replies"] += 1

    def day(self, n: int) -> set[str]:
        """Returns the conversations left unanswered (their alerts are awaited)."""
        public = {i for i in range(n) if i % 5 in (1, 3)}  # 40%
        unanswered = {i for i in range(n) if i % 25 in (7, 19)}  # 8%
        follow_up = {i for i in range(n) if i % 10 in (2, 5, 8)}  # 30%
        thanks = {i for i in range(n) if i not in unanswered and i % 5 in (0, 4)}  # ~40%
        last: dict[int, tuple[str, str]] = {}  # X: the thread's latest post and its author
        posts: Counter[int] = Counter()

        def post_id(i: int) -> str:
            posts[i] += 1
            return f"{self.number}{i:04d}{posts[i]:02d}"

        def customer(i: int, text: str) -> None:
            if i in public:
                post, author = post_id(i), f"7{i:05d}"
                self.post("x", x_post(post, author, f"cust{i}", 300 + i, text,
                                      reply_to=last.get(i)), inbound=True)
                last[i] = (post, author)
            else:
                self.post("meta", messenger_message(f"{self.run}{i:04d}", text), inbound=True)

        def answer(i: int) -> None:
            if i in public:
                post = post_id(i)
                self.post("x", x_post(post, BRAND_X, "AcmeHelp", 50_000, "so sorry, on it",
                                      reply_to=last[i]), inbound=False)
                last[i] = (post, BRAND_X)
            else:
                self.post("meta", messenger_message(f"{self.run}{i:04d}", "So sorry, on it",
                                                    echo=True), inbound=False)

        for i in range(n):
            customer(i, "@AcmeHelp my order never arrived, I want a refund")
        for i in sorted(follow_up):
            customer(i, "hello?? still waiting")
        for i in range(n):
            if i not in unanswered:
                answer(i)
        for i in sorted(thanks):
            customer(i, "thanks, that worked")
        for i in sorted(thanks):
            answer(i)
        return {f"x.t-{self.number}{i:04d}01" if i in public
                else f"messenger.dm-{PAGE}-{self.run}{i:04d}" for i in unanswered}

    @property
    def number(self) -> str:
        return str(int(self.run, 16) % 10**7 + 10**7)


def replay_day(conversations: int) -> DayCounts:
    """Replays the day on a fresh local stack and counts what it used."""
    recorder = Recorder()
    recorder.install()
    try:
        with local_stack(POLICIES) as runtime:
            replay = Replay(runtime.webhook_url)
            unanswered = replay.day(conversations)
            expected = {(c, level) for c in unanswered for level in LEVELS}
            _await_alerts(runtime.outbox, expected, timeout=240)
            time.sleep(3)  # anything late still counts
            usage = recorder.usage.copy()
            invocations = {p.function_name: getattr(p, "invocations", 0)
                           for p in runtime.pollers}
            functions = _functions(runtime, usage.by_function)
            fifo = _fifo(runtime)
            executions, transitions = _state_machine(runtime.aws.endpoint)
            turns = _turns(runtime.aws.endpoint)
            deliveries = _deliveries(runtime.outbox)
    finally:
        recorder.uninstall()
    alerted = {(d["conversation"], d["level"]) for d in deliveries}
    return DayCounts(conversations=conversations, sent=replay.sent, calls=usage.calls,
                     units=usage.units, writes_by_kind=usage.writes_by_kind,
                     reads_by_kind=usage.reads_by_kind, invocations=invocations,
                     executions=executions, transitions=transitions, turns=turns,
                     deliveries=deliveries, missed=len(expected - alerted),
                     functions=functions, fifo=fifo)


def _functions(runtime: LocalRuntime, requests: Counter[tuple[str, str]]
               ) -> dict[str, FunctionCounts]:
    """Each function's measured use (the runtime's meter, the recorder's requests by function)
    and its memory size in the template."""
    memory = {spec.entry_point: spec.memory for spec in runtime.functions.values()}
    return {name: FunctionCounts(
        invocations=use.invocations, cpu_seconds=use.cpu_seconds, memory_mb=memory[name],
        requests={service: n for (function, service), n in requests.items()
                  if function == name})
        for name, use in runtime.meter.uses().items()}


def _fifo(runtime: LocalRuntime) -> dict[str, bool]:
    """Whether the queue each SQS-triggered function reads is FIFO, as resources.yaml says."""
    resources = load_resources()["Resources"]
    return {spec.entry_point: bool(resources[spec.queue]["Properties"].get("FifoQueue"))
            for spec in runtime.functions.values() if spec.queue}


def _deliveries(outbox: Path) -> list[dict[str, Any]]:
    if not outbox.exists():
        return []
    return [json.loads(line) for line in outbox.read_text().splitlines()]


def _await_alerts(outbox: Path, expected: set[tuple[str, str]],
                  timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        deliveries = _deliveries(outbox)
        if {(d["conversation"], d["level"]) for d in deliveries} >= expected or (
                time.monotonic() > deadline):
            return deliveries
        time.sleep(1)


def _state_machine(endpoint: str) -> tuple[int, int]:
    sfn = boto3.client("stepfunctions", endpoint_url=endpoint, region_name="us-east-1")
    machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    executions = sfn.list_executions(stateMachineArn=machine, maxResults=1000)["executions"]
    transitions = sum(
        sum(e["type"].endswith("StateEntered") for e in sfn.get_execution_history(
            executionArn=x["executionArn"], maxResults=1000)["events"])
        for x in executions)
    return len(executions), transitions


def _turns(endpoint: str) -> int:
    ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
    items = ddb.scan(TableName=os.environ.get("REPLYWINDOW_TABLE", "replywindow-dev"),
                     FilterExpression="begins_with(SK, :t)",
                     ExpressionAttributeValues={":t": {"S": TURN}})["Items"]
    return len(items)
