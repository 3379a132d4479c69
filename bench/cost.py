"""The AWS bill per million inbound messages, from a replayed day of traffic.

The mix, per 100 conversations: 60 Messenger DMs and 40 public X mentions; 30 customers write
a follow-up before anyone answers; 92 are answered natively in time (the echo of the brand's
Messenger reply, the brand's public reply on X) and 8 are never answered (each fires its
warning, breach and escalation); 40% of the answered customers write back once and that turn
is answered in time too. It goes through a local stack while every AWS request is counted by
service and operation (all clients live in this process), DynamoDB capacity units are counted
per item by DynamoDB's documented rules (each written item is read before and after, outside
the count: the larger size, failed conditions, GSI1's delete and put when a key changes),
Lambda invocations are those the pollers made, alerts delivered by email are read from the
outbox, and Step Functions state transitions come from the executions' histories. Counts
times the dated price table give dollars per million inbound customer messages, split by
service, at three daily volumes; at volume, executions stop growing at one per bucket and
emails at what the digest rule lets through per agent. Beside it: one Step Functions
execution per turn (the naive design) on the same traffic.
"""

from __future__ import annotations

import json
import math
import os
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import botocore.client
import botocore.exceptions
import requests

from bench.stack import SECRETS, local_stack
from chalicelib.config import DEFAULT_POLICIES
from chalicelib.domain.policies import load_policies
from chalicelib.webhooks.signatures import meta_signature, x_signature
from infrastructure.local.demo import BRAND_X, messenger_message, x_post
from infrastructure.template import load_resources

PRICES_DATE = "2026-11 (us-east-1, public on-demand prices)"
PRICE = {
    "function_url_request": 0.0,       # the webhooks' front: Lambda bills only the invocation
    "apigw_http_request": 1.00e-6,     # HTTP API, first 300M: for comparison
    "apigw_rest_request": 3.50e-6,     # REST API, first 333M: Chalice's own, for comparison
    "lambda_request": 0.20e-6,
    "lambda_gb_second": 0.0000166667,
    "ddb_write_unit": 0.625e-6,        # on-demand WRU
    "ddb_read_unit": 0.125e-6,         # on-demand RRU
    "ddb_wcu_hour": 0.00065,           # provisioned write capacity unit, per hour
    "ddb_rcu_hour": 0.00013,           # provisioned read capacity unit, per hour
    "sqs_fifo_request": 0.50e-6,
    "sqs_request": 0.40e-6,
    "sfn_transition": 25e-6,           # Standard workflows
    "sns_publish": 0.50e-6,
    "sns_email": 2.0e-5,               # per email delivered; SMS excluded: priced per country
    "secrets_call": 0.05e-4,
}
LAMBDA_GB = 0.5  # .chalice/config.json lambda_memory_size
LAMBDA_SECONDS = {"webhook": 0.05, "worker": 0.12, "ring": 0.1}  # per invocation, assumed
# Production's alarm-clock resolution (chalicelib/policies.yaml): the buckets a day cap the
# executions, and, with the digest rule, the emails an on-call agent gets a day.
PRODUCTION_RESOLUTION_S = load_policies(DEFAULT_POLICIES).timer_resolution.total_seconds()
CONVERSATIONS = int(os.environ.get("BENCH_COST_CONVERSATIONS", "100"))
POLICIES = Path(__file__).with_name("day_policies.yaml")
PAGE = "1000000001"  # the demo page
GSI_SORT_KEYS = ("META", "TURN#")  # conversations and turns are also written to GSI1


