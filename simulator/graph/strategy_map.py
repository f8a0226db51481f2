"""The strategy map as a picture (SVG or PNG): the causal network left to right from the levers to profit.

Columns: levers first, profit last, every other node placed by its shortest distance to profit (the engine's
own paths from `ports.ENGINE_LINKS` put revenue, costs and profit on the map). Nodes are coloured by the
status of the KPIs that measure them under a chosen strategy (worst status when several do; grey when no
KPI measures the node or no strategy is given); edges are green (+) or red (−), dashed when delayed or
carried by the engine, drawn over a violet halo when they lie on a feedback loop, and as wide as their
share of an attribution when one is given (`edge_weights`, e.g. Shapley values per link). Every colour
and symbol is in the legend. Drawn with matplotlib + networkx: no Graphviz binary needed.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import networkx as nx
import pandas as pd

from simulator.graph.compiler import CompiledModel

STATUS_COLOURS = {"green": "#66bb6a", "amber": "#ffca28", "red": "#ef5350", "none": "#e0e0e0"}
STATUS_LABELS = {"green": "KPI green (on target)", "amber": "KPI amber (within tolerance)",
                 "red": "KPI red (off target)", "none": "no KPI / no strategy chosen"}
SHAPES = {"lever": "s", "stock": "D", "auxiliary": "o", "measure": "h", "engine": "h"}
SHAPE_LABELS = {"s": "lever (set by initiatives)", "D": "stock (accumulates)", "o": "auxiliary",
                "h": "engine measure (port)"}
POSITIVE, NEGATIVE, LOOP_HALO = "#2e7d32", "#c62828", "#ce93d8"
WORST = {"red": 0, "amber": 1, "green": 2}


def map_graph(model: CompiledModel) -> nx.DiGraph:
    """The scenario's network plus every engine path (so revenue, costs and profit are on the map)."""
    from simulator.analysis.causal import full_graph

    return full_graph(model)


def columns(g: nx.DiGraph, sink: str = "profit") -> dict[str, int]:
    """Left-to-right column of every node: levers at 0, `sink` last, the rest by distance to the sink."""
    to_sink = nx.single_source_shortest_path_length(g.reverse(copy=False), sink) if sink in g else {}
    depth = max(to_sink.values(), default=0)
    col = {n: depth - d for n, d in to_sink.items()}
    for n in g:
        if g.nodes[n].get("kind") == "lever":
            col[n] = 0
    pending = [n for n in g if n not in col]
    for _ in range(len(pending) + 1):  # off the profit paths: one right of their furthest placed parent
        for n in list(pending):
            placed = [col[p] for p in g.predecessors(n) if p in col]
            if placed or not any(True for _ in g.predecessors(n)):
                col[n] = min(max(placed, default=0) + 1, max(depth - 1, 1))
                pending.remove(n)
    for n in pending:
        col[n] = 1
    if sink in col:  # profit alone in the last column
        col[sink] = max((c for n, c in col.items() if n != sink), default=0) + 1
    lever_free = [c for n, c in col.items() if g.nodes[n].get("kind") != "lever"]
    if lever_free and min(lever_free) == 0:
        col = {n: c + (g.nodes[n].get("kind") != "lever") for n, c in col.items()}
    return col


def _positions(g: nx.DiGraph, col: Mapping[str, int]) -> dict[str, tuple[float, float]]:
    """Columns left to right; within a column, nodes ordered by their parents' mean height (two sweeps)."""
    by_col: dict[int, list[str]] = {}
    for n in sorted(g, key=str):
        by_col.setdefault(col[n], []).append(n)
    y: dict[str, float] = {}
    for _ in range(2):
        for c in sorted(by_col):
            nodes = by_col[c]
            nodes.sort(key=lambda n, c=c: _barycentre(g, col, y, n, c))
            k = len(nodes)
            for i, n in enumerate(nodes):
                y[n] = (k - 1) / 2 - i
    return {n: (float(col[n]), y[n]) for n in g}


def _barycentre(g: nx.DiGraph, col: Mapping[str, int], y: Mapping[str, float], n: str, c: int) -> float:
    ys = [y[p] for p in g.predecessors(n) if p in y and col[p] < c]
    ys += [y[s] for s in g.successors(n) if s in y and col[s] > c]
    return sum(ys) / len(ys) if ys else y.get(n, 0.0)


def node_status(model: CompiledModel, scorecard: pd.DataFrame | None, strategy: str | None) -> dict[str, str]:
    """Node -> worst KPI status among the KPIs measuring it under `strategy` ('none' elsewhere)."""
    out: dict[str, str] = {}
    if scorecard is None or strategy is None or scorecard.empty:
        return out
    for r in scorecard[scorecard["strategy"] == strategy].itertuples():
        current = out.get(r.metric)
        if current is None or WORST[r.status] < WORST[current]:
            out[r.metric] = r.status
    return out


