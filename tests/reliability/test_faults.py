"""Faults at every call site while webhooks and timers are in flight, on the whole local stack.

Every AWS call our code makes goes through botocore in this process (the API, the triage and
alarm workers run as threads), so a fault injector wrapped around botocore's API call fails
chosen occurrences of each operation: throttling and 5xx before the request reaches AWS, and,
for the idempotent writes, a lost response after it did. Then the platform's retry (a 5xx to
the webhook), the queue's redelivery (a failed batch item) or the DLQ must finish the work:
counted and printed, lost must be 0 and duplicated must be 0.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import botocore.client
import requests
from botocore.exceptions import ClientError

from bench.stack import SECRETS, alerts_once_due, dead_letters, local_stack
from chalicelib.webhooks.signatures import meta_signature

POLICIES = Path(__file__).resolve().parents[1] / "fixtures" / "policies" / "faults.yaml"
PAGE = "1000000077"
# The occurrences of each call that fail ("before": the request never reaches AWS) and, for
# the idempotent writes, the occurrences whose response is lost ("after": AWS did the work).
BEFORE = (2, 6, 11)
# An alarm is set once per bucket and container: fewer calls, so fault them earlier.
EARLY = {("stepfunctions", "StartExecution"): (2, 5)}
# The worker's apply is single writes (the conversation's conditional put is the commit): lose
# answers all along its PutItem and UpdateItem calls.
AFTER = {("sqs", "SendMessage"): (4,), ("stepfunctions", "StartExecution"): (3,),
         ("dynamodb", "PutItem"): (5, 9, 14, 20, 27), ("dynamodb", "UpdateItem"): (4, 8)}
SITES = [("dynamodb", "GetItem"), ("dynamodb", "BatchGetItem"), ("dynamodb", "PutItem"),
         ("dynamodb", "UpdateItem"), ("dynamodb", "Query"), ("sqs", "SendMessage"),
         ("stepfunctions", "StartExecution"), ("sns", "Publish")]


class FaultInjector:
    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self.injected: Counter[str] = Counter()
        self.owed: Counter[tuple[str, str]] = Counter()  # "response lost" still to inject
        self.enabled = False
        self._lock = threading.Lock()

    def _fault(self, site: tuple[str, str], n: int) -> ClientError:
        code = "ThrottlingException" if n % 2 == 0 else "InternalServerError"
        error: Any = {"Error": {"Code": code, "Message": "injected"},
                      "ResponseMetadata": {"HTTPStatusCode": 400 if n % 2 == 0 else 500}}
        return ClientError(error, site[1])

    @contextmanager
    def installed(self) -> Iterator[FaultInjector]:
        base: Any = botocore.client.BaseClient  # patched where every client calls AWS
        original = base._make_api_call
        injector = self

        def call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            site = (client.meta.service_model.service_name, operation)
            ours = site in SITES and not (  # the alarm clock's own ring is AWS's, not ours
                operation == "SendMessage" and "inbound" not in params.get("QueueUrl", ""))
            if not (injector.enabled and ours):
                return original(client, operation, params)
            with injector._lock:
                injector.calls[site] += 1
                n = injector.calls[site]
            if n in EARLY.get(site, BEFORE):
                injector.injected[f"{site[0]}:{operation} (before)"] += 1
                raise injector._fault(site, n)
            if n in AFTER.get(site, ()):
                injector.owed[site] += 1
            result = original(client, operation, params)  # a refused write owes it onward
            with injector._lock:
                lose = injector.owed[site] > 0
                injector.owed[site] -= lose
            if lose:
                injector.injected[f"{site[0]}:{operation} (response lost)"] += 1
                raise injector._fault(site, n)
            return result

        base._make_api_call = call
        try:
            yield self
        finally:
            base._make_api_call = original


def _deliver(api: str, body: bytes, statuses: Counter[int]) -> bool:
    """Like a platform: retry while the answer is a 5xx (with a short backoff)."""
    for attempt in range(10):
        status = requests.post(f"{api}/webhooks/meta", data=body, timeout=30, headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": meta_signature(SECRETS["REPLYWINDOW_META_APP_SECRET"],
                                                  body)}).status_code
        statuses[status] += 1
        if status < 500:
            return status == 200
        time.sleep(0.2 * (attempt + 1))
    return False


def _message(run: str, n: int, *, echo: bool = False) -> bytes:
    customer = f"{run}{n:04d}"
    sender, recipient = (PAGE, customer) if echo else (customer, PAGE)
    message: dict[str, Any] = {"mid": f"m_{run}_{n}_{'e' if echo else 'c'}",
                               "text": "thanks, sorted" if echo else "my parcel never came"}
    if echo:
        message["is_echo"] = True
    return json.dumps({"object": "page", "entry": [{"id": PAGE, "time": 1, "messaging": [{
        "sender": {"id": sender}, "recipient": {"id": recipient},
        "timestamp": int(time.time() * 1000), "message": message}]}]}).encode()


def test_faults_at_every_call_site_lose_nothing_and_duplicate_nothing() -> None:
    conversations, answered = 18, {n for n in range(18) if n % 3 == 0}
    injector = FaultInjector()
    with injector.installed(), local_stack(POLICIES) as runtime:
        run = uuid.uuid4().hex[:6]
        statuses: Counter[int] = Counter()
        injector.enabled = True
        accepted = sum(_deliver(runtime.webhook_url, _message(run, n), statuses)
                       for n in range(conversations))
        echoes = sum(_deliver(runtime.webhook_url, _message(run, n, echo=True), statuses)
                     for n in sorted(answered))
        expected = {(f"messenger.dm-{PAGE}-{run}{n:04d}", level)
                    for n in range(conversations) if n not in answered
                    for level in ("warning", "breach", "escalation")}
        deliveries = alerts_once_due(runtime, expected, timeout=120, settle=3)
        injector.enabled = False
        deliveries = [json.loads(line) for line in runtime.outbox.read_text().splitlines()]
        parked = dead_letters(runtime)
        table = runtime.aws.client("dynamodb")
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {}
        while True:
            page = table.scan(TableName=runtime.built.refs["Table"], **kwargs)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                break
            kwargs = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
    stored = Counter(i["message_id"]["S"] for i in items if i["SK"]["S"].startswith("MSG#")
                     and run in i["PK"]["S"])
    alerted = {(d["conversation"], d["level"]) for d in deliveries}
    per_recipient = Counter((d["conversation"], d["level"], d["agent"], d["protocol"])
                            for d in deliveries)
    duplicated = sum(n - 1 for n in per_recipient.values() if n > 1) + sum(
        n - 1 for n in stored.values())
    lost_messages = accepted + echoes - len(stored)
    lost_alerts = len(expected - alerted)
    unwanted = {a for a in alerted if a[0].rsplit("-", 1)[-1] in
                {f"{run}{n:04d}" for n in answered}}
    print(f"\nfaults injected: {sum(injector.injected.values())} "
          f"({', '.join(f'{k} x{v}' for k, v in sorted(injector.injected.items()))})")
    print(f"webhook answers: {dict(statuses)}; messages accepted {accepted + echoes}, stored "
          f"{len(stored)}; alerts planned {len(expected)}, alerted {len(expected & alerted)}; "
          f"lost {lost_messages + lost_alerts}, duplicated {duplicated}, "
          f"parked in a DLQ {parked}")
    assert accepted == conversations and echoes == len(answered)
    assert {site: 0 for site in SITES} == {
        site: 0 for site in SITES
        if injector.calls[site] >= max(EARLY.get(site, BEFORE))}  # each site faulted
    assert all(injector.injected[f"{s}:{o} (response lost)"] for s, o in AFTER)
    assert lost_messages == 0 and all(n == 1 for n in stored.values())
    assert lost_alerts == 0 and duplicated == 0 and parked == 0
    assert unwanted == set()  # an answered conversation alerts nobody, faults or not
