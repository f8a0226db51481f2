"""Value beyond the horizon: the continuing value of the business left at the horizon, per run.

A simulation stops at its horizon, but the customers active then keep buying, and the costs that serve
them keep running. NPV over the horizon alone therefore favours strategies that harvest the base (cut
service, raise prices) over ones that build it. Firm value counts both:

    firm value = NPV over the horizon + CV · d,

    CV = Σ_c (m_s(c) − o) · r_c / (1 + i − r_c)        (Gupta & Lehmann's margin multiple, per active customer c;
                                                       with the segments' observed retention: Σ_s N_s (m_s − o) r_s / (1 + i − r_s))

per (strategy, replication), from that run's customer ledger and time series, where

- N_s: customers of segment s active at the horizon;
- m_s: the segment's observed monthly margin per customer-month of exposure, net of cost to serve
  (revenue − cost_of_goods − cost_to_serve). The ledger holds each customer's lifetime totals, not their
  months, so m_s is measured over the whole run;
- r = exp(−hazard): monthly retention. When the ledger carries `churn_hazard` (the engine's own hazard for
  each active customer at the horizon: its segment, the strategy's parameters and its own satisfaction),
  each customer is valued on its own r_c (the sum runs over customers: Σ_c (m_s − o) · r_c / (1 + i − r_c)),
  which keeps a year's sampling noise in defections out of the comparison. Otherwise (ledgers from elsewhere)
  r_s is the segment's observed retention, hazard_s = defections ÷ customer-months of
  exposure (the exponential maximum-likelihood estimate, as in `customer_value.segment_economics`),
  measured over the last 12 months of exposure (the ledger's join and leave days allow it; the whole run
  when the horizon is shorter, or when the window holds no exposure);
- i: the monthly discount rate from the scenario's annual rate ((1 + a)^(1/12) − 1);
- o: the continuing costs that serve the base, per active customer-month: the monthly run-rate over the
  last 12 months of the costs that are neither cost of goods, nor allocated cost to serve, nor
  acquisition, nor one-off initiative spend — fixed costs, unused-capacity wages, turnover costs,
  overtime and severance (time-series columns; a column a run does not report counts as 0), the part of
  the allocated cost to serve that no customer drove (fixed workloads, activity driver `month`: the
  time series' cost_to_serve less the ledger's, a monthly average over the run) — plus the monthly cost
  of the strategy's initiatives still running at the horizon, divided by the customers active at the
  horizon. Charged per surviving customer, the overhead declines with the base and the sum
  stays finite;
- d = (1 + a)^(−H·period_days/365.25): CV is the value at the end of the horizon (month H) of margins
  earned at the end of each later month a customer is still retained; it is discounted to time 0 from
  the horizon's end, the point where the engine's mid-period convention (`discount_factors`) puts
  period H + 1/2.

With `valuation: {method: none}` the continuing value is 0 and firm value = NPV.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from simulator.analysis.comparison import discount_factors
from simulator.analysis.customer_value import monthly_rate, retention_from_exposure
from simulator.analysis.stats import mean_ci, strategy_order

WINDOW_MONTHS = 12
CONTINUING_COST_COLUMNS: tuple[str, ...] = (
    "fixed_costs", "unused_capacity_cost", "turnover_costs", "overtime_costs", "severance_costs",
)
"""Time-series columns of the continuing costs (missing ones count as 0)."""

RUN_KEYS = ["strategy", "replication"]
VALUATION_COLUMNS: tuple[str, ...] = (
    "npv", "active_customers", "continuing_costs", "cost_per_customer", "value_at_horizon", "discount_factor",
    "continuing_value", "firm_value",
)


def running_initiative_cost(scenario, strategy: str, horizon_day: float) -> float:
    """Monthly cost of the strategy's initiatives started before the horizon and still running after it."""
    from simulator.engine.policy import Policy

    try:
        policy = Policy.for_strategy(scenario, strategy)
    except KeyError:  # a strategy the file does not name (e.g. a played game): no known running cost
        return 0.0
    return float(sum(ini.monthly_cost for ini in policy.initiatives
                     if policy.start_day(ini) < horizon_day < policy.end_day(ini)))