def _item_size(item: dict[str, Any]) -> int:
    """DynamoDB's item size: attribute names plus values (its documented sizing rules)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    (kind, v), = value.items()
    if kind in ("S", "B"):
        return len(v.encode()) if kind == "S" else len(v)
    if kind == "N":
        return (len(v.lstrip("-").replace(".", "")) + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + 1 + _value_size(x) for k, x in v.items())
    if kind == "L":
        return 3 + sum(1 + _value_size(x) for x in v)
    return sum(len(x.encode()) if isinstance(x, str) else len(x) for x in v)  # SS, NS, BS


def _table_index() -> tuple[tuple[str, ...], str, tuple[str, ...]]:
    """GSI1's key attributes and projection, from the one declaration of the table."""
    table = load_resources()["Resources"]["Table"]["Properties"]
    index = table["GlobalSecondaryIndexes"][0]
    keys = tuple(k["AttributeName"] for k in index["KeySchema"])
    projection = index["Projection"]
    return keys, projection["ProjectionType"], tuple(projection.get("NonKeyAttributes", ()))


INDEX_KEYS, PROJECTION, INCLUDED = _table_index()


def _provisioned_settings() -> tuple[float, int]:
    """(auto scaling's target use, the capacity floor) of TableCapacity=provisioned, from the
    one declaration."""
    template = load_resources()
    policy = template["Resources"]["TableWriteScaling"]["Properties"]
    target = float(policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"]) / 100
    return target, int(template["Parameters"]["TableMinCapacity"]["Default"])


SCALING_TARGET, MIN_CAPACITY = _provisioned_settings()


def provisioned_per_day(units_per_inbound: dict[str, float], daily: int) -> float:
    """Dollars a day for DynamoDB with TableCapacity=provisioned: auto scaling keeps each of
    the table's and GSI1's reads and writes at its target use, never under the floor. This
    assumes it follows the day's traffic; a real day's lag and spikes cost somewhat more."""
    hourly = {"wru": PRICE["ddb_wcu_hour"], "rru": PRICE["ddb_rcu_hour"]}
    dollars = 0.0
    for kind in ("wru", "rru"):
        index = units_per_inbound[f"{kind}_index"]
        for share in (units_per_inbound[kind] - index, index):
            capacity = max(MIN_CAPACITY, share * daily / 86400 / SCALING_TARGET)
            dollars += capacity * 24 * hourly[kind]
    return dollars
TABLE_KEYS = ("PK", "SK")


def _units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def _projected(item: dict[str, Any] | None) -> dict[str, Any] | None:
    """The item as GSI1 stores it, or None when the item is not in the index."""
    if not item or not all(k in item for k in INDEX_KEYS):
        return None
    if PROJECTION == "ALL":
        return item
    keep = {*TABLE_KEYS, *INDEX_KEYS, *(INCLUDED if PROJECTION == "INCLUDE" else ())}
    return {k: v for k, v in item.items() if k in keep}


def write_units(before: dict[str, Any] | None, after: dict[str, Any] | None,
                *, failed: bool = False) -> tuple[int, int]:
    """(table, index) write units of one item write, by DynamoDB's documented rules: the larger
    of the item before and after; a failed condition still costs the item; an index costs
    nothing when its projection did not change, one write when it did, and a delete plus a put
    when its key changed."""
    table = _units(max(_item_size(before or {}), _item_size(after or {})))
    if failed:
        return _units(_item_size(before or {})), 0
    old, new = _projected(before), _projected(after)
    if old == new:
        return table, 0
    if old is None or new is None:
        return table, _units(_item_size(old or new or {}))
    if any(old[k] != new[k] for k in INDEX_KEYS):
        return table, _units(_item_size(old)) + _units(_item_size(new))
    return table, _units(max(_item_size(old), _item_size(new)))


def _read_units(operation: str, params: dict[str, Any], result: dict[str, Any]) -> float:
    rate = 1.0 if params.get("ConsistentRead") else 0.5
    if operation == "GetItem":
        return rate * max(1, math.ceil(_item_size(result.get("Item") or {}) / 4096))
    if operation in ("Query", "Scan"):
        size = sum(_item_size(i) for i in result.get("Items", []))
        return rate * max(1, math.ceil(size / 4096))
    if operation == "BatchGetItem":  # each item read on its own
        return sum((1.0 if params["RequestItems"][table].get("ConsistentRead") else 0.5)
                   * max(1, math.ceil(_item_size(item) / 4096))
                   for table, items in result.get("Responses", {}).items() for item in items)
    return 0


class Meter:
    """Counts every AWS call made in this process, with DynamoDB's capacity units."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self.units: Counter[str] = Counter()
        self.writes_by_kind: Counter[str] = Counter()
        self.reads_by_kind: Counter[str] = Counter()
        self._original = botocore.client.BaseClient._make_api_call

    def install(self) -> None:
        meter, original = self, self._original

        def counting(client: Any, operation: str, params: dict[str, Any]) -> Any:
            service = client.meta.service_model.service_name
            meter.calls[(service, operation)] += 1
            writes = _writes(operation, params) if service == "dynamodb" else []

            def item(table: str, key: dict[str, Any]) -> dict[str, Any] | None:
                # Read outside the meter: what the write replaced and what it left.
                found: dict[str, Any] | None = original(client, "GetItem", {
                    "TableName": table, "Key": key, "ConsistentRead": True}).get("Item")
                return found

            before = [item(table, key) for table, key, _, _ in writes]
            failed = False
            try:
                result = original(client, operation, params)
            except botocore.exceptions.ClientError:
                failed = True
                raise
            finally:
                rate = 2 if operation == "TransactWriteItems" else 1
                for (table, key, body, check), old in zip(writes, before, strict=True):
                    if check:
                        units = (1, 0)
                    else:
                        units = write_units(old, None if failed else item(table, key),
                                            failed=failed)
                    meter.units["wru"] += rate * sum(units)
                    meter.units["wru_index"] += rate * units[1]
                    meter.writes_by_kind[_kind(body)] += rate * sum(units)
            if service == "dynamodb":
                rru = _read_units(operation, params, result)
                meter.units["rru"] += rru
                if "IndexName" in params:
                    meter.units["rru_index"] += rru
                if rru:
                    what = params.get("Key") or {"PK": {"S": operation}}
                    meter.reads_by_kind[_kind({"Key": what})] += rru
            return result

        botocore.client.BaseClient._make_api_call = counting  # type: ignore[method-assign]

    def uninstall(self) -> None:
        botocore.client.BaseClient._make_api_call = self._original  # type: ignore[method-assign]

    def snapshot(self) -> tuple[Counter[tuple[str, str]], Counter[str], Counter[str],
                                Counter[str]]:
        return (Counter(self.calls), Counter(self.units), Counter(self.writes_by_kind),
                Counter(self.reads_by_kind))


def _writes(operation: str, params: dict[str, Any]
            ) -> list[tuple[str, dict[str, Any], dict[str, Any], bool]]:
    """Each item a write request touches: (table, key, its request, condition check only)."""
    def key(body: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in (body.get("Item") or body["Key"]).items() if k in TABLE_KEYS}

    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        return [(params["TableName"], key(params), params, False)]
    if operation == "BatchWriteItem":
        return [(table, key(body), body, False) for table, requests_ in
                params["RequestItems"].items() for r in requests_ for body in r.values()]
    if operation == "TransactWriteItems":
        return [(body["TableName"], key(body), body, kind == "ConditionCheck")
                for entry in params["TransactItems"] for kind, body in entry.items()]
    return []


def _kind(body: dict[str, Any]) -> str:
    """What a write is for, from its keys: the split that shows where the units go."""
    item = body.get("Item") or body.get("Key") or {}
    pk, sk = item.get("PK", {}).get("S", ""), item.get("SK", {}).get("S", "")
    if pk.startswith("MSGID#"):
        if "Item" not in body:
            return "dedupe record"  # a read, or an update (a brand post elsewhere)
        if body.get("ConditionExpression") == "attribute_not_exists(PK)":
            return "webhook claim"
        return "dedupe record (an agent reply's location)"
    pk_kind, sk_kind = pk.split("#")[0], sk.split("#")[0]
    return pk_kind + (f"/{sk_kind}" if sk_kind.isupper() and sk_kind != pk_kind else "")


class Replay:
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


def measure() -> dict[str, Any]:
    meter = Meter()
    meter.install()
    try:
        with local_stack(POLICIES) as runtime:
            replay = Replay(runtime.webhook_url)
            unanswered = replay.day(CONVERSATIONS)
            expected = {(c, level) for c in unanswered
                        for level in ("warning", "breach", "escalation")}
            deliveries = _await_alerts(runtime.outbox, expected, timeout=240)
            time.sleep(3)  # anything late still counts
            calls, units, kinds, reads = meter.snapshot()
            invocations = {p.function_name: getattr(p, "invocations", 0)
                           for p in runtime.pollers}
            executions, transitions = _state_machine(runtime.aws.endpoint)
            turns = _turns(runtime.aws.endpoint)
            deliveries = _deliveries(runtime.outbox)
    finally:
        meter.uninstall()
    alerted = {(d["conversation"], d["level"]) for d in deliveries}
    return _price(replay.sent, calls, units, (kinds, reads), invocations, executions, transitions,
                  turns, deliveries, missed=len(expected - alerted))


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
                     ExpressionAttributeValues={":t": {"S": "TURN#"}})["Items"]
    return len(items)


def _price(sent: Counter[str], calls: Counter[tuple[str, str]], units: Counter[str],
           by_item: tuple[Counter[str], Counter[str]], invocations: dict[str, int],
           executions: int,
           transitions: int, turns: int, deliveries: list[dict[str, Any]],
           missed: int) -> dict[str, Any]:
    inbound = sent["inbound"]
    op = {f"{s}:{o}": n for (s, o), n in calls.items()}

    def n(prefix: str) -> int:
        return sum(v for k, v in op.items() if k.startswith(prefix))

    worker = invocations.get("triage", 0)
    ring = invocations.get("ring_alarm", 0)
    emails = sum(d["protocol"] == "email" for d in deliveries)
    sms = sum(d["protocol"] == "sms" for d in deliveries)
    lambda_seconds = (sent["webhooks"] * LAMBDA_SECONDS["webhook"]
                      + worker * LAMBDA_SECONDS["worker"] + ring * LAMBDA_SECONDS["ring"])
    cost = {
        "webhook front (function URL)": sent["webhooks"] * PRICE["function_url_request"],
        "Lambda": (sent["webhooks"] + worker + ring) * PRICE["lambda_request"]
        + PRICE["lambda_gb_second"] * LAMBDA_GB * lambda_seconds,
        "DynamoDB": units["wru"] * PRICE["ddb_write_unit"]
        + units["rru"] * PRICE["ddb_read_unit"],
        # Sends we make, plus the pollers' receive and delete for each invocation; the alarm
        # clock's own send to the alerts queue (one per execution).
        "SQS": op.get("sqs:SendMessage", 0) * PRICE["sqs_fifo_request"]
        + (2 * (worker + ring) + executions) * PRICE["sqs_request"],
        "Step Functions": transitions * PRICE["sfn_transition"],
        "SNS (publish + email)": n("sns:Publish") * PRICE["sns_publish"]
        + emails * PRICE["sns_email"],
        "Secrets Manager": n("secretsmanager:") * PRICE["secrets_call"],
    }
    per_million = {k: round(v / inbound * 1e6, 2) for k, v in cost.items()}
    total = round(sum(per_million.values()), 2)
    fronts = {name: round(total - per_million["webhook front (function URL)"]
                          + sent["webhooks"] * PRICE[price] / inbound * 1e6, 2)
              for name, price in (("an HTTP API", "apigw_http_request"),
                                  ("Chalice's REST API", "apigw_rest_request"))}
    naive_sfn = turns * NAIVE_TRANSITIONS_PER_TURN * PRICE["sfn_transition"] / inbound * 1e6
    naive_total = round(total - per_million["Step Functions"] + naive_sfn, 2)
    # At volume, one execution per bucket carries every check due in it: transitions a day
    # stop growing at the number of buckets a day (production resolution).
    per_execution = transitions / executions if executions else 0
    volumes = {}
    # An agent gets DIGEST_AFTER alerts a minute one by one, then one digest a bucket for the
    # rest: past that, emails a day stop growing with traffic (per agent the replay emailed).
    # Imported here: the app's modules read their environment (the metrics namespace) when
    # first imported, which must be after the local stack set it.
    from chalicelib.services.alerting import AlertingDeps

    agents = len({d["agent"] for d in deliveries if d["protocol"] == "email"})
    email_cap = agents * (AlertingDeps.digest_after + 60 / PRODUCTION_RESOLUTION_S) * 1440
    for daily in (10_000, 1_000_000, 10_000_000):
        cap = 86400 / PRODUCTION_RESOLUTION_S * per_execution
        sfn_day = min(daily * transitions / inbound, cap) * PRICE["sfn_transition"]
        emails_day = min(daily * emails / inbound, email_cap)
        sns_day = emails_day * PRICE["sns_email"] + min(
            daily * n("sns:Publish") / inbound, emails_day) * PRICE["sns_publish"]
        rest = (total - per_million["Step Functions"]
                - per_million["SNS (publish + email)"]) * daily / 1e6
        volumes[f"$/million at {daily:,}/day"] = round(
            (rest + sfn_day + sns_day) / daily * 1e6, 2)
        on_demand_day = per_million["DynamoDB"] * daily / 1e6
        provisioned_day = provisioned_per_day(
            {k: units[k] / inbound for k in ("wru", "wru_index", "rru", "rru_index")}, daily)
        volumes[f"$/million at {daily:,}/day, table provisioned"] = round(
            (rest - on_demand_day + provisioned_day + sfn_day + sns_day) / daily * 1e6, 2)
        volumes[f"emails a day at {daily:,}/day"] = round(emails_day)
    top_writes, top_reads = (", ".join(f"{k} {v / inbound:.1f}" for k, v in c.most_common(6))
                             for c in by_item)
    return {"prices": PRICES_DATE, "conversations": CONVERSATIONS,
            "webhooks replayed": sent["webhooks"], "inbound customer messages": inbound,
            "turns": turns, "alerts missed (must be 0)": missed,
            "worker invocations": worker, "ring invocations": ring,
            "alarm-clock executions": executions, "state transitions": transitions,
            "AWS requests counted": sum(calls.values()),
            "DynamoDB WRU per inbound": round(units["wru"] / inbound, 2),
            "DynamoDB RRU per inbound": round(units["rru"] / inbound, 2),
            "WRU per inbound by item": top_writes,
            "RRU per inbound by item": top_reads,
            "emails per 100 inbound": round(emails / inbound * 100, 1),
            "emails by level": ", ".join(f"{k} {v}" for k, v in sorted(Counter(
                d["level"] for d in deliveries if d["protocol"] == "email").items())),
            "SMS per 100 inbound (not priced)": round(sms / inbound * 100, 1),
            **{f"$/million inbound, {k}": v for k, v in per_million.items()},
            "$/million inbound, total (excl. SMS)": total,
            **{f"$/million inbound, total with {name} as the webhook front": v
               for name, v in fronts.items()},
            "$/million inbound, naive per-turn executions": naive_total,
            "alarm clock saving (naive/ours)": round(naive_total / total, 2) if total else None,
            **volumes}


NAIVE_TRANSITIONS_PER_TURN = 10  # 3 x (Wait, Choice "answered?", Task alert) + start/end


if __name__ == "__main__":
    for name, value in measure().items():
        print(f"{name}: {value}")
