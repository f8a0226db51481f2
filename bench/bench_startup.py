"""The serial part of `spc run`: CPU the parent process spends before its worker pool starts, and in all.

On 2 cores the runs themselves take ~1.5 s of wall time; everything the parent does before the pool starts
(interpreter, imports, compiling the scenario, loading the compiled kernels) and after the last run (frames,
analysis, printing) adds to the command's wall time one for one. CPU time of the parent moves far less with the
machine's load than wall time, so this is the figure to compare between versions on a busy machine.

    python bench/bench_startup.py [--repeat 5]

Each round runs `spc run scenarios/service_profit_chain.yaml --replications 10` in a fresh subprocess
(`--child`), in-process through `simulator.cli.main`, output discarded, and reports the parent's CPU time
(`getrusage(RUSAGE_SELF)`, user + system) when `simulator.experiment` creates its ProcessPoolExecutor and at the
end, which heavy modules were imported by then, the workers' CPU (`RUSAGE_CHILDREN`) and the wall time.
Min and median over the rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("pandas", "scipy.special", "scipy.stats", "matplotlib", "duckdb", "networkx", "numba", "pyarrow")


def cpu(who: int) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def child() -> None:
    """One `spc run` in this process; prints one JSON line."""
    t0 = time.perf_counter()
    from simulator import experiment

    marks: dict[str, object] = {}
    pool_class = experiment.ProcessPoolExecutor

    class Spy(pool_class):  # type: ignore[misc, valid-type]
        def __init__(self, *args: object, **kwargs: object) -> None:
            marks["pool_cpu"] = cpu(resource.RUSAGE_SELF)
            marks["pool_wall"] = time.perf_counter() - t0
            marks["imported"] = [m for m in HEAVY if m in sys.modules]
            super().__init__(*args, **kwargs)

    experiment.ProcessPoolExecutor = Spy
    from simulator.cli import main

    sys.argv = ["spc", "run", str(ROOT / "scenarios" / "service_profit_chain.yaml"), "--replications", "10"]
    out, sys.stdout = sys.stdout, open(os.devnull, "w")  # noqa: SIM115 (closed with the process)
    try:
        main()
    except SystemExit:
        pass
    sys.stdout = out
    print(json.dumps({**marks, "cpu": cpu(resource.RUSAGE_SELF), "workers_cpu": cpu(resource.RUSAGE_CHILDREN),
                      "wall": time.perf_counter() - t0}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child()
        return
    print(f"bench_startup: spc run --replications 10, {args.repeat} rounds; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rows = []
    for r in range(args.repeat):
        done = subprocess.run([sys.executable, __file__, "--child"], capture_output=True, text=True, cwd=ROOT)
        if done.returncode != 0:
            print(f"   round {r + 1}: ERROR {done.stderr.strip().splitlines()[-1:]}")
            continue
        d = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(d)
        print(f"   round {r + 1}: parent CPU {d['pool_cpu']:.2f} s before the pool starts ({d['pool_wall']:.2f} s wall), "
              f"{d['cpu']:.2f} s in all; workers {d['workers_cpu']:.2f} s CPU; wall {d['wall']:.2f} s; imported by the "
              f"pool's start: {', '.join(d['imported']) or 'none of ' + ', '.join(HEAVY)}", flush=True)
    if rows:
        for key, label in (("pool_cpu", "parent CPU before the pool starts"), ("cpu", "parent CPU in all"),
                           ("workers_cpu", "workers' CPU"), ("wall", "wall")):
            values = [d[key] for d in rows]
            print(f"   {label:<36} min {min(values):6.2f} s  median {statistics.median(values):6.2f} s")
    print(f"load average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
