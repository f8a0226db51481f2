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
from simulator.analysis.units import humanise, money, unit_title  # noqa: E402
from simulator.graph.compiler import CompiledModel  # noqa: E402

OKABE_ITO = ("#000000", "#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#F0E442")
"""Okabe & Ito's colour-blind-safe palette (black first: the baseline)."""
LINE_STYLES = ("--", "-", "-.", ":", (0, (5, 1, 1, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 1)), (0, (8, 2)))
MARKERS = ("", "o", "s", "^", "D", "v", "P", "X")
COLOURS = OKABE_ITO
ROLLING_MONTHS = 3


def _style(i: int, strategy: str, highlight: str | None) -> dict:
    """Colour, line style and marker of the i-th strategy: each differs, so colour is never the only cue."""
    return {"color": OKABE_ITO[i % len(OKABE_ITO)], "ls": LINE_STYLES[i % len(LINE_STYLES)],
            "marker": MARKERS[i % len(MARKERS)], "markevery": 6, "markersize": 4,
            "lw": 2.6 if strategy == highlight else 1.4, "zorder": 3 if strategy == highlight else 2}


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


def _thousands(kind: str, currency: str | None):
    from matplotlib.ticker import FuncFormatter

    if kind == "%":
        return FuncFormatter(lambda v, _: f"{v:.0%}")
    return FuncFormatter(lambda v, _: f"{v:,.0f}" if abs(v) >= 100 or v == int(v) else f"{v:,.1f}")


def paths_chart(ts: pd.DataFrame, strategies, metrics: list[tuple[str, str]], currency: str | None = None,
                highlight: str | None = None, months: int | None = None, rolling: tuple[str, ...] = ("profit",),
                names: dict[str, str] | None = None, figure: bool = False):
    """One panel per metric: mean per strategy over months; the 95% confidence band for the highlighted strategy
    only (bands of every strategy overlap into grey). Metrics in `rolling` show a 3-month rolling mean per
    replication, so a one-off spend does not set the scale; months where the mean of the raw series departs from
    it are marked and labelled. Y axes carry their unit and thousand separators; the x axis covers the horizon.
    `figure=True` returns the matplotlib figure instead of PNG bytes (for tests)."""
    names = names or {}
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.4 * len(metrics), 4.0), squeeze=False)
    last = int(months or ts["period"].max())
    first = int(ts["period"].min()) if len(ts) else 0
    for ax, (metric, title) in zip(axes[0], metrics, strict=True):
        data = ts
        smooth = metric in rolling
        if smooth:
            data = ts.sort_values("period").copy()
            data[metric] = data.groupby(["strategy", "replication"])[metric].transform(
                lambda x: x.rolling(ROLLING_MONTHS, min_periods=1).mean())
            title = f"{title} ({ROLLING_MONTHS}-month rolling mean)"
        band = _band(data, metric)
        raw = _band(ts, metric) if smooth else None
        for i, strategy in enumerate(strategies):
            b = band[band["strategy"] == strategy]
            st = _style(i, strategy, highlight)
            ax.plot(b["period"], b["mean"], label=names.get(strategy, humanise(strategy)), **st)
            if strategy == highlight:
                ax.fill_between(b["period"], b["lo"], b["hi"], color=st["color"], alpha=0.18, lw=0,
                                label="95% CI, " + names.get(strategy, humanise(strategy)))
        if smooth and len(band):
            lo, hi = float(band["mean"].min()), float(band["mean"].max())
            span = max(hi - lo, 1e-9)
            ax.set_ylim(lo - 0.15 * span, hi + 0.15 * span)
            bottom, top = ax.get_ylim()
            for i, strategy in enumerate(strategies):  # spikes: raw months outside the smoothed scale
                r = raw[raw["strategy"] == strategy]
                out = r[(r["mean"] < bottom) | (r["mean"] > top)]
                for row in out.nsmallest(1, "mean").itertuples() if len(out) else ():
                    y = bottom + 0.04 * (top - bottom) if row.mean < bottom else top - 0.08 * (top - bottom)
                    ax.annotate(f"{names.get(strategy, humanise(strategy))}: {money(row.mean, currency)} in month "
                                f"{int(row.period)}", (row.period, y), fontsize=7, color=OKABE_ITO[i % len(OKABE_ITO)],
                                xytext=(4, 0), textcoords="offset points", va="bottom")
                    ax.plot([row.period], [y], marker="v" if row.mean < bottom else "^", ms=7,
                            color=OKABE_ITO[i % len(OKABE_ITO)])
        unit = unit_title(metric, currency)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(unit or humanise(metric))
        ax.yaxis.set_major_formatter(_thousands(unit, currency))
        ax.set_xlabel("month")
        ax.set_xlim(first, last)
        ax.set_xticks(list(range(first - first % 6, last + 1, 6 if last > 12 else 1)))
        ax.set_xlim(first, last)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig if figure else _png(fig)


