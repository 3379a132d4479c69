"""An answer stops the clock under a burst: N public complaints on X arrive within about a
second and the brand answers half of them natively (its own reply in the thread, signed as X
signs it) about a second after each; the warning rings 3 s after a complaint
(bench/clockstop_policies.yaml).

Printed: the time from an answer's webhook (its HTTP 200) to its turn being closed, p50/p99/max
(closed: when the triage worker's write of the conversation as answered returned, seen from
its own requests, 0 if that came before the client had its 200; DynamoDB is also read every
250 ms as a fallback); the alerts sent for turns answered before their warning time (must be
0; answered: when the brand posted, i.e. its webhook was sent, as a slow webhook front is ours
too) and the unanswered turns warned (must be all); how often the ring's last look (is the turn
still open?) saved an alert, from the AnsweredBeforeAlert metric the ring emits, and how often
a check was held while the inbound queue had a backlog (its answer may be queued), from
AlertHeld; and the triage worker's time per message against its floor: the very AWS
requests it made during the burst, replayed directly with boto3 on the same emulator, as many
at once as the worker ran on average, with none of our code between them (run after the
alerts are counted, as the replayed writes overwrite the stack's items). The stack is one
process (moto included): the machine's load average is printed with the figures, as other
work on the machine slows every one of them."""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import boto3
import botocore.client
import botocore.exceptions
import requests

from bench.stack import SECRETS, local_stack
from chalicelib.adapters.dynamodb.records import META, conversation_pk
from chalicelib.domain.events import Platform
from chalicelib.webhooks.signatures import x_signature
from infrastructure.local.demo import BRAND_X, x_post
from infrastructure.local.pollers import QueuePoller
from infrastructure.local.runtime import LocalRuntime

POLICIES = Path(__file__).resolve().parent / "clockstop_policies.yaml"
N = int(os.environ.get("BENCH_CLOCKSTOP_N", "100"))
BURST_SECONDS = 1.0  # the complaints arrive over this long
ANSWER_AFTER = 1.0  # each answer follows its complaint by this long
SENDERS = 48  # concurrent deliveries, as X makes them (below the webhook front's 50)
POLL_SECONDS = 0.25  # how often the answered turns not yet seen closed are read


@dataclass
class Burst:
    """What happened to one burst: per conversation id (`x.t-<post>`)."""

    answer_sent: dict[str, float] = field(default_factory=dict)  # the brand answered, epoch s
    answered: dict[str, float] = field(default_factory=dict)  # answer's HTTP 200, epoch s
    unanswered: set[str] = field(default_factory=set)
    closed: dict[str, float] = field(default_factory=dict)  # turn seen closed, epoch s
    warn_at: dict[str, float] = field(default_factory=dict)  # planned warning, epoch s
    alerts: dict[str, set[str]] = field(default_factory=dict)  # levels alerted
    warning_sms: dict[str, int] = field(default_factory=dict)  # warning SMS sent
    refused: int = 0  # webhooks not answered 200 after retries

    @property
    def answered_in_time(self) -> set[str]:
        """Answered by the brand (the post's own time, when its webhook was sent) before the
        turn's warning time: a slow webhook is ours to answer for, as a slow worker is."""
        return {c for c in self.answered
                if self.answer_sent[c] < self.warn_at.get(c, float("inf"))}

    @property
    def webhook_seconds(self) -> list[float]:
        """From the brand's answer to its webhook's HTTP 200."""
        return sorted(self.answered[c] - self.answer_sent[c] for c in self.answered)

    @property
    def alerts_for_answered(self) -> int:
        return sum(len(self.alerts.get(c, ())) for c in self.answered_in_time)

    @property
    def clock_stop(self) -> list[float]:
        return sorted(max(0.0, self.closed[c] - self.answered[c]) for c in self.answered
                      if c in self.closed)


