"""Value beyond the horizon: continuing value against Gupta & Lehmann's closed form, firm value in the comparison,
the ranking-disagreement line, the scenario's `valuation` section and `spc run --horizons`."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from simulator.analysis.comparison import comparison_frame, ranking_disagreement
from simulator.analysis.customer_value import monthly_rate
from simulator.analysis.valuation import continuing_values, running_initiative_cost
from simulator.engine.model import run_once
from simulator.errors import ScenarioError
from simulator.experiment import ledger_frame, timeseries_frame
from simulator.scenario.loader import load_data
from tests.helpers import DATA, compiled, scenario_dict

PERIOD = 30.4375


def _scenario(annual: float, valuation: dict | None = None, **extra):
    data = {
        "metadata": {"name": "valuation", "horizon_months": 36, "discount_rate": annual},
        "employees": {"headcount": 1, "annual_salary": 0, "annual_quit_rate": 0},
        "segments": [{"name": "cohort", "initial_customers": 1, "basket": 10}],
        **extra,
    }
    if valuation is not None:
        data["valuation"] = valuation
    return load_data(data)


def _synthetic_run(hazard: float, months: int, fixed: float, seed: int = 11):
    """A steady customer base (50,000 at the start, 5,000 joining a month) with exponential lifetimes at a constant
    monthly hazard, margin 5 a customer-month after cost to serve, and fixed costs per month."""
    rng = np.random.default_rng(seed)
    horizon_day = months * PERIOD
    joined = np.concatenate([np.zeros(50_000), rng.uniform(0, horizon_day, 5_000 * months)])
    left = joined + rng.exponential(1 / hazard, joined.size) * PERIOD
    active = left > horizon_day
    tenure = (np.minimum(left, horizon_day) - joined) / PERIOD
    ledger = pd.DataFrame({
        "strategy": "baseline", "replication": 0, "customer": np.arange(joined.size), "segment": "cohort",
        "joined_day": joined, "left_day": np.where(active, np.nan, left), "tenure_months": tenure, "active": active,
        "revenue": 10.0 * tenure, "cost_of_goods": 4.0 * tenure, "cost_to_serve": 1.0 * tenure,
        "acquisition_cost": 0.0, "profit": 5.0 * tenure,
    })
    ts = pd.DataFrame({
        "strategy": "baseline", "replication": 0, "period": np.arange(1, months + 1),
        "active_customers": float(active.sum()), "fixed_costs": fixed, "turnover_costs": 0.0,
        "discounted_profit": 1_000.0,
    })
    return ts, ledger


def test_continuing_value_matches_the_closed_form_on_a_known_hazard():
    hazard, months, annual, fixed = 0.10, 36, 0.12, 50_000.0
    ts, ledger = _synthetic_run(hazard, months, fixed)
    value = continuing_values(ts, ledger, _scenario(annual)).loc[("baseline", 0)]
    n = float(ledger["active"].sum())
    r, i = np.exp(-hazard), monthly_rate(annual)
    o = fixed / n
    expected = n * (5.0 - o) * r / (1 + i - r) * (1 + annual) ** -(months * PERIOD / 365.25)
    assert value["continuing_value"] == pytest.approx(expected, rel=0.01)
    assert value["cost_per_customer"] == pytest.approx(o)
    assert value["npv"] == pytest.approx(1_000.0 * months)
    assert value["firm_value"] == pytest.approx(value["npv"] + value["continuing_value"])


def test_continuing_value_of_an_engine_cohort_matches_gupta_lehmann():
    """The engine's churn makes a month's survival exactly r; margin 6 a customer-month (one purchase of 10, 40%
    cost of goods); fixed costs are the continuing cost, spread over the customers left at the horizon."""
    r, annual, months, fixed = 0.95, 0.12, 12, 20_000.0
    data = {
        "metadata": {"name": "cohort", "horizon_months": months, "discount_rate": annual},
        "employees": {"headcount": 1, "annual_salary": 0, "annual_quit_rate": 0},
        "costs": {"fixed_per_month": fixed},
        "segments": [{"name": "cohort", "initial_customers": 100_000, "contacts_per_month": 0, "purchases_per_month": 1,
                      "basket": 10, "cogs_fraction": 0.4, "churn_per_month": 1 - r, "satisfaction_sensitivity": 0}],
    }
    model = compiled(data)
    out = run_once(model, "baseline", 0, seed=3)
    ts, ledger = timeseries_frame([out]), ledger_frame([out])
    value = continuing_values(ts, ledger, model.scenario).loc[("baseline", 0)]
    n = float(ledger["active"].sum())
    i = monthly_rate(annual)
    expected = n * (6.0 - fixed / n) * r / (1 + i - r) * (1 + annual) ** -(months * PERIOD / 365.25)
    assert value["continuing_value"] == pytest.approx(expected, rel=0.01)
    assert value["npv"] == pytest.approx(ts["discounted_profit"].sum())


def test_method_none_makes_firm_value_npv():
    ts, ledger = _synthetic_run(0.1, 24, 1_000.0)
    value = continuing_values(ts, ledger, _scenario(0.1, {"method": "none"})).loc[("baseline", 0)]
    assert value["continuing_value"] == 0 and value["firm_value"] == value["npv"]


def test_without_a_ledger_firm_value_is_unknown_and_ranking_falls_back_to_npv():
    ts, _ = _synthetic_run(0.1, 12, 1_000.0)
    values = continuing_values(ts, pd.DataFrame(), _scenario(0.1))
    assert values["firm_value"].isna().all()


def test_running_initiatives_are_continuing_costs():
    sc = load_data(scenario_dict("engine_small.yaml"))  # train: 500 a month from month 1, no end
    assert running_initiative_cost(sc, "training", 6 * sc.metadata.period_days) == 500
    assert running_initiative_cost(sc, "training", 0.5 * sc.metadata.period_days) == 0  # not started yet
    assert running_initiative_cost(sc, "cuts", 6 * sc.metadata.period_days) == 0  # one-off only
    assert running_initiative_cost(sc, "baseline", 6 * sc.metadata.period_days) == 0


def _two_strategy_ts(npv: dict[str, list[float]]) -> pd.DataFrame:
    rows = []
    for strategy, values in npv.items():
        for rep, v in enumerate(values):
            rows.append({"strategy": strategy, "replication": rep, "period": 1, "discounted_profit": v, "profit": v,
                         "revenue": v, "costs": 0.0, "initiative_spend": 0.0, "customer_satisfaction": 7.0, "nps": 0.0})
    return pd.DataFrame(rows)


def test_comparison_ranks_on_firm_value_and_says_when_rankings_disagree():
    ts = _two_strategy_ts({"baseline": [0, 0, 0], "harvest": [30, 32, 34], "build": [10, 12, 14]})
    firm = pd.Series({("baseline", r): 0.0 for r in range(3)} | {("harvest", r): v for r, v in enumerate([-50, -40, -45])}
                     | {("build", r): v for r, v in enumerate([90, 100, 110])})
    firm.index.names = ["strategy", "replication"]
    cmp = comparison_frame(ts, 0.0, PERIOD, firm_values=firm, rank_on="firm_value")
    assert list(cmp["strategy"]) == ["build", "harvest"] and cmp.attrs["ranked_on"] == "firm_value"
    build = cmp.set_index("strategy").loc["build"]
    assert build["delta_firm_value"] == pytest.approx(100) and build["firm_ci_low"] < 100 < build["firm_ci_high"]
    assert build["delta_npv"] == pytest.approx(12) and build["firm_value"] == pytest.approx(100)
    assert ranking_disagreement(cmp, 36) == ("Rankings disagree: over 36 months harvest ranks 1st on NPV but 2nd on "
                                             "firm value, which counts the customers left at the horizon.")
    by_npv = comparison_frame(ts, 0.0, PERIOD, firm_values=firm, rank_on="npv")
    assert list(by_npv["strategy"]) == ["harvest", "build"] and by_npv.attrs["ranked_on"] == "npv"


def test_a_sign_flip_against_baseline_is_a_disagreement_too():
    ts = _two_strategy_ts({"baseline": [0, 0], "harvest": [30, 34]})
    firm = pd.Series([0.0, 0.0, -50.0, -40.0], index=pd.MultiIndex.from_tuples(
        [("baseline", 0), ("baseline", 1), ("harvest", 0), ("harvest", 1)], names=["strategy", "replication"]))
    cmp = comparison_frame(ts, 0.0, PERIOD, firm_values=firm, rank_on="firm_value")
    note = ranking_disagreement(cmp, 12)
    assert note.startswith("Rankings disagree: over 12 months harvest beats baseline on NPV (+32) but trails it on "
                           "firm value (-45)")


def test_without_firm_values_the_rankings_agree():
    ts = _two_strategy_ts({"baseline": [0, 0], "a": [1, 2], "b": [3, 4]})
    cmp = comparison_frame(ts, 0.0, PERIOD)
    assert (cmp["delta_firm_value"] == cmp["delta_npv"]).all() and ranking_disagreement(cmp, 12) is None


def test_valuation_section_defaults_and_validation():
    sc = _scenario(0.1)
    assert (sc.valuation.method, sc.valuation.rank_on) == ("continuing", "firm_value")
    sc = _scenario(0.1, {"method": "none", "rank_on": "npv"})
    assert (sc.valuation.method, sc.valuation.rank_on) == ("none", "npv")
    with pytest.raises(ScenarioError):
        _scenario(0.1, {"method": "perpetuity"})


def spc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simulator.cli", *args], capture_output=True, text=True, timeout=300)


def test_spc_run_horizons_json_and_table():
    small = str(DATA / "engine_small.yaml")
    result = spc("run", small, "--replications", "2", "--workers", "1", "--horizons", "2,4", "--json")
    assert result.returncode == 0, result.stderr
    docs = json.loads(result.stdout)
    assert [d["months"] for d in docs] == [2, 4] and all(d["seed"] == 7 and d["replications"] == 2 for d in docs)
    for doc in docs:
        assert [r["rank"] for r in doc["ranking"]] == [1, 2]
        assert {r["strategy"] for r in doc["ranking"]} == {"training", "cuts"}
        assert doc["valuation"]["method"] == "continuing" and "ranking_note" in doc["valuation"]
        assert doc["comparison"]["cuts"]["delta_firm_value"]["mean"] is not None
    table = spc("run", small, "--replications", "2", "--workers", "1", "--horizons", "2,4")
    assert table.returncode == 0, table.stderr
    for text in ("# (2m)", "# (4m)", "Δ firm value", "2 months:", "4 months:"):
        assert text in table.stdout


@pytest.mark.parametrize("value", ["0", "601", "12,x", ""])
def test_bad_horizons_are_one_line_exit_2(value):
    result = spc("run", str(DATA / "engine_small.yaml"), "--horizons", value)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_horizons_conflict_with_months():
    result = spc("run", str(DATA / "engine_small.yaml"), "--horizons", "3", "--months", "4")
    assert result.returncode == 2 and "--horizons cannot be combined" in result.stderr
