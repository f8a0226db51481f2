"""Which feedback loop dominates a metric when, by loop gain on a deterministic trajectory.

Per period (at the midpoint of months t-1 and t):
  link gain x -> z    = d z / d x, the local gain of the link (`_LinkGains`): the derivative of a scenario
                        link's function (times period / adjustment time into a stock: per month), the
                        engine's accounting identities, or for the engine's own paths a gain measured by
                        counterfactual runs (`loop_gains`: every read port frozen at the run's recording, one
                        port moved, the response read off on the same random draws), never a fit to the
                        trajectory's changes
  loop gain           = product of its link gains (sign = polarity)
  share               = |loop gain| / sum of |loop gains| of the loops that reach the metric
The dominant loop of a period has the largest share: the loop that would amplify or damp a disturbance of
the metric most strongly at that point of the trajectory (the structural reading of dominance; on the
logistic model, word of mouth until adopters pass K/2, crowding after). Loop scores that divide by each
node's month-to-month change ("Loops That Matter", Schoenberg et al. 2020) were tried first: on a stochastic
engine those ratios spike wherever a change passes near zero, and the dominant loop changed with the seed.

The trajectory is the mean over replications (DEFAULT_REPLICATIONS, smoothed by a Gaussian kernel of
SMOOTH_MONTHS); the engine gains come from GAIN_REPLICATIONS of them. A period has a dominant loop only if
the leader's share beats the runner-up's by more than NOISE_Z bootstrap standard errors (replications of
the trajectory and of the counterfactual runs resampled; a fixed generator); otherwise "no dominant loop".
The months are read as a few phases (`dominance_phases`), a phase shorter than MIN_PHASE_MONTHS merged into
its longer neighbour. `moving` in the frame says whether the metric itself changes beyond noise that month.

Limits: an engine gain is one number per link over the horizon (per strategy and seed), so on the shipped
scenario dominance shifts only through the network's non-linear links and the levels that scale identities;
a loop through two stocks has a gain per month squared, compared as it is with the others.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulator.analysis import causal
from simulator.analysis.loop_gains import EngineGains
from simulator.graph.compiler import CompiledModel, Loop

COLUMNS = ["period", "loop_id", "loop", "polarity", "score", "raw_score", "dominant", "moving", "clear"]
PHASE_COLUMNS = ["first", "last", "loop_id", "loop", "polarity", "mean_share"]
SMOOTH_MONTHS = 1.5
"""Standard deviation (months) of the Gaussian kernel that smooths the mean trajectory."""
NOISE_Z = 3.0
"""A month counts as moving when the metric's smoothed change exceeds this many noise standard deviations."""
MIN_PHASE_MONTHS = 3
"""Phases shorter than this are merged into their longer neighbour."""
SHARE_MARGIN = 0.0
"""A loop takes dominance from the incumbent only when its share is larger by this much (the noise test of
`_clear_lead` already keeps noise from switching loops)."""
REST = "at rest"
DEFAULT_REPLICATIONS = 40
"""Replications averaged for the trajectory the loops are scored on."""
GAIN_REPLICATIONS = 16
"""Replications whose counterfactual runs measure the engine links' gains."""
NONE = "no dominant loop"
BOOTSTRAP = 40
"""Bootstrap resamples of the replications that measure the noise in the leading loop's lead."""


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