def _post_x(runtime: LocalRuntime, session: requests.Session, payload: dict[str, Any]) -> bool:
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "x-twitter-webhooks-signature":
               x_signature(SECRETS["REPLYWINDOW_X_CONSUMER_SECRET"], body)}
    for _ in range(5):  # like X: a 429 or 5xx is delivered again
        status = session.post(f"{runtime.webhook_url}/webhooks/x", data=body, timeout=30,
                              headers=headers).status_code
        if status == 200:
            return True
        time.sleep(0.05)
    return False


def run_burst(runtime: LocalRuntime, n: int, *, burst_seconds: float = BURST_SECONDS,
              answer_after: float = ANSWER_AFTER, settle_seconds: float = 2.0,
              burst: Burst | None = None) -> Burst:
    """Posts the burst to a running stack, watches the answered turns close, then waits until
    every warning that could ring has rung and reads the outbox."""
    base = str(int(uuid.uuid4().hex[:8], 16) % 10**7 + 10**7)
    burst = burst or Burst()
    ddb = boto3.client("dynamodb", endpoint_url=runtime.aws.endpoint, region_name="us-east-1")
    table = os.environ["REPLYWINDOW_TABLE"]
    _warm_up(runtime, ddb, table, base)
    started = time.time()
    events: list[tuple[float, Callable[[requests.Session], None]]] = []
    for i in range(n):
        post, author = f"{base}{i:04d}1", f"7{i:06d}"
        conversation = f"x.t-{post}"

        delivered = threading.Event()

        def complain(s: requests.Session, post: str = post, author: str = author,
                     i: int = i, delivered: threading.Event = delivered) -> None:
            ok = _post_x(runtime, s, x_post(post, author, f"cust{i}", 300 + i,
                                            "@AcmeHelp my order never arrived, refund please"))
            burst.refused += not ok
            delivered.set()

        events.append((i * burst_seconds / n, complain))
        if i % 2:
            burst.unanswered.add(conversation)
            continue

        def answer(s: requests.Session, post: str = post, author: str = author,
                   conversation: str = conversation, i: int = i,
                   delivered: threading.Event = delivered) -> None:
            # X has delivered a tweet before anyone can reply to it; our front answering
            # slowly under the burst must not turn that order around (an answer that reaches
            # the worker before its complaint answers nobody: see the README).
            delivered.wait(60)
            burst.answer_sent[conversation] = time.time()  # about the post's created_at
            ok = _post_x(runtime, s, x_post(f"{base}{i:04d}2", BRAND_X, "AcmeHelp", 50_000,
                                            "so sorry, on it", reply_to=(post, author)))
            if ok:
                burst.answered[conversation] = time.time()
            burst.refused += not ok

        events.append((i * burst_seconds / n + answer_after, answer))
    events.sort(key=lambda e: e[0])
    local = threading.local()

    def send(event: tuple[float, Callable[[requests.Session], None]]) -> None:
        time.sleep(max(0.0, started + event[0] - time.time()))
        if not hasattr(local, "session"):
            local.session = requests.Session()
        event[1](local.session)

    done = threading.Event()
    watcher = threading.Thread(target=_watch_closing, args=(ddb, table, burst, done),
                               daemon=True)
    watcher.start()
    with ThreadPoolExecutor(SENDERS) as senders:
        list(senders.map(send, events))
    deadline = time.monotonic() + 60
    while len(burst.closed) < len(burst.answered) and time.monotonic() < deadline:
        time.sleep(0.1)
    done.set()
    watcher.join()
    burst.warn_at = _warnings_planned(ddb, table, [*burst.answered, *burst.unanswered])
    # Every warning due has rung (the clock's resolution, 1 s, plus the ring's own time).
    last = max(burst.warn_at.values(), default=time.time())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        _read_outbox(runtime, burst)
        if time.time() > last + settle_seconds and all(
                "warning" in burst.alerts.get(c, ()) for c in burst.unanswered):
            break
        time.sleep(0.2)
    _read_outbox(runtime, burst)
    return burst


