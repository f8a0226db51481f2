"""Why did a metric move? The change of a metric (strategy minus baseline, on common random numbers)
split along the causal paths that carry it, and a trace of the shock through the chain month by month.

How it adds up. Every node's change is first split *locally* among its incoming links (partial changes,
see `causal.py`), plus the initiative's direct effects on it ("own" rows) and a residual (what the
local split does not explain: clamping, non-linearity, noise, the engine's unmodelled detail), so the
local parts sum to the node's change exactly. The metric's change is then passed back up the network
in proportion to those parts (a proportional, DeepLIFT-style rescale rule), with a time operator on
each delayed or stock link so that a parent is weighted by the months that reached its target. Every
row of the result ends at a lever, an own effect, a residual, a loop closing on itself, or the pool of
paths too small to list, so the rows sum to the total change to floating-point precision (checked
against 1e-9 of the total); how much is *not* explained by the causal paths is the residual rows.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from simulator.analysis import causal
from simulator.engine.policy import Policy
from simulator.errors import UsageError
from simulator.graph.compiler import CompiledModel

SUM_TOLERANCE = 1e-9
"""Relative tolerance within which the path rows sum to the total change."""
PRUNE = 1e-3
"""Paths carrying less than this share of |total| are pooled into one 'smaller paths' row."""
MAX_DEPTH = 24
SEGMENT_TARGETS = {
    "churn_per_month": "customers_lost", "satisfaction_sensitivity": "customers_lost",
    "acquisition_per_month": "customers_won", "acquisition_cost": "costs",
    "contacts_per_month": "mean_wait_minutes", "handle_minutes": "mean_wait_minutes",
    "patience_minutes": "abandonment_rate",
}
"""Engine node where an initiative's change to a segment parameter first shows (its residual is that effect)."""


@dataclass
class Split:
    """A node's change over time = sum of parents' parts + own parts + residual."""

    parents: dict[str, np.ndarray] = field(default_factory=dict)
    operators: dict[str, np.ndarray] = field(default_factory=dict)  # parent -> time operator on its change
    own: dict[str, np.ndarray] = field(default_factory=dict)
    residual: np.ndarray | None = None


@dataclass(frozen=True)
class Explanation:
    metric: str
    strategy: str
    month: int | None  # None = mean over the horizon (or the horizon's end for npv/cumulative_profit)
    months: int
    total: float
    residual: float
    paths: pd.DataFrame  # path, source, kind, contribution, share
    links: pd.DataFrame  # link, contribution (change carried through each link)
    trace: pd.DataFrame  # month, node, delta_first, delta_end, via
    events: tuple[tuple[int, str], ...]

    @property
    def explained(self) -> float:
        return self.total - self.residual

    def as_document(self) -> dict:
        return {
            "metric": self.metric, "strategy": self.strategy, "month": self.month, "months": self.months,
            "total": self.total, "residual": self.residual, "sum_of_paths": float(self.paths["contribution"].sum()),
            "paths": self.paths.to_dict("records"), "links": self.links.to_dict("records"),
            "trace": self.trace.to_dict("records"),
            "events": [{"month": m, "event": e} for m, e in self.events],
        }


