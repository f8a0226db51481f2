"""`spc decide`'s runs: a space-filling design over the scenario's assumptions, every strategy on every draw.

Each draw is one scenario variant (its assumption values) run as an ordinary batch run: strategies x
replications on the scenario's seed, so within a draw the strategies share their random numbers (common
random numbers), and every draw uses the same streams too, so two draws differ by their assumptions, not by
their luck. The runs go through the batch coordinator (any executor, resumable), keeping per-replication
summaries only (firm value, scorecard greens), so a thousand draws stay a small database.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from simulator.batch.coordinator import BatchTotals, execute, prepare
from simulator.batch.executors import Executor
from simulator.batch.plan import RunSpec
from simulator.errors import UsageError
from simulator.limits import MAX_DRAWS
from simulator.scenario.loader import LoadedScenario

MAX_TASKS = 5_000_000  # draws x horizons x strategies x replications: refused above this before anything runs


@dataclass(frozen=True)
class DecisionPlan:
    """What `spc decide` will run: the draws (assumption values), strategies, replications, horizons, and the runs."""

    loaded: LoadedScenario
    inputs: pd.DataFrame  # one row per draw (index 0..n-1), one column per assumption path
    strategies: tuple[str, ...]
    replications: int
    seed: int
    horizons: tuple[int, ...]  # the first is the horizon the decision is made on
    specs: tuple[RunSpec, ...]  # one per distinct (assumption values, horizon), in draw order
    cells: tuple[tuple[int, int, int], ...]  # (draw, horizon, index into specs): draws with equal values share a run
    measure: str  # "firm_value" or "npv": what the strategies are ranked on

    @property
    def draws(self) -> int:
        return len(self.inputs)

    @property
    def tasks(self) -> int:
        return len(self.specs) * len(self.strategies) * self.replications


def plan_decision(loaded: LoadedScenario, draws: int | None = None, replications: int | None = None,
                  seed: int | None = None, horizons: Sequence[int] | None = None,
                  strategies: Sequence[str] | None = None, design: str | None = None,
                  measure: str | None = None) -> DecisionPlan:
    """The design over the scenario's assumptions and one batch run per (draw, horizon); all checked, nothing run."""
    from simulator.decision.sampling import draw
    from simulator.experiment import resolve_strategies

    sc = loaded.scenario
    unc = sc.uncertainty
    assumptions = dict(unc.assumptions)
    n = int(draws or unc.draws)
    if not assumptions:
        n = 1  # nothing uncertain: one draw at the point values (simulation noise only)
    if not 1 <= n <= MAX_DRAWS:
        raise UsageError(f"--draws is 1 to {MAX_DRAWS:,}, got {n}")
    reps = int(replications or unc.replications)
    run_seed = int(seed if seed is not None else sc.run.seed)
    months = tuple(horizons) if horizons else (sc.metadata.horizon_months,)
    names = resolve_strategies(sc, strategies)
    if len(names) < 2:
        raise UsageError("a decision needs at least one strategy besides baseline")
    total = n * len(months) * len(names) * reps
    if total > MAX_TASKS:
        raise UsageError(f"{n} draws x {len(months)} horizon(s) x {len(names)} strategies x {reps} replications = "
                         f"{total:,} runs, more than {MAX_TASKS:,}; use fewer draws or replications")
    values = draw(assumptions, n, run_seed, design or unc.design, unc.correlate) if assumptions else [{}]
    inputs = pd.DataFrame(values, index=pd.RangeIndex(len(values), name="draw"))
    base = {k: v for k, v in loaded.data.items() if k != "extends"}
    specs: list[RunSpec] = []
    index: dict[tuple[str, int], int] = {}
    cells = []
    for i, point in enumerate(values):
        for h in months:
            spec = RunSpec(file=str(loaded.path), name=sc.metadata.name, scenario_hash=loaded.content_hash, base=base,
                           variant=dict(point), strategies=names, replications=reps, seed=run_seed, months=int(h),
                           outputs="decision")
            key = (spec.variant_key, int(h))
            if key not in index:
                index[key] = len(specs)
                specs.append(spec)
            cells.append((i, int(h), index[key]))
    return DecisionPlan(loaded, inputs, names, reps, run_seed, months, tuple(specs), tuple(cells),
                        measure or sc.valuation.rank_on)


def run_decision(plan: DecisionPlan, store, executor: Executor, progress: Callable[[int], None] | None = None,
                 prepared: tuple[BatchTotals, dict] | None = None) -> BatchTotals:
    """Run every (draw, horizon, strategy, replication) not yet in `store`; returns the batch totals."""
    totals, done = prepared or prepare(store, plan.specs)
    execute(store, plan.specs, totals, done, executor, None, progress)
    return totals


SUMMARY_COLUMNS = ("npv", "firm_value", "continuing_value", "active_customers", "customer_satisfaction")


def read_outcomes(store_path, plan: DecisionPlan, run_ids: Sequence[int]) -> pd.DataFrame:
    """One row per (draw, horizon, strategy, replication) stored so far, with the figures a decision needs.
    `run_ids`: the store's id of each of `plan.specs`, in order (what `prepare` returns). `store_path`: the
    database file, or the open `Store` writing it (read through its own connection, from the thread that writes:
    DuckDB refuses a second, read-only connection in the process that holds the writer, e.g. for a live view)."""
    from simulator.store import Store, reading

    ids = list(run_ids)
    if isinstance(store_path, Store):
        rows = _summary_rows(store_path.con, ids)
    else:
        with reading(store_path) as con:
            rows = _summary_rows(con, ids)
    where = pd.DataFrame([(ids[k], draw, h) for draw, h, k in plan.cells], columns=["run_id", "draw", "horizon"])
    out = where.merge(rows, on="run_id", how="inner").drop(columns="run_id")
    return out.sort_values(["draw", "horizon", "strategy", "replication"], kind="stable").reset_index(drop=True)


def _summary_rows(con, ids: Sequence[int]) -> pd.DataFrame:
    columns = {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'summaries'").fetchall()}
    wanted = [c for c in columns if c in SUMMARY_COLUMNS or c.startswith("green_") or c == "all_green"]
    select = ", ".join(f'"{c}"' for c in sorted(wanted))
    return con.execute(f"SELECT run_id, strategy, replication, {select} FROM summaries "
                       "WHERE run_id IN (SELECT unnest(?::BIGINT[]))", [sorted(set(ids))]).df()


def per_draw(outcomes: pd.DataFrame, measure: str, horizon: int) -> pd.DataFrame:
    """One row per (draw, strategy) at one horizon: the measure averaged over the draw's replications (`value`)
    and the share of its replications with every perspective green (`all_green`), for complete draws only."""
    sub = outcomes[outcomes["horizon"] == horizon]
    if sub.empty:
        return pd.DataFrame(columns=["draw", "strategy", "value", "all_green"])
    g = sub.groupby(["draw", "strategy"], sort=True)
    out = g[measure].mean().rename("value").to_frame()
    greens = [c for c in sub.columns if c.startswith("green_") or c == "all_green"]
    for c in greens:
        out[c] = g[c].mean()
    out["replications"] = g[measure].count()
    out = out.reset_index()
    # a draw counts once every strategy has all of its replications (CRN: strategies compared on the same runs)
    full = out.groupby("draw")["replications"].agg(["min", "size"])
    strategies = out["strategy"].nunique()
    reps = int(out["replications"].max())
    complete = full[(full["size"] == strategies) & (full["min"] == reps)].index
    return out[out["draw"].isin(complete)].drop(columns="replications").reset_index(drop=True)
