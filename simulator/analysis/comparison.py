"""Strategy comparison against baseline from paired differences per replication (common random numbers).

Per strategy: delta NPV of profit with its 95% CI (Student t over the paired replications), P(better): the share
of replications in which the strategy beats baseline with its 95% Clopper-Pearson interval, NPV of initiative spend,
ROI = delta NPV / NPV of spend, payback month (first month after which the mean cumulative delta profit
stays positive), and the three outcome types a CRM strategy can bring: revenue growth, cost savings and
customer perceived value. A delta whose CI spans zero is "not distinguishable yet", with the replications a
paired t test would need for 80% power against the observed difference.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from simulator.analysis.stats import (
    format_share,
    mean_ci,
    proportion_ci,
    replications_for_power,
    strategy_order,
)

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
    """Replications for 80% power at two-sided alpha 0.05: how many paired replications a paired t test needs to
    detect the observed mean difference 80% of the time, taking the observed mean and sd of the differences as
    true (`replications_for_power`: ((z_0.975 + z_0.8) * sd / |mean|)^2 refined with t quantiles). Both are
    estimates, so this is a planning figure, not a promise. None if there is no spread or no mean difference;
    never fewer than one more than now."""
    deltas = np.asarray(deltas, dtype=float)
    if deltas.size < 2:
        return None
    n = replications_for_power(float(deltas.mean()), float(deltas.std(ddof=1)))
    return None if n is None else int(max(n, deltas.size + 1))


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
                     baseline: str = "baseline", strategies=None, firm_values: pd.Series | None = None,
                     rank_on: str = "npv") -> pd.DataFrame:
    """One row per strategy against baseline, ranked on `rank_on` ('npv' or 'firm_value').

    `firm_values`: firm value per (strategy, replication) (`valuation.continuing_values`); without it firm
    value is NPV. Ranking on firm value falls back to NPV while firm values are unknown (NaN). Columns
    `rank_npv` and `rank_firm_value` rank on each; `df.attrs["ranked_on"]` says which one `rank` used and
    `df.attrs["valued"]` whether firm values were given (front ends show the firm-value column then)."""
    periods = np.sort(ts["period"].unique())
    factors = pd.Series(discount_factors(periods, discount_rate, period_days), index=periods)
    per_rep = _per_rep(ts, factors)
    per_rep["firm_value"] = per_rep["npv"] if firm_values is None else firm_values.reindex(per_rep.index)
    # the decision measure: what the ranking, P(better) and the verdict judge
    measure = "firm_value" if rank_on == "firm_value" and bool(np.isfinite(per_rep["firm_value"]).all()) else "npv"
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
        d_firm = delta["firm_value"].to_numpy(dtype=float)
        firm_mean, firm_lo, firm_hi = mean_ci(d_firm[np.isfinite(d_firm)])
        d_decision = d_firm if measure == "firm_value" else d_npv
        dec_lo, dec_hi = (firm_lo, firm_hi) if measure == "firm_value" else (lo, hi)
        distinguishable = bool(dec_lo > 0 or dec_hi < 0)
        wins = int((d_decision > 0).sum())
        p_low, p_high = proportion_ci(wins, d_decision.size)
        rows.append({
            "strategy": strategy, "delta_npv": mean, "ci_low": lo, "ci_high": hi,
            "p_better": wins / d_npv.size if d_npv.size else float("nan"), "p_better_low": p_low,
            "p_better_high": p_high, "pairs": int(d_npv.size), "spend": spend,
            "roi": mean / spend if spend > 0 else float("nan"),
            "payback_month": payback_month(cum),
            "revenue_growth": float(delta["revenue"].mean()),
            "cost_savings": float(-delta["operating_costs"].mean()),
            "delta_satisfaction": float(delta["satisfaction"].mean()),
            "delta_nps": float(delta["nps"].mean()),
            "distinguishable": distinguishable,
            "replications_needed": None if distinguishable else replications_to_resolve(d_decision),
            "decision_measure": measure, "delta_decision": float(np.mean(d_decision)),
            "npv": float(mine.loc[common, "npv"].mean()), "firm_value": float(mine.loc[common, "firm_value"].mean()),
            "delta_firm_value": firm_mean, "firm_ci_low": firm_lo, "firm_ci_high": firm_hi,
        })
    df = pd.DataFrame(rows)
    if not df.empty:
        df = _ranked(df, rank_on)
    df.attrs["valued"] = firm_values is not None
    return df


def _ranked(df: pd.DataFrame, rank_on: str) -> pd.DataFrame:
    df = df.copy()
    df["rank_npv"] = df["delta_npv"].rank(ascending=False, method="first")
    known = bool(df["delta_firm_value"].notna().all())
    df["rank_firm_value"] = df["delta_firm_value"].rank(ascending=False, method="first") if known else np.nan
    ranked_on = "firm_value" if rank_on == "firm_value" and known else "npv"
    df = df.sort_values(f"delta_{ranked_on}", ascending=False, kind="stable").reset_index(drop=True)
    df.insert(1, "rank", np.arange(1, len(df) + 1))
    df.attrs["ranked_on"] = ranked_on
    return df


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def ranking_disagreement(cmp: pd.DataFrame, months: int | None = None) -> str | None:
    """One plain line when ranking by NPV and by firm value disagree (None when they agree or firm value is unknown).

    Names the strategy whose rank moves most (a fall on firm value first); when no rank moves, a strategy
    that beats baseline on one measure and trails it on the other."""
    from simulator.analysis.stats import format_money

    if cmp.empty or "rank_firm_value" not in cmp or cmp["rank_firm_value"].isna().any():
        return None
    over = f" over {months} months" if months else ""
    tail = "which counts the customers left at the horizon."
    moved = cmp[cmp["rank_npv"] != cmp["rank_firm_value"]]
    if len(moved):  # the largest move; among equals, one that falls on firm value, then the best on NPV
        fall = moved["rank_firm_value"] - moved["rank_npv"]
        r = moved.assign(_size=-fall.abs(), _rises=fall < 0).sort_values(["_size", "_rises", "rank_npv"]).iloc[0]
        return (f"Rankings disagree:{over} {r['strategy']} ranks {_ordinal(int(r['rank_npv']))} on NPV but "
                f"{_ordinal(int(r['rank_firm_value']))} on firm value, {tail}")
    flips = cmp[np.sign(cmp["delta_npv"]) * np.sign(cmp["delta_firm_value"]) < 0]
    if len(flips):
        r = flips.iloc[0]

        def signed(x: float) -> str:
            return ("+" if x > 0 else "") + format_money(x)

        on_npv, on_firm = ("beats", "trails") if r["delta_npv"] > 0 else ("trails", "beats")
        return (f"Rankings disagree:{over} {r['strategy']} {on_npv} baseline on NPV ({signed(r['delta_npv'])}) but "
                f"{on_firm} it on firm value ({signed(r['delta_firm_value'])}), {tail}")
    return None


def p_better_text(row) -> str:
    """P(better) for a table: '7/10 (34–94%)', replications in which the strategy beat baseline, and the 95%
    interval of that share; never a bare 0% or 100%."""
    n = row["pairs"]
    return format_share(round(row["p_better"] * n), n, row["p_better_low"], row["p_better_high"])


def comparison_document(df: pd.DataFrame) -> dict:
    out = {}
    for r in df.to_dict("records"):
        out[r["strategy"]] = {
            "rank": int(r["rank"]),
            "delta_npv": {"mean": r["delta_npv"], "ci_low": r["ci_low"], "ci_high": r["ci_high"]},
            "p_better": {"share": r["p_better"], "ci_low": r["p_better_low"], "ci_high": r["p_better_high"],
                         "replications": int(r["pairs"])},
            "spend": r["spend"],
            "roi": None if math.isnan(r["roi"]) else r["roi"],
            "payback_month": None if r["payback_month"] is None or pd.isna(r["payback_month"]) else int(r["payback_month"]),
            "revenue_growth": r["revenue_growth"], "cost_savings": r["cost_savings"],
            "delta_satisfaction": r["delta_satisfaction"], "delta_nps": r["delta_nps"],
            "distinguishable": bool(r["distinguishable"]),
            "replications_needed": None if r["replications_needed"] is None or pd.isna(r["replications_needed"])
            else int(r["replications_needed"]),
            **_valuation_document(r),
        }
    return out


def _valuation_document(r: dict) -> dict:
    def num(x):
        return None if x is None or pd.isna(x) else float(x)

    def rank(x):
        return None if x is None or pd.isna(x) else int(x)

    return {
        "delta_firm_value": {"mean": num(r.get("delta_firm_value")), "ci_low": num(r.get("firm_ci_low")),
                             "ci_high": num(r.get("firm_ci_high"))},
        "npv": num(r.get("npv")), "firm_value": num(r.get("firm_value")),
        "rank_npv": rank(r.get("rank_npv")), "rank_firm_value": rank(r.get("rank_firm_value")),
    }