def _warm_up(runtime: LocalRuntime, ddb: Any, table: str, base: str) -> None:
    """A complaint and its answer before the burst, untimed: Lambdas serving traffic are warm
    (secrets fetched, clients built; cold start is bench/coldstart.py's figure)."""
    session = requests.Session()
    post, author = f"{base}99991", "799999"
    _post_x(runtime, session, x_post(post, author, "warm", 1, "@AcmeHelp hello"))
    _post_x(runtime, session, x_post(f"{base}99992", BRAND_X, "AcmeHelp", 50_000, "hi",
                                     reply_to=(post, author)))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(
            i.get("status", {}).get("S") == "awaiting_customer"
            for i in _batch_get(ddb, table, [f"x.t-{post}"], "PK, #s")):
        time.sleep(0.2)


def _keys(conversations: list[str]) -> list[dict[str, Any]]:
    return [{"PK": {"S": conversation_pk(Platform.X, c.split(".", 1)[1])}, "SK": {"S": META}}
            for c in conversations]


def _batch_get(ddb: Any, table: str, conversations: list[str], projection: str
               ) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for start in range(0, len(conversations), 100):
        request: dict[str, Any] = {table: {
            "Keys": _keys(conversations[start:start + 100]), "ConsistentRead": True,
            "ProjectionExpression": projection, "ExpressionAttributeNames": {"#s": "status"}}}
        while request:
            page = ddb.batch_get_item(RequestItems=request)
            items += page["Responses"].get(table, [])
            request = page.get("UnprocessedKeys") or {}
    return items


def _conversation_id(item: dict[str, Any]) -> str:
    return "x." + str(item["PK"]["S"]).removeprefix(conversation_pk(Platform.X, ""))


def _watch_closing(ddb: Any, table: str, burst: Burst, done: threading.Event) -> None:
    """Reads the answered turns still open until each is seen closed (its time is the read's
    start: the earliest moment it could have been seen)."""
    while not done.is_set():
        waiting = [c for c in list(burst.answered) if c not in burst.closed]
        if waiting:
            looked = time.time()
            for item in _batch_get(ddb, table, waiting, "PK, #s"):
                if item.get("status", {}).get("S") in ("awaiting_customer", "resolved"):
                    burst.closed.setdefault(_conversation_id(item), looked)
        done.wait(POLL_SECONDS)


def _warnings_planned(ddb: Any, table: str, conversations: list[str]) -> dict[str, float]:
    return {_conversation_id(i): datetime.fromisoformat(i["warn_at"]["S"]).timestamp()
            for i in _batch_get(ddb, table, conversations, "PK, warn_at, #s")
            if "warn_at" in i}


def _read_outbox(runtime: LocalRuntime, burst: Burst) -> None:
    if not runtime.outbox.exists():
        return
    ours = burst.unanswered | set(burst.answered)
    burst.alerts.clear()
    burst.warning_sms.clear()
    for line in runtime.outbox.read_text().splitlines():
        d = json.loads(line)
        if d.get("conversation") in ours:
            burst.alerts.setdefault(d["conversation"], set()).add(d["level"])
            if d["level"] == "warning" and d["protocol"] == "sms":
                burst.warning_sms[d["conversation"]] = burst.warning_sms.get(
                    d["conversation"], 0) + 1


class MetricTap:
    """Sums EMF metrics by name from what the functions print (powertools writes each flush as
    one JSON line on stdout, as Lambda's log does) and keeps those lines off the bench's
    output."""

    def __init__(self, names: tuple[str, ...], out: TextIO) -> None:
        self.names, self.out = names, out
        self.totals = dict.fromkeys(names, 0.0)
        self._pending = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            *lines, self._pending = self._pending.split("\n")
            for line in lines:
                if line.startswith('{"_aws"'):
                    emf = json.loads(line)
                    for name in self.names:
                        value = emf.get(name, 0)
                        self.totals[name] += sum(value) if isinstance(value, list) else value
                else:
                    self.out.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self.out.flush()


