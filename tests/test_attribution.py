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


def test_sampled_mode_reports_pairwise_interactions_of_a_known_model() -> None:
    """Nine pathways (sampled permutations): A1 and A2 meet in P = min(A1 + A2, 1.5), the other seven add to Y.
    Only the pair (A1, A2) interacts, by exactly -0.5; freezing A1 alone removes exactly 0.5."""
    others = [f"A{k}" for k in range(3, 10)]
    nodes = [{"name": "L", "kind": "lever", "reference": 0}, {"name": "P", "kind": "auxiliary", "reference": 0,
                                                              "max": 1.5},
             {"name": "Y", "kind": "auxiliary", "reference": 0}]
    nodes += [{"name": a, "kind": "auxiliary", "reference": 0} for a in ["A1", "A2", *others]]
    links = [{"from": "L", "to": a, "effect": 1.0} for a in ["A1", "A2", *others]]
    links += [{"from": "A1", "to": "P", "effect": 1.0}, {"from": "A2", "to": "P", "effect": 1.0},
              {"from": "P", "to": "Y", "effect": 1.0}]
    links += [{"from": a, "to": "Y", "effect": 1.0} for a in others]
    data = network_scenario(nodes, links, horizon_months=3)
    data["initiatives"] = [{"name": "push", "start_month": 0, "effects": [{"lever": "L", "add": 1}]}]
    data["strategies"] = [{"name": "push_L", "initiatives": ["push"]}]
    model = compile_scenario(load_data(data))
    groups = {"A1": ("link:A1->P",), "A2": ("link:A2->P",), **{a: (f"link:{a}->Y",) for a in others}}
    att = attribute(model, "push_L", "Y", groups, replications=1, workers=1, permutations=8, top_interactions=50)
    assert not att.exact and att.total[0] == pytest.approx(8.5, abs=1e-12)
    assert sum(g.value for g in att.groups) == pytest.approx(8.5, abs=1e-12)
    by_pair = {frozenset((a, b)): m for a, b, m, _, _ in att.interactions}
    assert len(by_pair) == 36 and by_pair.pop(frozenset(("A1", "A2"))) == pytest.approx(-0.5, abs=1e-12)
    assert all(m == 0.0 for m in by_pair.values())
    alone = {g.name: g.alone[0] for g in att.groups}
    assert alone == pytest.approx({"A1": 0.5, "A2": 0.5, **{a: 1.0 for a in others}}, abs=1e-12)


def test_freezing_one_group_alone_is_its_shapley_value_plus_half_its_interactions(shipped) -> None:
    """The counterfactual check a user can run: freezing group i alone removes v(N) − v(N∖{i}) (exact, from the
    same memoised coalitions), which the Shapley value plus half of each pairwise interaction reproduces within
    the interval (the rest is higher-order interaction)."""
    from simulator.analysis.attribution import pair_interaction
    from simulator.analysis.stats import mean_ci

    att = attribute(shipped, "invest_in_people", "npv", replications=5, months=12, workers=1, seed=1)
    n = len(att.groups)
    full = frozenset(range(n))
    for i, g in enumerate(att.groups):
        single = []
        for r, v in enumerate(att.coalition_values):
            frozen_alone = run_once(shipped, "invest_in_people", r, 1, 12, frozen=Frozen(
                run_once(shipped, "baseline", r, 1, 12, record=True).recording, frozenset(g.elements)))
            baseline = run_once(shipped, "baseline", r, 1, 12).periods["npv"][-1]
            single.append(v[full] - (float(frozen_alone.periods["npv"][-1]) - float(baseline)))
            assert single[-1] == pytest.approx(v[full] - v[full - {i}], abs=1e-6)  # the run is the coalition
        assert g.alone == pytest.approx(mean_ci(single), abs=1e-6)
        claimed = [g.per_replication[r] + 0.5 * sum(pair_interaction(v, i, j) for j in range(n) if j != i)
                   for r, v in enumerate(att.coalition_values)]
        m, lo, hi = g.alone
        assert abs(np.mean(claimed) - m) <= (hi - lo) / 2 + 1e-6, (g.name, np.mean(claimed), g.alone)
    # the check the issue first asked for (freezing a group reproduces its Shapley value) fails on this scenario
    assert any(not g.alone[1] <= g.value <= g.alone[2] for g in att.groups)


def test_explain_on_a_dask_local_cluster_equals_the_process_pool(shipped) -> None:
    """The coalitions run through the batch executors (a Dask LocalCluster here): the same numbers, bit for bit."""
    kw = dict(replications=2, months=6, seed=4)
    local = attribute(shipped, "headcount_cuts", "npv", executor="local", **kw)
    ticks: list[tuple[int, int]] = []
    pool = attribute(shipped, "headcount_cuts", "npv", executor="processes", workers=2, **kw)
    dask = attribute(shipped, "headcount_cuts", "npv", executor="dask", workers=1,
                     progress=lambda done, total: ticks.append((done, total)), **kw)
    assert dask.coalition_values == pool.coalition_values == local.coalition_values
    assert [g.value for g in dask.groups] == [g.value for g in pool.groups]
    assert ticks[-1] == (dask.runs, dask.runs) and len(ticks) > 2
