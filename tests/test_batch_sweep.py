"""Sweep designs: grid expansion, Latin hypercube, parameter keys and the errors a planner can make."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.batch.plan import build_plan, expand_paths, task_count, tasks_of
from simulator.batch.sweep import (
    count,
    latin_hypercube,
    make_design,
    sweep_keys,
    variant_key,
    variants,
)
from simulator.errors import UsageError
from tests.helpers import DATA, scenario_dict

SMALL = DATA / "engine_small.yaml"


def test_grid_is_the_cartesian_product_first_key_slowest():
    design = make_design(["employees.headcount=3,4", "segments.regulars.basket=10,20,30"], [], None)
    got = list(variants(design, seed=1))
    assert count(design) == 6 == len(got)
    assert got == [{"employees.headcount": h, "segments.regulars.basket": b} for h in (3, 4) for b in (10.0, 20.0, 30.0)]
    assert all(isinstance(v["employees.headcount"], int) for v in got)  # whole-number fields stay whole


def test_no_design_is_one_base_variant():
    assert list(variants(make_design([], [], None), seed=1)) == [{}]


def test_latin_hypercube_has_one_point_per_stratum_and_is_seeded():
    n, d = 20, 3
    x = latin_hypercube(n, d, seed=5)
    assert x.shape == (n, d) and ((0 <= x) & (x < 1)).all()
    for column in x.T:
        assert sorted(np.floor(column * n).astype(int)) == list(range(n))
    assert np.array_equal(x, latin_hypercube(n, d, seed=5))
    assert not np.array_equal(x, latin_hypercube(n, d, seed=6))


def test_lhs_design_covers_the_ranges_and_crosses_the_grid():
    design = make_design(["employees.headcount=3,4"], ["employees.annual_salary=30000:40000",
                                                        "segments.regulars.initial_customers=100:199"], "lhs:10")
    got = list(variants(design, seed=3))
    assert len(got) == count(design) == 20
    salaries = [v["employees.annual_salary"] for v in got[:10]]
    assert sorted(int((s - 30000) // 1000) for s in salaries) == list(range(10))
    customers = [v["segments.regulars.initial_customers"] for v in got[:10]]
    assert all(isinstance(c, int) and 100 <= c <= 199 for c in customers)
    assert sorted(c // 10 for c in customers) == list(range(10, 20))
    assert [v["employees.headcount"] for v in got] == [3] * 10 + [4] * 10
    assert got == list(variants(design, seed=3))  # deterministic


def test_variant_key_is_canonical():
    assert variant_key({"b": 1.0, "a": 2}) == variant_key({"a": 2, "b": 1.0}) == '{"a":2,"b":1.0}'


def test_sweep_keys_use_the_parameter_path_scheme():
    keys = sweep_keys(scenario_dict("engine_small.yaml"))
    for key in ("employees.headcount", "segments.regulars.basket", "segments.occasional.purchases_per_month",
                "links.training->morale.effect", "nodes.morale.reference", "initiatives.train.monthly_cost",
                "activities.upkeep.minutes", "metadata.discount_rate"):
        assert key in keys
    assert "metadata.horizon_months" not in keys  # the calendar is --months, not a parameter


@pytest.mark.parametrize("args, message", [
    (["employees.headcont=3,4"], "did you mean 'employees.headcount'?"),
    (["segments.regular.basket=1"], "did you mean 'segments.regulars.basket'?"),
    (["links.training->moral.effect=1"], "did you mean 'links.training->morale.effect'?"),
    (["nodes.zzz.qqq=1"], "valid keys near it: nodes."),
])
def test_an_unknown_key_names_the_valid_keys_near_it(args, message):
    design = make_design(args, [], None)
    with pytest.raises(UsageError) as err:
        build_plan([str(SMALL)], design, 1, 1, 1, None)
    text = str(err.value)
    assert message in text and "\n" not in text and "not a parameter of" in text


@pytest.mark.parametrize("sweeps, ranges, sample, message", [
    (["employees.headcount=3,x"], [], None, "'x' is not a number"),
    (["employees.headcount=3.5"], [], None, "takes whole numbers"),
    (["employees.headcount"], [], None, "expected KEY=v1,v2"),
    (["employees.headcount=3,3"], [], None, "repeated"),
    (["employees.headcount=nan"], [], None, "not a finite number"),
    ([], ["employees.annual_salary=5:1"], "lhs:4", "low end must be below"),
    ([], ["employees.annual_salary=1-5"], "lhs:4", "expected lo:hi"),
    ([], ["employees.annual_salary=1:5"], None, "--range needs --sample"),
    ([], [], "lhs:4", "--sample needs at least one --range"),
    ([], ["employees.annual_salary=1:5"], "sobol:4", "expected lhs:N"),
    (["employees.annual_salary=1"], ["employees.annual_salary=1:5"], "lhs:2", "given twice"),
])
def test_malformed_sweeps_are_one_line_usage_errors(sweeps, ranges, sample, message):
    with pytest.raises(UsageError) as err:
        make_design(sweeps, ranges, sample)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_an_invalid_value_is_caught_before_anything_runs():
    design = make_design(["employees.headcount=3,-1"], [], None)
    with pytest.raises(UsageError, match=r"employees.headcount=-1 is not a valid scenario: .*greater than 0"):
        build_plan([str(SMALL)], design, 1, 1, 1, None)


def test_plan_counts_every_variant_strategy_and_replication():
    design = make_design(["employees.headcount=3,4,5"], [], None)
    specs = build_plan([str(SMALL)], design, replications=2, seed=9, months=2, strategies=["cuts"])
    assert [s.variant for s in specs] == [{"employees.headcount": h} for h in (3, 4, 5)]
    assert specs[0].strategies == ("baseline", "cuts") and specs[0].seed == 9 and specs[0].months == 2
    assert task_count(specs) == 3 * 2 * 2
    assert list(tasks_of(specs[0])) == [("baseline", 0), ("cuts", 0), ("baseline", 1), ("cuts", 1)]
    assert specs[0].data()["employees"]["headcount"] == 3 and specs[0].base["employees"]["headcount"] == 4


def test_paths_expand_globs_and_folders_without_repeats():
    assert expand_paths([str(DATA / "engine_small*.yaml"), str(SMALL)]) == [SMALL, DATA / "engine_small_scored.yaml"]
    assert SMALL in expand_paths([str(DATA)])
    with pytest.raises(UsageError, match="no scenario files match"):
        expand_paths([str(DATA / "nothing*.yaml")])
    with pytest.raises(UsageError, match="no such file"):
        expand_paths([str(DATA / "missing.yaml")])
