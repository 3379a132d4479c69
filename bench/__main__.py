"""`make bench`: run every benchmark once and write bench/results.md (date, machine, figures).

Each runs in its own process so no benchmark's emulator or caches colour another's."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = [("coldstart", "Cold start: import of app.py vs import boto3"),
           ("memory", "Peak memory of a Lambda's process (what sizes lambda_memory_size)"),
           ("ingest", "Webhook cost against the floor"),
           ("load", "Throughput with zero loss"),
           ("lateness", "Alert lateness"),
           ("clockstop", "An answer stops the clock under a burst"),
           ("cost", "AWS bill per million inbound messages"),
           ("console_poll", "Console inbox poll: 304 against a full render")]


def main() -> int:
    lines = ["# Benchmark results\n", f"- date: {datetime.now(UTC).isoformat(timespec='seconds')}",
             f"- machine: {platform.platform()}, {os.cpu_count()} CPUs, Python "
             f"{platform.python_version()}",
             "- reproduce: `make bench` (each figure is a ratio or a count from one run)\n"]
    for name, title in BENCHES:
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", f"bench.{name}"], cwd=HERE.parent,
                                capture_output=True, text=True, check=False,
                                env={**os.environ, "PYTHONPATH": str(HERE.parent)})
        figures = _figures(result.stdout)
        where = f"bench/{name}.py" if (HERE / f"{name}.py").exists() else f"bench/{name}/"
        lines += [f"## {title} (`{where}`, {time.monotonic() - started:.0f} s)\n",
                  "| figure | value |", "| --- | --- |"]
        lines += [f"| {k} | {v} |" for k, v in (f.split(": ", 1) for f in figures)]
        if result.returncode:
            lines.append(f"\nFAILED: {result.stderr.strip().splitlines()[-1:]}")
        lines.append("")
        print(f"{name}: done in {time.monotonic() - started:.0f} s", flush=True)
    (HERE / "results.md").write_text("\n".join(lines) + "\n")
    print((HERE / "results.md").read_text())
    return 0


# What a stack prints and is never a figure: a log record ("replywindow.x - WARNING - ..."),
# a metric (EMF JSON), its banners. A benchmark that runs a second stack prints them between
# its two sets of figures.
_LOG_LINE = re.compile(r"^([\w.]+ - (DEBUG|INFO|WARNING|ERROR|CRITICAL) - |\{|Serving on |"
                       r"Creating deployment package)")


def _figures(stdout: str) -> list[str]:
    """The `name: value` lines each benchmark prints last, once its stack has stopped (the
    stack's own log lines, printed before, are not figures; log records between two sets of
    figures are skipped)."""
    figures: list[str] = []
    for line in reversed(stdout.splitlines()):
        if _LOG_LINE.match(line) or not line.strip():
            continue
        if ": " not in line or line.startswith((" ", "Traceback")):
            break
        figures.append(line)
    return figures[::-1]


if __name__ == "__main__":
    sys.exit(main())
