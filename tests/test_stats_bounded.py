"""`bounded_mean_ci`: the 95% CI of a mean that cannot leave its range (staff turnover >= 0, satisfaction on 0-10).

Two replications of turnover once showed "[0.0%, 3411598.1%]": the log-scale delta-method interval, mapped back
with e^h, exploded. It is now that interval only while it is locally valid (half-width h on the log or logit
scale <= 0.2), the Student t interval clipped to the range from h = 0.4 on, and a linear blend in between.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.analysis.stats import FADE, LOCAL, bounded_mean_ci, mean_ci

OVERSHOOT = 0.026  # the blend's largest step beyond the clipped t interval, per unit of distance to the bound


def _clipped_t(x, lower, upper):
    m, lo, hi = mean_ci(x)
    return max(lo, lower), hi if upper is None else min(hi, upper)


def _samples(seed: int = 7):
    """Replication sets of every kind: few and many, tight and wide, near a bound and far from it."""
    rng = np.random.default_rng(seed)
    for _ in range(3000):
        n = int(rng.integers(2, 31))
        mean = float(rng.uniform(0.01, 0.99))
        cv = float(rng.choice([0.001, 0.05, 0.2, 0.5, 1.0, 2.0]))
        shape = 1 / cv**2
        yield rng.gamma(shape, mean / shape, n), 0.0, None
        yield np.clip(rng.normal(mean, cv * min(mean, 1 - mean), n), 1e-9, 1 - 1e-9), 0.0, 1.0


def test_never_crosses_a_bound_and_never_explodes():
    for x, lower, upper in _samples():
        m, lo, hi = bounded_mean_ci(x, lower, upper)
        assert lower <= lo <= m <= hi and (upper is None or hi <= upper)
        t_lo, t_hi = _clipped_t(x, lower, upper)
        near = m - lower if upper is None else min(m - lower, upper - m)
        # never wider than the t interval clipped to the range, but for the blend's bounded overshoot
        assert lo >= t_lo - OVERSHOOT * near - 1e-12 and hi <= t_hi + OVERSHOOT * near + 1e-12
        if upper is None:  # the end towards the bound is never beyond the clipped t interval's
            assert lo >= t_lo - 1e-12


def test_the_overshoot_bound_is_the_blends_maximum():
    h = np.linspace(0, FADE, 40001)
    weight = np.clip((FADE - h) / (FADE - LOCAL), 0, 1)
    worst = float((weight * (np.exp(h) - 1 - h)).max())
    assert worst <= OVERSHOOT and worst == pytest.approx(OVERSHOOT, abs=5e-4)


def test_two_replications_of_20_and_55_percent_turnover():
    x = [0.20, 0.55]
    m, lo, hi = bounded_mean_ci(x)
    t_lo, t_hi = _clipped_t(x, 0.0, None)
    assert m == pytest.approx(0.375)
    assert math.isfinite(hi) and hi <= t_hi + 1e-12  # was 140.996 (14,100%): now the clipped t interval
    assert (lo, hi) == pytest.approx((0.0, mean_ci(x)[2]))
    assert t_hi == pytest.approx(0.375 + 12.706 * 0.35 / 2, rel=1e-4)


def test_equals_mean_ci_when_the_spread_is_tiny():
    for x, lower, upper in (([10.0, 10.001, 9.999, 10.0005], 0.0, None), ([7.50, 7.501, 7.499], 0.0, 10.0)):
        m, lo, hi = bounded_mean_ci(x, lower, upper)
        tm, t_lo, t_hi = mean_ci(x)
        half = t_hi - tm
        assert m == tm
        # differs from the t interval at second order only: (h^2 / 2) * distance to the bound, h ~ 1e-4 here
        assert lo == pytest.approx(t_lo, abs=half * 1e-3) and hi == pytest.approx(t_hi, abs=half * 1e-3)


def test_asymmetric_near_a_bound_when_the_spread_is_moderate():
    # turnover around 20% with a half-width of about 0.15 times the mean: the log interval, skewed upwards
    x = np.array([0.17, 0.20, 0.23, 0.19, 0.21])
    m, lo, hi = bounded_mean_ci(x)
    t_lo, t_hi = _clipped_t(x, 0.0, None)
    h = (t_hi - m) / m
    assert 0.1 < h < LOCAL
    assert (lo, hi) == pytest.approx((m * math.exp(-h), m * math.exp(h)))
    assert (hi - m) / (m - lo) == pytest.approx(math.exp(h)) and (hi - m) / (m - lo) > 1.1  # longer above
    # and near the top of 0-10 the other way round
    s = np.array([9.2, 9.0, 9.4, 9.1, 9.3])
    m, lo, hi = bounded_mean_ci(s, 0.0, 10.0)
    assert m - lo > hi - m and hi < 10


def test_continuous_through_the_blend():
    # scale the spread so the log-scale half-width h sweeps 0.05 .. 0.6: the ends move without jumps
    base = np.array([-1.0, 1.0])
    previous = None
    for k in np.linspace(0.0005, 0.006, 2000):
        m, lo, hi = bounded_mean_ci(0.1 + k * base)
        if previous is not None:
            assert abs(lo - previous[0]) < 2e-3 and abs(hi - previous[1]) < 2e-3
        previous = (lo, hi)


def _coverage(draw, mean, n, trials, rng):
    x = draw(rng, (trials, n))
    hits = 0
    for row in x:
        _, lo, hi = bounded_mean_ci(row)
        hits += lo <= mean <= hi
    return hits / trials


@pytest.mark.parametrize("name, draw", [
    # gamma turnover with the shipped case's spread (30 replications: CV 0.39), mean 1
    ("gamma, CV 0.39", lambda rng, size: rng.gamma(6.5, 1 / 6.5, size)),
    # lognormal with sigma 0.3 (CV 0.31, more skewed than the gamma), mean 1
    ("lognormal, sigma 0.3", lambda rng, size: rng.lognormal(-0.045, 0.3, size)),
])
def test_coverage_of_skewed_turnover(name, draw):
    rng = np.random.default_rng(20261123)
    for n in (2, 3, 5, 10, 30):
        assert _coverage(draw, 1.0, n, 2000, rng) >= 0.93, (name, n)
