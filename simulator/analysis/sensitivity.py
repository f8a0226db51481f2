"""Sensitivity of a KPI to every link effect and numeric parameter.

One-at-a-time swings (each parameter at ±x% with everything else at base) ranked as a tornado, and
Morris elementary-effects screening (mu*, sigma) over the same ±x% ranges. Every variant runs on the
same seeds and replications, so a swing measures the parameter, not the noise (common random numbers).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulator.analysis.stats import mean_ci
from simulator.engine.model import run_once
from simulator.errors import ScenarioError
from simulator.graph.compiler import compile_scenario
from simulator.scenario.loader import load_data
from simulator.scenario.paths import clip_to_field, numeric_parameters, with_values

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Job:
    values: tuple[tuple[str, float], ...]
    strategy: str
    replication: int
    seed: int
    months: int
    metric: str


def kpi_of(periods: dict[str, np.ndarray], metric: str) -> float:
    """The KPI of one run: final NPV for 'npv', else the metric's mean over the last 12 periods."""
    series = periods[metric]
    return float(series[-1]) if metric in ("npv", "cumulative_profit") else float(np.mean(series[-12:]))


_BASE: dict | None = None


def _init(base: dict) -> None:
    global _BASE
    _BASE = base


def _evaluate(job: Job) -> float:
    assert _BASE is not None
    try:
        model = compile_scenario(load_data(with_values(_BASE, dict(job.values))))
    except ScenarioError:
        return math.nan  # the swing left the parameter's valid range
    return kpi_of(run_once(model, job.strategy, job.replication, job.seed, job.months).periods, job.metric)


def _run_jobs(base: dict, jobs: Sequence[Job], workers: int, progress: Progress | None) -> list[float]:
    if workers <= 1:
        _init(base)
        results = []
        for i, job in enumerate(jobs, 1):
            results.append(_evaluate(job))
            if progress:
                progress(i, len(jobs))
        return results
    from simulator.engine._numba import warm

    warm()  # the engine's kernels, compiled or loaded once before the workers start
    with ProcessPoolExecutor(workers, initializer=_init, initargs=(base,)) as pool:
        results = []
        for i, value in enumerate(pool.map(_evaluate, jobs, chunksize=2), 1):
            results.append(value)
            if progress:
                progress(i, len(jobs))
        return results


def _mean_over_reps(values: list[float], reps: int) -> np.ndarray:
    return np.asarray(values, dtype=float).reshape(-1, reps).mean(axis=1)


def tornado(base: dict, strategy: str, metric: str, swing: float, replications: int, seed: int, months: int,
            workers: int = 1, parameters: Sequence[str] | None = None, progress: Progress | None = None) -> pd.DataFrame:
    """One row per parameter: value low/high, KPI at low/base/high, swing = |high - low|; largest first."""
    params = numeric_parameters(base)
    names = [p for p in (parameters or params) if params.get(p, 0.0) != 0.0]
    variants: list[tuple[tuple[str, float], ...]] = [()]
    for name in names:
        v = params[name]
        variants += [((name, clip_to_field(name, v * (1 - swing))),), ((name, clip_to_field(name, v * (1 + swing))),)]
    jobs = [Job(var, strategy, r, seed, months, metric) for var in variants for r in range(replications)]
    raw = _run_jobs(base, jobs, workers, progress)
    kpis = _mean_over_reps(raw, replications)
    noise = mean_ci(raw[:replications])  # the base KPI's own 95% CI: swings inside it are not resolved
    rows = []
    for i, name in enumerate(names):
        low, high = kpis[1 + 2 * i], kpis[2 + 2 * i]
        rows.append({"parameter": name, "base_value": params[name], "low_value": variants[1 + 2 * i][0][1],
                     "high_value": variants[2 + 2 * i][0][1], "kpi_low": low, "kpi_base": kpis[0], "kpi_high": high,
                     "noise": (noise[2] - noise[1]) / 2,
                     "swing": abs(high - low) if not (math.isnan(low) or math.isnan(high)) else math.nan})
    df = pd.DataFrame(rows)
    return df.sort_values("swing", ascending=False, na_position="last", kind="stable").reset_index(drop=True)


def morris(base: dict, strategy: str, metric: str, swing: float, trajectories: int, replications: int, seed: int,
           months: int, workers: int = 1, parameters: Sequence[str] | None = None, levels: int = 4,
           progress: Progress | None = None) -> pd.DataFrame:
    """Morris screening: mu* (mean |elementary effect|) and sigma per parameter, effects per unit of the range."""
    params = numeric_parameters(base)
    names = [p for p in (parameters or params) if params.get(p, 0.0) != 0.0]
    k = len(names)
    rng = np.random.default_rng(seed)
    delta = levels / (2 * (levels - 1))
    grid = np.arange(levels) / (levels - 1)
    trajectories_x: list[np.ndarray] = []
    for _ in range(trajectories):
        x = rng.choice(grid[grid <= 1 - delta + 1e-12], size=k)
        points = [x.copy()]
        for j in rng.permutation(k):
            x = x.copy()
            x[j] = x[j] + delta if x[j] + delta <= 1 + 1e-12 else x[j] - delta
            points.append(x)
        trajectories_x.append(np.array(points))

    def values_of(x: np.ndarray) -> tuple[tuple[str, float], ...]:
        return tuple((n, clip_to_field(n, params[n] * (1 - swing + 2 * swing * xi))) for n, xi in zip(names, x, strict=True))

    jobs = [Job(values_of(pt), strategy, r, seed, months, metric)
            for traj in trajectories_x for pt in traj for r in range(replications)]
    kpis = _mean_over_reps(_run_jobs(base, jobs, workers, progress), replications).reshape(trajectories, k + 1)
    effects: dict[str, list[float]] = {n: [] for n in names}
    for t, traj in enumerate(trajectories_x):
        for step in range(k):
            changed = int(np.flatnonzero(traj[step + 1] != traj[step])[0])
            dx = traj[step + 1][changed] - traj[step][changed]
            effects[names[changed]].append((kpis[t, step + 1] - kpis[t, step]) / dx)
    rows = []
    for n, e in effects.items():
        finite = np.asarray([v for v in e if np.isfinite(v)])
        rows.append({"parameter": n, "mu_star": float(np.abs(finite).mean()) if finite.size else math.nan,
                     "mu": float(finite.mean()) if finite.size else math.nan,
                     "sigma": float(finite.std(ddof=1)) if finite.size > 1 else math.nan})
    return pd.DataFrame(rows).sort_values("mu_star", ascending=False, kind="stable").reset_index(drop=True)
