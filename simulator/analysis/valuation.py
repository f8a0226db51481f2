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
from simulator.analysis.runs import Columns, last, mean, run_index, split_runs, total
from simulator.analysis.stats import mean_ci, strategy_order

WINDOW_MONTHS = 12
CONTINUING_COST_COLUMNS: tuple[str, ...] = (
    "fixed_costs", "unused_capacity_cost", "turnover_costs", "overtime_costs", "severance_costs",
)
"""Time-series columns of the continuing costs (missing ones count as 0)."""

VALUATION_COLUMNS: tuple[str, ...] = (
    "npv", "active_customers", "continuing_costs", "cost_per_customer", "value_at_horizon", "discount_factor",
    "continuing_value", "firm_value",
)
TIMESERIES_COLUMNS: tuple[str, ...] = (
    "period", "discounted_profit", "active_customers", "cost_to_serve", *CONTINUING_COST_COLUMNS)
"""The time-series columns a valuation reads."""
LEDGER_COLUMNS: tuple[str, ...] = (
    "segment", "active", "tenure_months", "revenue", "cost_of_goods", "cost_to_serve", "churn_hazard", "joined_day",
    "left_day")
"""The ledger columns a valuation reads (churn_hazard, joined_day and left_day when the ledger has them)."""


def running_initiative_cost(scenario, strategy: str, horizon_day: float) -> float:
    """Monthly cost of the strategy's initiatives started before the horizon and still running after it."""
    from simulator.engine.policy import Policy

    try:
        policy = Policy.for_strategy(scenario, strategy)
    except KeyError:  # a strategy the file does not name (e.g. a played game): no known running cost
        return 0.0
    return float(sum(ini.monthly_cost for ini in policy.initiatives
                     if policy.start_day(ini) < horizon_day < policy.end_day(ini)))


def _margin_multiples(ledger: Columns, horizon: float, period_days: float, monthly_discount: float,
                      window_months: int = WINDOW_MONTHS) -> tuple[float, float, float]:
    """One run's (N, Σ_s m_s · M_s, Σ_s M_s) over its segments: active customers, and the segments' monthly margins
    weighted by their margin multiples M_s (Σ over the segment's active customers of r/(1 + i − r))."""
    segment = pd.factorize(np.asarray(ledger["segment"]))[0]  # segments in order of first appearance
    n_segments = int(segment.max()) + 1 if segment.size else 0
    active = np.asarray(ledger["active"]).astype(bool)

    def by_segment(x: np.ndarray) -> np.ndarray:  # a pandas grouped sum: NaN skipped
        x = np.asarray(x, dtype=float)
        return np.bincount(segment, weights=np.where(np.isnan(x), 0.0, x), minlength=n_segments)

    customers = np.bincount(segment[active], minlength=n_segments).astype(float)
    defections = np.bincount(segment[~active], minlength=n_segments).astype(float)
    customer_months = by_segment(ledger["tenure_months"])
    margin = (np.asarray(ledger["revenue"], dtype=float) - np.asarray(ledger["cost_of_goods"], dtype=float)
              - np.asarray(ledger["cost_to_serve"], dtype=float))
    margin_total = by_segment(margin)
    exposure, lost = customer_months, defections
    if "joined_day" in ledger and "left_day" in ledger:  # retention observed over the last 12 months of exposure
        end_day = horizon * period_days
        start = max(end_day - window_months * period_days, 0.0)
        left = np.asarray(ledger["left_day"], dtype=float)
        stop = np.minimum(np.where(np.isnan(left), end_day, left), end_day)
        window_exposure = np.clip(stop - np.maximum(np.asarray(ledger["joined_day"], dtype=float), start), 0.0,
                                  None) / period_days
        window_customer_months = by_segment(window_exposure)
        window_lost = ~np.isnan(left) & (left >= start) & (left <= end_day)
        window_defections = np.bincount(segment[window_lost], minlength=n_segments).astype(float)
        use_window = window_customer_months > 0
        exposure = np.where(use_window, window_customer_months, customer_months)
        lost = np.where(use_window, window_defections, defections)
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = np.where(exposure > 0, lost / exposure, 0.0)
        monthly_margin = np.where(customer_months > 0, margin_total / customer_months, 0.0)
    if "churn_hazard" in ledger:  # each active customer's own hazard at the horizon, as the model sets it
        r_own = np.exp(-np.nan_to_num(np.asarray(ledger["churn_hazard"], dtype=float), nan=np.inf))
        multiple_sum = by_segment(np.where(active, r_own / (1 + monthly_discount - r_own), 0.0))
    else:  # the segment's observed retention for everyone
        retention = retention_from_exposure(hazard, 1.0)
        multiple_sum = customers * (retention / (1 + monthly_discount - retention))
    return float(customers.sum()), total(monthly_margin * multiple_sum), total(multiple_sum)


