"""Load in CI: the benchmark's load script (`bench/load.py`) at its count, signed webhooks
from concurrent senders against the whole local stack: nothing lost, nothing duplicated,
everything triaged. Not more by default: moto's SQS send walks every message in the queue, so
twice the count takes 2.5 times as long (250 s, not 100 s) and tests nothing more of ours.
RELIABILITY_LOAD_N raises it."""

from __future__ import annotations

import os

from bench import load

N = int(os.environ.get("RELIABILITY_LOAD_N", str(load.N)))


def test_a_load_of_signed_webhooks_loses_nothing_and_duplicates_nothing() -> None:
    result = load.measure(n=N, c=8)
    print("\nload: " + ", ".join(f"{k} {v}" for k, v in result.items()))
    assert result["accepted"] == N
    assert result["stored"] == N and result["queued (triaged)"] == N
    assert result["lost"] == 0 and result["duplicated"] == 0