class _Decomposer:
    def __init__(self, model: CompiledModel, ts: pd.DataFrame, metric_node: str, strategy: str):
        self.model = model
        self.graph = causal.causal_graph(model, metric_node)
        self.s = causal.mean_series(ts, strategy)
        self.b = causal.mean_series(ts, "baseline")
        self.T = len(self.s["period"])
        self.P = model.scenario.metadata.period_days
        self.starts = causal.start_values(model)
        self.eff_s = causal.link_effects(model, strategy, self.T)
        self.eff_b = causal.link_effects(model, "baseline", self.T)
        self.nodes = {n.name: n for n in model.scenario.network.nodes}
        self.links = {lk.id: lk for lk in model.scenario.network.links}
        self._splits: dict[str, Split] = {}
        self.policy = Policy.for_strategy(model.scenario, strategy)

    def delta(self, name: str) -> np.ndarray:
        if name == "costs":  # cost of goods travels with revenue (see profit), not with costs
            return self._raw("costs") - self._raw("cost_of_goods")
        return self._raw(name)

    def _raw(self, name: str) -> np.ndarray:
        if name in self.s and name in self.b:
            return self.s[name] - self.b[name]
        return np.zeros(self.T)

    def split(self, name: str) -> Split:
        if name not in self._splits:
            self._splits[name] = self._split(name)
        return self._splits[name]

    def _split(self, name: str) -> Split:
        node = self.nodes.get(name)
        if node is not None and node.kind == "lever":
            return Split(residual=np.zeros(self.T))
        if node is not None and node.kind in ("auxiliary", "stock"):
            out = self._scenario_links(name)
        elif name == "profit":
            # cost of goods moves with revenue: the revenue path carries the gross margin
            margin = self.delta("revenue") - self.delta("cost_of_goods")
            out = Split(parents={"revenue": margin, "costs": -self.delta("costs")},
                        operators={"revenue": np.eye(self.T), "costs": np.eye(self.T)})
        elif name == "costs":
            out = self._costs()
        elif name == "active_customers":
            cum = np.tril(np.ones((self.T, self.T)))
            out = Split(parents={"customers_won": cum @ self.delta("customers_won"),
                                 "customers_lost": -(cum @ self.delta("customers_lost"))},
                        operators={"customers_won": cum, "customers_lost": cum})
        elif name == "revenue":
            out = self._revenue()
        else:
            out = self._regression(name)
        explained = sum(out.parents.values(), np.zeros(self.T)) + sum(out.own.values(), np.zeros(self.T))
        out.residual = self.delta(name) - explained
        direct = sorted({f"{e.segment}.{e.parameter}" for ini in self.policy.initiatives for e in ini.effects
                         if e.segment is not None and SEGMENT_TARGETS.get(e.parameter or "") == name})
        if direct and name not in self.nodes:
            out.own[f"initiative changes {', '.join(direct)} (with noise)"] = out.residual
            out.residual = np.zeros(self.T)
        return out

    def _scenario_links(self, name: str) -> Split:
        node = self.nodes[name]
        out = Split()
        if node.kind == "stock":
            stock_op = causal.smoothing_matrix(self.T, node.adjust_days, self.P, integrate=node.integrate)
        else:
            stock_op = np.eye(self.T)
        for lid in self.model.incoming[name]:
            link = self.links[lid]
            x_s = causal.link_input(self.model, lid, self.s, self.starts)
            x_b = causal.link_input(self.model, lid, self.b, self.starts)
            c_s = causal.contribution(self.model, lid, x_s, self.eff_s[lid])
            c_bs = causal.contribution(self.model, lid, x_b, self.eff_s[lid])
            c_b = causal.contribution(self.model, lid, x_b, self.eff_b[lid])
            out.parents[link.source] = stock_op @ (c_s - c_bs)
            out.operators[link.source] = stock_op @ causal.smoothing_matrix(self.T, link.delay_days, self.P)
            if np.any(c_bs != c_b):
                out.own[f"initiative changes link {lid}"] = stock_op @ (c_bs - c_b)
        return out

    def _costs(self) -> Split:
        out = Split()
        rest = self.delta("costs").copy()
        for parent, column in (("headcount", "wages"), ("employee_quits", "turnover_costs")):
            part = self.delta(column)
            rest -= part
            if parent in self.graph and self.graph.has_edge(parent, "costs"):
                out.parents[parent] = part
                out.operators[parent] = np.eye(self.T)
            else:
                out.own[column.replace("_", " ")] = part
        spend = self.delta("initiative_spend")
        out.own["initiative spend"] = spend
        out.own["other costs (acquisition, activities, fixed)"] = rest - spend
        return out

    def _revenue(self) -> Split:
        """Log-mean Divisia split: revenue = customers x revenue per customer (exact)."""
        out = Split()
        r_s, r_b = self.s["revenue"], self.b["revenue"]
        a0 = self.starts["active_customers"]
        a_s = (np.concatenate([[a0], self.s["active_customers"][:-1]]) + self.s["active_customers"]) / 2
        a_b = (np.concatenate([[a0], self.b["active_customers"][:-1]]) + self.b["active_customers"]) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            lmean = np.where(np.isclose(r_s, r_b), r_s, (r_s - r_b) / (np.log(r_s) - np.log(r_b)))
            part = np.nan_to_num(lmean * np.log(a_s / a_b))
        out.parents["active_customers"] = part
        out.operators["active_customers"] = np.eye(self.T)
        rest = self.delta("revenue") - part
        factors = [p for p in ("contact_frequency_factor", "price_index") if p in self.graph
                   and self.graph.has_edge(p, "revenue") and np.any(self.delta(p) != 0)]
        for p in factors:
            with np.errstate(divide="ignore", invalid="ignore"):
                share = np.nan_to_num(lmean * np.log(self.s[p] / self.b[p]))
            out.parents[p] = share
            out.operators[p] = np.eye(self.T)
            rest = rest - share
        out.own["revenue per customer (mix, basket, frequency)"] = rest
        return out

    def _regression(self, name: str) -> Split:
        parents = [p for p in self.graph.predecessors(name) if np.any(self.delta(p) != 0)]
        out = Split()
        y = self.delta(name)
        if not parents or not np.any(y != 0):
            return out
        X = np.column_stack([self.delta(p) for p in parents])
        signs = np.array([float(self.graph.edges[p, name].get("sign", 1) or 1) for p in parents])
        gains = causal.signed_lsq(X, y, signs)
        for p, g in zip(parents, gains, strict=True):
            if g != 0:
                out.parents[p] = g * self.delta(p)
                out.operators[p] = np.eye(self.T)
        return out


