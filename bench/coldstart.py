"""Import cost of app.py (the Lambda's init) against `import boto3` alone, in fresh processes,
median of N runs each. Clients, secrets and VADER's lexicon must load lazily."""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = 11
ENV_SETUP = ("import os; os.environ.update(REPLYWINDOW_TABLE='t', REPLYWINDOW_INBOUND_QUEUE='q',"
             "REPLYWINDOW_ALERTS_QUEUE='a', REPLYWINDOW_ALERTS_TOPIC='s', "
             "REPLYWINDOW_ALARM_CLOCK='c', REPLYWINDOW_SECRETS='x', AWS_DEFAULT_REGION="
             "'us-east-1');")


def _time(statement: str) -> float:
    code = (f"{ENV_SETUP}import time; t=time.perf_counter(); {statement}; "
            "print(time.perf_counter()-t)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    return float(out.strip().splitlines()[-1]) * 1000


def measure(runs: int = RUNS) -> dict[str, float]:
    boto = statistics.median(_time("import boto3") for _ in range(runs))
    app = statistics.median(_time("import app") for _ in range(runs))
    return {"import boto3 (ms, median)": round(boto, 1),
            "import app (ms, median)": round(app, 1),
            "extra ms over boto3": round(app - boto, 1),
            "ratio app/boto3": round(app / boto, 2)}


if __name__ == "__main__":
    for name, value in measure().items():
        print(f"{name}: {value}")
