"""Customer value with hand-computed expectations: Gupta & Lehmann, whale curve, Kaplan & Anderson TDABC."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulator.analysis.customer_value import (
    customer_equity,
    lifetime_values,
    margin_multiple,
    segment_economics,
    time_driven_abc,
    whale_curve,
)


def test_gupta_lehmann_margin_multiple():
    assert margin_multiple(0.8, 0.12) == pytest.approx(2.5)
    assert margin_multiple(0.9, 0.10) == pytest.approx(4.5)


def test_whale_curve_shares_on_a_constructed_ledger():
    profits = [50, 30, 20, 10, 10, 5, 0, -5, -10, -10]  # total 100
    curve = whale_curve(profits)
    assert curve.top20_share == pytest.approx(0.80)  # 50 + 30 of 100
    assert curve.bottom10_loss == pytest.approx(-10.0)
    assert curve.peak_share == pytest.approx(1.25)  # 125 before the unprofitable tail
    assert curve.cumulative_profit[-1] == pytest.approx(1.0)
    np.testing.assert_allclose(curve.customer_share[[0, -1]], [0.1, 1.0])


def test_kaplan_anderson_tdabc_example():
    """HBR 2004: $560,000 a quarter, 630,000 practical minutes; orders 8 min x 49,800, inquiries 44 x 1,400,
    credit checks 50 x 2,500 -> rate $0.89/min, 585,000 minutes used, 45,000 unused ($40,000)."""
    abc = time_driven_abc(560_000, 630_000, {"orders": (8, 49_800), "inquiries": (44, 1_400), "credit": (50, 2_500)})
    assert abc.rate == pytest.approx(0.8889, abs=1e-4)
    assert abc.used_minutes == 585_000 and abc.unused_minutes == 45_000
    assert abc.unused_cost == pytest.approx(40_000)
    assert abc.used_cost + abc.unused_cost == pytest.approx(560_000)
    assert sum(abc.activity_costs.values()) == pytest.approx(abc.used_cost)


def test_lifetime_value_and_equity():
    ledger = pd.DataFrame({
        "segment": ["a", "a", "a", "a"], "active": [True, True, False, False],
        "tenure_months": [10.0, 10.0, 10.0, 10.0],  # 40 customer-months, 2 lost -> hazard 0.05, retention exp(-0.05)
        "revenue": [200.0] * 4, "cost_of_goods": [100.0] * 4, "cost_to_serve": [20.0] * 4,  # margin 8 a month
        "acquisition_cost": [0.0] * 4, "profit": [80.0] * 4,
    })
    values = lifetime_values(ledger, annual_discount=0.0)
    r = np.exp(-0.05)
    remaining = 8.0 * r / (1 - r)
    np.testing.assert_allclose(values["expected_remaining"], [remaining, remaining, 0, 0])
    np.testing.assert_allclose(values["lifetime_value"], [80 + remaining, 80 + remaining, 80, 80])
    assert customer_equity(ledger, 0.0) == pytest.approx(2 * remaining)


def test_retention_is_survival_of_the_exposure_hazard():
    """200,000 customers with a constant monthly hazard of 0.10, censored at 36 months: r = exp(-0.10), not 0.90."""
    rng = np.random.default_rng(2024)
    hazard, horizon, n = 0.10, 36.0, 200_000
    lifetime = rng.exponential(1 / hazard, n)
    tenure = np.minimum(lifetime, horizon)
    ledger = pd.DataFrame({
        "segment": "cohort", "active": lifetime > horizon, "tenure_months": tenure,
        "revenue": 10.0 * tenure, "cost_of_goods": 4.0 * tenure, "cost_to_serve": 1.0 * tenure,
        "profit": 5.0 * tenure,
    })
    econ = segment_economics(ledger).loc["cohort"]
    assert econ["retention"] == pytest.approx(np.exp(-hazard), rel=0.005)
    assert abs(econ["retention"] - (1 - hazard)) > 0.004  # the old estimator (1 - hazard) is off by ~0.0048
    assert econ["monthly_margin"] == pytest.approx(5.0)
