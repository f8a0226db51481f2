"""Sensitivity: parameter paths, the Δ tornado on common random numbers with paired CIs, Morris (SALib), CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simulator.analysis.sensitivity import (
    morris,
    morris_screen,
    run_variants,
    tornado,
    tornado_runs,
    unpaired_ci,
)
from simulator.engine.model import run_once
from simulator.errors import UsageError
from simulator.experiment import run_experiment
from simulator.scenario.paths import clip_to_field, get_value, numeric_parameters, with_values
from tests.helpers import DATA, compiled, scenario_dict
from tests.test_cli_run import spc

SMALL = scenario_dict("engine_small.yaml")
TRAIN = "initiatives.train.effects.0.add"  # the effect size of the `training` strategy's initiative
CUT = "initiatives.cut.effects.0.add"  # the effect size of `cuts`' initiative: cannot move training − baseline


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


@pytest.mark.parametrize("kpi", ["npv", "firm_value"])
def test_delta_tornado_base_is_the_paired_delta_of_run_experiment_exactly(kpi):
    from simulator.analysis.valuation import continuing_values

    runs = tornado_runs(SMALL, "training", kpi, 0.2, replications=3, seed=5, months=4, parameters=[TRAIN])
    model = compiled(SMALL)
    exp = run_experiment(model, ["training"], replications=3, seed=5, months=4, workers=1)
    if kpi == "npv":
        per_run = exp.timeseries.groupby(["strategy", "replication"])["npv"].last()
    else:
        per_run = continuing_values(exp.timeseries, exp.customers, model.scenario)["firm_value"]
    paired = per_run.loc["training"].to_numpy() - per_run.loc["baseline"].to_numpy()
    assert runs.base.tolist() == paired.tolist()  # bit for bit: same seeds, same runs, per replication
    result = tornado(SMALL, "training", kpi, 0.2, replications=3, seed=5, months=4, parameters=[TRAIN])
    assert result.attrs["measure"] == "delta" and result.attrs["base"]["mean"] == paired.mean()
    assert result.iloc[0]["delta_base"] == paired.mean()


def test_an_effect_size_of_the_compared_strategy_swings_and_one_of_another_initiative_is_skipped():
    result = tornado(SMALL, "training", "npv", 0.2, replications=2, seed=5, months=6, parameters=[TRAIN, CUT])
    assert list(result["parameter"]) == [TRAIN]
    assert "cut" in result.attrs["skipped"][CUT]
    row = result.iloc[0]
    assert row["swing"] != 0 and not row["no_effect"]
    assert row["delta_low"] < row["delta_base"] < row["delta_high"]  # more training effect, more gain
    # the same effect size cannot move baseline's own level: in the level tornado of baseline it is skipped
    level = tornado(SMALL, "baseline", "npv", 0.2, replications=1, seed=5, months=4, parameters=[TRAIN])
    assert level.empty and TRAIN in level.attrs["skipped"]


def test_a_variant_that_changes_only_the_strategys_initiative_shares_baselines_runs_correctly():
    # run_variants reuses the base's baseline runs for such a variant; running it for real gives the same numbers
    variant = ((TRAIN, 10.0),)
    y = run_variants(SMALL, [(), variant], ["training", "baseline"], replications=1, seed=5, months=6, metric="npv")
    real = run_once(compiled(with_values(SMALL, {TRAIN: 10.0})), "baseline", 0, 5, 6).periods["npv"][-1]
    assert y[1, 1, 0] == y[0, 1, 0] == real
    assert y[1, 0, 0] != y[0, 0, 0]  # while the strategy's arm moves


def test_the_paired_swing_ci_is_narrower_than_the_unpaired_one():
    link = "links.morale->service_quality.effect"
    runs = tornado_runs(SMALL, "training", "npv", 0.2, replications=4, seed=11, months=6, parameters=[link])
    high, low = runs.high[0], runs.low[0]
    result = tornado(SMALL, "training", "npv", 0.2, replications=4, seed=11, months=6, parameters=[link])
    row = result.iloc[0]
    paired = row["swing_ci_high"] - row["swing_ci_low"]
    lo, hi = unpaired_ci(high, low)
    assert row["swing"] == pytest.approx((high - low).mean())
    assert 0 <= paired < (hi - lo) / 2  # common random numbers cancel most of the replication noise
    assert row["resolved"] == (row["swing_ci_low"] > 0 or row["swing_ci_high"] < 0)


def test_level_tornado_for_the_report_ranks_revenue_drivers_and_a_dead_parameter_swings_exactly_zero():
    only = ["segments.regulars.basket", "costs.fixed_per_month", "service.abandonment_penalty",
            "segments.regulars.acquisition_cost"]
    data = with_values(SMALL, {"costs.fixed_per_month": 0.0, "service.abandonment_penalty": 3.0,
                               "segments.regulars.acquisition_cost": 50.0})
    data["segments"][0]["purchases_per_month"] = 2
    result = tornado(data, "baseline", "revenue", 0.2, replications=2, seed=3, months=3, parameters=only)
    assert result.attrs["measure"] == "level" and "costs.fixed_per_month" in result.attrs["skipped"]  # base 0
    assert list(result["parameter"])[0] == "segments.regulars.basket"
    basket = result.iloc[0]
    assert basket["kpi_high"] > basket["kpi_base"] > basket["kpi_low"] and basket["resolved"]
    dead = result.set_index("parameter").loc["segments.regulars.acquisition_cost"]
    assert dead["swing"] == 0.0 and dead["no_effect"] and not dead["resolved"]  # the draws are common
    assert {"kpi_low", "kpi_base", "kpi_high", "noise", "swing"} <= set(result.columns)  # what the report draws


def test_morris_is_salib_on_a_linear_function_mu_star_is_coefficient_times_range():
    from SALib.analyze import morris as sa_analyze
    from SALib.sample import morris as sa_sample

    coef = np.array([3.0, -2.0, 0.5, 0.0])
    bounds = [(0.0, 1.0), (10.0, 14.0), (-2.0, 2.0), (5.0, 6.0)]
    result = morris_screen(["a", "b", "c", "d"], bounds, lambda x: x @ coef, trajectories=10, seed=4).set_index("parameter")
    expected = np.abs(coef) * np.array([hi - lo for lo, hi in bounds])
    assert result.loc[["a", "b", "c", "d"], "mu_star"].to_numpy() == pytest.approx(expected, abs=1e-9)
    assert result.loc["b", "mu"] == pytest.approx(-8.0) and result["sigma"].to_numpy() == pytest.approx(0, abs=1e-9)
    problem = {"num_vars": 4, "names": ["a", "b", "c", "d"], "bounds": [list(b) for b in bounds]}
    x = sa_sample.sample(problem, 10, num_levels=4, seed=4)
    si = sa_analyze.analyze(problem, x, x @ coef, num_resamples=1000, num_levels=4, seed=4)
    assert result.loc[["a", "b", "c", "d"], "mu_star_conf"].tolist() == list(si["mu_star_conf"])


def test_morris_orders_the_sobol_g_function_by_importance():
    from SALib.test_functions import Sobol_G

    a = [0.0, 1.0, 4.5, 9.0, 99.0, 99.0]
    names = [f"x{i}" for i in range(6)]
    result = morris_screen(names, [(0.0, 1.0)] * 6, lambda x: Sobol_G.evaluate(x, np.array(a)), trajectories=60, seed=2)
    assert list(result["parameter"][:4]) == ["x0", "x1", "x2", "x3"]


def test_morris_on_the_simulator_measures_the_delta():
    only = [TRAIN, CUT, "links.training->morale.effect"]
    result = morris(SMALL, "training", "npv", 0.2, trajectories=3, replications=1, seed=2, months=12, parameters=only)
    assert set(result["parameter"]) == {TRAIN, "links.training->morale.effect"}  # cut cannot move the Δ
    assert result.attrs["measure"] == "delta" and (result["mu_star"] > 0).all()


def test_cli_sensitivity_json_and_errors():
    out = spc("sensitivity", str(DATA / "engine_small.yaml"), "--months", "2", "--replications", "2", "--json",
              "--only", f"{TRAIN},{CUT},employees.annual_salary", "--kpi", "firm_value", "--morris", "2")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["strategy"] == "training" and doc["measure"] == "delta" and list(doc["skipped"]) == [CUT]
    assert {r["parameter"] for r in doc["tornado"]} == {TRAIN, "employees.annual_salary"}
    assert {"delta_low", "delta_base", "delta_high", "swing", "swing_ci_low", "swing_ci_high", "resolved"} <= set(doc["tornado"][0])
    assert len(doc["morris"]) == 2 and "mu_star_conf" in doc["morris"][0]
    text = spc("sensitivity", str(DATA / "engine_small.yaml"), "--months", "2", "--replications", "2",
               "--only", "employees.annual_salary,segments.regulars.acquisition_cost", "--strategy", "baseline",
               "--kpi", "revenue")
    assert text.returncode == 0, text.stderr
    assert "a level, not a difference" in text.stdout and "no effect" in text.stdout
    bad = spc("sensitivity", str(DATA / "engine_small.yaml"), "--kpi", "proft")
    assert bad.returncode == 2 and "did you mean 'profit'" in bad.stderr and "Traceback" not in bad.stderr
    bad = spc("sensitivity", str(DATA / "engine_small.yaml"), "--only", "segments.regulars.baskt")
    assert bad.returncode == 2 and "segments.regulars.basket" in bad.stderr