def whale_chart(customers: pd.DataFrame, strategies, highlight: str | None = None,
                names: dict[str, str] | None = None, figure: bool = False):
    """Cumulative profit share against customers ranked by profit, averaged over replications (each curve on a
    common grid of customer shares), with the 95% band for the highlighted strategy."""
    names = names or {}
    grid = np.linspace(0, 1, 201)
    fig, ax = plt.subplots(figsize=(6.8, 4.4))
    reps = 0
    for i, strategy in enumerate(strategies):
        sub = customers[customers["strategy"] == strategy]
        shares = [whale_curve(g["profit"]) for _, g in sub.groupby("replication")]
        if not shares:
            continue
        reps = max(reps, len(shares))
        curves = np.array([np.interp(grid, np.r_[0.0, c.customer_share], np.r_[0.0, c.cumulative_profit])
                           for c in shares]) * 100
        mean = curves.mean(axis=0)
        st = _style(i, strategy, highlight)
        st["markevery"] = 25
        ax.plot(grid * 100, mean, label=f"{names.get(strategy, humanise(strategy))}: top 20% earn "
                f"{np.mean([s.top20_share for s in shares]):.0%}", **st)
        if strategy == highlight and len(curves) > 1:
            half = t975(len(curves) - 1) * curves.std(axis=0, ddof=1) / np.sqrt(len(curves))
            ax.fill_between(grid * 100, mean - half, mean + half, color=st["color"], alpha=0.18, lw=0,
                            label="95% CI, " + names.get(strategy, humanise(strategy)))
    ax.axhline(100, color="grey", lw=0.8)
    ax.set_xlim(0, 100)
    ax.set_xlabel("customers ranked by profit (%)")
    ax.set_ylabel("cumulative profit (% of total)")
    ax.set_title(f"Whale curve (mean of {reps} replication{'s' if reps != 1 else ''})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig if figure else _png(fig)


def parameter_label(parameter: str) -> str:
    """'links.employee_satisfaction->service_quality.effect' -> 'effect: employee satisfaction → service quality'."""
    text = str(parameter)
    if text.startswith("links.") and "->" in text:
        body = text[len("links."):].rsplit(".", 1)
        source, target = body[0].split("->", 1)
        return f"{body[1] if len(body) > 1 else 'effect'}: {humanise(source)} → {humanise(target)}"
    return humanise(text.replace(".", " "))


def tornado_chart(tornado: pd.DataFrame, kpi: str, top: int = 12, currency: str | None = None) -> bytes:
    t = tornado.dropna(subset=["swing"]).head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(7.5, 0.35 * len(t) + 1.2))
    base = float(tornado["kpi_base"].iloc[0]) if len(tornado) else 0.0
    y = np.arange(len(t))
    ax.barh(y - 0.2, t["kpi_low"] - base, left=base, height=0.4, color=OKABE_ITO[5], label="parameter −20%")
    ax.barh(y + 0.2, t["kpi_high"] - base, left=base, height=0.4, color=OKABE_ITO[4], label="parameter +20%")
    noise = float(tornado["noise"].iloc[0]) if "noise" in tornado and len(tornado) else 0.0
    if noise > 0:
        ax.axvspan(base - noise, base + noise, color="grey", alpha=0.15, label="95% CI of the base (noise)")
    ax.set_yticks(y, [parameter_label(p) for p in t["parameter"]], fontsize=8)
    ax.axvline(base, color="black", lw=0.8)
    ax.set_xlabel(f"{kpi} ({currency})" if currency else kpi)
    ax.xaxis.set_major_formatter(_thousands("", currency))
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