def window_weights(metric: str, month: int | None, periods: int, discount_rate: float, period_days: float) -> np.ndarray:
    """How the metric's monthly changes combine into the figure explained."""
    w = np.zeros(periods)
    end = month if month is not None else periods
    if metric == "npv":
        t = np.arange(1, end + 1)
        w[:end] = (1 + discount_rate) ** -((t - 0.5) * period_days / 365.25)
    elif metric == "cumulative_profit":
        w[:end] = 1.0
    elif month is not None:
        w[month - 1] = 1.0
    else:
        w[:] = 1.0 / periods
    return w


def explain_timeseries(model: CompiledModel, ts: pd.DataFrame, metric: str, strategy: str,
                       month: int | None = None) -> Explanation:
    """Decompose a metric's change (strategy vs baseline) from an experiment's time series (both strategies in it)."""
    node = causal.check_metric(model, metric)
    if strategy == "baseline":
        raise UsageError("explain compares a strategy with the baseline; choose a strategy other than 'baseline'")
    for s in (strategy, "baseline"):
        if s not in set(ts["strategy"]):
            raise UsageError(f"strategy '{s}' is not in the results")
    dec = _Decomposer(model, ts, node, strategy)
    if month is not None and not 1 <= month <= dec.T:
        raise UsageError(f"--month must be between 1 and {dec.T}")
    sc = model.scenario
    w = window_weights(metric, month, dec.T, sc.metadata.discount_rate, dec.P)
    total = float(w @ dec.delta(node))
    rows: list[dict] = []
    small = [0.0, 0]

    def record(path: list[str], source: str, kind: str, amount: float) -> None:
        rows.append({"path": " → ".join(path), "source": source, "kind": kind, "contribution": amount})

    def walk(name: str, amount: float, v: np.ndarray, path: list[str]) -> None:
        split = dec.split(name)
        d = float(v @ dec.delta(name))
        if dec.nodes.get(name) is not None and dec.nodes[name].kind == "lever":
            record(path, name, "lever", amount)
            return
        if d == 0.0 or abs(d) < 1e-12 * (1.0 + float(np.abs(v).sum())) or len(path) > MAX_DEPTH:
            record(path, name, "residual", amount)
            return
        for parent, part in split.parents.items():
            a = amount * float(v @ part) / d
            if a == 0.0:
                continue
            if abs(a) < PRUNE * abs(total):
                small[0] += a
                small[1] += 1
            elif parent in path:
                record([parent, *path], parent, "loop", a)
            else:
                walk(parent, a, v @ split.operators[parent], [parent, *path])
        for label, part in split.own.items():
            a = amount * float(v @ part) / d
            if a != 0.0:
                record([f"[{label}]", *path], label, "own", a)
        a = amount * float(v @ split.residual) / d
        if a != 0.0:
            record([f"[residual at {name}]", *path], name, "residual", a)

    if total != 0.0:
        walk(node, total, w, [node] if metric == node else [node, metric])
    if small[1]:
        rows.append({"path": f"({small[1]} smaller paths, each < {PRUNE:.1%} of the total)", "source": "",
                     "kind": "small", "contribution": small[0]})
    paths = _paths_frame(rows, total)
    residual = float(paths.loc[paths["kind"] == "residual", "contribution"].sum()) if len(paths) else 0.0
    return Explanation(metric, strategy, month, dec.T, total, residual, paths, _links_frame(paths),
                       trace_frame(model, ts, dec, strategy), _events(model, strategy, dec.T))


def _paths_frame(rows: list[dict], total: float) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["path", "source", "kind", "contribution"])
    if df.empty:
        return df.assign(share=pd.Series(dtype=float))
    df = df.groupby(["path", "source", "kind"], as_index=False, sort=False)["contribution"].sum()
    df["share"] = df["contribution"] / total if total else 0.0
    order = df["contribution"].abs().sort_values(ascending=False, kind="stable").index
    return df.loc[order].reset_index(drop=True)


