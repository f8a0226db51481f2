"""Shapley attribution by counterfactual runs: freezing covers every channel, values add up, known answers."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from simulator.analysis.attribution import attribute, default_groups, shapley_exact, shapley_sampled
from simulator.engine.frozen import Frozen, all_elements
from simulator.engine.model import run_once
from simulator.graph.compiler import compile_file, compile_scenario
from simulator.scenario.loader import load_data
from tests.scenario_helpers import SHIPPED, network_scenario, run_spc, write_yaml


def _same(a, b) -> bool:
    def eq(x, y):
        x, y = np.asarray(x), np.asarray(y)
        return np.array_equal(x, y, equal_nan=x.dtype.kind == "f")
    return (a.periods.keys() == b.periods.keys() and all(eq(a.periods[k], b.periods[k]) for k in a.periods)
            and all(eq(a.ledger[k], b.ledger[k]) for k in a.ledger))


@pytest.fixture(scope="module")
def shipped():
    return compile_file(SHIPPED)


def test_recording_and_freezing_nothing_change_nothing_and_all_frozen_is_the_baseline(shipped) -> None:
    plain = run_once(shipped, "baseline", 0, 3, 12)
    base = run_once(shipped, "baseline", 0, 3, 12, record=True)
    assert _same(plain, base) and len(base.recording.ports) == len(base.recording.links) > 0
    nodes = set(shipped.node_names)
    for strategy in shipped.scenario.strategy_names()[1:]:
        run = run_once(shipped, strategy, 0, 3, 12)
        assert _same(run, run_once(shipped, strategy, 0, 3, 12, frozen=Frozen(base.recording, frozenset())))
        every = run_once(shipped, strategy, 0, 3, 12, frozen=Frozen(base.recording, all_elements(shipped, strategy)))
        assert _same(every, base), strategy  # every element frozen: the baseline run, to the bit
        groups = default_groups(shipped, strategy)
        elements = frozenset(e for g in groups.values() for e in g)
        auto = run_once(shipped, strategy, 0, 3, 12, frozen=Frozen(base.recording, elements))
        engine_columns = [k for k in base.periods if k not in nodes]  # (the network's own nodes may differ)
        assert all(np.array_equal(auto.periods[k], base.periods[k]) for k in engine_columns), strategy
        assert all(np.array_equal(auto.ledger[k], base.ledger[k], equal_nan=True) for k in base.ledger
                   if base.ledger[k].dtype.kind == "f"), strategy


def test_efficiency_on_the_shipped_scenario_for_every_strategy(shipped) -> None:
    for strategy in shipped.scenario.strategy_names()[1:]:
        att = attribute(shipped, strategy, "npv", replications=1, months=12, workers=1, seed=2)
        assert att.outside == (0.0, 0.0, 0.0), strategy  # the default groups partition every channel
        total = att.total[0]
        assert sum(g.value for g in att.groups) == pytest.approx(total, rel=1e-9, abs=1e-6), strategy
        assert att.runs == 1 + 2 ** len(att.groups)


def _chain(tmp_path, links, y_max=None, start_month=1):
    y = {"name": "Y", "kind": "auxiliary", "reference": 0}
    if y_max is not None:
        y["max"] = y_max
    data = network_scenario(
        [{"name": "L", "kind": "lever", "reference": 0}, {"name": "A", "kind": "auxiliary", "reference": 0},
         {"name": "B", "kind": "auxiliary", "reference": 0}, y],
        [{"from": a, "to": b, "effect": e} for a, b, e in links], horizon_months=6)
    data["initiatives"] = [{"name": "push", "start_month": start_month, "effects": [{"lever": "L", "add": 1}]}]
    data["strategies"] = [{"name": "push_L", "initiatives": ["push"]}]
    write_yaml(tmp_path / "chain.yaml", data)
    return compile_scenario(load_data(data))


def test_linear_chain_shapley_equals_the_analytic_contributions(tmp_path) -> None:
    model = _chain(tmp_path, [("L", "A", 2.0), ("A", "Y", 3.0), ("L", "B", 1.0), ("B", "Y", 1.5)])
    groups = {"via A": ("link:L->A", "link:A->Y"), "via B": ("link:L->B", "link:B->Y")}
    att = attribute(model, "push_L", "Y", groups, replications=2, workers=1)
    lever = np.mean(run_once(model, "push_L", 0, 1).periods["L"])  # the lever's mean change over the horizon
    assert lever > 0
    values = {g.name: g.value for g in att.groups}
    assert values["via A"] == pytest.approx(6.0 * lever, abs=1e-9)
    assert values["via B"] == pytest.approx(1.5 * lever, abs=1e-9)
    assert att.total[0] == pytest.approx(7.5 * lever, abs=1e-9) and att.outside[0] == 0.0
    assert att.interactions[0][2] == pytest.approx(0.0, abs=1e-9)


def test_two_pathways_with_a_known_interaction(tmp_path) -> None:
    # Y = min(A + B, 1.5) with A = B = 1 once the lever moves: alone each path adds 1, together 1.5
    model = _chain(tmp_path, [("L", "A", 1.0), ("A", "Y", 1.0), ("L", "B", 1.0), ("B", "Y", 1.0)], y_max=1.5,
                   start_month=0)
    att = attribute(model, "push_L", "Y", {"A": ("link:A->Y",), "B": ("link:B->Y",)}, replications=1, workers=1)
    values = {g.name: g.value for g in att.groups}
    assert values == pytest.approx({"A": 0.75, "B": 0.75}, abs=1e-12)
    assert att.total[0] == pytest.approx(1.5, abs=1e-12)
    (a, b, interaction, _, _), = att.interactions
    assert {a, b} == {"A", "B"} and interaction == pytest.approx(-0.5, abs=1e-12)


def test_sampled_permutations_are_efficient_and_exact_matches_enumeration() -> None:
    rng = np.random.default_rng(0)
    n = 9
    weights = rng.normal(size=n)
    pairs = rng.normal(size=(n, n))

    def game(s):
        return float(sum(weights[i] for i in s) + sum(pairs[i, j] for i, j in itertools.combinations(sorted(s), 2)))

    v = {frozenset(c): game(c) for k in range(n + 1) for c in itertools.combinations(range(n), k)}
    exact = shapley_exact(v, n)
    upper = np.triu(pairs, 1)  # each pair's term is split equally between its two players
    expected = weights + (upper.sum(axis=1) + upper.sum(axis=0)) / 2
    assert exact == pytest.approx(expected, abs=1e-12)
    orders = [tuple(rng.permutation(n)) for _ in range(5)]
    sampled = shapley_sampled(v, n, orders)
    assert sampled.sum() == pytest.approx(v[frozenset(range(n))] - v[frozenset()], abs=1e-12)


def test_explain_cli_prints_groups_and_json_adds_up(tmp_path) -> None:
    proc = run_spc("explain", str(SHIPPED), "--strategy", "headcount_cuts", "--replications", "1", "--months", "6",
                   "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    assert "Shapley" in proc.stdout and "people" in proc.stdout and "runs" in proc.stdout
    proc = run_spc("explain", str(SHIPPED), "--strategy", "invest_in_people", "--replications", "1", "--months", "6",
                   "--metric", "profit", "--json", "--workers", "1")
    doc = json.loads(proc.stdout)
    assert sum(g["shapley"] for g in doc["groups"]) == pytest.approx(doc["total"]["mean"], rel=1e-9)
    groups = write_yaml(tmp_path / "groups.yaml", {"staff": ["port:employee_quit_rate", "headcount_target"],
                                                   "rest": ["port:service_quality", "nps"]})
    proc = run_spc("explain", str(SHIPPED), "--strategy", "invest_in_people", "--replications", "1", "--months", "3",
                   "--groups", str(groups), "--json", "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [g["group"] for g in doc["groups"]] == ["staff", "rest"] and doc["runs"] == 5
    bad = write_yaml(tmp_path / "bad.yaml", {"x": ["port:nope"]})
    proc = run_spc("explain", str(SHIPPED), "--strategy", "invest_in_people", "--groups", str(bad))
    assert proc.returncode == 2 and "nope" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
