"""TUI speed on the shipped scenario: time to the first replication on screen, time to the full default
comparison (baseline + 5 strategies x 10 replications, all cores), and how long key presses take to be
handled while the run streams in. Headless (Textual's Pilot), so it measures the app, not a terminal.

    python bench/bench_tui.py [--replications 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tui.app import SpcApp  # noqa: E402

SHIPPED = ROOT / "scenarios" / "service_profit_chain.yaml"


async def one(replications: int, every: float) -> dict[str, float]:
    app = SpcApp(SHIPPED, replications=replications)
    latencies: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        keys = "23451"
        i = 0
        while not any(s.run_id == app.run_id for s in app.finished_runs):
            t = time.perf_counter()
            await pilot.press(keys[i % len(keys)])
            latencies.append(time.perf_counter() - t)
            i += 1
            await pilot.pause(every)
        m = dict(app.measured)
    m["key_median_ms"] = 1000 * statistics.median(latencies)
    m["key_max_ms"] = 1000 * max(latencies)
    m["keys"] = len(latencies)
    return m


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--replications", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--every", type=float, default=1.0, help="seconds between key presses during the run")
    args = ap.parse_args()
    for k in range(args.repeat):
        m = asyncio.run(one(args.replications, args.every))
        print(f"run {k + 1}: first replication {m['first_replication_s']:.2f} s, full comparison "
              f"{m['full_comparison_s']:.2f} s (targets 1 s and 15 s); {m['keys']} key presses during the run: "
              f"median {m['key_median_ms']:.0f} ms, max {m['key_max_ms']:.0f} ms")


if __name__ == "__main__":
    main()
