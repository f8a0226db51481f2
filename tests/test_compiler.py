"""The compiler (evaluation order, algebraic loops, loop polarity), the causal-map renderers, link
functions and the per-step network evaluator."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from simulator.errors import ScenarioError
from simulator.graph.compiler import CompiledModel, compile_file, compile_scenario
from simulator.graph.links import compile_link
from simulator.graph.network import NetworkState
from simulator.graph.render import to_dot, to_mermaid
from simulator.scenario.loader import load, load_data
from simulator.scenario.models import Link
from tests.scenario_helpers import INVALID, ROOT, SHIPPED, network_scenario, run_spc, write_yaml


def aux(name: str, reference: float = 1.0, **extra) -> dict:
    return {"name": name, "kind": "auxiliary", "reference": reference, **extra}


def link(source: str, target: str, effect: float = 1.0, **extra) -> dict:
    return {"from": source, "to": target, "effect": effect, **extra}


def compile_data(data: dict) -> CompiledModel:
    return compile_scenario(load_data(data))


def compile_in_file(tmp_path: Path, data: dict) -> CompiledModel:
    return compile_file(write_yaml(tmp_path / "scenario.yaml", data))


def loop_nodes(model: CompiledModel) -> dict[frozenset, str]:
    return {frozenset(lp.nodes): lp.polarity for lp in model.loops}


# --- evaluation order -----------------------------------------------------------------------------------


def test_evaluation_order_is_topological_not_alphabetical() -> None:
    nodes = [aux("a_last"), aux("m_middle"), aux("z_first"), aux("b_side"),
             {"name": "lever_x", "kind": "lever", "reference": 1}]
    links = [link("z_first", "m_middle"), link("m_middle", "a_last"), link("lever_x", "z_first"),
             link("z_first", "b_side"), link("b_side", "a_last")]
    model = compile_data(network_scenario(nodes, links))
    order = list(model.order)
    assert sorted(order) == ["a_last", "b_side", "m_middle", "z_first"]  # auxiliaries only
    for source, target in (("z_first", "m_middle"), ("m_middle", "a_last"), ("z_first", "b_side"), ("b_side", "a_last")):
        assert order.index(source) < order.index(target), order


def test_shipped_scenario_order_respects_every_instantaneous_link() -> None:
    model = compile_file(SHIPPED)
    kinds = {n.name: n.kind for n in model.scenario.network.nodes}
    assert set(model.order) == {n for n, k in kinds.items() if k == "auxiliary"}
    checked = 0
    for lk in model.scenario.network.links:
        if lk.delay_days == 0 and kinds[lk.source] == kinds[lk.target] == "auxiliary":
            assert model.order.index(lk.source) < model.order.index(lk.target)
            checked += 1
    assert set(model.incoming) == set(kinds)
    assert model.ports_written == tuple(n for n, k in kinds.items() if k == "measure")
    assert {"utilisation", "mean_wait_minutes", "nps"} <= set(model.ports_written)
    assert "service_quality" in model.ports_read and "pay_index" not in model.ports_read


def test_delayed_links_do_not_constrain_the_order() -> None:
    nodes = [aux("a"), aux("b")]
    model = compile_data(network_scenario(nodes, [link("b", "a", delay_days=7)]))
    assert model.order == ("a", "b")  # lexicographic when unconstrained


# --- algebraic loops ----------------------------------------------------------------------------------


def test_algebraic_loop_names_every_node_in_order_and_suggests_a_delay(tmp_path: Path) -> None:
    nodes = [aux("alpha"), aux("beta"), aux("gamma"), aux("outside")]
    links = [link("alpha", "beta"), link("beta", "gamma"), link("gamma", "alpha"), link("gamma", "outside")]
    path = write_yaml(tmp_path / "loop.yaml", network_scenario(nodes, links))
    with pytest.raises(ScenarioError) as info:
        compile_file(path)
    (problem,) = info.value.problems
    assert "alpha -> beta -> gamma -> alpha" in problem.message
    assert "outside" not in problem.message
    assert "delay_days" in problem.hint and "gamma->alpha" in problem.hint and "stock" in problem.hint
    text = path.read_text().splitlines()
    assert text[problem.line - 1].strip().startswith("- from: gamma"), (problem, text[problem.line - 1])
    assert problem.file == str(path)


def test_self_loop_is_an_algebraic_loop() -> None:
    with pytest.raises(ScenarioError, match="loop with no delay and no stock: a -> a"):
        compile_data(network_scenario([aux("a")], [link("a", "a", 0.5)]))


def test_every_separate_algebraic_loop_is_reported() -> None:
    nodes = [aux(n) for n in ("a", "b", "c", "d")]
    links = [link("a", "b"), link("b", "a"), link("c", "d"), link("d", "c")]
    with pytest.raises(ScenarioError) as info:
        compile_data(network_scenario(nodes, links))
    messages = sorted(p.message for p in info.value.problems)
    assert len(messages) == 2 and "a -> b -> a" in messages[0] and "c -> d -> c" in messages[1]


def test_invalid_file_algebraic_loop_is_reported_by_load_and_compile() -> None:
    loaded = load(INVALID / "algebraic_loop.yaml")  # the loader alone accepts it: loops are the compiler's job
    with pytest.raises(ScenarioError, match="churn_hazard_factor -> service_quality -> churn_hazard_factor"):
        compile_file(INVALID / "algebraic_loop.yaml")
    assert loaded.scenario.network.links[-1].id == "churn_hazard_factor->service_quality"


def test_a_delayed_link_breaks_the_loop() -> None:
    nodes = [aux("alpha"), aux("beta"), aux("gamma")]
    links = [link("alpha", "beta"), link("beta", "gamma"), link("gamma", "alpha", delay_days=7)]
    model = compile_data(network_scenario(nodes, links))
    assert model.order == ("alpha", "beta", "gamma")
    assert frozenset({"alpha", "beta", "gamma"}) in loop_nodes(model)  # still a feedback loop, just not algebraic


def test_a_stock_breaks_the_loop() -> None:
    nodes = [aux("alpha"), {"name": "beta", "kind": "stock", "reference": 1}, aux("gamma")]
    links = [link("alpha", "beta"), link("beta", "gamma"), link("gamma", "alpha")]
    model = compile_data(network_scenario(nodes, links))
    assert model.order == ("gamma", "alpha")
    assert loop_nodes(model) == {frozenset({"alpha", "beta", "gamma"}): "reinforcing"}


# --- loop polarity ------------------------------------------------------------------------------------


def two_node_loop(effect_in: float, effect_out: float, **out_extra) -> CompiledModel:
    nodes = [{"name": "stock_s", "kind": "stock", "reference": 10}, aux("aux_x", 5)]
    links = [link("stock_s", "aux_x", effect_in), link("aux_x", "stock_s", effect_out, **out_extra)]
    return compile_data(network_scenario(nodes, links))


def test_positive_loop_through_a_stock_is_reinforcing() -> None:
    assert loop_nodes(two_node_loop(0.5, 2.0)) == {frozenset({"stock_s", "aux_x"}): "reinforcing"}


@pytest.mark.parametrize(("effect_in", "effect_out"), [(-0.5, 2.0), (0.5, -2.0)])
def test_one_negative_link_makes_a_balancing_loop(effect_in: float, effect_out: float) -> None:
    assert loop_nodes(two_node_loop(effect_in, effect_out)) == {frozenset({"stock_s", "aux_x"}): "balancing"}


def test_two_negative_links_make_a_reinforcing_loop() -> None:
    assert loop_nodes(two_node_loop(-0.5, -2.0)) == {frozenset({"stock_s", "aux_x"}): "reinforcing"}


@pytest.mark.parametrize(("points", "polarity"), [
    ([[0, 0], [10, 1], [20, 3]], "reinforcing"),
    ([[0, 3], [10, 1], [20, 0]], "balancing"),
    ([[0, 0], [10, 1], [20, 0]], "undetermined"),
])
def test_table_links_classify_by_slope(points: list, polarity: str) -> None:
    model = two_node_loop(0.5, 1.0, form="table", points=points)
    assert loop_nodes(model) == {frozenset({"stock_s", "aux_x"}): polarity}


def test_shipped_scenario_has_both_loop_kinds_through_the_engine() -> None:
    model = compile_file(SHIPPED)
    polarities = {lp.polarity for lp in model.loops}
    assert {"reinforcing", "balancing"} <= polarities
    assert all(lp.through_engine for lp in model.loops if "customers_lost" in lp.nodes)
    # Sears-style chain closes through the engine: attitude -> impression -> satisfaction ... -> utilisation -> attitude
    labels = [lp.label for lp in model.loops]
    assert any(lb.startswith("employee_capability -> handle_time_factor") for lb in labels)
    for lp in model.loops:
        assert lp.label.split(" -> ")[0] == lp.label.split(" -> ")[-1] == min(lp.nodes)


# --- rendering ----------------------------------------------------------------------------------------


def test_spc_graph_prints_mermaid_with_nodes_and_perspective_subgraphs() -> None:
    proc = run_spc("graph", str(SHIPPED))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("flowchart")
    sc = load(SHIPPED).scenario
    for node in sc.network.nodes:
        assert f'{node.name}' in out and f'"{node.name}"' in out, node.name
    for persp in ("customer", "internal_process", "learning_growth"):
        assert f"subgraph {persp}[" in out, persp
    customer_block = out.split("subgraph customer[", 1)[1].split("\n  end", 1)[0]
    assert '"nps"' in customer_block and '"employee_satisfaction"' not in customer_block
    assert out.count("subgraph") == out.count("\n  end")
    for lk in sc.network.links:  # labels follow the scenario: sign and size, and the delay drawn dashed
        sign = "+" if lk.effect > 0 else "-"
        size = f"{abs(lk.effect):g}" if lk.form == "linear" else f" {lk.form}"
        label = sign + size + (f", {lk.delay_days:g}d delay" if lk.delay_days else "")
        arrow = "-.->" if lk.delay_days else "-->"
        assert f'{lk.source} {arrow}|"{label}"| {lk.target}' in out, lk.id


def test_spc_graph_dot_and_loops() -> None:
    proc = run_spc("graph", str(SHIPPED), "--format", "dot", "--loops")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith('digraph "Retail bank branch network" {')
    assert "subgraph cluster_customer" in out and '"nps" [shape=hexagon]' in out
    assert '"employee_satisfaction" -> "service_quality"' in out
    assert out.count("{") == out.count("}")
    loops = [ln for ln in out.splitlines() if ln.startswith("// ")]
    assert len(loops) == len(compile_file(SHIPPED).loops) and any("reinforcing" in ln for ln in loops)


def test_spc_graph_on_a_bad_file_is_bad_input() -> None:
    proc = run_spc("graph", str(INVALID / "algebraic_loop.yaml"))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith(f"{INVALID / 'algebraic_loop.yaml'}:31:") and "Traceback" not in proc.stderr


def test_dot_escapes_quotes_in_the_scenario_name() -> None:
    model = compile_data(network_scenario([aux("a")], [], name='Bank "North" \\ branch'))
    first = to_dot(model).splitlines()[0]
    assert first == 'digraph "Bank \\"North\\" \\\\ branch" {'


def test_renderers_handle_a_network_without_links() -> None:
    model = compile_data(network_scenario([aux("lonely")], []))
    assert to_mermaid(model).splitlines() == ["flowchart LR", '    lonely["lonely"]']
    assert '"lonely" [shape=box];' in to_dot(model)


# --- link functions -----------------------------------------------------------------------------------


def make_link(form: str, effect: float = 1.0, **extra) -> Link:
    return Link.model_validate({"from": "x", "to": "y", "effect": effect, "form": form, **extra})


@pytest.mark.parametrize(("form", "extra"), [
    ("linear", {}),
    ("elasticity", {}),
    ("saturating", {"scale": 5}),
    ("saturating", {}),
    ("table", {"points": [[0, 0], [10, 2], [40, 3]]}),
])
@pytest.mark.parametrize("effect", [0.7, -0.7])
def test_link_contribution_is_zero_at_reference_and_signed(form: str, extra: dict, effect: float) -> None:
    x_ref, y_ref = 20.0, 8.0
    fn = compile_link(make_link(form, effect, **extra), x_ref, y_ref)
    assert fn.contribution(x_ref, effect) == 0.0
    sign = math.copysign(1.0, effect)
    up, down = fn.contribution(x_ref + 3, effect), fn.contribution(x_ref - 3, effect)
    assert up * sign > 0 and down * sign < 0, (up, down)
    assert fn.monotone_sign == 1


def test_link_forms_have_their_documented_shapes() -> None:
    linear = compile_link(make_link("linear", 0.26), 60, 7)
    assert linear.contribution(65, 0.26) == pytest.approx(1.3, abs=1e-12)
    elasticity = compile_link(make_link("elasticity", -1.5), 65, 0.3)
    assert elasticity.contribution(65 * 1.1, -1.5) == pytest.approx(0.3 * (1.1**-1.5 - 1), rel=1e-12)
    saturating = compile_link(make_link("saturating", 6, scale=30), 16, 65)
    assert saturating.contribution(16 + 30, 6) == pytest.approx(6 * math.tanh(1), rel=1e-12)
    assert saturating.contribution(16 + 1e6, 6) == pytest.approx(6)  # saturates at the effect
    table = compile_link(make_link("table", 2, points=[[0, 0], [10, 1], [20, 5]]), 10, 0)
    assert table.contribution(15, 2) == pytest.approx(2 * (3 - 1))  # interpolated, relative to the reference
    assert table.contribution(99, 2) == pytest.approx(2 * (5 - 1))  # clamped beyond the last point
    decreasing = compile_link(make_link("table", 1, points=[[0, 1], [10, 0]]), 5, 0)
    assert decreasing.monotone_sign == -1 and decreasing.contribution(10, 1) < 0


# --- the network at run time ---------------------------------------------------------------------------


def sears_chain() -> CompiledModel:
    nodes = [
        {"name": "attitude", "kind": "lever", "reference": 60},
        aux("impression", 7.0),
        aux("revenue_growth", 0.0),
    ]
    links = [link("attitude", "impression", 0.26), link("impression", "revenue_growth", 0.5 / 1.3)]
    return compile_data(network_scenario(nodes, links))


@pytest.mark.parametrize(("delta", "impression", "growth"), [(5, 1.3, 0.5), (10, 2.6, 1.0), (-5, -1.3, -0.5), (0, 0, 0)])
def test_sears_chain_is_reproduced_exactly(delta: float, impression: float, growth: float) -> None:
    state = NetworkState(sears_chain())
    values = state.step(7.0, {}, {"attitude": 60 + delta}, {})
    assert values["impression"] - 7.0 == pytest.approx(impression, abs=1e-12)
    assert values["revenue_growth"] == pytest.approx(growth, abs=1e-12)


def test_network_at_rest_stays_at_rest() -> None:
    model = compile_file(SHIPPED)
    state = NetworkState(model)
    start = dict(state.values)
    measures = {n.name: n.reference for n in model.scenario.network.nodes if n.kind == "measure"}
    levers = {n.name: n.reference for n in model.scenario.network.nodes if n.kind == "lever"}
    for _ in range(20):
        state.step(7.0, measures, levers, {})
    assert state.values == pytest.approx(start, abs=1e-12)


def test_link_effect_override_and_lever_bounds() -> None:
    model = sears_chain()
    state = NetworkState(model)
    values = state.step(7.0, {}, {"attitude": 65}, {"attitude->impression": 0.52})
    assert values["impression"] - 7.0 == pytest.approx(2.6, abs=1e-12)
    bounded = network_scenario([{"name": "lever_l", "kind": "lever", "reference": 1, "min": 0, "max": 2},
                                aux("out", 0, max=0.5)], [link("lever_l", "out", 1.0)])
    state = NetworkState(compile_data(bounded))
    values = state.step(7.0, {}, {"lever_l": 5}, {})
    assert values["lever_l"] == 2 and values["out"] == 0.5  # 1.0 from the clamped lever, clamped again
    values = state.step(7.0, {}, {"lever_l": 1.25}, {})
    assert values["lever_l"] == 1.25 and values["out"] == 0.25


def test_delayed_link_and_stock_follow_first_order_smoothing() -> None:
    nodes = [{"name": "lever_l", "kind": "lever", "reference": 0},
             aux("seen", 0), {"name": "level", "kind": "stock", "reference": 0, "adjust_days": 20}]
    links = [link("lever_l", "seen", 1.0, delay_days=14), link("lever_l", "level", 1.0)]
    state = NetworkState(compile_data(network_scenario(nodes, links)))
    values = state.step(7.0, {}, {"lever_l": 10}, {})
    assert values["seen"] == pytest.approx(10 * (1 - math.exp(-7 / 14)), abs=1e-12)
    assert values["level"] == pytest.approx(10 * (1 - math.exp(-7 / 20)), abs=1e-12)
    values = state.step(7.0, {}, {"lever_l": 10}, {})
    assert values["seen"] == pytest.approx(10 * (1 - math.exp(-14 / 14)), abs=1e-12)
    assert values["level"] == pytest.approx(10 * (1 - math.exp(-14 / 20)), abs=1e-12)


def test_integrating_stock_accumulates() -> None:
    nodes = [{"name": "lever_l", "kind": "lever", "reference": 0},
             {"name": "pool", "kind": "stock", "reference": 0, "initial": 100, "integrate": True}]
    state = NetworkState(compile_data(network_scenario(nodes, [link("lever_l", "pool", 2.0)])))
    assert state.values["pool"] == 100
    values = state.step(7.0, {}, {"lever_l": 1}, {})
    assert values["pool"] == pytest.approx(100 + 7 * 2.0, abs=1e-12)


def test_the_evaluation_order_is_networkx_lexicographic_topological_sort() -> None:
    """compile_scenario orders the auxiliaries without networkx (kept off the run path): the same order as
    networkx's lexicographical_topological_sort on random graphs, and None exactly when networkx finds a cycle."""
    import random

    import networkx as nx

    from simulator.graph.compiler import lexicographic_order

    rng = random.Random(7)
    cyclic = 0
    for _ in range(400):
        names = [f"n{rng.randrange(1000):03d}" for _ in range(rng.randrange(1, 12))]
        names = list(dict.fromkeys(names))
        edges = [(a, b) for a in names for b in names if a != b and rng.random() < 0.15]
        g = nx.DiGraph()
        g.add_nodes_from(names)
        g.add_edges_from(edges)
        if nx.is_directed_acyclic_graph(g):
            assert lexicographic_order(names, edges) == tuple(nx.lexicographical_topological_sort(g))
        else:
            cyclic += 1
            assert lexicographic_order(names, edges) is None
    assert 20 < cyclic < 380  # both kinds were tried


def test_compiling_imports_no_networkx_until_the_graph_is_asked_for() -> None:
    import subprocess
    import sys

    code = ("import sys\nfrom simulator.graph.compiler import compile_file\n"
            "m = compile_file('scenarios/service_profit_chain.yaml')\n"
            "assert 'networkx' not in sys.modules\n"
            "assert len(m.loops) > 0 and 'networkx' in sys.modules and m.graph.number_of_nodes() > 0\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
