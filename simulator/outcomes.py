"""What a results database says, as answers: per stored run (a scenario variant), NPV and firm value per strategy
and the best strategy; and a sweep's outcome tabulated against a swept parameter (`spc results DB --compare KEY`).

NPV comes from the `summaries` table (one row per task). Firm value comes from there too when the run stored it
(`spc decide`); for a full run (`spc batch`: series and ledger stored) it is computed from the stored frames with
the same `continuing_values` as `spc run`, so the figures match a rerun of the variant. The best strategy is the
one with the highest mean of the ranking measure (the scenario's `valuation.rank_on`, NPV when firm value is
unknown); "tied" says when its lead over the runner-up is not resolved: the 95% interval of the paired difference
over replications (common random numbers) includes 0, or there is one replication only.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from simulator.analysis.stats import mean_ci
from simulator.errors import UsageError, closest

OUTCOME_COLUMNS = ["run_id", "scenario", "variant", "months", "strategy", "label", "replications", "npv",
                   "npv_ci_low", "npv_ci_high", "firm_value", "firm_value_ci_low", "firm_value_ci_high", "best",
                   "ranked_on", "tied_with", "currency"]
MAX_COMPUTED = 200
"""Runs whose firm value is computed from stored series (each reads its frames back): beyond this, NPV only."""


def _scenario(data: dict, variant: dict, source: str):
    from simulator.scenario.loader import load_data
    from simulator.scenario.paths import with_values

    return load_data(with_values(data, variant), source)


def _firm_values(path: str | Path, run_id: int, scenario) -> pd.DataFrame:
    """Per (strategy, replication): firm value from the run's stored series and ledger (NaN when not stored)."""
    from simulator.analysis.valuation import continuing_values
    from simulator.store import load_run

    run = load_run(path, run_id)
    if run.timeseries.empty:
        return pd.DataFrame(columns=["strategy", "replication", "firm_value"])
    values = continuing_values(run.timeseries, run.customers, scenario)
    return values["firm_value"].reset_index()


def run_outcomes(path: str | Path, run_ids: list[int] | None = None) -> pd.DataFrame:
    """One row per (run, strategy): NPV and firm value (mean and 95% CI over the stored replications), whether it
    is the run's best strategy, what the ranking used and the strategy it is tied with (see the module docstring)."""
    from simulator.analysis.units import strategy_labels
    from simulator.store import reading

    with reading(path) as con:
        runs = con.execute("SELECT r.run_id, r.scenario_name, r.scenario_file, r.variant, r.months, r.strategies, "
                           "s.data FROM runs r LEFT JOIN scenarios s USING (scenario_hash) ORDER BY r.run_id").df()
        columns = {r[0] for r in con.execute("DESCRIBE summaries").fetchall()}
        pick = ", firm_value" if "firm_value" in columns else ""
        summaries = con.execute(f"SELECT run_id, strategy, replication, npv{pick} FROM summaries").df() \
            if "npv" in columns else pd.DataFrame(columns=["run_id", "strategy", "replication", "npv"])
    if run_ids is not None:
        runs = runs[runs["run_id"].isin(run_ids)]
    if "firm_value" not in summaries.columns:
        summaries["firm_value"] = np.nan
    rows: list[dict] = []
    computed = 0
    for run in runs.itertuples():
        sub = summaries[summaries["run_id"] == run.run_id]
        if sub.empty:
            continue
        variant = json.loads(run.variant) if run.variant else {}
        scenario = _scenario(json.loads(run.data) if run.data else {}, variant, run.scenario_file)
        if sub["firm_value"].isna().all() and computed < MAX_COMPUTED:
            computed += 1
            firm = _firm_values(path, int(run.run_id), scenario)
            sub = sub.drop(columns="firm_value").merge(firm, on=["strategy", "replication"], how="left")
        rows += _run_rows(run, variant, sub, scenario, strategy_labels(scenario))
    return pd.DataFrame(rows, columns=OUTCOME_COLUMNS)


