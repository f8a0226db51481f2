"""Which feedback loop drives a metric when: loop scores in the spirit of "Loops That Matter"
(Schoenberg, Davidsen & Eberlein, System Dynamics Review 2020).

Per period (month t against month t-1):
  link score x -> z   = (change of z caused by x alone) / (change of z)          for an auxiliary or engine node
                      = (change of z's net flow caused by x) / (change of net flow)   for a stock
  loop score          = product of its link scores (sign = polarity while the loop is active)
  normalised score    = loop score / sum of |loop scores| of the loops that reach the metric
The dominant loop of a period has the largest |normalised score|. Partial changes come from `causal`:
exact for the scenario's links, identities or sign-constrained gains for the engine's own paths.

Scores are computed on a deterministic trajectory, not on one noisy run: the mean over replications,
smoothed by a Gaussian kernel (SMOOTH_MONTHS) so that month-to-month noise does not pick the loop. A month
in which the metric's smoothed change is within noise (NOISE_Z standard errors, pooled over the months, from the
spread between replications; with one replication every change counts) has no dominant loop: the metric is "at rest". The
months are then read as a few phases (`dominance_phases`): a new loop takes over only when its share
beats the incumbent's by SHARE_MARGIN, and a phase shorter than MIN_PHASE_MONTHS is merged into its
longer neighbour.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulator.analysis import causal
from simulator.graph.compiler import CompiledModel, Loop

COLUMNS = ["period", "loop_id", "loop", "polarity", "score", "raw_score", "dominant", "moving"]
PHASE_COLUMNS = ["first", "last", "loop_id", "loop", "polarity", "mean_share"]
SMOOTH_MONTHS = 1.5
"""Standard deviation (months) of the Gaussian kernel that smooths the mean trajectory."""
NOISE_Z = 3.0
"""A month counts as moving when the metric's smoothed change exceeds this many noise standard deviations."""
MIN_PHASE_MONTHS = 3
"""Phases shorter than this are merged into their longer neighbour."""
SHARE_MARGIN = 0.05
"""A loop takes dominance from the incumbent only when its share is larger by this much."""
REST = "at rest"


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
                self._gains[b] = dict(zip(parents, causal.signed_lsq(X, y, signs), strict=True))
        return self._gains[b]


