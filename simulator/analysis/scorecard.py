"""Balanced scorecard: each KPI's value per strategy (its aggregation over its window), 95% CI, status,
P(green) across replications, weighted roll-ups to objectives and perspectives, and status over time.

P(green) is always a share of replications: for a KPI, those in which its value is green; for an objective or a
perspective, those in which its roll-up (the weighted score of that replication's KPI statuses) is green. It is
not the weighted average of the KPIs' P(green): two of three KPIs green in every replication, a different one
failing each time, is green in every replication (100%), though each KPI is green in only 67% of them.

Status rules: for `higher` KPIs, value >= target is green, value >= target - amber is amber, else red;
for `lower` KPIs the mirror image. A roll-up scores green 1, amber 0.5, red 0, weighted; a score of at
least 2/3 is green, at least 1/3 amber.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from simulator.analysis.runs import Columns, last, mean, run_index, split_runs, total
from simulator.analysis.stats import mean_ci, strategy_order
from simulator.scenario.models import KPI, Scenario

SCORE = {"green": 1.0, "amber": 0.5, "red": 0.0}


def status(value: float, kpi: KPI) -> str:
    if np.isnan(value):
        return "red"
    if kpi.direction == "higher":
        if value >= kpi.target:
            return "green"
        return "amber" if value >= kpi.target - kpi.amber else "red"
    if value <= kpi.target:
        return "green"
    return "amber" if value <= kpi.target + kpi.amber else "red"


def rollup_status(score: float) -> str:
    return "green" if score >= 2 / 3 - 1e-12 else "amber" if score >= 1 / 3 - 1e-12 else "red"


def run_kpi(periods: Columns, kpi: KPI) -> float:
    """One run's KPI (columns as in `RunOutput.periods`): its aggregation over the run's last `window_months`
    periods, NaN skipped (NaN when nothing is left; a sum of nothing is 0)."""
    period = np.asarray(periods["period"])
    window = period > period.max() - kpi.window_months
    values = np.asarray(periods[kpi.metric], dtype=float)[window]
    if not values.size:
        return math.nan
    if kpi.aggregation == "last":
        return last(values[np.argsort(period[window], kind="stable")])
    return mean(values) if kpi.aggregation == "mean" else total(values)


def kpi_values(ts: pd.DataFrame, kpi: KPI) -> pd.Series:
    """The KPI per (strategy, replication), sorted: `run_kpi` of each run's rows."""
    runs = split_runs(ts, ("period", kpi.metric))
    keys = sorted(runs)
    return pd.Series([run_kpi(runs[key], kpi) for key in keys], index=run_index(keys), name=kpi.metric, dtype=float)


def _kpis(scenario: Scenario):
    for persp in scenario.scorecard.perspectives:
        for obj in persp.objectives:
            for kpi in obj.kpis:
                yield persp.name, obj.name, kpi


COLUMNS = ["strategy", "perspective", "objective", "kpi", "metric", "value", "ci_low", "ci_high", "status", "p_green",
           "target", "direction", "amber", "weight", "replication_status"]


def scorecard_frame(ts: pd.DataFrame, scenario: Scenario, strategies=None) -> pd.DataFrame:
    """One row per (strategy, perspective, objective, kpi): value, ci, status, p_green, target, weight, and
    `replication_status`: the KPI's status in each replication (a tuple in replication order), which `rollup`
    needs for the P(green) of objectives and perspectives."""
    rows = []
    strategies = strategy_order(ts["strategy"].unique(), strategies)
    for persp, obj, kpi in _kpis(scenario):
        values = kpi_values(ts, kpi)
        for strategy in strategies:
            per_rep = values.loc[strategy].to_numpy(dtype=float)
            mean, lo, hi = mean_ci(per_rep)
            statuses = tuple(status(v, kpi) for v in per_rep)
            rows.append({
                "strategy": strategy, "perspective": persp, "objective": obj, "kpi": kpi.name, "metric": kpi.metric,
                "value": mean, "ci_low": lo, "ci_high": hi, "status": status(mean, kpi),
                "p_green": float(np.mean([st == "green" for st in statuses])) if statuses else float("nan"),
                "target": kpi.target, "direction": kpi.direction, "amber": kpi.amber, "weight": kpi.weight,
                "replication_status": statuses,
            })
    return pd.DataFrame(rows, columns=COLUMNS)


