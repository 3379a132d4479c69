"""Published prices, and what a counted day costs per million inbound messages.

Pure once given its inputs: `price(day, assumed)` takes what the replayed day used
(`DayCounts`) and what production does that the replay cannot show (`Assumptions`, read from
the project's own declarations by `assumptions()`), and returns the printed figures."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

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
# Lambda's duration, modelled from what the replay measures: the handler thread's CPU seconds
# (locally, on this machine's core) scaled to the function's share of a vCPU, plus the time its
# AWS requests wait on the network. Lambda gives a function one full vCPU at 1,769 MB and a
# proportional share below; the Python handlers are single-threaded, so more gains nothing.
FULL_VCPU_MB = 1769
# Typical in-region latency of one request, by service, in seconds: ASSUMED (not measured; the
# replay's emulator answers in-process), round and on the conservative side of what each
# service's documentation and common experience give.
LATENCY_S = {
    "dynamodb": 0.005,        # single-item Get/Put/Update/Query: "single-digit milliseconds"
    "sqs": 0.010,             # SendMessage (FIFO included)
    "stepfunctions": 0.025,   # StartExecution (a Standard workflow)
    "sns": 0.025,             # Publish
    "secretsmanager": 0.020,  # GetSecretValue (once a container: cached after)
}
LATENCY_UNLISTED_S = 0.025  # any other service: the slowest listed
BILLING_GRANULARITY_S = 0.0005  # billed in whole ms, rounded up: half a ms on average
MEMORY_SIZES_MB = (256, 512, 1024)  # the sizes priced side by side
# The functions the day's bill prices (the scheduled ones are priced by sweep.py and listen.py)
WEBHOOK, WORKER, RING = "webhook_url", "inbound_worker", "alert_worker"
NAIVE_TRANSITIONS_PER_TURN = 10  # 3 x (Wait, Choice "answered?", Task alert) + start/end
DAILY_VOLUMES = (10_000, 1_000_000, 10_000_000)
# Written once per ring of a bucket, whatever it carries (adapters/dynamodb/due_checks.py).
BUCKET_MARKERS = ("DUE/~RANG", "DUE/~DONE")


@dataclass(frozen=True)
class DayCounts:
    """What the replayed day used, every figure counted (bench/cost/replay.py)."""

    conversations: int
    sent: Counter[str]                  # webhooks, inbound, brand replies
    calls: Counter[tuple[str, str]]     # AWS requests by (service, operation)
    units: Mapping[str, float]          # DynamoDB wru, wru_index, rru, rru_index
    writes_by_kind: Mapping[str, float]  # DynamoDB units by the kind of item
    reads_by_kind: Mapping[str, float]
    invocations: dict[str, int]         # Lambda invocations the pollers made, by function
    executions: int                     # alarm-clock executions
    transitions: int                    # their state transitions
    turns: int
    deliveries: list[dict[str, Any]]    # the outbox: every SMS and email
    missed: int                         # alerts expected and never delivered
    # What each function's handler used, measured by the local runtime, by function name
    functions: Mapping[str, FunctionCounts] = field(default_factory=dict)
    # Whether the queue each SQS-triggered function reads is FIFO (the template's declaration)
    fifo: Mapping[str, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class FunctionCounts:
    """One function's invocations in the replayed day, as the local runtime measured them."""

    invocations: int
    cpu_seconds: float           # its handler thread's CPU time, all invocations
    requests: Mapping[str, int]  # its AWS requests by service, all invocations
    memory_mb: int               # its memory size in the template

    def seconds(self, memory_mb: int | None = None) -> float:
        """Modelled billed seconds per invocation at a memory size (its own by default)."""
        if not self.invocations:
            return 0.0
        mb = memory_mb or self.memory_mb
        waiting = sum(n * LATENCY_S.get(service, LATENCY_UNLISTED_S)
                      for service, n in self.requests.items())
        return ((self.cpu_seconds * max(1.0, FULL_VCPU_MB / mb) + waiting) / self.invocations
                + BILLING_GRANULARITY_S)

    def dollars(self, invocations: int, memory_mb: int | None = None) -> float:
        """Lambda's bill for that many invocations like these (requests and GB-seconds)."""
        mb = memory_mb or self.memory_mb
        return invocations * (PRICE["lambda_request"] + PRICE["lambda_gb_second"] * mb / 1024
                              * self.seconds(mb))