def _run_rows(run, variant: dict, sub: pd.DataFrame, scenario, labels: dict[str, str]) -> list[dict]:
    order = [s for s in json.loads(run.strategies) if s in set(sub["strategy"])]
    wide = {c: sub.pivot_table(index="replication", columns="strategy", values=c, aggfunc="first")
            for c in ("npv", "firm_value")}
    has_firm = wide["firm_value"].notna().all().all() and not wide["firm_value"].empty
    measure = scenario.valuation.rank_on if has_firm else "npv"
    means = wide[measure].mean()
    ranked = means.reindex(order).sort_values(ascending=False, kind="stable")
    best = ranked.index[0]
    tied = ""
    if len(ranked) > 1:
        second = ranked.index[1]
        both = wide[measure][[best, second]].dropna()
        _, low, _ = mean_ci((both[best] - both[second]).to_numpy())
        tied = second if len(both) < 2 or not (low > 0) else ""
    out = []
    for s in order:
        npv = mean_ci(wide["npv"][s].dropna().to_numpy())
        firm = mean_ci(wide["firm_value"][s].dropna().to_numpy()) if has_firm else (np.nan,) * 3
        out.append({"run_id": int(run.run_id), "scenario": run.scenario_name, "variant": variant,
                    "months": int(run.months), "strategy": s, "label": labels.get(s, s),
                    "replications": int(wide["npv"][s].notna().sum()), "npv": npv[0], "npv_ci_low": npv[1],
                    "npv_ci_high": npv[2], "firm_value": firm[0], "firm_value_ci_low": firm[1],
                    "firm_value_ci_high": firm[2], "best": s == best, "ranked_on": measure,
                    "tied_with": tied if s == best else "", "currency": scenario.metadata.currency})
    return out


def swept_keys(path: str | Path) -> list[str]:
    from simulator.store import reading

    with reading(path) as con:
        return [r[0] for r in con.execute("SELECT DISTINCT key FROM params ORDER BY key").fetchall()]


def check_key(key: str, keys: list[str]) -> None:
    """A key that was not swept is a one-line UsageError naming the closest swept key, or all of them."""
    if key not in keys:
        hint = closest(key, keys) or ("swept: " + ", ".join(keys) if keys else "it holds no sweep")
        raise UsageError(f"--compare: '{key}' was not swept in this database ({hint})")


def compare(outcomes: pd.DataFrame, key: str, keys: list[str], measure: str | None = None) -> pd.DataFrame:
    """The sweep against `key`: one row per run ordered by the swept value (other swept keys beside it), the mean
    of the measure per strategy, and the best strategy. A key that was not swept is a UsageError naming those that
    were."""
    check_key(key, keys)
    if outcomes.empty:
        return pd.DataFrame()
    if measure is None:
        measure = "firm_value" if outcomes["firm_value"].notna().all() else "npv"
    elif measure == "firm_value" and outcomes["firm_value"].isna().all():
        raise UsageError("--measure firm_value: no firm value is known for these runs (use --measure npv)")
    others = [k for k in keys if k != key]
    rows = []
    for run_id, group in outcomes.groupby("run_id", sort=False):
        first = group.iloc[0]
        variant = first["variant"]
        if key not in variant:
            continue
        best = group.loc[group[measure].idxmax()] if group[measure].notna().any() else None
        row = {key: variant[key], **{k: variant.get(k, np.nan) for k in others}, "run_id": run_id}
        row.update({s: v for s, v in zip(group["strategy"], group[measure], strict=True)})
        row["best"] = None if best is None else best["strategy"]
        row["tied_with"] = best["tied_with"] if best is not None and best["ranked_on"] == measure else ""
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame = frame.sort_values([key, *others, "run_id"], kind="stable").reset_index(drop=True)
    frame.attrs.update(measure=measure, key=key, others=others)
    return frame
