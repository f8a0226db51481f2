"""Engine invariants and behaviour: determinism, contact conservation, isolation of strategies, directions."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.engine.model import run_once
from simulator.engine.policy import Policy
from simulator.engine.service import FCFSServers
from simulator.experiment import run_experiment
from tests.helpers import compiled, scenario_dict

SMALL = scenario_dict("engine_small.yaml")
SMALL_MODEL = compiled(SMALL)


def frame(model, strategy: str, replication: int, seed: int, months: int = 4) -> pd.DataFrame:
    return pd.DataFrame(run_once(model, strategy, replication, seed, months).periods)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), replication=st.integers(0, 50), strategy=st.sampled_from(["baseline", "training", "cuts"]))
def test_same_seed_gives_identical_output(seed, replication, strategy):
    a = run_once(SMALL_MODEL, strategy, replication, seed, 3)
    b = run_once(SMALL_MODEL, strategy, replication, seed, 3)
    pd.testing.assert_frame_equal(pd.DataFrame(a.periods), pd.DataFrame(b.periods), check_exact=True)
    pd.testing.assert_frame_equal(pd.DataFrame(a.ledger), pd.DataFrame(b.ledger), check_exact=True)


def test_different_seeds_differ():
    assert not frame(SMALL_MODEL, "baseline", 0, 1).equals(frame(SMALL_MODEL, "baseline", 0, 2))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), patience=st.sampled_from([1.0, 4.0, 30.0, None]),
       headcount=st.integers(1, 5), strategy=st.sampled_from(["baseline", "cuts"]))
def test_contacts_arrived_equal_served_plus_abandoned_plus_waiting(seed, patience, headcount, strategy):
    """Counted independently: served/abandoned by when they left the queue, waiting from the queue at each close."""
    data = copy.deepcopy(SMALL)
    data["segments"][0]["patience_minutes"] = patience
    data["employees"]["headcount"] = headcount
    data["network"]["nodes"][1]["reference"] = headcount
    p = run_once(compiled(data), strategy, 0, seed, 4).periods
    arrived = np.cumsum(p["contacts_arrived"])
    left = np.cumsum(p["contacts_served"]) + np.cumsum(p["contacts_abandoned"])
    np.testing.assert_array_equal(arrived, left + p["contacts_waiting"])
    assert arrived[-1] > 0


def test_changing_one_strategy_never_changes_baseline():
    changed = copy.deepcopy(SMALL)
    changed["initiatives"][0]["effects"][0]["add"] = 50
    changed["initiatives"][1]["start_month"] = 0
    before = frame(SMALL_MODEL, "baseline", 1, 9)
    after = frame(compiled(changed), "baseline", 1, 9)
    pd.testing.assert_frame_equal(before, after, check_exact=True)
    assert not frame(SMALL_MODEL, "training", 1, 9).equals(frame(compiled(changed), "training", 1, 9))


def test_common_random_numbers_before_an_initiative_starts():
    """Until the first initiative starts (month 1), a strategy's run is identical to the baseline's."""
    base = frame(SMALL_MODEL, "baseline", 0, 4)
    train = frame(SMALL_MODEL, "training", 0, 4)
    pd.testing.assert_frame_equal(base.iloc[:1], train.iloc[:1], check_exact=True)


def test_results_do_not_depend_on_worker_count():
    one = run_experiment(SMALL_MODEL, replications=2, months=2, workers=1)
    two = run_experiment(SMALL_MODEL, replications=2, months=2, workers=2)
    pd.testing.assert_frame_equal(one.timeseries, two.timeseries, check_exact=True)
    pd.testing.assert_frame_equal(one.customers, two.customers, check_exact=True)


def test_money_lines_add_up():
    """costs = the P&L lines, each once: activity costs are an allocation of wages, never added on top."""
    p = frame(SMALL_MODEL, "cuts", 0, 3, months=6)
    parts = sum(p[c] for c in ("cost_of_goods", "wages", "overtime_costs", "turnover_costs", "severance_costs",
                               "acquisition_costs", "channel_costs", "initiative_spend", "fixed_costs"))
    np.testing.assert_allclose(p["costs"], parts, rtol=1e-12)
    np.testing.assert_allclose(p["profit"], p["revenue"] - p["costs"], rtol=1e-12)
    assert (p["activity_costs"] > 0).all()  # the activities were costed... but only inside wages
    assert p["initiative_spend"].sum() == pytest.approx(1000.0)  # the cut's one-off cost, once
    assert (p["wages"] > 0).all()


def test_ledger_reconciles_with_timeseries():
    out = run_once(SMALL_MODEL, "baseline", 0, 5, 6)
    ledger, p = pd.DataFrame(out.ledger), out.periods
    assert ledger["revenue"].sum() == pytest.approx(p["revenue"].sum())
    assert ledger["contacts"].sum() == p["contacts_arrived"].sum()
    assert int(ledger["active"].sum()) == p["active_customers"][-1]
    assert (ledger["tenure_months"] >= 0).all()


def test_headcount_cut_reduces_headcount():
    p = frame(SMALL_MODEL, "cuts", 0, 2, months=6)
    assert p["headcount"].iloc[-1] <= 3


def test_fcfs_order_and_capacity():
    servers = FCFSServers(2)
    arrivals = np.array([0.0, 0.0, 0.0, 0.5])
    handles = np.array([1.0, 2.0, 1.0, 1.0])
    exits, served = servers.serve(arrivals, handles, np.full(4, np.inf))
    np.testing.assert_allclose(exits, [0.0, 0.0, 1.0, 2.0])  # third waits for the first server, fourth for the next
    assert served.all()
    exits, served = FCFSServers(1).serve(np.array([0.0, 0.1]), np.array([1.0, 1.0]), np.array([np.inf, 0.5]))
    assert served.tolist() == [True, False]
    assert exits[1] == pytest.approx(0.6)  # abandons after its patience


def test_policy_ramp_and_spend():
    policy = Policy.for_strategy(SMALL_MODEL.scenario, "training")
    P = SMALL_MODEL.scenario.metadata.period_days
    refs = {"training": 0.0, "headcount_target": 4.0}
    assert policy.levers(0.5 * P, refs)["training"] == 0.0
    assert policy.levers(1.5 * P, refs)["training"] == pytest.approx(2.5, rel=1e-6)
    assert policy.levers(3 * P, refs)["training"] == 5.0
    assert policy.spend(0, 3 * P) == pytest.approx(2 * 500.0)
