"""Which feedback loop drives a metric when: loop scores in the spirit of "Loops That Matter"
(Schoenberg, Davidsen & Eberlein, System Dynamics Review 2020).

Per period (month t against month t-1):
  link score x -> z   = (change of z caused by x alone) / (change of z)          for an auxiliary or engine node
                      = (change of z's net flow caused by x) / (change of net flow)   for a stock
  loop score          = product of its link scores (sign = polarity while the loop is active)
  normalised score    = loop score / sum of |loop scores| of the loops that reach the metric
The dominant loop of a period has the largest |normalised score|. Partial changes come from `causal`:
exact for the scenario's links, identities or sign-constrained gains for the engine's own paths.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulator.analysis import causal
from simulator.graph.compiler import CompiledModel, Loop

COLUMNS = ["period", "loop_id", "loop", "polarity", "score", "raw_score", "dominant"]


def loop_ids(loops: tuple[Loop, ...] | list[Loop]) -> dict[Loop, str]:
    """Short names: R1, R2 ... for reinforcing, B1 ... for balancing, U1 ... for undetermined loops."""
    counters: dict[str, int] = {}
    out = {}
    for loop in loops:
        letter = loop.polarity[0].upper()
        counters[letter] = counters.get(letter, 0) + 1
        out[loop] = f"{letter}{counters[letter]}"
    return out


def relevant_loops(model: CompiledModel, metric: str) -> list[Loop]:
    """The loops with a node on a causal path into the metric."""
    node = causal.check_metric(model, metric)
    upstream = set(causal.causal_graph(model, node))
    return [lp for lp in model.loops if upstream & set(lp.nodes)]


class _LinkScores:
    def __init__(self, model: CompiledModel, series: dict[str, np.ndarray], strategy: str):
        self.model = model
        self.s = series
        self.T = len(series["period"])
        self.starts = causal.start_values(model)
        self.effects = causal.link_effects(model, strategy, self.T)
        self.nodes = {n.name: n for n in model.scenario.network.nodes}
        self.links = {lk.id: lk for lk in model.scenario.network.links}
        self.graph = model.graph
        self._contrib: dict[str, np.ndarray] = {}
        self._gains: dict[str, dict[str, float]] = {}

    def diff(self, name: str) -> np.ndarray:
        x = self.s.get(name)
        return np.zeros(self.T - 1) if x is None else np.diff(x)

    def contrib(self, lid: str) -> np.ndarray:
        if lid not in self._contrib:
            x = causal.link_input(self.model, lid, self.s, self.starts)
            self._contrib[lid] = np.diff(causal.contribution(self.model, lid, x, self.effects[lid]))
        return self._contrib[lid]

    def score(self, a: str, b: str) -> np.ndarray:
        node = self.nodes.get(b)
        if node is not None and node.kind in ("auxiliary", "stock"):
            part = self.contrib(f"{a}->{b}")
            if node.kind == "auxiliary":
                whole = self.diff(b)
            else:
                whole = sum((self.contrib(lid) for lid in self.model.incoming[b]), np.zeros(self.T - 1))
                if not node.integrate:
                    whole = whole - self.diff(b)
            return _ratio(part, whole)
        if b == "active_customers":
            won, lost = self.diff("customers_won"), self.diff("customers_lost")
            return _ratio(won if a == "customers_won" else -lost, won - lost)
        if b == "profit":
            return _ratio(self.diff("revenue") if a == "revenue" else -self.diff("costs"), self.diff("profit"))
        if b == "costs" and a in ("headcount", "employee_quits"):
            return _ratio(self.diff("wages" if a == "headcount" else "turnover_costs"), self.diff("costs"))
        gain = self._engine_gains(b).get(a, 0.0)
        return _ratio(gain * self.diff(a), self.diff(b))

    def _engine_gains(self, b: str) -> dict[str, float]:
        if b not in self._gains:
            parents = [p for p in self.graph.predecessors(b) if np.any(self.diff(p) != 0)]
            y = self.diff(b)
            if not parents or not np.any(y != 0):
                self._gains[b] = {}
            else:
                X = np.column_stack([self.diff(p) for p in parents])
                signs = np.array([float(self.graph.edges[p, b].get("sign", 1) or 1) for p in parents])
                self._gains[b] = dict(zip(parents, causal.signed_nnls(X, y, signs), strict=True))
        return self._gains[b]


def _ratio(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    scale = max(float(np.abs(whole).max(initial=0.0)), 1e-300)
    ok = np.abs(whole) > 1e-9 * scale
    return np.where(ok, part / np.where(ok, whole, 1.0), 0.0)


def loop_dominance(model: CompiledModel, ts: pd.DataFrame, metric: str, strategy: str = "baseline") -> pd.DataFrame:
    """Tidy frame: one row per (period, loop) with normalised score and the dominant flag (periods 2..T)."""
    loops = relevant_loops(model, metric)
    if not loops or strategy not in set(ts["strategy"]):
        return pd.DataFrame(columns=COLUMNS)
    series = causal.mean_series(ts, strategy)
    ls = _LinkScores(model, series, strategy)
    ids = loop_ids(model.loops)
    raw = []
    for loop in loops:
        edges = list(zip(loop.nodes, loop.nodes[1:] + loop.nodes[:1], strict=True))
        score = np.ones(ls.T - 1)
        for a, b in edges:
            score = score * ls.score(a, b)
        raw.append(score)
    raw_arr = np.array(raw)
    total = np.abs(raw_arr).sum(axis=0)
    norm = np.divide(raw_arr, total, out=np.zeros_like(raw_arr), where=total > 0)
    dominant = np.abs(norm).argmax(axis=0)
    rows = []
    periods = series["period"][1:].astype(int)
    for j, loop in enumerate(loops):
        for t, period in enumerate(periods):
            rows.append({"period": int(period), "loop_id": ids[loop], "loop": loop.label, "polarity": loop.polarity,
                         "score": float(norm[j, t]), "raw_score": float(raw_arr[j, t]),
                         "dominant": bool(total[t] > 0 and dominant[t] == j)})
    return pd.DataFrame(rows, columns=COLUMNS).sort_values(["period", "loop_id"], kind="stable").reset_index(drop=True)


def dominance_timeline(frame: pd.DataFrame) -> pd.DataFrame:
    """The dominant loop per period compressed into runs: first, last, loop_id, loop, polarity, mean |score|."""
    dom = frame[frame["dominant"]].sort_values("period")
    runs: list[dict] = []
    for r in dom.itertuples():
        if runs and runs[-1]["loop_id"] == r.loop_id and runs[-1]["last"] == r.period - 1:
            runs[-1]["last"] = r.period
            runs[-1]["scores"].append(abs(r.score))
        else:
            runs.append({"first": r.period, "last": r.period, "loop_id": r.loop_id, "loop": r.loop,
                         "polarity": r.polarity, "scores": [abs(r.score)]})
    for run in runs:
        run["mean_share"] = float(np.mean(run.pop("scores")))
    return pd.DataFrame(runs, columns=["first", "last", "loop_id", "loop", "polarity", "mean_share"])


def loops_for(model: CompiledModel, metric: str, strategy: str = "baseline", replications: int = 3,
              seed: int | None = None, months: int | None = None, workers: int | None = None) -> pd.DataFrame:
    """Run the strategy (and baseline) and score its loops for a metric."""
    from simulator.experiment import run_experiment

    relevant_loops(model, metric)
    result = run_experiment(model, [strategy], replications=replications, seed=seed, months=months, workers=workers)
    return loop_dominance(model, result.timeseries, metric, strategy)

