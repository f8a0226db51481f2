"""The strategy map picture: well-formed SVG naming every node (revenue and profit included) with its legend."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from simulator.graph.compiler import compile_file
from simulator.graph.strategy_map import SHAPE_LABELS, STATUS_LABELS, columns, draw, map_graph
from tests.scenario_helpers import run_spc

SHIPPED = "scenarios/service_profit_chain.yaml"


def _texts(svg: bytes) -> list[str]:
    root = ET.fromstring(svg)  # raises on malformed XML
    return ["".join(el.itertext()) for el in root.iter() if el.tag.endswith("text")]


def test_strategy_map_svg_names_every_node_and_has_the_legend(tmp_path) -> None:
    out = tmp_path / "map.svg"
    proc = run_spc("graph", SHIPPED, "--format", "svg", "--strategy", "headcount_cuts", "--months", "6",
                   "--replications", "1", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    texts = _texts(out.read_bytes())
    model = compile_file(SHIPPED)
    g = map_graph(model)
    assert {"revenue", "costs", "profit"} <= set(g)
    assert set(g) <= set(texts), set(g) - set(texts)
    legend = [*STATUS_LABELS.values(), *SHAPE_LABELS.values(), "positive link (+)", "negative link (−)",
              "delayed or carried by the engine"]
    for entry in legend:
        assert entry in texts, entry
    assert any(t.startswith("on a feedback loop") for t in texts)
    assert any("headcount_cuts" in t for t in texts)


def test_strategy_map_layout_and_png() -> None:
    model = compile_file(SHIPPED)
    g = map_graph(model)
    col = columns(g)
    levers = [n for n in g if g.nodes[n].get("kind") == "lever"]
    assert levers and all(col[n] == 0 for n in levers)
    assert col["profit"] == max(col.values()) and sum(c == col["profit"] for c in col.values()) == 1
    assert col["revenue"] < col["profit"] and col["active_customers"] < col["revenue"]
    png = draw(model, "png", edge_weights={("revenue", "profit"): 2.0, ("costs", "profit"): -1.0})
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert "width: |Shapley value| of the pathway group carrying it" in _texts(draw(model, "svg", edge_weights={("revenue", "profit"): 1.0}))


def test_graph_picture_cli_errors() -> None:
    for args in (["graph", SHIPPED, "--format", "svg", "--strategy", "nope"],
                 ["graph", SHIPPED, "--strategy", "headcount_cuts"]):
        proc = run_spc(*args)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, (args, proc.stderr)


def _stroke_widths(svg: bytes) -> dict[str, float]:
    """SVG edge id ('edge-a-b') -> stroke width of its line."""
    import re

    out = {}
    for el in ET.fromstring(svg).iter():
        gid = el.get("id", "")
        if el.tag.endswith("g") and gid.startswith("edge-"):
            path = next(p for p in el.iter() if p.tag.endswith("path"))
            found = re.search(r"stroke-width: ([0-9.]+)", path.get("style", ""))
            out[gid] = float(found.group(1)) if found else 1.0  # matplotlib leaves out SVG's default width
    return out


def test_edge_width_follows_the_shapley_value_of_the_group_carrying_it(tmp_path) -> None:
    """On a small scenario: the edges of the group with the larger |Shapley value| are drawn wider, per strategy."""
    from simulator.analysis.attribution import attribute
    from simulator.graph.strategy_map import attribution_edge_weights, element_edges

    small = "tests/data/engine_small.yaml"
    model = compile_file(small)
    g = map_graph(model)
    assert element_edges(model, "port:service_quality", g) == {("morale", "service_quality"),
                                                                ("service_quality", "customer_satisfaction")}
    assert element_edges(model, "costs:train", g) == {("costs", "profit")}
    for strategy in ("training", "cuts"):
        out = tmp_path / f"{strategy}.svg"
        proc = run_spc("graph", small, "--format", "svg", "--strategy", strategy, "--explain", "--replications", "2",
                       "--workers", "1", "--out", str(out))
        assert proc.returncode == 0, proc.stderr
        assert "Shapley attribution of ΔNPV over 3 groups" in proc.stderr
        svg = out.read_bytes()
        assert "width: |Shapley value| of the pathway group carrying it" in _texts(svg)
        widths = _stroke_widths(svg)
        att = attribute(model, strategy, "npv", replications=2, workers=1)
        ranked = sorted(att.groups, key=lambda gv: -abs(gv.value))
        big, small_group = ranked[0], ranked[-1]
        assert abs(big.value) > 2 * abs(small_group.value)
        weights = attribution_edge_weights(model, att.groups)
        big_edges = {e for el in big.elements for e in element_edges(model, el, g)}
        small_edges = {e for el in small_group.elements for e in element_edges(model, el, g)}
        assert big_edges and small_edges and not big_edges & small_edges
        assert all(weights[e] == big.value for e in big_edges)
        wide = min(widths[f"edge-{a}-{b}"] for a, b in big_edges)
        narrow = max(widths[f"edge-{a}-{b}"] for a, b in small_edges)
        assert wide > narrow + 1, (strategy, wide, narrow)
        plain = [w for gid, w in widths.items() if tuple(gid[5:].split("-", 1)) not in weights]
        assert plain and max(plain) <= narrow + 1e-9  # links no group carries: the base width


def test_graph_explain_needs_a_strategy_and_a_picture() -> None:
    for args in (["graph", SHIPPED, "--format", "svg", "--explain"], ["graph", SHIPPED, "--explain"]):
        proc = run_spc(*args)
        assert proc.returncode == 2 and "--explain" in proc.stderr, (args, proc.stderr)


def test_report_map_uses_an_attribution_only_for_the_strategy_it_shows(monkeypatch) -> None:
    from types import SimpleNamespace

    import pandas as pd

    from simulator import report
    from simulator.analysis.attribution import attribute
    from simulator.graph import strategy_map

    model = compile_file("tests/data/engine_small.yaml")
    att = attribute(model, "cuts", "npv", replications=1, months=3, workers=1)
    seen = []
    monkeypatch.setattr(strategy_map, "draw", lambda *a, **k: seen.append(k["edge_weights"]) or b"png")
    for shown in ("cuts", "training"):
        inp = SimpleNamespace(model=model, recommendation=None, strategies=("baseline", shown),
                              scorecard=pd.DataFrame(), attribution=att)
        assert report._strategy_maps(inp) == {"causal_map": b"png"}
    assert seen[0] and seen[0][("costs", "profit")] == next(g.value for g in att.groups if g.name == "initiative costs")
    assert seen[1] is None


def test_report_explain_fills_the_attribution_of_the_mapped_strategy(tmp_path) -> None:
    from dataclasses import replace

    from simulator.analysis.run_analysis import analyse
    from simulator.cli.report import with_attribution
    from simulator.experiment import run_experiment
    from simulator.report import map_strategy

    model = compile_file("tests/data/engine_small.yaml")
    res = run_experiment(model, replications=2, months=4, workers=1)
    inp = analyse(model, "h", res.timeseries, res.customers, res.strategies, res.replications, res.seed, res.months)
    assert inp.recommendation.strategy == "baseline"  # nothing to attribute: the map shows the baseline
    assert with_attribution(inp, workers=1).attribution is None
    inp = replace(inp, recommendation=None)  # the map then shows the first strategy
    out = with_attribution(inp, workers=1)
    att = out.attribution
    assert att is not None and att.strategy == map_strategy(inp) != "baseline"
    assert (att.replications, att.seed, att.months, att.metric) == (2, res.seed, 4, "npv")
    assert sum(g.value for g in att.groups) == pytest.approx(att.total[0], rel=1e-9, abs=1e-6)
    html = tmp_path / "r.html"
    proc = run_spc("report", "tests/data/engine_small_scored.yaml", "--out", str(html), "--explain", "--no-tornado",
                   "--replications", "1", "--months", "3", "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    assert "--explain: Δ NPV of training attributed" in proc.stderr and html.stat().st_size > 0
