"""An SNS outage longer than the old retry ladder, on the whole local stack, while complaints
keep arriving and turns reach their warning, breach and escalation.

The retry ladder is compressed through the template's parameters (RetryBaseSeconds 1,
RetryCapSeconds 4: 24 receives last 68 to 91 s), not by changing a code path; in the same
compression the old ladder (five receives, doubling) dead-lettered a record after 15 s. SNS
refuses every publish for 40 s. After it recovers, every due alert must arrive exactly once,
none may be parked in a DLQ, and no answered turn may be alerted. Counted and printed (the
README's Reliability table quotes them).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import botocore.client
import pytest
from botocore.exceptions import ClientError

from bench.stack import alerts_once_due, dead_letters, local_stack
from tests.reliability.test_faults import PAGE, _deliver, _message

POLICIES = Path(__file__).resolve().parents[1] / "fixtures" / "policies" / "faults.yaml"
OUTAGE_SECONDS = 40.0
COMPRESSED = {"RetryBaseSeconds": "1", "RetryCapSeconds": "4"}
OLD_LADDER_SECONDS = 1 + 2 + 4 + 4 + 4  # the old 2, 4, 8, 16, 30 s, compressed alike


@contextmanager
def sns_down_until(until: list[float], refused: Counter[str]) -> Iterator[None]:
    """Every SNS Publish fails (throttled or 5xx) while time.monotonic() < until[0]."""
    base: Any = botocore.client.BaseClient  # where every client calls AWS
    original = base._make_api_call

    def call(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if (client.meta.service_model.service_name == "sns" and operation == "Publish"
                and time.monotonic() < until[0]):
            refused["publish"] += 1
            code, status = (("Throttling", 400) if refused["publish"] % 2
                            else ("InternalError", 500))
            error: Any = {"Error": {"Code": code, "Message": "injected outage"},
                          "ResponseMetadata": {"HTTPStatusCode": status}}
            raise ClientError(error, operation)
        return original(client, operation, params)

    base._make_api_call = call
    try:
        yield
    finally:
        base._make_api_call = original


def test_an_sns_outage_longer_than_the_old_ladder_loses_and_duplicates_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLYWINDOW_LOCAL_SCHEDULE_SECONDS", "5")  # the sweeper runs too
    conversations = 12
    answered = {n for n in range(conversations) if n % 4 == 0}
    refused: Counter[str] = Counter()
    until = [0.0]
    with sns_down_until(until, refused), local_stack(POLICIES, COMPRESSED) as runtime:
        run = uuid.uuid4().hex[:6]
        statuses: Counter[int] = Counter()
        began = time.monotonic()
        until[0] = began + OUTAGE_SECONDS
        accepted = 0
        for n in range(conversations):  # complaints keep arriving through the outage
            accepted += _deliver(runtime.webhook_url, _message(run, n), statuses)
            if n in answered:
                accepted += _deliver(runtime.webhook_url, _message(run, n, echo=True), statuses)
            time.sleep(2)
        expected = {(f"messenger.dm-{PAGE}-{run}{n:04d}", level)
                    for n in range(conversations) if n not in answered
                    for level in ("warning", "breach", "escalation")}
        deliveries = alerts_once_due(
            runtime, expected, timeout=began + OUTAGE_SECONDS + 150 - time.monotonic(), settle=5)
        first_delivery = min((d["at"] for d in deliveries if d["conversation"]), default=None)
        parked = dead_letters(runtime)
    ours = [d for d in deliveries if d["conversation"] and run in d["conversation"]]
    alerted = {(d["conversation"], d["level"]) for d in ours}
    per_recipient = Counter((d["conversation"], d["level"], d["agent"], d["protocol"])
                            for d in ours)
    duplicated = sum(n - 1 for n in per_recipient.values() if n > 1)
    lost = len(expected - alerted)
    unwanted = {a for a in alerted if a[0].rsplit("-", 1)[-1] in
                {f"{run}{n:04d}" for n in answered}}
    due_during_outage = sum(1 for n in range(conversations) if n not in answered
                            for offset in (20, 40, 43) if 2 * n + offset < OUTAGE_SECONDS)
    print(f"\nSNS down {OUTAGE_SECONDS:.0f} s (old ladder, compressed alike: "
          f"{OLD_LADDER_SECONDS} s); publishes refused {refused['publish']}; alerts due "
          f"{len(expected)} ({due_during_outage} during the outage), sent "
          f"{len(expected & alerted)}, duplicated {duplicated}, lost {lost}, parked in a DLQ "
          f"{parked}; answered turns alerted {len(unwanted)}; first alert {first_delivery}")
    assert accepted == conversations + len(answered)
    assert OUTAGE_SECONDS > 2 * OLD_LADDER_SECONDS and refused["publish"] > 0
    assert due_during_outage > 0
    assert lost == 0 and duplicated == 0 and parked == 0
    assert unwanted == set()
