"""Load in CI: the benchmark's load script (`bench/load.py`) at twice its count, signed
webhooks from concurrent senders against the whole local stack: nothing lost, nothing
duplicated, everything triaged."""

from __future__ import annotations

import os

from bench import load

N = int(os.environ.get("RELIABILITY_LOAD_N", "600"))


def test_a_load_of_signed_webhooks_loses_nothing_and_duplicates_nothing() -> None:
    result = load.measure(n=N, c=8)
    print("\nload: " + ", ".join(f"{k} {v}" for k, v in result.items()))
    assert result["accepted"] == N
    assert result["stored"] == N and result["queued (triaged)"] == N
    assert result["lost"] == 0 and result["duplicated"] == 0
