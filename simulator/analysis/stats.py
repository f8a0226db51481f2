"""Means and 95% confidence intervals over replications, shares with exact binomial intervals, power."""

from __future__ import annotations

import math

import numpy as np


def t975(df: int) -> float:
    """The 0.975 quantile of Student's t with `df` degrees of freedom (the 95% two-sided multiplier)."""
    if df < 1:
        return math.nan
    return _t_quantile(0.975, df)


def _t_quantile(q: float, df: float) -> float:
    """Student t quantile. scipy.special's inverse of the t CDF (what scipy.stats.t.ppf evaluates), imported
    lazily: scipy.special loads in ~0.05 s where scipy.stats takes ~0.4 s, which every `spc run` would pay."""
    from scipy.special import stdtrit

    return float(stdtrit(df, q))


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


LOCAL = 0.2
"""Half-width on the log (logit) scale up to which `bounded_mean_ci` is the log (logit) interval."""
FADE = 0.4
"""Half-width on that scale from which on `bounded_mean_ci` is the t interval clipped to the range."""


def bounded_mean_ci(values, lower: float = 0.0, upper: float | None = None) -> tuple[float, float, float]:
    """(mean, ci_low, ci_high) of a quantity that cannot leave [lower, upper]: a 95% CI that stays inside.

    Two intervals, both from the replications' own spread as `mean_ci` (a pooled Poisson interval on counts
    would be too narrow: quits and satisfaction feed back on each other within a replication):

    - the Student t interval built on the log scale of (mean - lower) or, with an upper bound too, on the logit
      scale of the mean's place in [lower, upper] (delta method: half-width h = t * se / g'(mean) on that scale),
      mapped back. It is asymmetric the way the sampling distribution of a positive, right-skewed mean is, but
      it rests on linearising g at the mean, which holds only while h is small: mapped back, its upper end is
      (mean - lower) * e^h, which explodes (2 replications of 20% and 55% turnover: t = 12.7, h = 5.9, the
      upper end 14,100%);
    - the plain Student t interval clipped to [lower, upper] (the true mean is inside the range, so clipping
      costs no coverage).

    The log (logit) interval is used while h <= LOCAL = 0.2 (there the back-transform's curvature, e^h - 1 - h
    ~ h^2 / 2, is about a tenth of the linear part h: the linearisation holds); from h >= FADE = 0.4 on it is
    the clipped t interval; in between each end moves linearly from one to the other, so the interval changes
    continuously with the data. Hence it never crosses a bound (it may reach one: with few replications and a
    wide spread it is [lower, ...]); neither end lies beyond the clipped t interval's by more than 0.026 times
    the mean's distance to the nearer bound (the blend's largest overshoot, (2 - 5h)(e^h - 1 - h) at h = 0.27;
    the end towards the bound never does); and it tends to `mean_ci` when the spread is small against the
    distance to the bound. Seeded simulation (gamma turnover with the shipped case's spread, CV 0.39;
    lognormal; normal) gives coverage no lower than the clipped t interval's, 0.93-0.95 for n = 2 to 30;
    tests/test_stats_bounded.py checks it. With one value, or no spread, the interval is the mean.
    """
    x = np.asarray(values, dtype=float)
    m, lo, hi = mean_ci(x)
    if x.size < 2 or not math.isfinite(m) or lo == hi:
        return m, lo, hi
    half = hi - m
    if upper is None:
        room = m - lower
        if room <= 0:  # values outside the stated range: keep the plain interval
            return m, lo, hi
        h = half / room
        t_lo, t_hi = max(lo, lower), hi
        g_lo, g_hi = (lower + room * math.exp(-h), lower + room * math.exp(h)) if h < FADE else (t_lo, t_hi)
    else:
        width = upper - lower
        p = (m - lower) / width
        if not 0 < p < 1:
            return m, lo, hi
        h = half / (width * p * (1 - p))
        t_lo, t_hi = max(lo, lower), min(hi, upper)
        if h < FADE:
            logit = math.log(p / (1 - p))
            g_lo = lower + width / (1 + math.exp(-(logit - h)))
            g_hi = lower + width / (1 + math.exp(-(logit + h)))
        else:
            g_lo, g_hi = t_lo, t_hi
    w = min(1.0, max(0.0, (FADE - h) / (FADE - LOCAL)))  # weight of the log (logit) interval
    return m, w * g_lo + (1 - w) * t_lo, w * g_hi + (1 - w) * t_hi


def proportion_ci(successes: int, n: int) -> tuple[float, float]:
    """95% Clopper-Pearson (exact binomial) interval of a share of `successes` out of `n` replications.

    Clopper-Pearson rather than Wilson: replications are few (often 2 to 30), and Clopper-Pearson's coverage is
    at least 95% for every true share and every n, while Wilson's dips below 95% for some shares at small n. It
    is the more cautious of the two (10 of 10: 0.69 to 1; Wilson would say 0.72 to 1). (nan, nan) for n = 0.
    """
    if n <= 0:
        return math.nan, math.nan
    from scipy.special import betaincinv  # the beta quantiles of scipy.stats.binomtest's "exact" interval

    k, n = int(successes), int(n)
    low = 0.0 if k == 0 else float(betaincinv(k, n - k + 1, 0.025))
    high = 1.0 if k == n else float(betaincinv(k + 1, n - k, 0.975))
    return low, high


def format_share(successes: int, n: int, low: float, high: float) -> str:
    """'7/10 (34–94%)': the count and its 95% interval, rounded outwards, never a bare 0% or 100%."""
    if n is None or n != n or n <= 0 or low != low or high != high:
        return "-"
    return f"{int(successes)}/{int(n)} ({math.floor(low * 100 + 1e-9):.0f}–{math.ceil(high * 100 - 1e-9):.0f}%)"


def replications_for_power(mean: float, sd: float, power: float = 0.8, alpha: float = 0.05) -> int | None:
    """Replications for a two-sided paired t test at level `alpha` to detect a mean difference `mean`, with `power`,
    when the paired differences have standard deviation `sd`.

    The normal-theory size n = ((z_{1-alpha/2} + z_power) * sd / |mean|)^2, refined with Student t quantiles on
    n - 1 degrees of freedom: the smallest n >= 2 with n >= ((t_{1-alpha/2,n-1} + t_{power,n-1}) * sd / |mean|)^2.
    None when there is no difference or no spread to plan with.
    """
    if not (math.isfinite(mean) and math.isfinite(sd)) or mean == 0 or sd <= 0:
        return None
    k = sd / abs(mean)
    from scipy.special import ndtri

    z = float(ndtri(1 - alpha / 2) + ndtri(power))
    if not math.isfinite((z * k) ** 2) or (z * k) ** 2 > 1e15:
        return None

    def needed(n: int) -> float:  # falls as n grows
        return float((_t_quantile(1 - alpha / 2, n - 1) + _t_quantile(power, n - 1)) * k) ** 2

    low = max(2, math.ceil((z * k) ** 2))  # t quantiles exceed z ones, so the answer is at least this
    if needed(low) <= low:
        return low
    high = max(low + 1, math.ceil(needed(low)))  # needed(high) <= needed(low) <= high
    while high - low > 1:  # needed(low) > low, needed(high) <= high
        mid = (low + high) // 2
        low, high = (low, mid) if needed(mid) <= mid else (mid, high)
    return high


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
