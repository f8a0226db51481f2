"""Common random numbers across strategies: how closely each strategy's NPV tracks baseline's.

    python bench/bench_crn.py                 # seeds 1 and 7, 40 replications each (~1-2 minutes on 2 cores)
    python bench/bench_crn.py --reps 10 --seeds 1

Prints, per seed and strategy: the correlation of NPV with baseline's over replications, the half-width
of the paired 95% interval of delta NPV at the first 10 replications, and the CPU seconds per run.
Strategies compared on truly common random numbers track baseline closely (correlation near 1), which
is what makes paired intervals narrow. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from simulator import compile_file
from simulator.analysis.stats import mean_ci
from simulator.experiment import run_experiment

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "service_profit_chain.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,7")
    parser.add_argument("--reps", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scenario", default=str(SCENARIO))
    args = parser.parse_args()
    model = compile_file(args.scenario)
    for seed in (int(s) for s in args.seeds.split(",")):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        import resource

        ch0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        res = run_experiment(model, replications=args.reps, seed=seed, workers=args.workers)
        ch1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (time.process_time() - cpu0) + (ch1.ru_utime - ch0.ru_utime) + (ch1.ru_stime - ch0.ru_stime)
        wall = time.perf_counter() - wall0
        ts = res.timeseries
        npv = ts.sort_values("period").groupby(["strategy", "replication"])["npv"].last().unstack("replication")
        base = npv.loc["baseline"].to_numpy()
        runs = len(res.strategies) * args.reps
        print(f"seed {seed}: {args.reps} replications, {runs} runs, {wall:.1f} s wall, "
              f"{cpu / runs:.3f} s CPU per run (incl. worker start-up)")
        print(f"  {'strategy':<24}{'corr(NPV, baseline)':>22}{'ΔNPV mean':>12}{'half-width @10':>16}")
        for strategy in res.strategies:
            if strategy == "baseline":
                continue
            mine = npv.loc[strategy].to_numpy()
            corr = float(np.corrcoef(base, mine)[0, 1])
            m, lo, hi = mean_ci((mine - base)[:10])
            print(f"  {strategy:<24}{corr:>22.3f}{m:>12,.0f}{(hi - lo) / 2:>16,.0f}")


if __name__ == "__main__":
    main()
