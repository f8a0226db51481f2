"""Customer value: lifetime value and customer equity, the whale curve, and time-driven ABC.

Lifetime value of a customer = realised profit so far + expected remaining margin, valued with
Gupta & Lehmann's margin multiple r / (1 + i - r) from its segment's observed monthly margin and
retention. Customer equity is the sum over the active base: "the value of all relationships".

Retention is the per-period survival of a constant hazard: hazard = defections / customer-months of
exposure (the exponential maximum-likelihood estimate, right-censored at the horizon), r = exp(-hazard).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


def margin_multiple(retention: float, discount: float) -> float:
    """Gupta & Lehmann (2003): value of a margin of 1 per period retained with probability r at discount i."""
    if not 0 <= retention < 1 + discount:
        raise ValueError("retention must be in [0, 1 + discount)")
    return retention / (1 + discount - retention)


def monthly_rate(annual: float) -> float:
    return (1 + annual) ** (1 / 12) - 1


def retention_from_exposure(defections, customer_months):
    """Per-period survival r = exp(-hazard), hazard = defections / customer-months (exponential MLE)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = np.asarray(defections, dtype=float) / np.asarray(customer_months, dtype=float)
    return np.clip(np.exp(-hazard), 0.0, 0.999)


def segment_economics(ledger: pd.DataFrame) -> pd.DataFrame:
    """Per segment: customer-months, monthly margin after cost to serve, and monthly retention exp(-hazard)."""
    df = ledger.assign(margin=ledger["revenue"] - ledger["cost_of_goods"] - ledger["cost_to_serve"],
                       lost=~ledger["active"].astype(bool))
    g = df.groupby("segment")
    months = g["tenure_months"].sum()
    lost = g["lost"].sum()
    out = pd.DataFrame({
        "customers": g.size(),
        "customer_months": months,
        "monthly_margin": g["margin"].sum() / months,
        "hazard": lost / months,
        "retention": retention_from_exposure(lost, months),
        "profit": g["profit"].sum(),
    })
    return out


def lifetime_values(ledger: pd.DataFrame, annual_discount: float) -> pd.DataFrame:
    """Ledger plus `expected_remaining` (active customers only) and `lifetime_value`."""
    econ = segment_economics(ledger)
    i = monthly_rate(annual_discount)
    multiple = econ.apply(lambda r: margin_multiple(r["retention"], i), axis=1)
    per_customer = (econ["monthly_margin"] * multiple).rename("remaining")
    out = ledger.copy()
    out["expected_remaining"] = np.where(out["active"].astype(bool), out["segment"].map(per_customer), 0.0)
    out["lifetime_value"] = out["profit"] + out["expected_remaining"]
    return out


def customer_equity(ledger: pd.DataFrame, annual_discount: float) -> float:
    """Expected remaining value of the active base."""
    return float(lifetime_values(ledger, annual_discount)["expected_remaining"].sum())


@dataclass(frozen=True)
class WhaleCurve:
    customer_share: np.ndarray  # 0..1, customers ranked by profit, most profitable first
    cumulative_profit: np.ndarray  # cumulative profit as a share of total profit
    top20_share: float  # share of total profit earned by the top 20% of customers
    bottom10_loss: float  # profit (usually negative) of the bottom 10%
    peak_share: float  # the whale's hump: the highest cumulative share


def whale_curve(profits) -> WhaleCurve:
    p = np.sort(np.asarray(profits, dtype=float))[::-1]
    n = p.size
    total = p.sum()
    cum = np.cumsum(p) / total if total != 0 else np.zeros(n)
    top = int(np.ceil(0.2 * n))
    bottom = int(np.ceil(0.1 * n))
    return WhaleCurve(np.arange(1, n + 1) / n, cum, float(p[:top].sum() / total) if total else float("nan"),
                      float(p[n - bottom:].sum()), float(cum.max()) if n else float("nan"))


@dataclass(frozen=True)
class CapacityCosts:
    rate: float  # cost per minute of practical capacity
    activity_costs: dict[str, float]
    used_minutes: float
    unused_minutes: float
    used_cost: float
    unused_cost: float


def time_driven_abc(cost_supplied: float, practical_minutes: float,
                    activities: dict[str, tuple[float, float]]) -> CapacityCosts:
    """Kaplan & Anderson (2004): rate = cost supplied / practical capacity; activity cost = minutes x volume x rate.

    `activities` maps name -> (minutes per occurrence, occurrences). Used + unused cost = cost supplied.
    """
    rate = cost_supplied / practical_minutes
    costs = {name: minutes * volume * rate for name, (minutes, volume) in activities.items()}
    used = sum(minutes * volume for minutes, volume in activities.values())
    unused = practical_minutes - used
    return CapacityCosts(rate, costs, used, unused, used * rate, unused * rate)