def _ratio(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    scale = max(float(np.abs(whole).max(initial=0.0)), 1e-300)
    ok = np.abs(whole) > 1e-9 * scale
    return np.where(ok, part / np.where(ok, whole, 1.0), 0.0)


def _smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(values, sigma, mode="nearest", axis=-1) if sigma > 0 and values.shape[-1] > 2 else values


def deterministic_series(ts: pd.DataFrame, strategy: str, sigma: float = SMOOTH_MONTHS) -> dict[str, np.ndarray]:
    """The mean over replications of every column, smoothed by a Gaussian kernel of `sigma` months."""
    raw = causal.mean_series(ts, strategy)
    return {name: values if name == "period" else _smooth(values, sigma) for name, values in raw.items()}


def change_noise(ts: pd.DataFrame, strategy: str, column: str, sigma: float = SMOOTH_MONTHS) -> np.ndarray:
    """Standard error of the smoothed mean's month-to-month change of one column, from the spread between
    replications (zeros with one replication: its changes cannot be told from noise, so all count)."""
    reps = causal.per_rep(ts, strategy, column)
    if reps.shape[0] < 2:
        return np.zeros(max(reps.shape[1] - 1, 0))
    changes = np.diff(_smooth(reps, sigma), axis=1)
    se = changes.std(axis=0, ddof=1) / np.sqrt(reps.shape[0])
    return np.full(se.shape, float(np.sqrt(np.mean(se**2))))  # pooled: a few replications give a rough SE per month


def loop_dominance(model: CompiledModel, ts: pd.DataFrame, metric: str, strategy: str = "baseline",
                   sigma: float = SMOOTH_MONTHS) -> pd.DataFrame:
    """Tidy frame: one row per (period, loop) with normalised score, the dominant flag and whether the metric
    moves beyond noise that month (periods 2..T), on the smoothed mean trajectory."""
    loops = relevant_loops(model, metric)
    if not loops or strategy not in set(ts["strategy"]):
        return pd.DataFrame(columns=COLUMNS)
    node = causal.check_metric(model, metric)
    series = deterministic_series(ts, strategy, sigma)
    noise = change_noise(ts, strategy, node, sigma) if node in series else np.zeros(len(series["period"]) - 1)
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
    change = np.abs(ls.diff(node))
    scale = float(change.max(initial=0.0))
    moving = (change > NOISE_Z * noise) & (change > 1e-9 * scale) & (total > 0)
    rows = []
    periods = series["period"][1:].astype(int)
    for j, loop in enumerate(loops):
        for t, period in enumerate(periods):
            rows.append({"period": int(period), "loop_id": ids[loop], "loop": loop.label, "polarity": loop.polarity,
                         "score": float(norm[j, t]), "raw_score": float(raw_arr[j, t]),
                         "dominant": bool(moving[t] and dominant[t] == j), "moving": bool(moving[t])})
    return pd.DataFrame(rows, columns=COLUMNS).sort_values(["period", "loop_id"], kind="stable").reset_index(drop=True)


def dominance_timeline(frame: pd.DataFrame) -> pd.DataFrame:
    """The dominant loop per period compressed into runs: first, last, loop_id, loop, polarity, mean |score|
    (month by month, no merging; see `dominance_phases` for the reading to report)."""
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
    return pd.DataFrame(runs, columns=PHASE_COLUMNS)


def dominance_phases(frame: pd.DataFrame, min_months: int = MIN_PHASE_MONTHS,
                     margin: float = SHARE_MARGIN) -> pd.DataFrame:
    """A few phases: which loop dominates from which month to which (loop_id 'at rest' when the metric does not
    move beyond noise). A challenger takes over only with a share `margin` above the incumbent's; phases
    shorter than `min_months` are merged into the longer neighbour (the first phase into the next)."""
    if frame.empty:
        return pd.DataFrame(columns=PHASE_COLUMNS)
    shares = frame.pivot(index="period", columns="loop_id", values="score").abs().sort_index()
    moving = frame.groupby("period")["moving"].first().reindex(shares.index).fillna(False)
    labels: list[str] = []
    current = REST
    for period, row in shares.iterrows():
        if not moving.loc[period]:
            current = REST
        else:
            best = str(row.idxmax())
            if current == REST or current not in row.index or row[best] > row[current] + margin:
                current = best
        labels.append(current)
    runs = _runs(list(shares.index), labels)
    while len(runs) > 1:
        short = [i for i, r in enumerate(runs) if r[1] - r[0] + 1 < min_months]
        if not short:
            break
        i = min(short, key=lambda k: (runs[k][1] - runs[k][0], k))
        neighbours = [k for k in (i - 1, i + 1) if 0 <= k < len(runs)]
        k = max(neighbours, key=lambda k: (runs[k][1] - runs[k][0], -k))
        runs[k] = (min(runs[k][0], runs[i][0]), max(runs[k][1], runs[i][1]), runs[k][2])
        del runs[i]
        merged: list[tuple[int, int, str]] = []
        for r in runs:
            if merged and merged[-1][2] == r[2]:
                merged[-1] = (merged[-1][0], r[1], r[2])
            else:
                merged.append(r)
        runs = merged
    info = frame.drop_duplicates("loop_id").set_index("loop_id")
    out = []
    for first, last, lid in runs:
        if lid == REST:
            out.append({"first": first, "last": last, "loop_id": REST, "loop": "", "polarity": "", "mean_share": 0.0})
        else:
            out.append({"first": first, "last": last, "loop_id": lid, "loop": info.at[lid, "loop"],
                        "polarity": info.at[lid, "polarity"],
                        "mean_share": float(shares.loc[first:last, lid].mean())})
    return pd.DataFrame(out, columns=PHASE_COLUMNS)


def _runs(periods: list[int], labels: list[str]) -> list[tuple[int, int, str]]:
    runs: list[tuple[int, int, str]] = []
    for p, lab in zip(periods, labels, strict=True):
        if runs and runs[-1][2] == lab:
            runs[-1] = (runs[-1][0], int(p), lab)
        else:
            runs.append((int(p), int(p), lab))
    return runs


def phases_sentence(phases: pd.DataFrame) -> str:
    """'R1 (reinforcing) dominates months 2-15, then B1 (balancing) months 16-36'."""
    parts = []
    for r in phases.itertuples():
        months = f"month {r.first}" if r.first == r.last else f"months {r.first}-{r.last}"
        who = "at rest (no change beyond noise)" if r.loop_id == REST else f"{r.loop_id} ({r.polarity})"
        parts.append(f"{who} {months}" if r.loop_id == REST else f"{who} dominates {months}")
    return ", then ".join(parts) if parts else "nothing moves"


def loops_for(model: CompiledModel, metric: str, strategy: str = "baseline", replications: int = 3,
              seed: int | None = None, months: int | None = None, workers: int | None = None) -> pd.DataFrame:
    """Run the strategy (and baseline) and score its loops for a metric."""
    from simulator.experiment import run_experiment

    relevant_loops(model, metric)
    result = run_experiment(model, [strategy], replications=replications, seed=seed, months=months, workers=workers)
    return loop_dominance(model, result.timeseries, metric, strategy)

