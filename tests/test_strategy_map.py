"""The strategy map picture: well-formed SVG naming every node (revenue and profit included) with its legend."""

from __future__ import annotations

import xml.etree.ElementTree as ET

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
    assert "width: share of the attribution" in _texts(draw(model, "svg", edge_weights={("revenue", "profit"): 1.0}))


def test_graph_picture_cli_errors() -> None:
    for args in (["graph", SHIPPED, "--format", "svg", "--strategy", "nope"],
                 ["graph", SHIPPED, "--strategy", "headcount_cuts"]):
        proc = run_spc(*args)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, (args, proc.stderr)