def _links_frame(paths: pd.DataFrame) -> pd.DataFrame:
    carried: dict[str, float] = defaultdict(float)
    for r in paths.itertuples():
        if r.kind == "small":
            continue
        nodes = [n for n in r.path.split(" → ") if not n.startswith("[")]
        for a, b in zip(nodes, nodes[1:], strict=False):
            carried[f"{a}->{b}"] += r.contribution
    df = pd.DataFrame({"link": list(carried), "contribution": list(carried.values())})
    if df.empty:
        return df
    return df.reindex(df["contribution"].abs().sort_values(ascending=False, kind="stable").index).reset_index(drop=True)


def trace_frame(model: CompiledModel, ts: pd.DataFrame, dec: _Decomposer, strategy: str) -> pd.DataFrame:
    """Which node moves in which month: first month its change passes 10% of its peak (and 2 standard errors)."""
    rows = []
    order = {n: i for i, n in enumerate(_topological(dec.graph))}
    for name in dec.graph:
        if name not in dec.s:
            continue
        diff = causal.per_rep(ts, strategy, name) - causal.per_rep(ts, "baseline", name)
        mean = diff.mean(axis=0)
        peak = float(np.abs(mean).max())
        if peak == 0.0:
            continue
        se = diff.std(axis=0, ddof=1) / np.sqrt(diff.shape[0]) if diff.shape[0] > 1 else np.zeros_like(mean)
        moving = np.flatnonzero((np.abs(mean) >= 0.1 * peak) & (np.abs(mean) > 2 * se))
        if not moving.size:
            continue
        first = int(moving[0])
        rows.append({"month": first + 1, "node": name, "delta_first": float(mean[first]), "delta_end": float(mean[-1]),
                     "via": _via(dec, name), "_order": order.get(name, 0)})
    df = pd.DataFrame(rows, columns=["month", "node", "delta_first", "delta_end", "via", "_order"])
    return df.sort_values(["month", "_order"], kind="stable").drop(columns="_order").reset_index(drop=True)


def _topological(g) -> list[str]:
    import networkx as nx

    try:
        return list(nx.topological_sort(g))
    except nx.NetworkXUnfeasible:  # loops: breadth-first from the sources is order enough
        return sorted(g, key=lambda n: g.in_degree(n))


def _via(dec: _Decomposer, name: str) -> str:
    node = dec.nodes.get(name)
    if node is not None and node.kind == "lever":
        return "lever (set by the strategy)"
    parts = []
    if node is not None and node.kind == "stock":
        parts.append("stock: integrates" if node.integrate else f"stock: adjusts over {node.adjust_days:g} d")
    for lid in dec.model.incoming.get(name, ()):
        link = dec.links[lid]
        if link.delay_days > 0:
            parts.append(f"{link.delay_days:g} d delay from {link.source}")
    if node is None or node.kind == "measure":
        parts.append("engine: " + ", ".join(sorted(dec.graph.predecessors(name))) if dec.graph.in_degree(name) else "engine")
    return "; ".join(parts) or "immediate"


def _events(model: CompiledModel, strategy: str, months: int) -> tuple[tuple[int, str], ...]:
    policy = Policy.for_strategy(model.scenario, strategy)
    out = []
    for ini in policy.initiatives:
        if ini.start_month < months:
            ramp = f", full effect after {ini.ramp_months:g} months" if ini.ramp_months else ""
            out.append((int(ini.start_month) + 1, f"initiative {ini.name} starts{ramp}"))
    return tuple(sorted(out))


def explain(model: CompiledModel, metric: str, strategy: str, month: int | None = None, replications: int = 4,
            seed: int | None = None, months: int | None = None, workers: int | None = None) -> Explanation:
    """Run baseline and `strategy` on common random numbers and decompose the metric's change."""
    from simulator.experiment import run_experiment

    causal.check_metric(model, metric)
    if strategy not in model.scenario.strategy_names() or strategy == "baseline":
        from simulator.errors import closest

        names = [s for s in model.scenario.strategy_names() if s != "baseline"]
        raise UsageError(f"unknown strategy '{strategy}' ({closest(strategy, names) or 'choose one of: ' + ', '.join(names)})")
    result = run_experiment(model, [strategy], replications=replications, seed=seed, months=months, workers=workers)
    return explain_timeseries(model, result.timeseries, metric, strategy, month)
