"""Means and 95% confidence intervals (Student t) over replications."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

# two-sided 95% Student t quantiles for 1..30 degrees of freedom
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
         2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t975(df: int) -> float:
    if df < 1:
        return math.nan
    if df <= len(_T975):
        return _T975[df - 1]
    z = NormalDist().inv_cdf(0.975)
    return z + (z**3 + z) / (4 * df)  # Cornish-Fisher correction, accurate to ~1e-3 beyond 30 df


def mean_ci(values) -> tuple[float, float, float]:
    """(mean, ci_low, ci_high); with one value the interval is that value (no spread is known)."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return math.nan, math.nan, math.nan
    m = float(x.mean())
    if x.size == 1:
        return m, m, m
    half = t975(x.size - 1) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return m, m - half, m + half


def strategy_order(strategies, given=None) -> list[str]:
    """A stable order that does not depend on row order: the given order, else baseline first then by name."""
    present = set(strategies)
    if given:
        return [s for s in given if s in present]
    return sorted(present, key=lambda s: (s != "baseline", s))


def format_money(x: float) -> str:
    """Compact money for tables: 1.2M, 456k, 789 ('-' for a missing value)."""
    if x is None or x != x:
        return "-"
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= size:
            return f"{x / size:,.{1 if abs(x) < 100 * size else 0}f}{suffix}"
    return f"{x:,.0f}"
