"""bench/cost/prices.py alone: counted usage times the dated prices, without a stack."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from bench.cost.prices import (
    Assumptions,
    DayCounts,
    FunctionCounts,
    assumptions,
    by_memory,
    price,
    provisioned_per_day,
)

ASSUMED = Assumptions(resolution_s=10.0, digest_after=5, scaling_target=0.7, min_capacity=5)


FUNCTIONS = {  # measured: invocations, handler CPU seconds, requests by service, memory
    "webhook_url": FunctionCounts(20, 0.1, {"dynamodb": 40, "sqs": 20}, 512),
    "inbound_worker": FunctionCounts(10, 0.2, {"dynamodb": 100, "stepfunctions": 2}, 512),
    "alert_worker": FunctionCounts(2, 0.08, {"dynamodb": 10, "sns": 3}, 512),
}


def day(**changes: object) -> DayCounts:
    """A tiny counted day: 10 inbound messages (20 webhooks), one agent emailed twice; the
    triage reads a FIFO queue, the rings a standard one."""
    counts: dict[str, object] = dict(
        conversations=5, sent=Counter(webhooks=20, inbound=10, **{"brand replies": 10}),
        calls=Counter({("sqs", "SendMessage"): 10, ("sns", "Publish"): 3,
                       ("secretsmanager", "GetSecretValue"): 2, ("dynamodb", "PutItem"): 40}),
        units=Counter(wru=100, wru_index=20, rru=40, rru_index=10),
        writes_by_kind=Counter({"CONV/META": 60, "CONV/TURN": 40}),
        reads_by_kind=Counter({"CONV/META": 40}),
        invocations={"inbound_worker": 10, "alert_worker": 2}, executions=2, transitions=6, turns=8,
        deliveries=[{"protocol": "email", "agent": "alice", "level": "warning"},
                    {"protocol": "email", "agent": "alice", "level": "breach"},
                    {"protocol": "sms", "agent": "alice", "level": "warning"}],
        missed=0, functions=FUNCTIONS, fifo={"inbound_worker": True, "alert_worker": False})
    counts |= changes
    return DayCounts(**counts)  # type: ignore[arg-type]


def test_each_service_is_its_counts_times_its_price_per_million_inbound() -> None:
    figures = price(day(), ASSUMED)
    per = "$/million inbound, "
    # 100 write units at $0.625 and 40 read units at $0.125 a million, over 10 inbound.
    assert figures[per + "DynamoDB"] == pytest.approx((100 * 0.625 + 40 * 0.125) / 10)
    # 10 sends and the worker's receive and delete per invocation (20) on the FIFO queue; the
    # rings' receive and delete (4) and one send per execution (2) on the standard one.
    assert figures[per + "SQS"] == pytest.approx((30 * 0.5 + 6 * 0.4) / 10, abs=0.01)
    assert figures[per + "Step Functions"] == pytest.approx(6 * 25 / 10)
    assert figures[per + "SNS (publish + email)"] == pytest.approx((3 * 0.5 + 2 * 20) / 10)
    assert figures[per + "webhook front (function URL)"] == 0
    services = [v for k, v in figures.items() if k.startswith(per) and "total" not in k
                and "naive" not in k]
    assert figures[per + "total (excl. SMS)"] == pytest.approx(sum(services))
    # The same webhooks behind a REST API: $3.50 a million requests, 2 per inbound message.
    assert figures[per + "total with Chalice's REST API as the webhook front"] == pytest.approx(
        figures[per + "total (excl. SMS)"] + 7.0)
    assert figures["DynamoDB WRU per inbound"] == 10
    assert figures["WRU per inbound by item"] == "CONV/META 6.0, CONV/TURN 4.0"
    assert figures["emails per 100 inbound"] == 20
    assert figures["SMS per 100 inbound (not priced)"] == 10
    assert figures["emails by level"] == "breach 1, warning 1"


def test_the_naive_design_pays_ten_transitions_a_turn() -> None:
    figures = price(day(), ASSUMED)
    ours = figures["$/million inbound, total (excl. SMS)"]
    naive = ours - 6 * 25 / 10 + 8 * 10 * 25 / 10
    assert figures["$/million inbound, naive per-turn executions"] == pytest.approx(naive)
    assert figures["alarm clock saving (naive/ours)"] == round(naive / ours, 2)


def test_at_volume_executions_and_emails_stop_growing_with_traffic() -> None:
    figures = price(day(), ASSUMED)
    # One agent: 5 alerts a minute one by one, then one digest per 10 s bucket.
    cap = (5 + 6) * 1440
    assert figures["emails a day at 10,000/day"] == 2000
    assert figures["emails a day at 1,000,000/day"] == cap
    assert figures["emails a day at 10,000,000/day"] == cap
    # Capped costs spread over ten times the traffic: the bill per million falls.
    assert figures["$/million at 10,000,000/day"] < figures["$/million at 1,000,000/day"]


def test_at_volume_what_each_ring_writes_stops_growing_at_one_ring_per_bucket() -> None:
    plain = day()
    marked = day(units=Counter(wru=1100, wru_index=20, rru=40, rru_index=10),
                 writes_by_kind=Counter({"CONV/META": 60, "CONV/TURN": 40,
                                         "DUE/~RANG": 500, "DUE/~DONE": 500}))
    a, b = price(plain, ASSUMED), price(marked, ASSUMED)
    # The replayed day itself pays all 1000 units: $0.625 a million each, over 10 inbound.
    assert b["$/million at 10,000/day"] - a["$/million at 10,000/day"] == pytest.approx(
        1000 * 0.625 / 10, abs=0.02)
    # 10M a day: 8640 buckets of 10 s, 2 rings counted, so 4320 days' worth of rings, not 10^6.
    for suffix in ("", ", table provisioned"):
        key = f"$/million at 10,000,000/day{suffix}"
        assert b[key] - a[key] == pytest.approx(4320 * 1000 * 0.625e-6 / 10, abs=0.02)


def test_a_provisioned_table_is_cheaper_at_volume_and_dearer_at_a_trickle() -> None:
    figures = price(day(), ASSUMED)
    assert (figures["$/million at 10,000,000/day, table provisioned"]
            < figures["$/million at 10,000,000/day"])
    assert (figures["$/million at 10,000/day, table provisioned"]
            > figures["$/million at 10,000/day"])


def test_provisioned_capacity_is_billed_by_the_hour_at_the_scaling_target_above_a_floor() -> None:
    per_inbound = {"wru": 10.0, "wru_index": 2.0, "rru": 4.0, "rru_index": 1.0}
    # Tiny volume: four floors of 5 units (table and index, reads and writes), all day.
    floor = 24 * 5 * (2 * 0.00065 + 2 * 0.00013)
    assert abs(provisioned_per_day(per_inbound, 10, ASSUMED) - floor) < 1e-9
    # At volume it grows with traffic: each unit used is paid at 1/0.7 of an hour's share.
    big, bigger = (provisioned_per_day(per_inbound, n, ASSUMED) for n in (10**7, 2 * 10**7))
    assert abs(bigger / big - 2) < 1e-9
    per_write = 0.00065 / 3600 / 0.7
    expected = 10**7 / 86400 * 24 * 3600 * (10 * per_write + 4 * 0.00013 / 3600 / 0.7)
    assert abs(big - expected) < 1e-6
    # ... which is cheaper per unit than on demand ($0.625 a million writes).
    assert per_write < 0.625e-6 / 2.4


def test_the_assumptions_come_from_the_projects_own_declarations() -> None:
    assert assumptions() == Assumptions(resolution_s=10.0, digest_after=5, scaling_target=0.7,
                                        min_capacity=5)


def test_a_queues_requests_are_priced_by_its_type() -> None:
    fifo = price(day(), ASSUMED)["$/million inbound, SQS"]
    standard = price(day(fifo={}), ASSUMED)["$/million inbound, SQS"]
    # Only the worker's 20 receives and deletes change price: $0.50 against $0.40 a million.
    assert fifo - standard == pytest.approx(20 * 0.1 / 10, abs=0.01)
    alerts_fifo = price(day(fifo={"inbound_worker": True, "alert_worker": True}), ASSUMED)
    assert alerts_fifo["$/million inbound, SQS"] - fifo == pytest.approx(4 * 0.1 / 10, abs=0.01)


def test_lambda_duration_is_cpu_scaled_to_the_memorys_vcpu_share_plus_request_latency() -> None:
    webhook = FUNCTIONS["webhook_url"]
    # 0.1 s of CPU over 20 invocations at 512/1769 of a vCPU; 40 DynamoDB requests at 5 ms and
    # 20 SQS at 10 ms (the assumed latencies); half a ms of rounding to whole ms.
    at_512 = (0.1 * 1769 / 512 + 40 * 0.005 + 20 * 0.010) / 20 + 0.0005
    assert webhook.seconds() == pytest.approx(at_512)
    # Doubling the memory halves the CPU part only; past a full vCPU, nothing is faster.
    assert webhook.seconds(1024) == pytest.approx((0.1 * 1769 / 1024 + 0.4) / 20 + 0.0005)
    assert webhook.seconds(3538) == pytest.approx((0.1 + 0.4) / 20 + 0.0005)
    # A service without a listed latency pays the slowest listed one.
    odd = FunctionCounts(1, 0.0, {"kinesis": 1}, 1769)
    assert odd.seconds() == pytest.approx(0.025 + 0.0005)
    # Billed: the requests, and GB-seconds at the memory size (1024 MB a GB).
    assert webhook.dollars(1000) == pytest.approx(1000 * (0.2e-6 + 0.0000166667 * 0.5 * at_512))
    figures = price(day(), ASSUMED)
    lam = sum(f.dollars(n) for f, n in ((FUNCTIONS["webhook_url"], 20),
                                         (FUNCTIONS["inbound_worker"], 10),
                                         (FUNCTIONS["alert_worker"], 2)))
    assert figures["$/million inbound, Lambda"] == pytest.approx(lam / 10 * 1e6, abs=0.01)
    assert figures["Lambda webhook_url: handler CPU ms per invocation (measured here)"] == 5.0
    assert figures["Lambda webhook_url: AWS requests per invocation"] == "dynamodb 2.0, sqs 1.0"
    assert figures["Lambda webhook_url: billed ms per invocation at 512 MB (modelled)"] == round(
        at_512 * 1000, 1)


def test_memory_sizes_are_priced_side_by_side_with_the_cpu_part_constant() -> None:
    figures = by_memory(day(), ASSUMED)
    lam = {mb: figures[f"$/million inbound, Lambda at {mb} MB"] for mb in (256, 512, 1024)}
    assert lam[512] == price(day(), ASSUMED)["$/million inbound, Lambda"]
    # Half the memory: the same CPU GB-seconds, half the waiting's; so cheaper, by half the
    # waiting's GB-seconds at 512 MB.
    waiting_gb_s = 0.5 * sum(sum(n * {"dynamodb": 0.005, "sqs": 0.01, "stepfunctions": 0.025,
                                      "sns": 0.025}[s] for s, n in f.requests.items()) + (
        f.invocations * 0.0005) for f in FUNCTIONS.values())
    assert lam[512] - lam[256] == pytest.approx(
        waiting_gb_s / 2 * 0.0000166667 / 10 * 1e6, abs=0.02)
    assert lam[256] < lam[512] < lam[1024]
    assert (figures["$/million at 1,000,000/day, Lambda at 256 MB"]
            < figures["$/million at 1,000,000/day, Lambda at 512 MB"])


def test_the_worker_is_priced_per_queued_message_whatever_the_replays_batches() -> None:
    # The same 10 queued messages and the same measured work, taken 1 a batch or 5 a batch:
    # production rarely finds more than one to receive, so both bill 10 invocations and
    # 20 receives and deletes.
    one_each = price(day(), ASSUMED)
    batched = price(day(invocations={"inbound_worker": 2, "alert_worker": 2},
                        functions=FUNCTIONS | {"inbound_worker": replace(
                            FUNCTIONS["inbound_worker"], invocations=2)}), ASSUMED)
    for service in ("Lambda", "SQS"):
        assert batched[f"$/million inbound, {service}"] == one_each[
            f"$/million inbound, {service}"]
    assert batched["worker invocations"] == 2
    assert batched["worker invocations priced (one per queued message)"] == 10
