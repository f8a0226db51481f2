"""Money and capacity identities (time-driven ABC, one pool of staff time), headcount flows, and common
random numbers at the level of single customers."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.analysis.capacity import capacity_report
from simulator.engine.model import run_once
from simulator.results import COST_COLUMNS
from tests.helpers import compiled, scenario_dict

SMALL = scenario_dict("engine_small.yaml")
SMALL_MODEL = compiled(SMALL)
KA = scenario_dict("kaplan_anderson_2004.yaml")
CRN = scenario_dict("crn_two_segments.yaml")


def periods(model, strategy: str, seed: int, months: int, replication: int = 0) -> pd.DataFrame:
    return pd.DataFrame(run_once(model, strategy, replication, seed, months).periods)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), strategy=st.sampled_from(["baseline", "training", "cuts"]))
def test_profit_is_revenue_minus_each_cost_once(seed, strategy):
    p = periods(SMALL_MODEL, strategy, seed, 6)
    lines = p[list(COST_COLUMNS)].sum(axis=1)
    np.testing.assert_allclose(p["costs"], lines, rtol=1e-12)
    np.testing.assert_allclose(p["profit"], p["revenue"] - p["costs"], rtol=1e-12)
    assert "activity_costs" not in COST_COLUMNS and "cost_to_serve" not in COST_COLUMNS


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), strategy=st.sampled_from(["baseline", "training", "cuts"]),
       headcount=st.integers(1, 6))
def test_capacity_minutes_and_money_add_up(seed, strategy, headcount):
    data = copy.deepcopy(SMALL)
    data["employees"]["headcount"] = headcount
    p = periods(compiled(data), strategy, seed, 5)
    np.testing.assert_allclose(p["service_minutes"] + p["activity_minutes"] + p["unused_minutes"],
                               p["practical_minutes"], rtol=1e-12)
    # allocated wages (cost to serve without channel costs) + unused capacity cost = wages
    np.testing.assert_allclose(p["cost_to_serve"] - p["channel_costs"] + p["unused_capacity_cost"], p["wages"],
                               rtol=1e-9)
    assert (p["activity_minutes"] > 0).all()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), replication=st.integers(0, 20), cut=st.integers(-3, 0))
def test_headcount_flows(seed, replication, cut):
    data = copy.deepcopy(SMALL)
    data["initiatives"][1]["effects"][0]["add"] = cut
    p = periods(compiled(data), "cuts", seed, 6, replication)
    start = data["employees"]["headcount"]
    previous = np.concatenate([[start], p["headcount"].to_numpy()[:-1]])
    np.testing.assert_array_equal(previous + p["hires"] - p["employee_quits"] - p["redundancies"], p["headcount"])
    emp = SMALL_MODEL.scenario.employees
    np.testing.assert_allclose(p["severance_costs"], p["redundancies"] * emp.severance_months * emp.annual_salary / 12)


def test_a_cut_with_no_quit_before_it_makes_people_redundant_and_pays_severance():
    data = copy.deepcopy(SMALL)
    data["employees"]["annual_quit_rate"] = 0.0
    data["network"]["nodes"][4]["reference"] = 0.0  # employee_quit_rate node: nobody quits
    data["network"]["links"] = [lk for lk in data["network"]["links"] if lk["to"] != "employee_quit_rate"]
    data["initiatives"][1]["effects"][0]["add"] = -2
    p = periods(compiled(data), "cuts", 1, 4)
    assert p["redundancies"].tolist() == [0, 0, 2, 0] and p["headcount"].tolist() == [4, 4, 2, 2]
    assert p["severance_costs"].sum() == pytest.approx(2 * 3 * 30_000 / 12)


def test_contact_driven_activity_costs_every_contact_to_its_customer():
    data = copy.deepcopy(SMALL)
    data["activities"] = [{"name": "after_call_work", "minutes": 2, "driver": "contact"}]
    out = run_once(compiled(data), "baseline", 0, 2, 3)
    ledger, p = pd.DataFrame(out.ledger), pd.DataFrame(out.periods)
    assert p["volume_after_call_work"].sum() == p["contacts_arrived"].sum() == ledger["contacts"].sum()
    # every contact's 2 minutes reach its customer's cost to serve: the ledger holds all allocated wages
    allocated = (p["cost_to_serve"] - p["channel_costs"]).sum()
    assert ledger["cost_to_serve"].sum() == pytest.approx(allocated, rel=1e-9)


def test_kaplan_anderson_department_to_the_cent():
    """HBR 2004: rate 0.81/min; unit costs 6.48, 35.64, 40.50; 468,666 used, 98,334 unused (121,400 minutes)."""
    model = compiled(KA)
    ts = periods(model, "baseline", 1, 3).assign(strategy="baseline", replication=0)
    row = capacity_report(ts, model.scenario)["baseline"]
    assert round(row.rate, 2) == 0.81 and abs(row.rate - 0.81) < 1e-12
    assert round(row.practical_minutes) == 700_000 and round(row.cost_supplied, 2) == 567_000.00
    acts = row.activities.set_index("activity").iloc[1:]  # after the desk-service row
    assert acts["volume"].round(6).tolist() == [49_000, 1_400, 2_500]
    assert acts["unit_cost"].round(2).tolist() == [6.48, 35.64, 40.50]
    assert round(row.used_minutes) == 578_600 and round(row.used_cost, 2) == 468_666.00
    assert round(row.unused_minutes) == 121_400 and round(row.unused_cost, 2) == 98_334.00
    assert row.overtime_minutes == 0


def test_work_beyond_practical_capacity_is_paid_overtime():
    data = copy.deepcopy(KA)
    data["activities"][0]["per_month"] *= 2  # 98,000 orders: 970,600 minutes of work in 700,000 practical
    model = compiled(data)
    p = periods(model, "baseline", 1, 3)
    emp = model.scenario.employees
    paid_minute = emp.annual_salary / (365.25 * emp.minutes_per_day)
    assert p["overtime_minutes"].sum() == pytest.approx(270_600, rel=1e-9)
    np.testing.assert_allclose(p["overtime_costs"], p["overtime_minutes"] * paid_minute * emp.overtime_premium)
    assert p["unused_minutes"].sum() == pytest.approx(-270_600, rel=1e-9)
    assert (p["costs"] == p["wages"] + p["overtime_costs"]).all()


def _ledger(model, strategy: str, seed: int, months: int) -> pd.DataFrame:
    out = pd.DataFrame(run_once(model, strategy, 0, seed, months).ledger)
    return out.set_index(["segment", "ordinal"]).drop(columns="customer").sort_index()


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32))
def test_an_initiative_leaves_untouched_customers_draws_unchanged(seed):
    """Common random numbers per customer: before the campaign starts (month 4) the runs are identical; after it,
    every walk-in customer (whom the online campaign does not touch) has exactly the same history, and so
    has every online customer who was already there, up to the start."""
    model = compiled(CRN)
    before_b, before_c = _ledger(model, "baseline", seed, 4), _ledger(model, "campaign", seed, 4)
    pd.testing.assert_frame_equal(before_b, before_c, check_exact=True)
    base, camp = _ledger(model, "baseline", seed, 8), _ledger(model, "campaign", seed, 8)
    pd.testing.assert_frame_equal(base.loc["walk_in"], camp.loc["walk_in"], check_exact=True)
    online_b, online_c = base.loc["online"], camp.loc["online"]
    assert len(online_c) > len(online_b)  # the campaign brought more (the same people, sooner, and then some)
    shared = online_b.index.intersection(online_c.index)
    assert (online_b.loc[shared, "contacts"] == online_c.loc[shared, "contacts"]).all()
    # the k-th online customer is the same person: same satisfaction draw (no contacts, so it never moves)
    assert (online_b.loc[shared, "satisfaction"] == online_c.loc[shared, "satisfaction"]).all()
    pb, pc = periods(model, "baseline", seed, 8), periods(model, "campaign", seed, 8)
    pd.testing.assert_frame_equal(pb.iloc[:4], pc.iloc[:4], check_exact=True)
