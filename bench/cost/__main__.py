"""Replays the day and prints its figures, one `name: value` a line (what `make bench` reads)."""

from __future__ import annotations

import os

from bench.cost.prices import assumptions, by_memory, price
from bench.cost.replay import replay_day


def main() -> None:
    day = replay_day(int(os.environ.get("BENCH_COST_CONVERSATIONS", "100")))
    assumed = assumptions()
    for name, value in {**price(day, assumed), **by_memory(day, assumed)}.items():
        print(f"{name}: {value}")
    from bench.cost import sweep  # after the day's stack is gone: moto in-process

    sweep.main()
    from bench.cost import listen  # the listening poller, against the stand-in X

    listen.main()


if __name__ == "__main__":
    main()
