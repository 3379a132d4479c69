"""What one sweep costs, at two traffic levels: it must not grow with the traffic.

In-process moto with every resource of resources.yaml. Traffic is what the alarm clock's
buckets and the inbox hold when the sweeper runs: `turns` open turns, their deadlines ahead,
and one warning check each, filed in the buckets of the sweep's window and rung by the normal
path (so finished). The sweeper then reads the buckets' markers and the index's past-due
part, which neither level fills. Printed: requests and read units per sweep at each level,
and the month at the template's default SweepMinutes.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.cost.prices import PRICE, memory_mb
from bench.cost.recorder import Recorder

LEVELS = (100, 2000)
SWEEPS_PER_MONTH = 30 * 24 * 60 // 5  # SweepMinutes' default


def _plant(turns: int, now: datetime, run: str) -> None:
    from chalicelib import bootstrap
    from chalicelib.adapters.dynamodb.codec import to_item
    from chalicelib.adapters.dynamodb.records import conversation_item
    from chalicelib.config import settings
    from chalicelib.domain.conversations import Conversation
    from chalicelib.domain.events import Channel, Person, Platform
    from chalicelib.domain.timers import DueCheck

    client, table = bootstrap.dynamodb(), settings().table
    store = bootstrap.due_checks()
    rung: set[int] = set()
    for n in range(turns):
        due = now + timedelta(hours=1, seconds=n)
        c = Conversation(platform=Platform.MESSENGER, thread=f"dm-{run}-{n}",
                         channel=Channel.PRIVATE, brand_id="1", customer=Person(id=str(n)),
                         created_at=now, turn=1, turn_opened_at=now, team="support",
                         priority="normal", warn_at=due - timedelta(minutes=30), due_at=due,
                         escalate_at=due + timedelta(hours=1))
        client.put_item(TableName=table, Item=to_item(conversation_item(c, 2**31)))
        # Its warning was due within the sweep's window, and its bucket rang and finished.
        at = now - timedelta(minutes=2, seconds=(n * 7) % 480)
        bucket = int(at.timestamp()) // 10 * 10
        store.add(bucket, DueCheck(c.id, 1, "warning", at))
        rung.add(bucket)
    for bucket in rung:
        store.ring(bucket)
        store.done(bucket)


def measure() -> dict[str, Any]:
    from moto import mock_aws

    from chalicelib import bootstrap
    from chalicelib.services import sweeper
    from infrastructure.local.aws import InProcessAws, build_resources
    from infrastructure.local.runtime import _chalice_stage_environment
    from infrastructure.template import load_resources

    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.update(_chalice_stage_environment("dev"))
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    figures: dict[str, Any] = {}
    for turns in LEVELS:
        with mock_aws():
            build_resources(InProcessAws(), load_resources(), "dev")
            bootstrap.reset()
            now = datetime.now(UTC)
            _plant(turns, now, f"t{turns}")
            recorder = Recorder()
            recorder.install()
            try:
                report = sweeper.sweep(bootstrap.sweep_deps())
            finally:
                recorder.uninstall()
            bootstrap.reset()
        requests = sum(recorder.usage.calls.values())
        units = recorder.usage.units["rru"]
        assert report.missed == 0, report  # every planted alert was handled
        figures[f"sweep at {turns} open turns: requests"] = requests
        figures[f"sweep at {turns} open turns: read units"] = round(units, 1)
        figures[f"sweep at {turns} open turns: calls"] = json.dumps(
            {f"{s}:{o}": n for (s, o), n in sorted(recorder.usage.calls.items())})
    low, high = (figures[f"sweep at {t} open turns: requests"] for t in LEVELS)
    figures["sweep requests, high/low traffic"] = f"{high / low:.2f}x for {LEVELS[1] // LEVELS[0]}x"
    month = SWEEPS_PER_MONTH * figures[f"sweep at {LEVELS[1]} open turns: read units"] * (
        PRICE["ddb_read_unit"]) + SWEEPS_PER_MONTH * (
        PRICE["lambda_request"] + memory_mb("sweeper") / 1024 * 0.3 * PRICE["lambda_gb_second"])
    figures["sweeper per month (SweepMinutes=5, USD)"] = f"{month:.3f}"
    return figures


def main() -> None:
    for name, value in measure().items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