def segment_values(ledger: pd.DataFrame, horizon_months: pd.Series, period_days: float, monthly_discount: float,
                   window_months: int = WINDOW_MONTHS) -> pd.DataFrame:
    """Per (strategy, replication, segment): active customers N, margin m, hazard, retention r, margin multiple.

    `horizon_months` maps (strategy, replication) to the run's horizon in periods.
    """
    if horizon_months.nunique() == 1:  # the usual case: every run has the same horizon
        horizon = np.full(len(ledger), float(horizon_months.iloc[0]))
    else:
        rows = horizon_months.index.get_indexer(pd.MultiIndex.from_arrays([ledger[k] for k in RUN_KEYS]))
        horizon = np.where(rows >= 0, horizon_months.to_numpy(dtype=float)[rows], np.nan)
    end_day = horizon * period_days
    active = ledger["active"].astype(bool).to_numpy()
    tenure = ledger["tenure_months"].to_numpy(dtype=float)
    df = pd.DataFrame({
        "strategy": ledger["strategy"], "replication": ledger["replication"], "segment": ledger["segment"],
        "active": active, "lost": ~active, "exposure": tenure,
        "margin": (ledger["revenue"] - ledger["cost_of_goods"] - ledger["cost_to_serve"]).to_numpy(dtype=float),
    })
    own_hazard = "churn_hazard" in ledger.columns
    if own_hazard:  # each active customer's own hazard at the horizon, as the model sets it
        r_own = np.exp(-np.nan_to_num(ledger["churn_hazard"].to_numpy(dtype=float), nan=np.inf))
        df["own_multiple"] = np.where(active, r_own / (1 + monthly_discount - r_own), 0.0)
    windowed = {"joined_day", "left_day"} <= set(ledger.columns)
    if windowed:
        start = np.maximum(end_day - window_months * period_days, 0.0)
        left = ledger["left_day"].to_numpy(dtype=float)
        stop = np.minimum(np.where(np.isnan(left), end_day, left), end_day)
        df["window_exposure"] = np.clip(stop - np.maximum(ledger["joined_day"].to_numpy(dtype=float), start), 0.0,
                                        None) / period_days
        df["window_lost"] = ~np.isnan(left) & (left >= start) & (left <= end_day)
    g = df.groupby(["strategy", "replication", "segment"], sort=False)
    out = pd.DataFrame({
        "customers": g["active"].sum().astype(float),
        "customer_months": g["exposure"].sum(),
        "defections": g["lost"].sum().astype(float),
        "margin_total": g["margin"].sum(),
    })
    if windowed:
        out["window_months"] = g["window_exposure"].sum()
        out["window_defections"] = g["window_lost"].sum().astype(float)
        use_window = out["window_months"] > 0
    else:
        use_window = pd.Series(False, index=out.index)
    run_horizon = out.index.droplevel("segment").map(horizon_months).to_numpy(dtype=float)
    out["retention_from"] = np.where(use_window & (run_horizon > window_months), f"last {window_months} months",
                                     "whole run")
    exposure = out["window_months"].where(use_window, out["customer_months"]) if windowed else out["customer_months"]
    lost = out["window_defections"].where(use_window, out["defections"]) if windowed else out["defections"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["hazard"] = np.where(exposure > 0, lost / exposure, 0.0)
        out["monthly_margin"] = np.where(out["customer_months"] > 0, out["margin_total"] / out["customer_months"], 0.0)
    out["retention"] = retention_from_exposure(out["hazard"], 1.0)
    out["multiple"] = out["retention"] / (1 + monthly_discount - out["retention"])
    # Σ over the segment's active customers of their margin multiples: their own hazards when the ledger has
    # them (the model's hazard at the horizon), else the segment's observed retention for everyone
    out["multiple_sum"] = g["own_multiple"].sum() if own_hazard else out["customers"] * out["multiple"]
    return out


def continuing_values(ts: pd.DataFrame, ledger: pd.DataFrame, scenario) -> pd.DataFrame:
    """Per (strategy, replication): NPV, continuing value at the horizon and at time 0, and firm value.

    Columns: VALUATION_COLUMNS. With method `none` the continuing value is 0. A run without a customer
    ledger (e.g. a live view before the ledger is built) gets NaN continuing and firm values."""
    meta = scenario.metadata
    period_days, annual = meta.period_days, meta.discount_rate
    g = ts.groupby(RUN_KEYS, sort=False)
    horizon = g["period"].max()
    out = pd.DataFrame({"npv": g["discounted_profit"].sum()})
    out["active_customers"] = g["active_customers"].last() if "active_customers" in ts.columns else np.nan
    out["discount_factor"] = discount_factors(horizon.to_numpy() + 0.5, annual, period_days)
    method = getattr(getattr(scenario, "valuation", None), "method", "continuing")
    if method == "none":
        for col in ("continuing_costs", "cost_per_customer", "value_at_horizon", "continuing_value"):
            out[col] = 0.0
        out["firm_value"] = out["npv"]
        return out[list(VALUATION_COLUMNS)]

    # continuing costs: monthly run-rate of the last 12 periods, plus initiatives still running
    last = ts[ts["period"] > g["period"].transform("max") - WINDOW_MONTHS]
    present = [c for c in CONTINUING_COST_COLUMNS if c in ts.columns]
    run_rate = last.assign(_cc=last[present].sum(axis=1) if present else 0.0).groupby(RUN_KEYS, sort=False)["_cc"].mean()
    running = pd.Series([running_initiative_cost(scenario, s, h * period_days) for (s, _), h in horizon.items()],
                        index=horizon.index)
    out["continuing_costs"] = run_rate.reindex(out.index).fillna(0.0) + running

    if ledger is None or ledger.empty:
        out["cost_per_customer"] = out["value_at_horizon"] = out["continuing_value"] = out["firm_value"] = np.nan
        return out[list(VALUATION_COLUMNS)]
    if "cost_to_serve" in ts.columns:  # allocated to no customer (fixed workloads): a continuing cost
        unattributed = g["cost_to_serve"].sum() - ledger.groupby(RUN_KEYS, sort=False)["cost_to_serve"].sum()
        out["continuing_costs"] += (unattributed.reindex(out.index).fillna(g["cost_to_serve"].sum()) / horizon)
    seg = segment_values(ledger, horizon, period_days, monthly_rate(annual))
    runs = seg.groupby(level=RUN_KEYS, sort=False)
    n_active = runs["customers"].sum().reindex(out.index).fillna(0.0)
    margin_value = (seg["monthly_margin"] * seg["multiple_sum"]).groupby(level=RUN_KEYS).sum()
    weighted_multiple = seg["multiple_sum"].groupby(level=RUN_KEYS).sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        o = np.where(n_active > 0, out["continuing_costs"] / n_active, 0.0)
    out["cost_per_customer"] = o
    # Σ N_s (m_s - o) mult_s = Σ N_s m_s mult_s - o Σ N_s mult_s
    value = margin_value.reindex(out.index).fillna(0.0) - o * weighted_multiple.reindex(out.index).fillna(0.0)
    out["value_at_horizon"] = np.where(n_active > 0, value, 0.0)
    out["continuing_value"] = out["value_at_horizon"] * out["discount_factor"]
    out["firm_value"] = out["npv"] + out["continuing_value"]
    return out[list(VALUATION_COLUMNS)]


def valuation_summary(values: pd.DataFrame, strategies=None) -> pd.DataFrame:
    """Per strategy: mean and 95% CI of NPV, continuing value and firm value, and the mean active base."""
    rows = []
    for strategy in strategy_order(values.index.get_level_values("strategy").unique(), strategies):
        sub = values.loc[strategy]
        row: dict = {"strategy": strategy, "active_customers": float(sub["active_customers"].mean())}
        for col in ("npv", "continuing_value", "firm_value"):
            x = sub[col].to_numpy(dtype=float)
            x = x[np.isfinite(x)]
            row[col], row[f"{col}_ci_low"], row[f"{col}_ci_high"] = mean_ci(x) if x.size else (math.nan,) * 3
        rows.append(row)
    return pd.DataFrame(rows)
