"""Sensitivity: parameter paths, tornado ranking on common random numbers, Morris screening, CLI errors."""

from __future__ import annotations

import json

import pytest

from simulator.analysis.sensitivity import morris, tornado
from simulator.errors import UsageError
from simulator.scenario.paths import clip_to_field, get_value, numeric_parameters, with_values
from tests.helpers import DATA, scenario_dict
from tests.test_cli_run import spc

SMALL = scenario_dict("engine_small.yaml")


def test_paths_read_and_write_numbers_by_name():
    params = numeric_parameters(SMALL)
    assert params["segments.regulars.basket"] == 20.0
    assert params["links.training->morale.effect"] == 2.0
    assert "employees.annual_salary" in params and "metadata.name" not in params
    changed = with_values(SMALL, {"segments.regulars.basket": 30.0, "links.morale->service_quality.effect": 0.1})
    assert get_value(changed, "segments.regulars.basket") == 30.0
    assert get_value(changed, "links.morale->service_quality.effect") == 0.1
    assert get_value(SMALL, "segments.regulars.basket") == 20  # the original is untouched


def test_bad_path_says_what_is_near():
    with pytest.raises(UsageError, match="did you mean 'regulars'"):
        get_value(SMALL, "segments.regular.basket")
    with pytest.raises(UsageError, match="did you mean 'training->morale'"):
        get_value(SMALL, "links.training->moral.effect")


def test_swings_stay_inside_each_fields_range():
    assert clip_to_field("employees.service_share", 1.2) == 1.0
    assert clip_to_field("employees.headcount", 4.8) == 5
    assert clip_to_field("segments.x.churn_per_month", -0.1) == 0.0


def test_tornado_ranks_revenue_drivers_and_gives_zero_for_irrelevant_parameters():
    only = ["segments.regulars.basket", "costs.fixed_per_month", "service.abandonment_penalty"]
    data = with_values(SMALL, {"costs.fixed_per_month": 0.0, "service.abandonment_penalty": 3.0})
    data["segments"][0]["purchases_per_month"] = 2
    result = tornado(data, "baseline", "revenue", 0.2, replications=1, seed=3, months=3, parameters=only)
    # fixed costs are 0 so they are skipped; the basket drives revenue; the abandonment penalty barely matters
    assert list(result["parameter"]) == ["segments.regulars.basket", "service.abandonment_penalty"]
    basket = result.iloc[0]
    assert basket["kpi_high"] > basket["kpi_base"] > basket["kpi_low"]
    assert basket["swing"] > 10 * result.iloc[1]["swing"]


def test_common_random_numbers_make_a_dead_parameter_swing_exactly_zero():
    data = with_values(SMALL, {"segments.regulars.acquisition_cost": 50.0})
    result = tornado(data, "baseline", "revenue", 0.2, replications=1, seed=3, months=2,
                     parameters=["segments.regulars.acquisition_cost"])
    assert result.iloc[0]["swing"] == 0.0  # acquisition cost does not change revenue, and the draws are common


def test_morris_agrees_with_the_tornado_on_the_strongest_parameter():
    only = ["segments.regulars.basket", "segments.occasional.basket", "links.training->morale.effect"]
    result = morris(SMALL, "baseline", "revenue", 0.2, trajectories=3, replications=1, seed=1, months=2, parameters=only)
    assert result.iloc[0]["parameter"] == "segments.regulars.basket"
    assert result.set_index("parameter").at["segments.regulars.basket", "mu"] > 0


def test_cli_sensitivity_json_and_errors():
    out = spc("sensitivity", str(DATA / "engine_small.yaml"), "--months", "2", "--replications", "1", "--json",
              "--only", "segments.regulars.basket,employees.annual_salary", "--kpi", "profit", "--morris", "2")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert [r["parameter"] for r in doc["tornado"]][0] == "employees.annual_salary"
    assert len(doc["morris"]) == 2
    bad = spc("sensitivity", str(DATA / "engine_small.yaml"), "--kpi", "proft")
    assert bad.returncode == 2 and "did you mean 'profit'" in bad.stderr and "Traceback" not in bad.stderr
    bad = spc("sensitivity", str(DATA / "engine_small.yaml"), "--only", "segments.regulars.baskt")
    assert bad.returncode == 2 and "segments.regulars.basket" in bad.stderr