# where a segment parameter enters the engine: the engine edges an initiative's segment effect on it moves
SEGMENT_PARAMETER_EDGES: dict[str, tuple[tuple[str, str], ...]] = {
    "acquisition_per_month": (("customers_won", "active_customers"),),
    "churn_per_month": (("customers_lost", "active_customers"),),
    "satisfaction_sensitivity": (("customer_satisfaction", "customers_lost"),),
    "price_churn_elasticity": (("customers_lost", "active_customers"),),
    "initial_satisfaction": (("customer_satisfaction", "customers_lost"), ("customer_satisfaction", "nps")),
    "price_satisfaction_points": (("customer_satisfaction", "customers_lost"), ("customer_satisfaction", "nps")),
    "contacts_per_month": (("active_customers", "utilisation"), ("active_customers", "mean_wait_minutes")),
    "handle_minutes": (("active_customers", "utilisation"), ("active_customers", "mean_wait_minutes")),
    "patience_minutes": (("mean_wait_minutes", "abandonment_rate"),),
    "self_service_contacts_per_month": (("active_customers", "utilisation"),),
    "purchases_per_month": (("active_customers", "revenue"),),
    "basket": (("active_customers", "revenue"),),
}
COST_EDGE = ("costs", "profit")


def element_edges(model: CompiledModel, element: str, g: nx.DiGraph | None = None) -> set[tuple[str, str]]:
    """The map's edges an attribution element carries ('kind:name', as in simulator.engine.frozen).

    port:P       every edge into and out of P (the network's links that set it, the engine's paths from it)
    measure:M    every edge out of M (the network's links that read the engine's measure)
    link:a->b    that edge
    levers:INI   the edges out of the levers INI moves, and the links INI changes
    segments:INI the engine edges where INI's segment parameters enter (SEGMENT_PARAMETER_EDGES; costs->profit
                 for a cost parameter, the edges into active_customers for any other)
    costs:INI    costs -> profit
    """
    g = g if g is not None else map_graph(model)
    kind, _, name = element.partition(":")
    edges: set[tuple[str, str]] = set()
    if kind == "port" and name in g:
        edges |= set(g.in_edges(name)) | set(g.out_edges(name))
    elif kind == "measure" and name in g:
        edges |= set(g.out_edges(name))
    elif kind == "link":
        a, _, b = name.partition("->")
        edges.add((a.strip(), b.strip()))
    elif kind in ("levers", "segments"):
        ini = next((i for i in model.scenario.initiatives if i.name == name), None)
        for eff in ini.effects if ini is not None else ():
            if kind == "levers" and eff.lever is not None and eff.lever in g:
                edges |= set(g.out_edges(eff.lever))
            elif kind == "levers" and eff.link is not None:
                a, _, b = eff.link.partition("->")
                edges.add((a.strip(), b.strip()))
            elif kind == "segments" and eff.segment is not None:
                param = eff.parameter or ""
                if param in SEGMENT_PARAMETER_EDGES:
                    edges |= set(SEGMENT_PARAMETER_EDGES[param])
                elif "cost" in param or param == "cogs_fraction":
                    edges.add(COST_EDGE)
                else:
                    edges |= set(g.in_edges("active_customers")) if "active_customers" in g else set()
    elif kind == "costs":
        edges.add(COST_EDGE)
    return {e for e in edges if g.has_edge(*e)}


def attribution_edge_weights(model: CompiledModel, groups: Mapping[str, Sequence[str]] | Sequence,
                             values: Mapping[str, float] | None = None) -> dict[tuple[str, str], float]:
    """Edge -> the Shapley value of the attribution group that carries it (the largest |value| when several do).

    `groups` is either an `Attribution`'s list of `GroupValue`s or a mapping group -> elements (then `values`
    gives group -> Shapley value). An edge no group carries gets no weight (drawn at the base width).
    """
    if values is None:
        pairs = [(gv.elements, gv.value) for gv in groups]
    else:
        pairs = [(groups[name], values[name]) for name in groups]
    g = map_graph(model)
    out: dict[tuple[str, str], float] = {}
    for elements, value in pairs:
        if value != value:  # NaN: nothing to draw
            continue
        for element in elements:
            for e in element_edges(model, element, g):
                if e not in out or abs(value) > abs(out[e]):
                    out[e] = float(value)
    return out