def run_values(strategy: str, periods: Columns, ledger: Columns | None, scenario) -> dict[str, float]:
    """One run's VALUATION_COLUMNS from its own time series and customer ledger (columns as in `RunOutput`).
    `ledger` None: no ledger is known, and continuing and firm value are NaN (`output_values` passes None for a run
    without customers, as an empty ledger frame did)."""
    meta = scenario.metadata
    period_days, annual = meta.period_days, meta.discount_rate
    period = np.asarray(periods["period"])
    horizon = float(period.max())
    out = {"npv": total(periods["discounted_profit"]),
           "active_customers": last(periods["active_customers"]) if "active_customers" in periods else math.nan,
           "discount_factor": float(discount_factors(np.array([horizon + 0.5]), annual, period_days)[0])}
    method = getattr(getattr(scenario, "valuation", None), "method", "continuing")
    if method == "none":
        out.update(continuing_costs=0.0, cost_per_customer=0.0, value_at_horizon=0.0, continuing_value=0.0,
                   firm_value=out["npv"])
        return out
    # continuing costs: monthly run-rate of the last 12 periods, plus initiatives still running
    window = period > horizon - WINDOW_MONTHS
    present = [np.asarray(periods[c], dtype=float)[window] for c in CONTINUING_COST_COLUMNS if c in periods]
    run_rate = 0.0
    if present:  # each period's continuing costs (NaN as 0), then their mean
        per_period = np.zeros(int(window.sum()))
        for column in present:
            per_period = per_period + np.where(np.isnan(column), 0.0, column)
        run_rate = mean(per_period) if per_period.size else 0.0
    out["continuing_costs"] = run_rate + running_initiative_cost(scenario, strategy, horizon * period_days)
    if ledger is None:
        out.update(cost_per_customer=math.nan, value_at_horizon=math.nan, continuing_value=math.nan,
                   firm_value=math.nan)
        return out
    if "cost_to_serve" in periods:  # allocated to no customer (fixed workloads): a continuing cost
        out["continuing_costs"] += (total(periods["cost_to_serve"]) - total(ledger["cost_to_serve"])) / horizon
    n_active, margin_value, weighted_multiple = _margin_multiples(ledger, horizon, period_days, monthly_rate(annual))
    o = out["continuing_costs"] / n_active if n_active > 0 else 0.0
    out["cost_per_customer"] = o
    # Σ N_s (m_s - o) mult_s = Σ N_s m_s mult_s - o Σ N_s mult_s
    out["value_at_horizon"] = margin_value - o * weighted_multiple if n_active > 0 else 0.0
    out["continuing_value"] = out["value_at_horizon"] * out["discount_factor"]
    out["firm_value"] = out["npv"] + out["continuing_value"]
    return out


def continuing_values(ts: pd.DataFrame, ledger: pd.DataFrame | None, scenario) -> pd.DataFrame:
    """Per (strategy, replication): NPV, continuing value at the horizon and at time 0, and firm value.

    Columns: VALUATION_COLUMNS; runs in order of first appearance. Each run is valued on its own rows
    (`run_values`), so its figures do not depend on the other runs in the frames. With method `none` the
    continuing value is 0. Without a customer ledger (e.g. a live view before the ledger is built) continuing and
    firm values are NaN; a run with no rows in a ledger that others have has none (0)."""
    runs = split_runs(ts, TIMESERIES_COLUMNS)
    ledgers = None if ledger is None or ledger.empty else split_runs(ledger, LEDGER_COLUMNS)
    empty = None if ledgers is None else {c: np.zeros(0) for c in LEDGER_COLUMNS if c in ledger.columns}
    rows = [run_values(key[0], periods, None if ledgers is None else ledgers.get(key, empty), scenario)
            for key, periods in runs.items()]
    return pd.DataFrame(rows, index=run_index(list(runs)), columns=list(VALUATION_COLUMNS))


def output_values(output, scenario) -> dict[str, float]:
    """`run_values` of one `RunOutput` (firm value of a worker's run, a counterfactual run, a sensitivity run)."""
    ledger = output.ledger if output.ledger and len(next(iter(output.ledger.values()))) else None
    return run_values(output.strategy, output.periods, ledger, scenario)


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
