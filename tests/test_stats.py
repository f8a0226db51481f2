"""Statistics shown to users, checked against closed forms and published values (issue 11, honest statistics)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from simulator.analysis.comparison import comparison_frame, replications_to_resolve
from simulator.analysis.stats import (
    bounded_mean_ci,
    format_share,
    mean_ci,
    proportion_ci,
    replications_for_power,
    t975,
)
from simulator.analysis.summary import format_figure, summary_frame

# two-sided 95% Student t quantiles from a printed table (e.g. Montgomery, Table IV)
PRINTED_T975 = {1: 12.706, 2: 4.303, 5: 2.571, 10: 2.228, 29: 2.045, 30: 2.042, 60: 2.000, 120: 1.980}


@pytest.mark.parametrize("df", [1, 2, 3, 5, 10, 29, 30, 31, 45, 60, 120, 1000])
def test_t975_matches_scipy_and_printed_tables(df):
    assert t975(df) == pytest.approx(st.t.ppf(0.975, df), rel=1e-12)
    if df in PRINTED_T975:
        assert t975(df) == pytest.approx(PRINTED_T975[df], abs=6e-4)


def test_t975_without_degrees_of_freedom_is_nan():
    assert math.isnan(t975(0))


def test_clopper_pearson_interval_against_its_closed_form():
    # k = n: the lower bound solves p^n = 0.025; k = 0: the upper bound solves (1 - p)^n = 0.025
    low, high = proportion_ci(10, 10)
    assert low == pytest.approx(0.025 ** (1 / 10), abs=1e-9) and low == pytest.approx(0.6915, abs=1e-4)
    assert high == 1.0
    low, high = proportion_ci(0, 10)
    assert low == 0.0 and high == pytest.approx(1 - 0.025 ** (1 / 10), abs=1e-9)
    # 5 of 10: the published exact interval (0.187, 0.813); Wilson for 10/10 would give 0.722, not 0.69
    assert proportion_ci(5, 10) == pytest.approx((0.1871, 0.8129), abs=1e-4)
    wilson_low = 10 / (10 + st.norm.ppf(0.975) ** 2)
    assert wilson_low == pytest.approx(0.7225, abs=1e-4) and proportion_ci(10, 10)[0] < wilson_low - 0.03


def test_a_share_is_printed_with_its_interval_never_bare():
    assert format_share(10, 10, *proportion_ci(10, 10)) == "10/10 (69–100%)"
    assert format_share(0, 10, *proportion_ci(0, 10)) == "0/10 (0–31%)"  # 30.85% rounded outwards
    assert format_share(2, 2, *proportion_ci(2, 2)) == "2/2 (15–100%)"
    assert format_share(0, 0, *proportion_ci(0, 0)) == "-"


def _exact_power(n: int, effect: float) -> float:
    """Power of the two-sided 5% paired t test with n pairs at standardised effect mean/sd (noncentral t)."""
    df, nc, c = n - 1, effect * math.sqrt(n), st.t.ppf(0.975, n - 1)
    return float(st.nct.sf(c, df, nc) + st.nct.cdf(-c, df, nc))


@pytest.mark.parametrize("effect", [2.0, 1.0, 0.5, 0.3, 0.1])
def test_replications_for_80_percent_power(effect):
    n = replications_for_power(effect, 1.0)
    normal = ((st.norm.ppf(0.975) + st.norm.ppf(0.8)) / effect) ** 2  # the closed form with normal quantiles
    assert math.ceil(normal) <= n <= math.ceil(normal) + 3
    # the t refinement: the smallest n with n >= ((t_0.975,n-1 + t_0.8,n-1) / effect)^2
    def needed(m: int) -> float:
        return ((st.t.ppf(0.975, m - 1) + st.t.ppf(0.8, m - 1)) / effect) ** 2
    assert needed(n) <= n and (n == 2 or needed(n - 1) > n - 1)
    # and it is what it says: the exact power of the paired t test reaches 80% at n, not at n - 1
    assert _exact_power(n, effect) >= 0.8 > _exact_power(n - 1, effect)
    assert replications_for_power(-effect, 1.0) == n  # two-sided: the sign does not matter


def test_replications_for_power_without_a_difference_or_spread():
    assert replications_for_power(0.0, 1.0) is None and replications_for_power(1.0, 0.0) is None


def test_replications_to_resolve_is_the_power_size_of_the_observed_differences():
    deltas = np.array([1.0, -0.5, 2.5, 0.2, 1.8, -1.1])
    n = replications_to_resolve(deltas)
    assert n == replications_for_power(deltas.mean(), deltas.std(ddof=1)) and n > deltas.size


def _p_better_ts(deltas: np.ndarray) -> pd.DataFrame:
    rows = []
    for name, values in (("baseline", np.zeros_like(deltas)), ("s", deltas)):
        for r, profit in enumerate(values):
            rows.append({"strategy": name, "replication": r, "period": 1, "profit": profit, "discounted_profit": profit,
                         "initiative_spend": 0.0, "revenue": 100.0, "costs": 100.0, "customer_satisfaction": 7.0,
                         "nps": 0.0})
    return pd.DataFrame(rows)


def test_p_better_is_a_share_of_replications_with_its_exact_interval():
    deltas = np.array([5.0, -3.0, 4.0, -1.0, 2.0, 6.0, 0.0])  # 4 of 7 beat baseline (a tie does not)
    row = comparison_frame(_p_better_ts(deltas), 0.0, 30.4375).iloc[0]
    assert row["p_better"] == pytest.approx(4 / 7) and row["pairs"] == 7
    assert (row["p_better_low"], row["p_better_high"]) == pytest.approx(proportion_ci(4, 7))
    from simulator.analysis.comparison import comparison_document, p_better_text

    doc = comparison_document(comparison_frame(_p_better_ts(deltas), 0.0, 30.4375))["s"]["p_better"]
    assert doc == {"share": pytest.approx(4 / 7), "ci_low": pytest.approx(row["p_better_low"]),
                   "ci_high": pytest.approx(row["p_better_high"]), "replications": 7}
    assert p_better_text(row) == format_share(4, 7, *proportion_ci(4, 7))


def test_a_nonnegative_figure_with_huge_spread_keeps_its_interval_above_zero():
    turnover = np.array([0.02, 0.0, 0.05, 1.6, 0.03])  # one replication where the staff walked out
    _, t_low, _ = mean_ci(turnover)
    assert t_low < 0  # the symmetric interval the issue saw ("36.2% ± 49.9%")
    mean, low, high = bounded_mean_ci(turnover)
    # so wide (half-width 2.6 times the mean) that it is the t interval clipped at 0 (tests/test_stats_bounded.py)
    assert mean == pytest.approx(turnover.mean()) and low == 0 < mean < high == pytest.approx(mean_ci(turnover)[2])
    # far from the bound it is the t interval to first order
    tight = np.array([10.0, 10.2, 9.9, 10.1])
    assert bounded_mean_ci(tight)[1:] == pytest.approx(mean_ci(tight)[1:], rel=2e-3)


def test_a_figure_on_0_to_10_keeps_its_interval_inside():
    satisfaction = np.array([9.9, 9.5, 10.0, 8.0])
    _, _, t_high = mean_ci(satisfaction)
    assert t_high > 10
    _, low, high = bounded_mean_ci(satisfaction, 0.0, 10.0)
    assert 0 < low < satisfaction.mean() < high <= 10


def test_headline_turnover_interval_never_below_zero_and_printed_as_a_range():
    rows = []
    quits = [0, 1, 0, 40, 2]  # huge spread across replications
    for r, q in enumerate(quits):
        for p in range(1, 13):
            rows.append({"strategy": "baseline", "replication": r, "period": p, "npv": 100.0 * p, "revenue": 50.0,
                         "active_customers": 100 + r, "employee_quits": q if p == 6 else 0, "headcount": 20.0,
                         "customer_satisfaction": 7.0 + 0.1 * r})
    summary = summary_frame(pd.DataFrame(rows)).set_index("metric")
    t = summary.loc["employee_turnover"]
    assert t["mean"] == pytest.approx(np.mean(quits) / 20) and 0 <= t["ci_low"] < t["mean"] < t["ci_high"]
    text = format_figure("employee_turnover", t["mean"], t["ci_low"], t["ci_high"])
    assert "±" not in text and text.startswith("43.0% [")
    assert (summary["ci_low"] <= summary["mean"]).all() and (summary["mean"] <= summary["ci_high"]).all()
    assert format_figure("npv", 1000.0, 900.0, 1100.0) == "1.0k ± 100"
