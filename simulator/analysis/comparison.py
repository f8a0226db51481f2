"""Strategy comparison against baseline from paired differences per replication (common random numbers).

Per strategy: delta NPV of profit with its 95% CI, P(better than baseline), NPV of initiative spend,
ROI = delta NPV / NPV of spend, payback month (first month after which the mean cumulative delta profit
stays positive), and the three outcome types a CRM strategy can bring: revenue growth, cost savings and
customer perceived value. A delta whose CI spans zero is "not distinguishable yet", with an estimate of
the replications that would resolve it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from simulator.analysis.stats import mean_ci, strategy_order, t975

YEAR_DAYS = 365.25


def discount_factors(periods: np.ndarray, annual_rate: float, period_days: float) -> np.ndarray:
    """Mid-period discount factors, the same convention as the engine's discounted_profit."""
    years = (np.asarray(periods, dtype=float) - 0.5) * period_days / YEAR_DAYS
    return (1.0 + annual_rate) ** -years


def payback_month(cumulative_delta: np.ndarray) -> int | None:
    """First month after which the cumulative delta profit stays positive (1-based), or None."""
    positive = np.asarray(cumulative_delta) > 0
    if not positive.size or not positive[-1]:
        return None
    last_non_positive = np.flatnonzero(~positive)
    return int(last_non_positive[-1] + 2) if last_non_positive.size else 1


def replications_to_resolve(deltas: np.ndarray) -> int | None:
    """Replications at which the 95% CI half-width would fall below |mean delta| (None if no spread or no mean)."""
    deltas = np.asarray(deltas, dtype=float)
    if deltas.size < 2:
        return None
    mean, sd = abs(float(deltas.mean())), float(deltas.std(ddof=1))
    if mean == 0 or sd == 0:
        return None
    n = deltas.size
    for _ in range(20):  # fixed point on the t quantile
        n = max(2, math.ceil((t975(n - 1) * sd / mean) ** 2))
    # still unresolved now, so at least one more: with 2 replications the t quantile (12.7) is what hides it
    return int(max(n, deltas.size + 1))


def _per_rep(ts: pd.DataFrame, factors: pd.Series) -> pd.DataFrame:
    df = ts.assign(discounted_spend=ts["initiative_spend"] * ts["period"].map(factors),
                   operating_costs=ts["costs"] - ts["initiative_spend"])
    g = df.groupby(["strategy", "replication"])
    return pd.DataFrame({
        "npv": g["discounted_profit"].sum(),
        "spend_npv": g["discounted_spend"].sum(),
        "revenue": g["revenue"].sum(),
        "operating_costs": g["operating_costs"].sum(),
        "satisfaction": g["customer_satisfaction"].mean(),
        "nps": g["nps"].mean(),
    })


def comparison_frame(ts: pd.DataFrame, discount_rate: float, period_days: float,
                     baseline: str = "baseline", strategies=None) -> pd.DataFrame:
    periods = np.sort(ts["period"].unique())
    factors = pd.Series(discount_factors(periods, discount_rate, period_days), index=periods)
    per_rep = _per_rep(ts, factors)
    base = per_rep.loc[baseline]
    profit = ts.pivot_table(index=["strategy", "replication"], columns="period", values="profit")
    rows = []
    for strategy in strategy_order(ts["strategy"].unique(), strategies):
        if strategy == baseline:
            continue
        mine = per_rep.loc[strategy]
        common = mine.index.intersection(base.index)
        delta = (mine.loc[common] - base.loc[common])
        d_npv = delta["npv"].to_numpy()
        mean, lo, hi = mean_ci(d_npv)
        spend = float(mine.loc[common, "spend_npv"].mean())
        cum = (profit.loc[strategy].loc[common] - profit.loc[baseline].loc[common]).mean().cumsum().to_numpy()
        distinguishable = bool(lo > 0 or hi < 0)
        rows.append({
            "strategy": strategy, "delta_npv": mean, "ci_low": lo, "ci_high": hi,
            "p_better": float((d_npv > 0).mean()), "spend": spend,
            "roi": mean / spend if spend > 0 else float("nan"),
            "payback_month": payback_month(cum),
            "revenue_growth": float(delta["revenue"].mean()),
            "cost_savings": float(-delta["operating_costs"].mean()),
            "delta_satisfaction": float(delta["satisfaction"].mean()),
            "delta_nps": float(delta["nps"].mean()),
            "distinguishable": distinguishable,
            "replications_needed": None if distinguishable else replications_to_resolve(d_npv),
        })
    df = pd.DataFrame(rows)
    if not df.empty:
        df = df.sort_values("delta_npv", ascending=False, kind="stable").reset_index(drop=True)
        df.insert(1, "rank", np.arange(1, len(df) + 1))
    return df


def comparison_document(df: pd.DataFrame) -> dict:
    out = {}
    for r in df.to_dict("records"):
        out[r["strategy"]] = {
            "rank": int(r["rank"]),
            "delta_npv": {"mean": r["delta_npv"], "ci_low": r["ci_low"], "ci_high": r["ci_high"]},
            "p_better": r["p_better"], "spend": r["spend"],
            "roi": None if math.isnan(r["roi"]) else r["roi"],
            "payback_month": None if r["payback_month"] is None or pd.isna(r["payback_month"]) else int(r["payback_month"]),
            "revenue_growth": r["revenue_growth"], "cost_savings": r["cost_savings"],
            "delta_satisfaction": r["delta_satisfaction"], "delta_nps": r["delta_nps"],
            "distinguishable": bool(r["distinguishable"]),
            "replications_needed": None if r["replications_needed"] is None or pd.isna(r["replications_needed"])
            else int(r["replications_needed"]),
        }
    return out