def edge_widths(g: nx.DiGraph, edge_weights: Mapping[tuple[str, str], float] | None) -> dict[tuple[str, str], float]:
    """Line width of every edge: 1 point, plus up to 5 in proportion to |weight| / the largest |weight|."""
    weights = {e: abs(v) for e, v in (edge_weights or {}).items()}
    top = max(weights.values(), default=0.0)
    return {e: 1.0 + (5.0 * weights.get(e, 0.0) / top if top > 0 else 0.0) for e in g.edges}


def draw(model: CompiledModel, fmt: str = "svg", strategy: str | None = None, scorecard: pd.DataFrame | None = None,
         edge_weights: Mapping[tuple[str, str], float] | None = None, title: str | None = None) -> bytes:
    """The strategy map as SVG or PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    g = map_graph(model)
    col = columns(g)
    pos = _positions(g, col)
    status = node_status(model, scorecard, strategy)
    on_loop = {(a, b) for lp in model.loops for a, b in zip(lp.nodes, lp.nodes[1:] + lp.nodes[:1], strict=True)}
    n_cols = max(col.values()) + 1
    tallest = max(sum(1 for c in col.values() if c == k) for k in range(n_cols))
    fig, ax = plt.subplots(figsize=(max(10.0, 2.3 * n_cols), max(6.0, 0.9 * tallest + 2.5)))
    widths = edge_widths(g, edge_weights)
    top = max((abs(v) for v in (edge_weights or {}).values()), default=0.0)

    def width(e) -> float:
        return widths.get(e, 1.0)

    loop_edges = [e for e in g.edges if e in on_loop]
    nx.draw_networkx_edges(g, pos, ax=ax, edgelist=loop_edges, width=[width(e) + 5 for e in loop_edges],
                           edge_color=LOOP_HALO, alpha=0.55, arrows=True, arrowstyle="-", connectionstyle="arc3,rad=0.06",
                           node_size=1100)
    for dashed in (False, True):
        edges = [e for e in g.edges if bool(g.edges[e].get("engine") or g.edges[e].get("delay_days")) == dashed]
        if edges:
            patches = nx.draw_networkx_edges(
                g, pos, ax=ax, edgelist=edges, style="dashed" if dashed else "solid", arrows=True, arrowsize=11,
                width=[width(e) for e in edges], connectionstyle="arc3,rad=0.06", node_size=1100,
                edge_color=[POSITIVE if (g.edges[e].get("sign") or 0) > 0 else NEGATIVE for e in edges])
            for (a, b), patch in zip(edges, patches, strict=True):
                patch.set_gid(f"edge-{a}-{b}")  # the SVG names every edge (a test reads its stroke width)
    for shape in sorted(set(SHAPES.values())):
        nodes = [n for n in g if SHAPES.get(g.nodes[n].get("kind", "engine"), "h") == shape]
        if nodes:
            nx.draw_networkx_nodes(g, pos, ax=ax, nodelist=nodes, node_shape=shape, node_size=1100,
                                   node_color=[STATUS_COLOURS[status.get(n, "none")] for n in nodes],
                                   edgecolors="#424242", linewidths=[2.5 if n in ("profit", "revenue") else 1.0
                                                                     for n in nodes])
    for n, (x, yy) in pos.items():
        ax.text(x, yy - 0.32, n, ha="center", va="top", fontsize=7.5, gid=f"node-{n}")
    handles = [Line2D([], [], marker="o", ls="", ms=11, mfc=STATUS_COLOURS[k], mec="#424242", label=STATUS_LABELS[k])
               for k in ("green", "amber", "red", "none")]
    handles += [Line2D([], [], marker=m, ls="", ms=10, mfc="white", mec="#424242", label=text)
                for m, text in SHAPE_LABELS.items()]
    handles += [Line2D([], [], color=POSITIVE, lw=1.5, label="positive link (+)"),
                Line2D([], [], color=NEGATIVE, lw=1.5, label="negative link (−)"),
                Line2D([], [], color="#616161", lw=1.5, ls="--", label="delayed or carried by the engine"),
                Line2D([], [], color=LOOP_HALO, lw=7, alpha=0.55,
                       label=f"on a feedback loop ({len(model.loops)} loops)")]
    if top > 0:
        handles.append(Line2D([], [], color="#616161", lw=6, label="width: |Shapley value| of the pathway group carrying it"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False,
              title="Legend", title_fontsize=9)
    ax.set_title(title or (f"Strategy map: {model.scenario.metadata.name}"
                           + (f" — KPI status under {strategy}" if strategy else "")
                           + "  (levers → … → profit)"), fontsize=11)
    ax.margins(0.06)
    ax.axis("off")
    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "spc"}):
        fig.savefig(buf, format=fmt, dpi=110, bbox_inches="tight", metadata={"Date": None} if fmt == "svg" else None)
    plt.close(fig)
    return buf.getvalue()