def _weighted(scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The roll-up score along the first axis (KPIs): weighted mean, or plain mean when the weights sum to 0."""
    return np.average(scores, axis=0, weights=weights) if weights.sum() > 0 else scores.mean(axis=0)


def rollup(card: pd.DataFrame, level: str) -> pd.DataFrame:
    """Weighted status score per strategy and `level` ('objective' or 'perspective'), its status, and p_green: the
    share of replications whose own roll-up (same weights and thresholds, on that replication's KPI statuses) is
    green. Without `replication_status` (a frame not made by `scorecard_frame`) p_green is nan."""
    keys = ["strategy", "perspective"] + (["objective"] if level == "objective" else [])
    if card.empty:
        return pd.DataFrame(columns=[*keys, "score", "status", "p_green"])
    scored = card.assign(score=card["status"].map(SCORE))
    rows = []
    for key, group in scored.groupby(keys, sort=False):
        weights = group["weight"].to_numpy(dtype=float)
        score = float(_weighted(group["score"].to_numpy(dtype=float), weights))
        rows.append({**dict(zip(keys, key, strict=True)), "score": score, "status": rollup_status(score),
                     "p_green": _rollup_p_green(group, weights)})
    return pd.DataFrame(rows)


def _rollup_p_green(group: pd.DataFrame, weights: np.ndarray) -> float:
    if "replication_status" not in group:
        return float("nan")
    per_kpi = [tuple(x) for x in group["replication_status"]]
    if not per_kpi or len({len(x) for x in per_kpi}) != 1 or not per_kpi[0]:
        return float("nan")
    scores = np.array([[SCORE[st] for st in x] for x in per_kpi])  # KPIs x replications
    return float(np.mean([rollup_status(v) == "green" for v in _weighted(scores, weights)]))


def _perspective_kpis(scenario: Scenario):
    """Each perspective that has KPIs, with its KPIs (the ones a roll-up scores)."""
    for persp in scenario.scorecard.perspectives:
        kpis = [kpi for obj in persp.objectives for kpi in obj.kpis]
        if kpis:
            yield persp, kpis


def run_greens(periods: Columns, scenario: Scenario) -> dict[str, float]:
    """One run's `green_<perspective>`: 1.0 where the perspective's roll-up of the run's KPI statuses is green, and
    `all_green`: 1.0 when every perspective is."""
    out: dict[str, float] = {}
    everything = True
    for persp, kpis in _perspective_kpis(scenario):
        scores = np.array([SCORE[status(run_kpi(periods, kpi), kpi)] for kpi in kpis])
        green = rollup_status(float(_weighted(scores, np.array([k.weight for k in kpis])))) == "green"
        out[f"green_{persp.name}"] = float(green)
        everything &= green
    out["all_green"] = float(everything)
    return out


def perspective_greens(ts: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    """Per (strategy, replication), sorted: its `run_greens`. A decision over assumptions averages these over
    replications and draws: P(every perspective green)."""
    runs = split_runs(ts, ("period", *(kpi.metric for _p, _o, kpi in _kpis(scenario))))
    keys = sorted(runs)
    columns = [f"green_{persp.name}" for persp, _ in _perspective_kpis(scenario)]
    return pd.DataFrame([run_greens(runs[key], scenario) for key in keys], index=run_index(keys),
                        columns=[*columns, "all_green"], dtype=float).reset_index()


def status_over_time(ts: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    """Per strategy, KPI and period: the KPI computed with its window ending at that period, and its status."""
    rows = []
    for persp, _obj, kpi in _kpis(scenario):
        per_period = ts.groupby(["strategy", "period"], sort=True)[kpi.metric].mean().unstack("period")
        for strategy, series in per_period.iterrows():
            values = series.to_numpy(dtype=float)
            for i, period in enumerate(series.index):
                window = values[max(0, i - kpi.window_months + 1): i + 1]
                value = window[-1] if kpi.aggregation == "last" else window.mean() if kpi.aggregation == "mean" else window.sum()
                rows.append({"strategy": strategy, "perspective": persp, "kpi": kpi.name, "period": int(period),
                             "value": float(value), "status": status(float(value), kpi)})
    return pd.DataFrame(rows)


def scorecard_document(card: pd.DataFrame) -> dict:
    """JSON-ready: per strategy, per KPI value/ci/status/p_green and per perspective roll-up."""
    persp = rollup(card, "perspective")
    out: dict = {}
    for strategy in dict.fromkeys(card["strategy"]):
        sub = card[card["strategy"] == strategy]
        out[strategy] = {
            "kpis": {r.kpi: {"perspective": r.perspective, "objective": r.objective, "metric": r.metric,
                             "value": _f(r.value), "ci_low": _f(r.ci_low), "ci_high": _f(r.ci_high),
                             "status": r.status, "p_green": _f(r.p_green), "target": r.target}
                     for r in sub.itertuples()},
            "perspectives": {r.perspective: {"score": r.score, "status": r.status, "p_green": _f(r.p_green)}
                             for r in persp[persp["strategy"] == strategy].itertuples()},
        }
    return out


def _f(x: float) -> float | None:
    return None if x is None or np.isnan(x) else float(x)


def green_from(over_time: pd.DataFrame) -> pd.DataFrame:
    """Per strategy and KPI: the first month after which the KPI stays green to the horizon (None if it never does)."""
    rows = []
    if over_time.empty:  # a scenario without KPIs has no scorecard over time (and no columns to group on)
        return pd.DataFrame(rows, columns=["strategy", "kpi", "green_from"])
    for (strategy, kpi), group in over_time.groupby(["strategy", "kpi"], sort=False):
        green = (group.sort_values("period")["status"] == "green").to_numpy()
        periods = group.sort_values("period")["period"].to_numpy()
        month = None
        if green.size and green[-1]:
            not_green = np.flatnonzero(~green)
            month = int(periods[not_green[-1] + 1]) if not_green.size else int(periods[0])
        rows.append({"strategy": strategy, "kpi": kpi, "green_from": month})
    return pd.DataFrame(rows, columns=["strategy", "kpi", "green_from"])
