"""Batch runs: scenario files x parameter sweeps x strategies x replications, into the results database.

    design = make_design(["employees.headcount=8,10,12"], [], None)
    specs = build_plan(["scenarios/service_profit_chain.yaml"], design, replications=2, seed=None,
                       months=12, strategies=None)
    with Store("results.duckdb") as store:
        run_batch(store, specs, make_executor("processes"))

Modules: `sweep` (grid and Latin hypercube over parameter paths), `plan` (files x variants, validated),
`worker` (a chunk of tasks, shipped as data), `executors` (local, processes, dask), `coordinator`
(streaming into `simulator.store`).
"""

from simulator.batch.coordinator import BatchTotals, run_batch
from simulator.batch.executors import EXECUTORS, make_executor
from simulator.batch.plan import RunSpec, build_plan, expand_paths
from simulator.batch.sweep import Design, latin_hypercube, make_design, sweep_keys, variants

__all__ = [
    "EXECUTORS", "BatchTotals", "Design", "RunSpec", "build_plan", "expand_paths", "latin_hypercube", "make_design",
    "make_executor", "run_batch", "sweep_keys", "variants",
]