class _LinkGains:
    """Per period (at the midpoint of months p-1 and p), each link's local gain d(target)/d(source) on a trajectory:
    a network link's is the derivative of its link function at the (delayed) source, times the period over the
    adjustment time for a stock (the period for an integrating one: per month); an engine link's was measured by
    counterfactual runs (`loop_gains`); the engine's accounting gives the rest exactly: ±1 for customers won and
    lost, revenue and costs, quits leaving the payroll; wages per employee and turnover cost per quit for costs;
    headcount × the month in years for quits per unit of the annual quit rate (rare events that a counterfactual
    run of a small staff measures badly)."""

    def __init__(self, model: CompiledModel, series: dict[str, np.ndarray], strategy: str,
                 measured: dict[tuple[str, str], float]):
        self.model, self.s, self.measured = model, series, measured
        self.T = len(series["period"])
        self.starts = causal.start_values(model)
        self.effects = causal.link_effects(model, strategy, self.T)
        self.nodes = {n.name: n for n in model.scenario.network.nodes}
        self.period_days = model.scenario.metadata.period_days
        self._cache: dict[tuple[str, str], np.ndarray] = {}

    def mid(self, name: str) -> np.ndarray:
        x = self.s.get(name)
        return np.zeros(self.T - 1) if x is None else (x[1:] + x[:-1]) / 2

    def gain(self, a: str, b: str) -> np.ndarray:
        if (a, b) not in self._cache:
            self._cache[a, b] = self._gain(a, b)
        return self._cache[a, b]

    def _gain(self, a: str, b: str) -> np.ndarray:
        node = self.nodes.get(b)
        if node is not None and node.kind in ("auxiliary", "stock"):
            lid = f"{a}->{b}"
            x = causal.link_input(self.model, lid, self.s, self.starts)
            x = (x[1:] + x[:-1]) / 2
            e = self.effects[lid][1:]
            fn = self.model.link_functions[lid]
            h = 1e-4 * np.maximum(np.abs(x), 1.0)
            d = np.array([(fn.contribution(float(xi + hi), float(ei)) - fn.contribution(float(xi - hi), float(ei)))
                          / (2 * hi) for xi, hi, ei in zip(x, h, e, strict=True)])
            if node.kind == "stock":
                d = d * self.period_days / (1.0 if node.integrate else float(node.adjust_days))
            return d
        one = np.ones(self.T - 1)
        if b == "active_customers" and a in ("customers_won", "customers_lost"):
            return one if a == "customers_won" else -one
        if b == "profit" and a in ("revenue", "costs"):
            return one if a == "revenue" else -one
        if (a, b) == ("employee_quits", "headcount"):
            return -one  # each quit leaves the payroll (hires are their own flow)
        if (a, b) == ("employee_quit_rate", "employee_quits"):
            return self.mid("headcount") * self.period_days / 365.25  # the hazard is per employee-year
        if b == "costs" and a in ("headcount", "employee_quits"):
            num, den = ("wages", "headcount") if a == "headcount" else ("turnover_costs", "employee_quits")
            n, m = self.mid(num), self.mid(den)
            return np.divide(n, m, out=np.zeros_like(n), where=m != 0)
        return one * self.measured.get((a, b), 0.0)


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
                   sigma: float = SMOOTH_MONTHS, gains: EngineGains | None = None) -> pd.DataFrame:
    """Tidy frame: one row per (period, loop) with normalised score, the dominant flag and whether the metric
    moves beyond noise that month (periods 2..T), on the smoothed mean trajectory."""
    loops = relevant_loops(model, metric)
    if not loops or strategy not in set(ts["strategy"]):
        return pd.DataFrame(columns=COLUMNS)
    node = causal.check_metric(model, metric)
    series = deterministic_series(ts, strategy, sigma)
    noise = change_noise(ts, strategy, node, sigma) if node in series else np.zeros(len(series["period"]) - 1)
    measured = gains.gains if gains is not None else {}
    norm, raw_arr, total = _normalised(model, series, loops, strategy, measured)
    ids = loop_ids(model.loops)
    dominant = np.abs(norm).argmax(axis=0)
    change = np.abs(np.diff(series[node])) if node in series else np.zeros(len(series["period"]) - 1)
    scale = float(change.max(initial=0.0))
    moving = (change > NOISE_Z * noise) & (change > 1e-9 * scale) & (total > 0)
    clear = _clear_lead(model, ts, strategy, sigma, loops, gains, np.abs(norm))
    rows = []
    periods = series["period"][1:].astype(int)
    for j, loop in enumerate(loops):
        for t, period in enumerate(periods):
            rows.append({"period": int(period), "loop_id": ids[loop], "loop": loop.label, "polarity": loop.polarity,
                         "score": float(norm[j, t]), "raw_score": float(raw_arr[j, t]),
                         "dominant": bool(clear[t] and dominant[t] == j), "moving": bool(moving[t]),
                         "clear": bool(clear[t])})
    return pd.DataFrame(rows, columns=COLUMNS).sort_values(["period", "loop_id"], kind="stable").reset_index(drop=True)


def _normalised(model: CompiledModel, series: dict[str, np.ndarray], loops: list[Loop], strategy: str,
                gains: dict[tuple[str, str], float]):
    """Loop gains on one trajectory: (shares |G| / Σ|G|, G, Σ|G|) per period, G = the product of the loop's
    link gains."""
    lg = _LinkGains(model, series, strategy, gains)
    raw = []
    for loop in loops:
        g = np.ones(lg.T - 1)
        for a, b in zip(loop.nodes, loop.nodes[1:] + loop.nodes[:1], strict=True):
            g = g * lg.gain(a, b)
        raw.append(g)
    raw_arr = np.array(raw)
    total = np.abs(raw_arr).sum(axis=0)
    return np.divide(np.abs(raw_arr), total, out=np.zeros_like(raw_arr), where=total > 0), raw_arr, total


