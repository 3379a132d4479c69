"""What the listening poller costs: one query searched every period, against the stand-in X
over HTTP (tests/platform_fake.py) and in-process moto with every resource of resources.yaml.

Two runs are measured: a quiet one (X answers `result_count: 0`) and a busy one (a full page
of 100 hits, each queued like a webhook's message). Printed: X requests a day per
query at its period, AWS requests and DynamoDB units per run, the run's time, and the month's
AWS bill for the poller itself (the hits' own processing is the same as any message's, priced
by the day's replay). The time is measured here, on a shared machine, with moto in-process:
an upper bound on the Lambda's.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.cost.prices import PRICE, memory_mb
from bench.cost.recorder import Recorder

PERIOD_MINUTES = 15  # a query's period in the example policies file
LISTEN_MINUTES = 5  # ListenMinutes' default: the function runs this often whatever the queries
DAY_MINUTES = 24 * 60


def _policies(directory: Path) -> Path:
    path = directory / "listen_policies.yaml"
    base = (Path(__file__).resolve().parents[2] / "chalicelib" / "policies.yaml").read_text()
    path.write_text(base + "listening:\n  - {query: 'scruffy -is:retweet', account: ScruffyMcG,"
                    f" period_minutes: {PERIOD_MINUTES}, daily_requests: 1000}}\n")
    return path


def _run(at: datetime) -> tuple[dict[str, int], Recorder, float]:
    from chalicelib import bootstrap
    from chalicelib.services import listening

    recorder = Recorder()
    recorder.install()
    started = time.perf_counter()
    try:
        report = listening.poll(replace(bootstrap.listening_deps(), now=lambda: at))
    finally:
        recorder.uninstall()
    return report, recorder, time.perf_counter() - started


def measure(directory: Path) -> dict[str, Any]:
    from moto import mock_aws

    from chalicelib import bootstrap
    from infrastructure.local.aws import InProcessAws, build_resources
    from infrastructure.local.runtime import _chalice_stage_environment
    from infrastructure.template import load_resources
    from tests.platform_fake import X_BEARER, fake_platforms

    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.update(_chalice_stage_environment("dev"))
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    figures: dict[str, Any] = {}
    with fake_platforms() as x, mock_aws():
        os.environ["REPLYWINDOW_X_API_URL"] = x.url
        os.environ["REPLYWINDOW_POLICIES"] = str(_policies(directory))
        build_resources(InProcessAws(), load_resources(), "dev")
        bootstrap.reset()
        bootstrap._client("secretsmanager").put_secret_value(
            SecretId=bootstrap.settings().secrets_name,
            SecretString=json.dumps({"x_bearer_token": X_BEARER, "ack_signing_key": "k"}))
        bootstrap.reset()
        now = datetime.now(UTC)
        _run(now)  # the first sweep: its cursor item, the clients and the secret, warmed
        quiet, quiet_usage, quiet_s = _run(now + timedelta(minutes=PERIOD_MINUTES))
        x.users["42"] = {"id": "42", "username": "ann", "name": "Ann"}
        busy_at = now + timedelta(minutes=2 * PERIOD_MINUTES)
        for n in range(100):
            x.post(f"{1900000000000000000 + n}", "scruffy lost my parcel", "42",
                   (busy_at - timedelta(seconds=n + 1)).strftime("%Y-%m-%dT%H:%M:%S.000Z"))
        busy, busy_usage, busy_s = _run(busy_at)
        bootstrap.reset()
    assert quiet == {"requests": 1}, quiet
    assert busy.get("accepted") == 100, busy
    for name, usage, seconds in (("quiet", quiet_usage, quiet_s), ("100 hits", busy_usage,
                                                                   busy_s)):
        figures[f"listen run, {name}: AWS requests"] = sum(usage.usage.calls.values())
        figures[f"listen run, {name}: DynamoDB write units"] = round(
            usage.usage.units["wru"], 1)
        figures[f"listen run, {name}: DynamoDB read units"] = round(usage.usage.units["rru"], 1)
        figures[f"listen run, {name}: seconds (here, an upper bound)"] = round(seconds, 3)
    x_per_day = DAY_MINUTES // PERIOD_MINUTES
    figures[f"X requests per query per day (period {PERIOD_MINUTES} min, quiet)"] = x_per_day
    runs = 30 * DAY_MINUTES // LISTEN_MINUTES
    searched = 30 * x_per_day
    gb = memory_mb("listen") / 1024
    # A run with nothing due reads its cursor and stops; a due quiet run is measured above.
    month = (runs * (PRICE["lambda_request"] + gb * 0.05 * PRICE["lambda_gb_second"])
             + searched * (quiet_usage.usage.units["rru"] * PRICE["ddb_read_unit"]
                           + quiet_usage.usage.units["wru"] * PRICE["ddb_write_unit"]
                           + gb * quiet_s * PRICE["lambda_gb_second"]))
    figures[f"listening per query per month, quiet (ListenMinutes={LISTEN_MINUTES}, "
            "AWS USD; the X tier is billed by X)"] = f"{month:.4f}"
    return figures


def main() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        for name, value in measure(Path(directory)).items():
            print(f"{name}: {value}")


if __name__ == "__main__":
    main()
