"""Per-customer predictions from the fitted models: P(alive), expected purchases, spend, discounted CLV with
intervals, the whale curve, customer equity, repricing candidates and the holdout check.

All predictions go through pymc-marketing's closed forms (`expected_purchases`, `expected_probability_alive`,
`expected_customer_spend`, `expected_purchases_new_customer`). Intervals come from Laplace draws of the
parameters: they show how well the model's parameters are known, not the spread of one customer's
future purchases (a single customer's count is far noisier than its expectation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulator.customers_data import MONTH_WEEKS
from simulator.customers_data.fit import Fit
from simulator.customers_data.read import Transactions

YEAR_WEEKS = 12 * MONTH_WEEKS


@dataclass
class Valuation:
    customers: pd.DataFrame  # one row per customer, see `value_customers`
    horizon_months: int
    annual_discount: float
    margin: float
    draws: int

    @property
    def equity(self) -> float:
        return float(self.customers["clv"].sum())


def _arr(x) -> np.ndarray:
    """(chain, draw, customer) xarray -> (draw, customer) array."""
    values = np.asarray(x.values if hasattr(x, "values") else x, float)
    return values.reshape(-1, values.shape[-1])


def _clv_terms(bg: Fit, gg: Fit, data: pd.DataFrame, horizon_months: int, annual_discount: float):
    """Discounted expected purchases over the horizon (quarterly steps, mid-quarter discounting), purchases in
    the next 12 months, P(alive) and expected spend per purchase, for the parameters currently set."""
    model = bg.model
    steps = max(1, int(np.ceil(horizon_months / 3)))
    edges = [min(3 * k, horizon_months) * MONTH_WEEKS for k in range(steps + 1)]
    previous = np.zeros(1)
    discounted = 0.0
    for k in range(1, steps + 1):
        cum = _arr(model.expected_purchases(data, future_t=edges[k]))
        mid_years = (edges[k - 1] + edges[k]) / 2 / YEAR_WEEKS
        discounted = discounted + (cum - previous) / (1 + annual_discount) ** mid_years
        previous = cum
    year = _arr(model.expected_purchases(data, future_t=YEAR_WEEKS))
    alive = _arr(model.expected_probability_alive(data))
    spend = _arr(gg.model.expected_customer_spend(data[["customer_id", "frequency", "monetary_value"]]))
    return discounted, year, alive, spend


def value_customers(tx: Transactions, bg: Fit, gg: Fit, *, horizon_months: int = 36, annual_discount: float = 0.08,
                    margin: float = 0.3, cost_per_purchase: pd.Series | None = None, draws: int = 0,
                    seed: int = 1) -> Valuation:
    """Per customer: p_alive, purchases_12m (+ _lo/_hi), spend, clv (+ _lo/_hi), realised profit.

    CLV = sum over the horizon of discounted expected purchases x (expected spend x margin - cost per purchase):
    cost to serve is taken as proportional to purchases (cost per purchase in the calibration period).
    """
    s = tx.summary.reset_index(drop=True)
    data = s[["customer_id", "frequency", "recency", "T", "monetary_value"]].copy()
    data.loc[data["frequency"] == 0, "monetary_value"] = 0.0
    cpp = np.zeros(len(s)) if cost_per_purchase is None else \
        s["customer_id"].map(cost_per_purchase).fillna(0.0).to_numpy(float)
    bg.at_mle()
    gg.at_mle()
    disc, year, alive, spend = _clv_terms(bg, gg, data, horizon_months, annual_discount)
    out = pd.DataFrame({"customer_id": s["customer_id"], "frequency": s["frequency"], "p_alive": alive[0],
                        "purchases_12m": year[0], "spend": spend[0], "cost_per_purchase": cpp})
    out["clv"] = disc[0] * (spend[0] * margin - cpp)
    out["discounted_purchases"] = disc[0]
    purchases = s["frequency"].to_numpy(float) + 1
    out["realised"] = s["spend"].to_numpy(float) * margin - cpp * purchases
    if draws:
        bg.set_params(bg.draws(draws, seed))
        gg.set_params(gg.draws(draws, seed + 1))
        d_disc, d_year, _, d_spend = _clv_terms(bg, gg, data, horizon_months, annual_discount)
        clv = d_disc * (d_spend * margin - cpp)
        for name, arr in (("purchases_12m", d_year), ("clv", clv)):
            lo, hi = np.nanpercentile(arr, [2.5, 97.5], axis=0)
            out[f"{name}_lo"], out[f"{name}_hi"] = lo, hi
        bg.at_mle()
        gg.at_mle()
    if "segment" in s:
        out["segment"] = s["segment"]
    return Valuation(out, horizon_months, annual_discount, margin, draws)


def whale_curve(values: np.ndarray, points: int = 11) -> list[tuple[float, float]]:
    """(share of customers, share of total value) with customers sorted from most to least valuable."""
    v = np.sort(np.asarray(values, float))[::-1]
    total = v.sum()
    cum = np.concatenate([[0.0], np.cumsum(v)]) / (total if total else 1.0)
    xs = np.linspace(0, 1, points)
    return [(float(x), float(np.interp(x * len(v), np.arange(len(v) + 1), cum))) for x in xs]


def top_share(values: np.ndarray, top: float = 0.2) -> float:
    """Share of total value held by the top `top` fraction of customers (interpolated between customers)."""
    xs, ys = zip(*whale_curve(values, points=1001), strict=True)
    return float(np.interp(top, xs, ys))


def grouped_top_share(values: np.ndarray, groups: np.ndarray, top: float = 0.2) -> float:
    """The same share when every customer carries the mean value of its group (what segments can represent)."""
    frame = pd.DataFrame({"v": values, "g": groups})
    frame["v"] = frame.groupby("g")["v"].transform("mean")
    return top_share(frame["v"].to_numpy(), top)


def conditional_expectations(tx: Transactions, bg: Fit, cap: int = 7) -> pd.DataFrame:
    """Holdout check, per calibration frequency (0..cap+): customers, actual and predicted mean holdout purchases."""
    s = tx.summary
    bg.at_mle()
    pred = _arr(bg.model.expected_purchases(s[["customer_id", "frequency", "recency", "T"]],
                                            future_t=tx.holdout_weeks))[0]
    frame = pd.DataFrame({"group": np.minimum(s["frequency"].to_numpy(), cap), "actual": s["holdout"].to_numpy(float),
                          "predicted": pred})
    table = frame.groupby("group").agg(customers=("actual", "size"), actual=("actual", "mean"),
                                       predicted=("predicted", "mean")).reset_index()
    table["group"] = [f"{g}+" if g == cap else str(g) for g in table["group"]]
    return table


def tracking(tx: Transactions, bg: Fit) -> pd.DataFrame:
    """Cumulative repeat purchases per week, actual vs the model's unconditional expectation for the cohort."""
    s = tx.summary
    weeks = len(tx.repeat_by_week)
    start = (pd.to_datetime(s["first"]) - pd.Timestamp(tx.calibration_start)).dt.days.to_numpy() / 7.0
    expected = np.array([_new_customer(bg, np.clip(w + 1 - start, 0, None)).sum() for w in range(weeks)])
    return pd.DataFrame({"week": np.arange(1, weeks + 1), "actual": np.cumsum(tx.repeat_by_week),
                         "expected": expected})


def _new_customer(bg: Fit, t: np.ndarray) -> np.ndarray:
    """E[X(t)] for a customer t weeks after the first purchase (FHL 2005 eq. 9), vectorised over many ages at
    once (the library's `expected_purchases_new_customer` gives the same per call; a test checks they agree)."""
    from scipy.special import hyp2f1

    r, alpha, a, b = (bg.params[k] for k in ("r", "alpha", "a", "b"))
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, t / (alpha + t)))