def _clear_lead(model: CompiledModel, ts: pd.DataFrame, strategy: str, sigma: float, loops: list[Loop],
                gains: EngineGains | None, shares: np.ndarray) -> np.ndarray:
    """Per period: does the leading loop's share beat the runner-up's by more than NOISE_Z bootstrap standard
    errors (BOOTSTRAP resamples of the replications, a fixed generator: the same answer every time)? With
    fewer than 4 replications there is no spread to measure and every lead counts."""
    T1 = shares.shape[1]
    if len(loops) < 2:
        return np.ones(T1, dtype=bool)
    sub = ts[ts["strategy"] == strategy].sort_values(["replication", "period"])
    reps = sorted(set(sub["replication"]))
    n_gain = len(gains.responses) if gains is not None else 0
    if len(reps) < 4 and n_gain < 4:
        return np.ones(T1, dtype=bool)
    order = np.argsort(-shares, axis=0)
    top, second = order[0], order[1]
    cols = [c for c in sub.columns if c not in ("strategy", "replication", "period")]
    cube = sub[cols].to_numpy(dtype=float).reshape(len(reps), -1, len(cols))  # (replication, period, column)
    period = np.sort(sub["period"].unique()).astype(float)
    rng = np.random.default_rng(12345)
    leads = []
    for _ in range(BOOTSTRAP):
        mean = cube[rng.integers(0, len(reps), len(reps))].mean(axis=0) if len(reps) >= 4 else cube.mean(axis=0)
        series = {c: _smooth(mean[:, k], sigma) for k, c in enumerate(cols)}
        series["period"] = period
        measured = (gains.resample(rng) if n_gain >= 4 else gains.gains) if gains is not None else {}
        norm_b = _normalised(model, series, loops, strategy, measured)[0]
        cols_t = np.arange(T1)
        leads.append(norm_b[top, cols_t] - norm_b[second, cols_t])
    lead = shares[top, np.arange(T1)] - shares[second, np.arange(T1)]
    return lead > NOISE_Z * np.std(leads, axis=0, ddof=1)


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
    clear = (frame.groupby("period")["clear"].first().reindex(shares.index).fillna(True) if "clear" in frame
             else pd.Series(True, index=shares.index))
    labels: list[str] = []
    current = NONE
    for period, row in shares.iterrows():
        if not clear.loc[period]:
            current = NONE
        else:
            best = str(row.idxmax())
            if current in (REST, NONE) or current not in row.index or row[best] > row[current] + margin:
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
        if lid in (REST, NONE):
            out.append({"first": first, "last": last, "loop_id": lid, "loop": "", "polarity": "", "mean_share": 0.0})
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
        who = {REST: "at rest (no change beyond noise)", NONE: "no dominant loop (leads within noise)"}.get(
            r.loop_id, f"{r.loop_id} ({r.polarity})")
        parts.append(f"{who} {months}" if r.loop_id in (REST, NONE) else f"{who} dominates {months}")
    return ", then ".join(parts) if parts else "nothing moves"


def loops_for(model: CompiledModel, metric: str, strategy: str = "baseline", replications: int = DEFAULT_REPLICATIONS,
              seed: int | None = None, months: int | None = None, workers: int | None = None,
              gain_replications: int = GAIN_REPLICATIONS) -> pd.DataFrame:
    """Run the strategy `replications` times for the mean trajectory and measure its engine links' gains by
    counterfactual runs on `gain_replications` of them (common random numbers), then score its loops."""
    from simulator.analysis.loop_gains import engine_links_needing_gains, measure_gains
    from simulator.experiment import default_workers, run_experiment

    relevant_loops(model, metric)
    seed = int(seed if seed is not None else model.scenario.run.seed)
    months = int(months if months is not None else model.scenario.metadata.horizon_months)
    workers = workers if workers is not None else default_workers(replications)
    result = run_experiment(model, [strategy], replications=replications, seed=seed, months=months, workers=workers)
    on_loops = {edge for lp in relevant_loops(model, metric)
                for edge in zip(lp.nodes, lp.nodes[1:] + lp.nodes[:1], strict=True)}
    needed = [link for link in engine_links_needing_gains(model) if link in on_loops]
    gains = (measure_gains(model, strategy, seed, months, min(gain_replications, replications), workers, needed)
             if needed else None)
    return loop_dominance(model, result.timeseries, metric, strategy, gains=gains)
