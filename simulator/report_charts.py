"""Charts for reports, drawn with matplotlib (Agg) and returned as PNG bytes."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from simulator.analysis.customer_value import whale_curve  # noqa: E402
from simulator.analysis.stats import t975  # noqa: E402
from simulator.graph.compiler import CompiledModel  # noqa: E402

COLOURS = plt.get_cmap("tab10").colors


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _band(ts: pd.DataFrame, metric: str) -> pd.DataFrame:
    g = ts.groupby(["strategy", "period"])[metric]
    out = pd.DataFrame({"mean": g.mean(), "sd": g.std(ddof=1), "n": g.count()}).reset_index()
    half = out.apply(lambda r: t975(int(r["n"]) - 1) * r["sd"] / np.sqrt(r["n"]) if r["n"] > 1 else 0.0, axis=1)
    out["lo"], out["hi"] = out["mean"] - half, out["mean"] + half
    return out


def paths_chart(ts: pd.DataFrame, strategies, metrics: list[tuple[str, str]]) -> bytes:
    """One panel per metric: mean per strategy over months with its 95% confidence band."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 3.8), squeeze=False)
    for ax, (metric, title) in zip(axes[0], metrics, strict=True):
        band = _band(ts, metric)
        for i, strategy in enumerate(strategies):
            b = band[band["strategy"] == strategy]
            colour = COLOURS[i % len(COLOURS)]
            ax.plot(b["period"], b["mean"], color=colour, lw=2 if strategy == "baseline" else 1.5,
                    ls="--" if strategy == "baseline" else "-", label=strategy)
            ax.fill_between(b["period"], b["lo"], b["hi"], color=colour, alpha=0.15, lw=0)
        ax.set_title(title)
        ax.set_xlabel("month")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="best")
    fig.tight_layout()
    return _png(fig)


def whale_chart(customers: pd.DataFrame, strategies) -> bytes:
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for i, strategy in enumerate(strategies):
        sub = customers[customers["strategy"] == strategy]
        shares = [whale_curve(g["profit"]) for _, g in sub.groupby("replication")]
        curve = shares[0]
        ax.plot(curve.customer_share * 100, curve.cumulative_profit * 100, color=COLOURS[i % len(COLOURS)],
                ls="--" if strategy == "baseline" else "-",
                label=f"{strategy}: top 20% earn {np.mean([s.top20_share for s in shares]):.0%}")
    ax.axhline(100, color="grey", lw=0.8)
    ax.set_xlabel("customers ranked by profit (%)")
    ax.set_ylabel("cumulative profit (% of total)")
    ax.set_title("Whale curve (replication 0)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def tornado_chart(tornado: pd.DataFrame, kpi: str, top: int = 12) -> bytes:
    t = tornado.dropna(subset=["swing"]).head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(7.5, 0.35 * len(t) + 1.2))
    base = float(tornado["kpi_base"].iloc[0]) if len(tornado) else 0.0
    y = np.arange(len(t))
    ax.barh(y - 0.2, t["kpi_low"] - base, left=base, height=0.4, color="#c0504d", label="parameter -20%")
    ax.barh(y + 0.2, t["kpi_high"] - base, left=base, height=0.4, color="#4f81bd", label="parameter +20%")
    noise = float(tornado["noise"].iloc[0]) if "noise" in tornado and len(tornado) else 0.0
    if noise > 0:
        ax.axvspan(base - noise, base + noise, color="grey", alpha=0.15, label="95% CI of the base (noise)")
    ax.set_yticks(y, t["parameter"], fontsize=8)
    ax.axvline(base, color="black", lw=0.8)
    ax.set_xlabel(kpi)
    ax.set_title(f"Tornado: {kpi} when each input moves ±20%")
    ax.legend(fontsize=8, loc="lower right")
    return _png(fig)


def causal_map_chart(model: CompiledModel) -> bytes:
    g = model.graph
    layer = {"lever": 0, "stock": 1, "auxiliary": 2}
    engine = [n for n in g if g.nodes[n]["kind"] in ("measure", "engine")]
    entry = {n for n in engine if any(g.nodes[p]["kind"] in layer for p in g.predecessors(n))}
    depth = nx.multi_source_dijkstra_path_length(g.subgraph(engine), entry) if entry else {}
    for n, data in g.nodes(data=True):  # engine nodes spread over three columns by distance from the network
        data["layer"] = layer.get(data["kind"], 3 + min(int(depth.get(n, 0)), 2))
    pos = nx.multipartite_layout(g, subset_key="layer", align="vertical")
    fig, ax = plt.subplots(figsize=(14, 7.5))
    colour = {"lever": "#f4b183", "stock": "#9dc3e6", "auxiliary": "#c5e0b4", "measure": "#ffe699", "engine": "#e7e6e6"}
    nx.draw_networkx_nodes(g, pos, ax=ax, node_color=[colour[g.nodes[n]["kind"]] for n in g], node_size=900,
                           edgecolors="grey")
    nx.draw_networkx_labels(g, pos, ax=ax, font_size=7)
    for style, edges in (("solid", [e for e in g.edges if not (g.edges[e]["engine"] or g.edges[e]["delay_days"])]),
                         ("dashed", [e for e in g.edges if g.edges[e]["engine"] or g.edges[e]["delay_days"]])):
        nx.draw_networkx_edges(g, pos, ax=ax, edgelist=edges, style=style, arrows=True, arrowsize=12,
                               connectionstyle="arc3,rad=0.08", node_size=900,
                               edge_color=["#2e7d32" if g.edges[e]["sign"] > 0 else "#c62828" for e in edges])
    ax.set_title("Causal map: levers → stocks → auxiliaries → engine measures "
                  "(green +, red −, dashed = delayed or carried by the engine)")
    ax.axis("off")
    return _png(fig)