@contextmanager
def metric_tap(*names: str) -> Iterator[MetricTap]:
    tap, saved = MetricTap(names, sys.stdout), sys.stdout
    sys.stdout = tap
    try:
        yield tap
    finally:
        sys.stdout = saved


Call = tuple[str, str, dict[str, Any]]  # service, operation, parameters


class WorkerRecorder:
    """The triage worker's invocations as it ran them: each one's duration and messages, and
    the AWS requests made from its thread, kept for the floor's replay."""

    def __init__(self, poller: QueuePoller, burst: Burst) -> None:
        self.poller, self.burst = poller, burst
        self.invocations: list[tuple[float, int, list[Call]]] = []
        self.span: list[float] = []  # the first invocation's start, the last one's end
        self._local = threading.local()
        self._lock = threading.Lock()
        self._original_call = botocore.client.BaseClient._make_api_call  # type: ignore[attr-defined]
        self._original_handler = poller.handler

    def install(self) -> None:
        local, original_call, original_handler = self._local, self._original_call, \
            self._original_handler

        def recording(client: Any, operation: str, params: dict[str, Any]) -> Any:
            calls: list[Call] | None = getattr(local, "calls", None)
            if calls is None:
                return original_call(client, operation, params)
            calls.append((client.meta.service_model.service_name, operation,
                          copy.deepcopy(params)))
            result = original_call(client, operation, params)
            closed = _answered_conversation(operation, params)
            if closed is not None:
                self.burst.closed.setdefault(closed, time.time())
            return result

        def timed(event: dict[str, Any], context: Any) -> Any:
            local.calls = []
            start = time.perf_counter()
            try:
                return original_handler(event, context)
            finally:
                took = time.perf_counter() - start
                with self._lock:
                    self.span = [min(self.span[0], start), max(self.span[1], start + took)] \
                        if self.span else [start, start + took]
                    self.invocations.append((took, len(event["Records"]), local.calls))
                local.calls = None

        botocore.client.BaseClient._make_api_call = recording  # type: ignore[attr-defined]
        self.poller.handler = timed

    def uninstall(self) -> None:
        botocore.client.BaseClient._make_api_call = self._original_call  # type: ignore[attr-defined]
        self.poller.handler = self._original_handler

    @property
    def average_concurrency(self) -> int:
        """Invocations in flight on average while the worker was busy with the burst."""
        busy = sum(t for t, _, _ in self.invocations)
        return max(1, round(busy / (self.span[1] - self.span[0]))) if self.span else 1

    def floor_seconds(self, endpoint: str) -> tuple[float, float]:
        """The same requests, each invocation's in its order, issued directly by as many
        threads as the worker ran on average (so both meet the same contention); a request
        refused now (a condition already met, an execution already started) costs the emulator
        what the original did up to its decision. Returns the invocations' summed time and the
        replay's wall time."""
        clients: dict[str, Any] = {}
        for service in {c[0] for _, _, calls in self.invocations for c in calls}:
            clients[service] = boto3.client(  # type: ignore[call-overload]
                service, endpoint_url=endpoint, region_name="us-east-1")

        def replay(calls: list[Call]) -> float:
            start = time.perf_counter()
            for service, operation, params in calls:
                with suppress(botocore.exceptions.ClientError):
                    self._original_call(clients[service], operation, copy.deepcopy(params))
            return time.perf_counter() - start

        began = time.perf_counter()
        with ThreadPoolExecutor(self.average_concurrency) as pool:
            summed = sum(pool.map(replay, [calls for _, _, calls in self.invocations]))
        return summed, time.perf_counter() - began


