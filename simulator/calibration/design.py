"""The calibration's runs: a space-filling design over the priors, run as ordinary batch runs.

The design does not depend on the history: its draws come from the priors (decision.sampling, on a
stream of their own), each draw is one batch run of the status-quo strategy x replications on the
scenario's seed (common random numbers: two draws differ by their parameters, not by their luck), and
the runs keep their monthly time series (worker output mode "series": no customer ledger). So one
design serves every history of the same scenario, and a rerun resumes from the results database.
Later runs at chosen points (a point fit's refinement, the posterior's check runs) go the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulator.batch.coordinator import BatchTotals, execute, prepare
from simulator.batch.executors import Executor
from simulator.batch.plan import RunSpec
from simulator.calibration.priors import FitParameter
from simulator.errors import UsageError
from simulator.scenario.loader import LoadedScenario
from simulator.scenario.uncertainty import Distribution

OUTPUTS = "series"  # batch.worker: the monthly time series and summaries, no customer ledger


@dataclass(frozen=True)
class Runs:
    """Runs at given parameter values: one RunSpec per row of `inputs` (rows with equal values share a run)."""

    inputs: pd.DataFrame  # one row per point, one column per fitted path
    specs: tuple[RunSpec, ...]
    cells: tuple[int, ...]  # the spec of each row
    strategy: str
    replications: int
    seed: int
    months: int

    @property
    def tasks(self) -> int:
        return len(self.specs) * self.replications


def runs_at(loaded: LoadedScenario, points: Sequence[dict], strategy: str, replications: int, seed: int,
            months: int, seeds: Sequence[int] | None = None) -> Runs:
    """The runs of `points` ({path: value} each) on the scenario's data; nothing run yet. `seeds`: a seed per
    point instead of `seed` for all (check runs whose luck should average out, not be shared)."""
    base = {k: v for k, v in loaded.data.items() if k != "extends"}
    specs: list[RunSpec] = []
    index: dict[str, int] = {}
    cells = []
    for i, point in enumerate(points):
        spec = RunSpec(file=str(loaded.path), name=loaded.scenario.metadata.name, scenario_hash=loaded.content_hash,
                       base=base, variant={k: _plain(v) for k, v in point.items()}, strategies=(strategy,),
                       replications=replications, seed=int(seeds[i]) if seeds is not None else seed, months=months,
                       outputs=OUTPUTS)
        key = f"{spec.variant_key}|{spec.seed}"
        if key not in index:
            index[key] = len(specs)
            specs.append(spec)
        cells.append(index[key])
    inputs = pd.DataFrame(list(points), index=pd.RangeIndex(len(points), name="point"))
    return Runs(inputs, tuple(specs), tuple(cells), strategy, replications, seed, months)


def _plain(v: float | int) -> float | int:
    return int(v) if isinstance(v, (int, np.integer)) else float(v)


def plan_design(loaded: LoadedScenario, params: Sequence[FitParameter], budget: int, replications: int,
                seed: int, months: int, strategy: str = "baseline", design: str = "sobol") -> Runs:
    """`budget` draws from the priors (scrambled Sobol, or a Latin hypercube), deterministic by seed."""
    from simulator.decision.sampling import draw

    if replications < 2:
        raise UsageError("--replications must be at least 2: the spread between replications is the model's own "
                         "noise, which the fit must allow for")
    if strategy not in loaded.scenario.strategy_names():
        from simulator.errors import closest

        names = loaded.scenario.strategy_names()
        raise UsageError(f"unknown strategy '{strategy}' ({closest(strategy, names) or ', '.join(names)})")
    priors: dict[str, Distribution] = {p.path: p.prior for p in params}
    points = draw(priors, budget, seed, design)
    return runs_at(loaded, points, strategy, replications, seed, months)


def run(runs: Runs, store, executor: Executor, progress: Callable[[int], None] | None = None,
        prepared: tuple[BatchTotals, dict] | None = None) -> BatchTotals:
    """Run every task of `runs` not yet in `store`."""
    totals, done = prepared or prepare(store, runs.specs)
    execute(store, runs.specs, totals, done, executor, None, progress)
    return totals


def read_series(store, runs: Runs, run_ids: Sequence[int], metrics: Sequence[str]) -> np.ndarray:
    """The stored monthly series as (points, replications, months, metrics).

    `store`: the open `Store` (read through its own connection) or a database path. Refuses runs whose tasks
    are stored without their series (stored by a command that keeps summaries only, e.g. `spc decide`).
    """
    from simulator.store import Store, reading

    ids = list(run_ids)
    if isinstance(store, Store):
        frame = _rows(store.con, ids, metrics)
    else:
        with reading(store) as con:
            frame = _rows(con, ids, metrics)
    n_specs, reps, months = len(runs.specs), runs.replications, runs.months
    out = np.full((n_specs, reps, months, len(metrics)), np.nan)
    pos = {rid: k for k, rid in enumerate(ids)}
    k = frame["run_id"].map(pos).to_numpy()
    r = frame["replication"].to_numpy(dtype=int)
    t = frame["period"].to_numpy(dtype=int) - 1
    keep = (r < reps) & (t >= 0) & (t < months)
    out[k[keep], r[keep], t[keep], :] = frame[list(metrics)].to_numpy(dtype=float)[keep]
    if np.isnan(out).any():
        bad = int(np.argwhere(np.isnan(out).any(axis=(1, 2, 3)))[0][0])
        raise UsageError(f"run {ids[bad]} of the results database has no monthly series for these metrics (stored by "
                         "another command, e.g. spc decide, or cut short); give calibrate its own --store")
    return out[list(runs.cells)]


def _rows(con, ids: Sequence[int], metrics: Sequence[str]) -> pd.DataFrame:
    columns = {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'timeseries'").fetchall()}
    absent = [m for m in metrics if m not in columns]
    if absent:
        raise UsageError(f"the results database holds no series of {', '.join(absent)}; give calibrate its own --store")
    select = ", ".join('"' + m.replace('"', '""') + '"' for m in metrics)
    return con.execute(f"SELECT run_id, replication, period, {select} FROM timeseries "
                       "WHERE run_id IN (SELECT unnest(?::BIGINT[]))", [sorted(set(ids))]).df()


def runner(store, executor: Executor, metrics: Sequence[str],
           progress: Callable[[Runs, BatchTotals], Callable[[int], None] | None] | None = None
           ) -> Callable[[Runs], np.ndarray]:
    """A `run` for `calibrate`: runs go through `executor` into `store`, and their series come back.
    `progress(runs, totals)` may return a callback advanced with each stored chunk's task count."""

    def go(runs: Runs) -> np.ndarray:
        totals, done = prepare(store, runs.specs)
        advance = progress(runs, totals) if progress else None
        execute(store, runs.specs, totals, done, executor, None, advance)
        return read_series(store, runs, totals.run_ids, metrics)

    return go
