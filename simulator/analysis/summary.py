"""Per-strategy headline figures (the table `spc run` prints) as mean and 95% CI over replications.

Each figure's interval stays inside the figure's range: NPV can take any sign (Student t interval); revenue,
customers and staff turnover cannot go below zero and satisfaction is on 0-10, so theirs stays inside
(`bounded_mean_ci`): the t interval built on the log (logit) scale and mapped back while the spread is small
against the distance to the bound, the plain t interval clipped to the range once it is not, a blend of the two
in between. Shipped case, staff turnover: 27.3% [18.6%, 37.0%] over 10 replications (asymmetric), 15.3%
[0.0%, 81.6%] over 2 (the log scale alone gave [0.2%, 1162.8%]). Staff turnover per replication is quits over the horizon / mean
headcount, annualised; its replications can disagree widely (a symmetric interval once read "36.2% ± 49.9%").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulator.analysis.runs import Columns, last, mean, run_index, split_runs, total
from simulator.analysis.stats import bounded_mean_ci, format_money, mean_ci
from simulator.results import SUMMARY_METRICS


def run_figures(periods: Columns) -> dict[str, float]:
    """One run's headline figures, from its time series (columns as in `RunOutput.periods`): final NPV, cumulative
    revenue, final active customers, staff turnover (quits / mean headcount, annualised), mean satisfaction."""
    period = np.asarray(periods["period"])
    order = np.argsort(period, kind="stable")

    def column(name: str) -> np.ndarray:
        return np.asarray(periods[name], dtype=float)[order]

    with np.errstate(divide="ignore", invalid="ignore"):  # no headcount: inf or NaN, as pandas divides
        turnover = float(np.float64(total(column("employee_quits"))) / np.float64(mean(column("headcount")))
                         * (12.0 / period.size))
    return {"npv": last(column("npv")), "cumulative_revenue": total(column("revenue")),
            "active_customers": last(column("active_customers")), "employee_turnover": turnover,
            "customer_satisfaction": mean(column("customer_satisfaction"))}


FIGURE_COLUMNS = ("npv", "revenue", "active_customers", "employee_quits", "headcount", "customer_satisfaction")
"""The time-series columns the headline figures read."""


def per_replication(ts: pd.DataFrame) -> pd.DataFrame:
    """One row per (strategy, replication), in order of first appearance, with each headline figure (`run_figures`
    of the run's own rows)."""
    runs = split_runs(ts, ("period", *FIGURE_COLUMNS))
    out = pd.DataFrame([run_figures(periods) for periods in runs.values()], index=run_index(list(runs)),
                       columns=list(SUMMARY_METRICS), dtype=float)
    return out.reset_index()


BOUNDS: dict[str, tuple[float, float | None] | None] = {
    "npv": None,
    "cumulative_revenue": (0.0, None),
    "active_customers": (0.0, None),
    "employee_turnover": (0.0, None),
    "customer_satisfaction": (0.0, 10.0),
}
"""Per headline figure: the range its interval must respect ((lower, upper), upper None: unbounded), None: any."""


def figure_ci(metric: str, values) -> tuple[float, float, float]:
    """(mean, ci_low, ci_high) of one headline figure over replications, inside its range (see BOUNDS)."""
    bounds = BOUNDS.get(metric)
    return mean_ci(values) if bounds is None else bounded_mean_ci(values, *bounds)


def format_figure(metric: str, mean: float, low: float, high: float, currency: str | None = None) -> str:
    """'1.2M ± 45k' when the interval is symmetric as printed, else 'mean [low, high]' (a ± would mislead).
    With a `currency`, money reads '€1.2M ± €45k'."""
    if metric in ("npv", "cumulative_revenue") and currency:
        from simulator.analysis.units import money

        def fmt(x):
            return money(x, currency)
    elif metric in ("npv", "cumulative_revenue"):
        fmt = format_money
    elif metric == "active_customers":
        fmt = "{:,.0f}".format
    elif metric == "employee_turnover":
        fmt = "{:.1%}".format
    else:
        fmt = "{:.2f}".format
    if mean != mean:
        return "-"
    if low != low or high != high:
        return fmt(mean)
    if fmt(high - mean) == fmt(mean - low):
        return f"{fmt(mean)} ± {fmt(high - mean)}"
    return f"{fmt(mean)} [{fmt(low)}, {fmt(high)}]"


def summary_frame(ts: pd.DataFrame, strategies: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Tidy summary: strategy, metric, mean, ci_low, ci_high."""
    per_rep = per_replication(ts)
    order = strategies or tuple(dict.fromkeys(ts["strategy"]))
    rows = []
    for strategy in order:
        sub = per_rep[per_rep["strategy"] == strategy]
        for metric in SUMMARY_METRICS:
            mean, lo, hi = figure_ci(metric, sub[metric])
            rows.append({"strategy": strategy, "metric": metric, "mean": mean, "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows, columns=["strategy", "metric", "mean", "ci_low", "ci_high"])


def decision_summaries(ts: pd.DataFrame, ledger: pd.DataFrame, scenario, summaries: pd.DataFrame,
                       values: pd.DataFrame | None = None) -> pd.DataFrame:
    """The headline figures plus what a decision over assumptions needs from each run: continuing and firm
    value (value beyond the horizon) and which scorecard perspectives are green. `values`: the runs'
    `continuing_values` when the caller has them already (they cost a pass over the customer ledger)."""
    from simulator.analysis.scorecard import perspective_greens
    from simulator.analysis.valuation import continuing_values

    keys = ["strategy", "replication"]
    if values is None:
        values = continuing_values(ts, ledger, scenario)
    values = values[["continuing_value", "firm_value"]].reset_index()
    return summaries.merge(values, on=keys, how="left").merge(perspective_greens(ts, scenario), on=keys, how="left")


def output_row(output, scenario=None) -> dict:
    """One `RunOutput`'s row of the summaries table, from its own arrays: its `per_replication` row, and with a
    `scenario` also its `decision_summaries` columns (continuing and firm value, the perspectives' greens). The same
    figures to the last bit as the frame functions give, without building the run's frames (a worker of `spc decide`
    does this per run)."""
    row = {"strategy": output.strategy, "replication": output.replication, **run_figures(output.periods)}
    if scenario is not None:
        from simulator.analysis.scorecard import run_greens
        from simulator.analysis.valuation import output_values

        values = output_values(output, scenario)
        row.update(continuing_value=values["continuing_value"], firm_value=values["firm_value"],
                   **run_greens(output.periods, scenario))
    return row
