"""CPU per replication of the shipped scenario (36 months), as `time.process_time` of one process: much less
sensitive to a busy machine than wall time, so before/after comparisons can be made while others work.

    python bench/bench_cpu.py [--rounds 5]

Each of 12 runs (baseline and the five strategies, replications 0 and 1) is timed `--rounds` times round-robin,
after the kernels are loaded; prints baseline replication 0 (bench_engine's section 2) min and median, and the
mean over the 12 runs of their min and of their median, with the load average. Issue 12's target: <= 0.05 s.
Then the CPU of the figures a worker of `spc decide` keeps from each run (headline figures, firm value, the
scorecard's perspective greens: `batch.worker._summary`), as a share of the run's own CPU (until 2026-11-25 pandas
made them ~98% of it). To compare two versions, run it alternately from each tree.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from pathlib import Path

from simulator import compile_file
from simulator.batch.worker import _summary
from simulator.engine import _numba, service
from simulator.engine.model import run_once

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "service_profit_chain.yaml"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    model = compile_file(SCENARIO)
    strategies = ["baseline"] + [s.name for s in model.scenario.strategies]
    _numba.warm()
    service.warm()
    run_once(model, "baseline", 0, 1, months=1)
    times: dict[tuple[str, int], list[float]] = {(s, r): [] for s in strategies for r in range(2)}
    figures: dict[tuple[str, int], list[float]] = {key: [] for key in times}
    load0 = os.getloadavg()[0]
    for _ in range(args.rounds):
        for (strategy, rep), ts in times.items():
            gc.collect()
            c0 = time.process_time()
            out = run_once(model, strategy, rep, 1)
            ts.append(time.process_time() - c0)
            c0 = time.process_time()
            _summary(out, model.scenario, "decision")
            figures[(strategy, rep)].append(time.process_time() - c0)
    base = times[("baseline", 0)]
    mins = [min(ts) for ts in times.values()]
    meds = [statistics.median(ts) for ts in times.values()]
    print(f"load {load0:.2f}-{os.getloadavg()[0]:.2f}; baseline rep 0: min {min(base) * 1e3:.1f} ms, median "
          f"{statistics.median(base) * 1e3:.1f} ms; {len(times)} runs: mean of mins {sum(mins) / len(mins) * 1e3:.1f} ms, "
          f"mean of medians {sum(meds) / len(meds) * 1e3:.1f} ms ({args.rounds} rounds)")
    fig = [min(ts) for ts in figures.values()]
    print(f"a decision's figures of a run (batch.worker._summary): mean of mins {sum(fig) / len(fig) * 1e3:.2f} ms, "
          f"{sum(fig) / sum(mins):.1%} of the runs' CPU")


if __name__ == "__main__":
    main()
