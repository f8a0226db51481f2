"""Published results the engine must reproduce: Gupta & Lehmann's CLV, the Sears chain."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.engine.model import run_once
from tests.helpers import compiled


def test_gupta_lehmann_margin_multiple():
    """A cohort with constant margin m, monthly retention r and monthly discount i is worth m*r/(1+i-r) each.

    The engine's churn is a continuous hazard set so that survival over a month is exactly r; we value the
    cohort as Gupta & Lehmann do (margin m for each period a customer is still retained at its end,
    discounted per period) from the engine's own active-customer counts and realised margin.
    """
    r, annual = 0.8, 0.12
    i = (1 + annual) ** (1 / 12) - 1
    basket, cogs = 10.0, 0.4
    m = basket * (1 - cogs)  # one purchase per month
    n0, months = 50_000, 80
    data = {
        "metadata": {"name": "cohort", "horizon_months": months, "discount_rate": annual},
        "employees": {"headcount": 1, "annual_salary": 0, "annual_quit_rate": 0},
        "segments": [{"name": "cohort", "initial_customers": n0, "contacts_per_month": 0, "purchases_per_month": 1,
                      "basket": basket, "cogs_fraction": cogs, "churn_per_month": 1 - r, "satisfaction_sensitivity": 0}],
    }
    p = run_once(compiled(data), "baseline", 0, seed=3).periods
    t = np.arange(1, months + 1)
    survivors = p["active_customers"]
    clv = float((m * survivors / (1 + i) ** t).sum() / n0)
    assert clv == pytest.approx(m * r / (1 + i - r), rel=0.01)
    # and the margin the engine books per customer-month is m
    at_start = np.concatenate([[n0], survivors[:-1]])
    customer_months = at_start * (1 - r) / -np.log(r)  # expected exposure within a month under a constant hazard
    realised = (p["revenue"] - p["cost_of_goods"])[:12].sum() / customer_months[:12].sum()
    assert realised == pytest.approx(m, rel=0.01)


def test_sears_chain_exact_in_steady_state():
    """Rucci, Kirn & Quinn (1998): +5 employee attitude -> +1.3 customer impression -> +0.5 revenue growth."""
    def scenario(shock: float) -> dict:
        return {
            "metadata": {"name": "sears", "horizon_months": 3},
            "employees": {"headcount": 2, "annual_salary": 1},
            "segments": [{"name": "s", "initial_customers": 10, "basket": 1}],
            "network": {
                "nodes": [{"name": "employee_attitude", "kind": "lever", "reference": 60},
                          {"name": "customer_impression", "kind": "auxiliary", "reference": 50},
                          {"name": "revenue_growth", "kind": "auxiliary", "reference": 2.0}],
                "links": [{"from": "employee_attitude", "to": "customer_impression", "effect": 1.3 / 5},
                          {"from": "customer_impression", "to": "revenue_growth", "effect": 0.5 / 1.3}],
            },
            "initiatives": [{"name": "attitude", "effects": [{"lever": "employee_attitude", "add": shock}]}],
            "strategies": [{"name": "better_attitude", "initiatives": ["attitude"]}],
        }

    for shock, impression, growth in ((5, 1.3, 0.5), (10, 2.6, 1.0), (-5, -1.3, -0.5)):
        model = compiled(scenario(shock))
        base = run_once(model, "baseline", 0, seed=1).periods
        better = run_once(model, "better_attitude", 0, seed=1).periods
        assert better["customer_impression"][-1] - base["customer_impression"][-1] == pytest.approx(impression, abs=1e-12)
        assert better["revenue_growth"][-1] - base["revenue_growth"][-1] == pytest.approx(growth, abs=1e-12)
