"""Per-strategy headline figures (the table `spc run` prints) as mean and 95% CI over replications."""

from __future__ import annotations

import pandas as pd

from simulator.analysis.stats import mean_ci
from simulator.results import SUMMARY_METRICS


def per_replication(ts: pd.DataFrame) -> pd.DataFrame:
    """One row per (strategy, replication) with each headline figure."""
    g = ts.sort_values("period").groupby(["strategy", "replication"], sort=False)
    out = pd.DataFrame({
        "npv": g["npv"].last(),
        "cumulative_revenue": g["revenue"].sum(),
        "active_customers": g["active_customers"].last(),
        "employee_turnover": g["employee_quits"].sum() / g["headcount"].mean() * (12.0 / g["period"].count()),
        "customer_satisfaction": g["customer_satisfaction"].mean(),
    })
    return out.reset_index()


def summary_frame(ts: pd.DataFrame, strategies: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Tidy summary: strategy, metric, mean, ci_low, ci_high."""
    per_rep = per_replication(ts)
    order = strategies or tuple(dict.fromkeys(ts["strategy"]))
    rows = []
    for strategy in order:
        sub = per_rep[per_rep["strategy"] == strategy]
        for metric in SUMMARY_METRICS:
            mean, lo, hi = mean_ci(sub[metric])
            rows.append({"strategy": strategy, "metric": metric, "mean": mean, "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows, columns=["strategy", "metric", "mean", "ci_low", "ci_high"])