def _answered_conversation(operation: str, params: dict[str, Any]) -> str | None:
    """The conversation a successful write leaves answered: the worker's versioned put of the
    conversation item (chalicelib/adapters/dynamodb/writes.py)."""
    item = params.get("Item") or {}
    if operation != "PutItem" or item.get("SK", {}).get("S") != META or item.get(
            "status", {}).get("S") != "awaiting_customer":
        return None
    pk, x_threads = str(item.get("PK", {}).get("S", "")), conversation_pk(Platform.X, "")
    return "x." + pk.removeprefix(x_threads) if pk.startswith(x_threads) else None


def _percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


def measure(n: int = N) -> dict[str, Any]:
    with metric_tap("AnsweredBeforeAlert", "AlertHeld") as tap, \
            local_stack(POLICIES) as runtime:
        triage = next(p for p in runtime.pollers
                      if isinstance(p, QueuePoller) and p.function_name == "inbound_worker")
        burst = Burst()
        recorder = WorkerRecorder(triage, burst)
        recorder.install()
        try:
            run_burst(runtime, n, burst=burst)
        finally:
            recorder.uninstall()
        saved, held = tap.totals["AnsweredBeforeAlert"], tap.totals["AlertHeld"]
        floor_s, floor_wall = recorder.floor_seconds(runtime.aws.endpoint)
    stops = burst.clock_stop
    messages = sum(m for _, m, _ in recorder.invocations)
    ours_s = sum(t for t, _, _ in recorder.invocations)
    calls = sum(len(c) for _, _, c in recorder.invocations)
    warned = sum("warning" in burst.alerts.get(c, ()) for c in burst.unanswered)
    return {
        "load average (1 min, whole machine)": round(os.getloadavg()[0], 2),
        "complaints": n, "answered natively": len(burst.answered),
        "webhooks refused (must be 0)": burst.refused,
        "answers seen closing the turn": len(stops),
        "answer webhook to HTTP 200 p99 (s)":
            round(_percentile(burst.webhook_seconds, 0.99), 3) if burst.webhook_seconds else None,
        "clock stop p50 (s)": round(statistics.median(stops), 3) if stops else None,
        "clock stop p99 (s)": round(_percentile(stops, 0.99), 3) if stops else None,
        "clock stop max (s)": round(stops[-1], 3) if stops else None,
        "answered before their warning": len(burst.answered_in_time),
        "alerts for turns answered before their warning (must be 0)":
            burst.alerts_for_answered,
        "unanswered turns warned": f"{warned}/{len(burst.unanswered)}",
        "alerts the last look saved (AnsweredBeforeAlert, warm-up included)": int(saved),
        # Each ring of a bucket that found a check to page while the inbound queue had a
        # backlog: one check held over three rings counts 3.
        "alert checks held for the inbound backlog (AlertHeld, one per ring)": int(held),
        "triage concurrency (peak/allowed)": f"{triage.peak_concurrency}/{triage.concurrency}",
        "triage invocations": len(recorder.invocations),
        "triage invocations in flight on average (the floor's threads)":
            recorder.average_concurrency,
        "AWS requests per message (triage)": round(calls / messages, 1) if messages else None,
        "triage requests per message by operation": ", ".join(
            f"{op} {count / messages:.1f}" for op, count in Counter(
                op for _, _, c in recorder.invocations for _, op, _ in c).most_common()),
        "triage ms/message": round(ours_s / messages * 1000, 2) if messages else None,
        "floor ms/message": round(floor_s / messages * 1000, 2) if messages else None,
        "throughput ratio ours/floor": round(floor_s / ours_s, 2) if ours_s else None,
        # What bounds the clock stop here: the emulator's own pace. An answer waits for the
        # work queued before it, and the burst's requests alone take this long at the floor.
        "emulator requests/s at the floor": round(calls / floor_wall) if floor_wall else None,
        "the burst's triage requests at that pace (s)": round(floor_wall, 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=N, help="complaints in the burst")
    args = parser.parse_args()
    for name, value in measure(args.n).items():
        print(f"{name}: {value}")