@dataclass(frozen=True)
class Assumptions:
    """What production does that one replayed day cannot show."""

    resolution_s: float    # alarm-clock bucket width: caps executions a day
    digest_after: int      # alerts a minute an agent gets one by one, then one digest a bucket
    scaling_target: float  # TableCapacity=provisioned: auto scaling's target use
    min_capacity: int      # ... and its floor, in units


def assumptions() -> Assumptions:
    """From the project's own declarations: the production policies, the app's digest rule
    and the template's auto scaling."""
    # Imported here: the app's modules read their environment (the metrics namespace) when
    # first imported, which must be after the local stack set it.
    from chalicelib.config import DEFAULT_POLICIES
    from chalicelib.domain.policies import load_policies
    from chalicelib.services.alerting import AlertingDeps
    from infrastructure.template import load_resources

    template = load_resources()
    policy = template["Resources"]["TableWriteScaling"]["Properties"]
    return Assumptions(
        resolution_s=load_policies(DEFAULT_POLICIES).timer_resolution.total_seconds(),
        digest_after=AlertingDeps.digest_after,
        scaling_target=float(policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"])
        / 100,
        min_capacity=int(template["Parameters"]["TableMinCapacity"]["Default"]))


def memory_mb(function: str, stage: str = "dev") -> int:
    """A function's memory size as .chalice/config.json gives it (what `make package` puts in
    the template), Chalice's default of 128 MB if unset."""
    from infrastructure.package import chalice_setting

    size = chalice_setting(stage, function, "lambda_memory_size")
    return 128 if size is None else int(size)


def provisioned_per_day(units_per_inbound: dict[str, float], daily: int,
                        assumed: Assumptions) -> float:
    """Dollars a day for DynamoDB with TableCapacity=provisioned: auto scaling keeps each of
    the table's and GSI1's reads and writes at its target use, never under the floor. This
    assumes it follows the day's traffic; a real day's lag and spikes cost somewhat more."""
    hourly = {"wru": PRICE["ddb_wcu_hour"], "rru": PRICE["ddb_rcu_hour"]}
    dollars = 0.0
    for kind in ("wru", "rru"):
        index = units_per_inbound[f"{kind}_index"]
        for share in (units_per_inbound[kind] - index, index):
            capacity = max(assumed.min_capacity,
                           share * daily / 86400 / assumed.scaling_target)
            dollars += capacity * 24 * hourly[kind]
    return dollars


def price(day: DayCounts, assumed: Assumptions) -> dict[str, Any]:
    """The printed figures: dollars per million inbound customer messages by service, other
    webhook fronts, the naive one-execution-per-turn design, and three daily volumes."""
    inbound = day.sent["inbound"]
    units = defaultdict(float, day.units)
    op = {f"{s}:{o}": n for (s, o), n in day.calls.items()}

    def n(prefix: str) -> int:
        return sum(v for k, v in op.items() if k.startswith(prefix))

    ran = day.invocations.get("inbound_worker", 0)
    ring = day.invocations.get("alert_worker", 0)
    # Priced at one worker invocation per queued message, whatever the replay's batches: the
    # replay posts as fast as it can, so the worker takes several messages a batch whenever the
    # webhook outruns it, while production at 1M a day (12 messages a second over distinct
    # FIFO groups, and FIFO has no batching window) rarely finds more than one to receive.
    # The worker's measured CPU and requests are spread over its messages.
    worker = max(op.get("sqs:SendMessage", 0), ran)
    emails = sum(d["protocol"] == "email" for d in day.deliveries)
    sms = sum(d["protocol"] == "sms" for d in day.deliveries)
    webhooks = day.sent["webhooks"]
    fn = {name: day.functions.get(name, FunctionCounts(0, 0.0, {}, 512))
          for name in (WEBHOOK, WORKER, RING)}
    if fn[WORKER].invocations:
        fn[WORKER] = replace(fn[WORKER], invocations=worker)

    def sqs_price(function: str) -> float:
        """What a request on the queue that `function` reads costs: FIFO queues cost more."""
        return PRICE["sqs_fifo_request" if day.fifo.get(function) else "sqs_request"]

    cost = {
        "webhook front (function URL)": webhooks * PRICE["function_url_request"],
        "Lambda": fn[WEBHOOK].dollars(webhooks) + fn[WORKER].dollars(worker)
        + fn[RING].dollars(ring),
        "DynamoDB": units["wru"] * PRICE["ddb_write_unit"]
        + units["rru"] * PRICE["ddb_read_unit"],
        # Sends we make (all to the inbound FIFO queue), plus the pollers' receive and delete
        # for each invocation, each at its queue's price; the alarm clock's own send to the
        # alerts queue (one per execution).
        "SQS": op.get("sqs:SendMessage", 0) * PRICE["sqs_fifo_request"]
        + 2 * worker * sqs_price(WORKER) + 2 * ring * sqs_price(RING)
        + day.executions * PRICE["sqs_request"],
        "Step Functions": day.transitions * PRICE["sfn_transition"],
        "SNS (publish + email)": n("sns:Publish") * PRICE["sns_publish"]
        + emails * PRICE["sns_email"],
        "Secrets Manager": n("secretsmanager:") * PRICE["secrets_call"],
    }
    per_million = {k: round(v / inbound * 1e6, 2) for k, v in cost.items()}
    total = round(sum(per_million.values()), 2)
    fronts = {name: round(total - per_million["webhook front (function URL)"]
                          + webhooks * PRICE[front] / inbound * 1e6, 2)
              for name, front in (("an HTTP API", "apigw_http_request"),
                                  ("Chalice's REST API", "apigw_rest_request"))}
    naive_sfn = day.turns * NAIVE_TRANSITIONS_PER_TURN * PRICE["sfn_transition"] / inbound * 1e6
    naive_total = round(total - per_million["Step Functions"] + naive_sfn, 2)
    # At volume, one execution per bucket carries every check due in it: transitions a day
    # stop growing at the number of buckets a day (production resolution).
    per_execution = day.transitions / day.executions if day.executions else 0
    # An agent gets `digest_after` alerts a minute one by one, then one digest a bucket for the
    # rest: past that, emails a day stop growing with traffic (per agent the replay emailed).
    agents = len({d["agent"] for d in day.deliveries if d["protocol"] == "email"})
    email_cap = agents * (assumed.digest_after + 60 / assumed.resolution_s) * 1440
    # What each ring of a bucket costs besides its transitions: the ring's invocation, its
    # receive and delete and the execution's send, the bucket's two markers. At volume these
    # stop growing at one ring per bucket, as the executions do.
    markers = sum(day.writes_by_kind.get(k, 0) for k in BUCKET_MARKERS)
    ring_dollars = (fn[RING].dollars(ring) + 2 * ring * sqs_price(RING)
                    + day.executions * PRICE["sqs_request"])
    markers_dollars = markers * PRICE["ddb_write_unit"]
    units_per_inbound = {k: units[k] / inbound for k in ("wru", "wru_index", "rru", "rru_index")}
    # Provisioned capacity is sized for the traffic's units; the markers' few are priced apart.
    traffic_units = units_per_inbound | {"wru": (units["wru"] - markers) / inbound}
    volumes = {}
    for daily in DAILY_VOLUMES:
        buckets = 86400 / assumed.resolution_s
        cap = buckets * per_execution
        sfn_day = min(daily * day.transitions / inbound, cap) * PRICE["sfn_transition"]
        emails_day = min(daily * emails / inbound, email_cap)
        sns_day = emails_day * PRICE["sns_email"] + min(
            daily * n("sns:Publish") / inbound, emails_day) * PRICE["sns_publish"]
        rings = min(daily / inbound, buckets / day.executions if day.executions else 0)
        linear = daily / inbound * (ring_dollars + markers_dollars)
        rest = (total - per_million["Step Functions"]
                - per_million["SNS (publish + email)"]) * daily / 1e6 - linear + rings * (
            ring_dollars + markers_dollars)
        volumes[f"$/million at {daily:,}/day"] = round(
            (rest + sfn_day + sns_day) / daily * 1e6, 2)
        on_demand_day = (per_million["DynamoDB"] * daily / 1e6
                         - daily / inbound * markers_dollars + rings * markers_dollars)
        provisioned_day = provisioned_per_day(traffic_units, daily, assumed) + (
            rings * markers_dollars)
        volumes[f"$/million at {daily:,}/day, table provisioned"] = round(
            (rest - on_demand_day + provisioned_day + sfn_day + sns_day) / daily * 1e6, 2)
        volumes[f"emails a day at {daily:,}/day"] = round(emails_day)
    top_writes, top_reads = (", ".join(f"{k} {v / inbound:.1f}" for k, v in _largest(c, 6))
                             for c in (day.writes_by_kind, day.reads_by_kind))
    return {"prices": PRICES_DATE, "conversations": day.conversations,
            "webhooks replayed": webhooks, "inbound customer messages": inbound,
            "turns": day.turns, "alerts missed (must be 0)": day.missed,
            "worker invocations": ran,
            "worker invocations priced (one per queued message)": worker,
            "ring invocations": ring,
            **_lambda_figures(fn),
            "alarm-clock executions": day.executions, "state transitions": day.transitions,
            "AWS requests counted": sum(day.calls.values()),
            "DynamoDB WRU per inbound": round(units["wru"] / inbound, 2),
            "DynamoDB RRU per inbound": round(units["rru"] / inbound, 2),
            "WRU per inbound by item": top_writes,
            "RRU per inbound by item": top_reads,
            "emails per 100 inbound": round(emails / inbound * 100, 1),
            "emails by level": ", ".join(f"{k} {v}" for k, v in sorted(Counter(
                d["level"] for d in day.deliveries if d["protocol"] == "email").items())),
            "SMS per 100 inbound (not priced)": round(sms / inbound * 100, 1),
            **{f"$/million inbound, {k}": v for k, v in per_million.items()},
            "$/million inbound, total (excl. SMS)": total,
            **{f"$/million inbound, total with {name} as the webhook front": v
               for name, v in fronts.items()},
            "$/million inbound, naive per-turn executions": naive_total,
            "alarm clock saving (naive/ours)": round(naive_total / total, 2) if total else None,
            **volumes}


def _largest(counts: Mapping[str, float], n: int) -> list[tuple[str, float]]:
    """The n largest, ties in the order counted (as `Counter.most_common`)."""
    return sorted(counts.items(), key=lambda kv: kv[1], reverse=True)[:n]


def _lambda_figures(functions: Mapping[str, FunctionCounts]) -> dict[str, Any]:
    """Per function: the measured CPU ms and the requests per invocation, and the modelled
    billed ms at its memory size."""
    figures: dict[str, Any] = {}
    for name, f in functions.items():
        per = max(f.invocations, 1)
        figures[f"Lambda {name}: handler CPU ms per invocation (measured here)"] = round(
            f.cpu_seconds / per * 1000, 1)
        figures[f"Lambda {name}: AWS requests per invocation"] = ", ".join(
            f"{s} {n / per:.1f}" for s, n in sorted(f.requests.items())) or "none"
        figures[f"Lambda {name}: billed ms per invocation at {f.memory_mb} MB (modelled)"] = (
            round(f.seconds() * 1000, 1))
    return figures


def by_memory(day: DayCounts, assumed: Assumptions) -> dict[str, Any]:
    """The bill at 1M a day with every priced function at each memory size of
    MEMORY_SIZES_MB: the model's trade of CPU share against GB-seconds."""
    figures: dict[str, Any] = {}
    for mb in MEMORY_SIZES_MB:
        sized = replace(day, functions={name: replace(f, memory_mb=mb)
                                        for name, f in day.functions.items()})
        priced = price(sized, assumed)
        figures[f"$/million at 1,000,000/day, Lambda at {mb} MB"] = priced[
            "$/million at 1,000,000/day"]
        figures[f"$/million inbound, Lambda at {mb} MB"] = priced["$/million inbound, Lambda"]
    return figures
