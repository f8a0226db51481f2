"""Partial changes along the causal network, shared by `explain` (strategy vs baseline) and `loops`
(one period vs the one before).

A partial change is how much a target moved *because of one source*: for a scenario link it is the
link function's contribution at the new source value minus that at the old one (exact for the link's
own form, delays included); for the engine's own paths (port to port, no formula) it is a gain
estimated from the paired changes by least squares with the gain's sign fixed by the ports table
(`signed_lsq`: scipy's nnls on sign-flipped columns),
except where the engine's accounting gives an identity (profit = revenue - costs; customers = won -
lost accumulated; costs split into wages, turnover costs and the rest).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import networkx as nx
import numpy as np
import pandas as pd

from simulator.engine.policy import Policy
from simulator.errors import UsageError, closest
from simulator.graph.compiler import CompiledModel
from simulator.ports import ENGINE_LINKS

DERIVED_FROM_PROFIT = ("npv", "cumulative_profit")
"""Metrics explained as weighted sums of monthly profit (discounted or not)."""


def full_graph(model: CompiledModel) -> nx.DiGraph:
    """The scenario's network plus every path the engine carries (so revenue, costs and profit are on it)."""
    g = nx.DiGraph()
    g.add_nodes_from(model.graph.nodes(data=True))
    g.add_edges_from(model.graph.edges(data=True))
    for a, b, sign in ENGINE_LINKS:
        if not g.has_edge(a, b):
            for n in (a, b):
                if n not in g:
                    g.add_node(n, kind="engine", declared=False)
            g.add_edge(a, b, effect=float(sign), form="engine", delay_days=0.0, sign=sign, engine=True)
    return g


def causal_graph(model: CompiledModel, metric: str) -> nx.DiGraph:
    """The compiled network plus the engine's own paths, cut to the ancestors of `metric`."""
    g = full_graph(model)
    if metric not in g:
        known = sorted(n for n in g if g.in_degree(n))
        raise UsageError(f"metric '{metric}' is not on the causal map ({closest(metric, known) or 'e.g. profit'})")
    keep = nx.ancestors(g, metric) | {metric}
    return g.subgraph(keep).copy()


def check_metric(model: CompiledModel, metric: str) -> str:
    """The node a metric is explained through ('npv' and 'cumulative_profit' go through 'profit')."""
    node = "profit" if metric in DERIVED_FROM_PROFIT else metric
    causal_graph(model, node)
    return node


def mean_series(ts: pd.DataFrame, strategy: str) -> dict[str, np.ndarray]:
    """Per-period means over replications of every column, for one strategy."""
    sub = ts[ts["strategy"] == strategy]
    means = sub.drop(columns=["strategy", "replication"]).groupby("period", sort=True).mean()
    out = {c: means[c].to_numpy(dtype=float) for c in means.columns}
    out["period"] = means.index.to_numpy(dtype=float)
    return out


def per_rep(ts: pd.DataFrame, strategy: str, column: str) -> np.ndarray:
    """(replications, periods) array of one column."""
    sub = ts[ts["strategy"] == strategy].sort_values(["replication", "period"])
    return sub.pivot(index="replication", columns="period", values=column).to_numpy(dtype=float)


def start_values(model: CompiledModel) -> dict[str, float]:
    sc = model.scenario
    out = {n.name: float(n.initial if (n.kind == "stock" and n.initial is not None) else n.reference)
           for n in sc.network.nodes}
    out["active_customers"] = float(sum(s.initial_customers for s in sc.segments))
    return out


def smoothing(values: np.ndarray, days: float, period_days: float, start: float) -> np.ndarray:
    """First-order smoothing of a monthly series (what a delayed link's target sees), from `start`."""
    if days <= 0:
        return values
    alpha = 1.0 - math.exp(-period_days / days)
    out = np.empty_like(values)
    level = start
    for i, v in enumerate(values):
        level += (v - level) * alpha
        out[i] = level
    return out


def smoothing_matrix(n: int, days: float, period_days: float, integrate: bool = False) -> np.ndarray:
    """The linear operator of `smoothing` (or of integration) on a deviation series: out = K @ in."""
    if integrate:
        return np.tril(np.ones((n, n))) * period_days
    if days <= 0:
        return np.eye(n)
    alpha = 1.0 - math.exp(-period_days / days)
    i, j = np.indices((n, n))
    return np.where(i >= j, alpha * (1.0 - alpha) ** (i - j), 0.0)


def link_effects(model: CompiledModel, strategy: str, periods: int) -> dict[str, np.ndarray]:
    """Each link's effect at the end of every period under a strategy's initiatives."""
    sc = model.scenario
    policy = Policy.for_strategy(sc, strategy)
    base = {link.id: link.effect for link in sc.network.links}
    out = {lid: np.full(periods, e) for lid, e in base.items()}
    for t in range(periods):
        day = (t + 1) * sc.metadata.period_days - 1e-6
        for lid, value in policy.link_effects(day, base).items():
            out[lid][t] = value
    return out


def contribution(model: CompiledModel, link_id: str, x: np.ndarray, effect: np.ndarray) -> np.ndarray:
    fn = model.link_functions[link_id]
    return np.array([fn.contribution(float(a), float(e)) for a, e in zip(x, effect, strict=True)])


def link_input(model: CompiledModel, link_id: str, series: Mapping[str, np.ndarray], starts: Mapping[str, float]):
    """The source series a link's target sees: the recorded source, smoothed for a delayed link."""
    link = next(lk for lk in model.scenario.network.links if lk.id == link_id)
    x = series[link.source]
    return smoothing(x, link.delay_days, model.scenario.metadata.period_days, starts.get(link.source, float(x[0])))


def signed_lsq(X: np.ndarray, y: np.ndarray, signs: np.ndarray) -> np.ndarray:
    """Least squares y ~ X g with each gain's sign fixed (g_i * signs_i >= 0): `scipy.optimize.nnls` on the
    sign-flipped columns (a full active-set method: variables leave *and* re-enter), with
    `scipy.optimize.lsq_linear` as the fallback when nnls does not converge."""
    from scipy.optimize import lsq_linear, nnls

    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    signs = np.where(np.asarray(signs, dtype=float) < 0, -1.0, 1.0)
    if X.size == 0:
        return np.zeros(X.shape[1] if X.ndim == 2 else 0)
    Xs = X * signs
    try:
        beta, _ = nnls(Xs, y, maxiter=50 * max(X.shape[1], 1))
    except RuntimeError:  # iteration limit: the bounded trust-region solver always returns
        beta = lsq_linear(Xs, y, bounds=(0.0, np.inf), method="bvls").x
    return np.maximum(beta, 0.0) * signs
