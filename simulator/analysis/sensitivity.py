"""Sensitivity of a decision (or of a KPI) to every link effect, numeric parameter and initiative effect size.

The question a planner asks is "would a different assumption change what the strategy is worth?", so the
measure is the difference y = KPI(strategy) − KPI(baseline), both arms run on the same (seed, replication)
(common random numbers). With `baseline=None`, or the baseline itself as the strategy, y is the strategy's
own KPI level (what drives it, not what drives the decision).

One-at-a-time tornado: every parameter at base·(1 ± swing) (kept inside its field's valid range) with
everything else at base. Per replication r, swing_r = y(high, r) − y(low, r); all variants and arms use the
same draws, so the swing's 95% Student t interval over replications is a *paired* interval: a bar whose
interval spans 0 is not resolved at this many replications.

Morris elementary-effects screening (SALib's sampler and analysis) over the same ranges, on the same y.

Runs: each distinct scenario variant is validated and compiled once per worker (not once per run); a
variant that changes only an initiative an arm does not run reuses that arm's base runs, and a parameter
that can change neither arm (an initiative of a strategy not compared) is skipped, not run.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from simulator.analysis.stats import mean_ci, t975
from simulator.engine.model import RunOutput, run_once
from simulator.errors import ScenarioError
from simulator.graph.compiler import CompiledModel, compile_scenario
from simulator.scenario.loader import load_data
from simulator.scenario.paths import clip_to_field, get_value, numeric_parameters, with_values

Progress = Callable[[int, int], None]
Values = tuple[tuple[str, float], ...]

FIRM_VALUE = "firm_value"
"""A KPI beyond the time-series columns: NPV plus the discounted continuing value at the horizon."""


def kpi_of(out: RunOutput, metric: str, scenario=None) -> float:
    """The KPI of one run: final NPV for 'npv' (and 'cumulative_profit'), firm value for 'firm_value' (needs the
    run's scenario), else the metric's mean over the last 12 periods."""
    if metric == FIRM_VALUE:
        from simulator.analysis.valuation import output_values

        return output_values(out, scenario)["firm_value"]
    series = out.periods[metric]
    return float(series[-1]) if metric in ("npv", "cumulative_profit") else float(np.mean(series[-12:]))


# ---- running variants -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    """Runs of one scenario variant: its changed values (the worker's compile cache key) and (strategy, rep)s."""

    values: Values
    tasks: tuple[tuple[str, int], ...]
    seed: int
    months: int
    metric: str


_BASE: dict | None = None
_MODELS: OrderedDict[Values, CompiledModel | None] = OrderedDict()
_CACHE_SIZE = 4


def _init(base: dict) -> None:
    global _BASE
    _BASE = base
    _MODELS.clear()


def _model(values: Values) -> CompiledModel | None:
    """The variant's compiled model, validated and compiled once per process (None: outside its valid range)."""
    if values in _MODELS:
        _MODELS.move_to_end(values)
        return _MODELS[values]
    assert _BASE is not None
    try:
        model: CompiledModel | None = compile_scenario(load_data(with_values(_BASE, dict(values))))
    except ScenarioError:
        model = None  # the swing left the parameter's valid range
    _MODELS[values] = model
    while len(_MODELS) > _CACHE_SIZE:
        _MODELS.popitem(last=False)
    return model


def _evaluate(job: Job) -> list[float]:
    model = _model(job.values)
    if model is None:
        return [math.nan] * len(job.tasks)
    return [kpi_of(run_once(model, s, r, job.seed, job.months), job.metric, model.scenario) for s, r in job.tasks]


def _run_jobs(base: dict, jobs: Sequence[Job], workers: int, progress: Progress | None) -> list[list[float]]:
    total = sum(len(j.tasks) for j in jobs)
    done = 0
    results: list[list[float]] = []
    if workers <= 1 or len(jobs) <= 1:
        _init(base)
        for job in jobs:
            results.append(_evaluate(job))
            done += len(job.tasks)
            if progress:
                progress(done, total)
        return results
    from simulator.engine._numba import warm

    warm()  # the engine's kernels, compiled or loaded once before the workers start
    with ProcessPoolExecutor(workers, initializer=_init, initargs=(base,)) as pool:
        # jobs are whole variants (several runs each): one per dispatch keeps both cores busy to the end
        for job, values in zip(jobs, pool.map(_evaluate, jobs, chunksize=1), strict=True):
            results.append(values)
            done += len(job.tasks)
            if progress:
                progress(done, total)
    return results


def _initiatives(scenario, strategy: str) -> frozenset[str]:
    if strategy == "baseline":
        return frozenset()
    spec = next((s for s in scenario.strategies if s.name == strategy), None)
    return frozenset(spec.initiatives) if spec is not None else frozenset()


def _initiative_of(path: str) -> str | None:
    parts = path.split(".")
    return parts[1] if parts[0] == "initiatives" and len(parts) > 2 else None


def _acts_on(values: Values, initiatives: frozenset[str]) -> bool:
    """Can this variant change a run that uses these initiatives? Only a change to another initiative cannot."""
    return any(_initiative_of(p) is None or _initiative_of(p) in initiatives for p, _ in values)


def run_variants(base: dict, variants: Sequence[Values], arms: Sequence[str], replications: int, seed: int,
                 months: int, metric: str, workers: int = 1, progress: Progress | None = None) -> np.ndarray:
    """KPI of every (variant, arm, replication), shape (len(variants), len(arms), replications).

    Every arm of every variant runs on the same (seed, replication). Identical runs are run once: a value
    equal to its base value is no change, and a variant that changes only initiatives an arm does not run
    gives that arm's base-scenario runs."""
    scenario = load_data(base)
    arm_initiatives = [_initiatives(scenario, a) for a in arms]
    base_of: dict[str, float] = {}

    def normalised(values: Values) -> Values:
        out = []
        for path, value in values:
            if path not in base_of:
                base_of[path] = get_value(base, path)
            if value != base_of[path]:
                out.append((path, value))
        return tuple(out)

    keys = [[(v if _acts_on(v, ini) else ()) for ini in arm_initiatives] for v in map(normalised, variants)]
    needed: dict[Values, dict[tuple[str, int], None]] = {}
    for row in keys:
        for arm, key in zip(arms, row, strict=True):
            tasks = needed.setdefault(key, {})
            for r in range(replications):
                tasks[(arm, r)] = None
    jobs = _jobs(needed, seed, months, metric, workers)
    results: dict[tuple[Values, str, int], float] = {}
    for job, values in zip(jobs, _run_jobs(base, jobs, workers, progress), strict=True):
        for (arm, r), value in zip(job.tasks, values, strict=True):
            results[(job.values, arm, r)] = value
    out = np.empty((len(variants), len(arms), replications))
    for i, row in enumerate(keys):
        for j, (arm, key) in enumerate(zip(arms, row, strict=True)):
            out[i, j] = [results[(key, arm, r)] for r in range(replications)]
    return out


def _jobs(needed: dict[Values, dict[tuple[str, int], None]], seed: int, months: int, metric: str,
          workers: int) -> list[Job]:
    """One job per variant (compiled once, all its runs); with few variants, each split so every worker has
    several jobs (the worker's cache still compiles a variant once). Largest first, so none is left last."""
    pieces = 1 if workers <= 1 else max(1, math.ceil(4 * workers / max(len(needed), 1)))
    jobs = []
    for values, task_set in needed.items():
        tasks = list(task_set)
        size = math.ceil(len(tasks) / min(pieces, len(tasks)))
        jobs += [Job(values, tuple(tasks[i:i + size]), seed, months, metric) for i in range(0, len(tasks), size)]
    return sorted(jobs, key=lambda j: -len(j.tasks))


# ---- which parameters -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Design:
    """What is compared and which parameters move, with the reason each other parameter does not."""

    strategy: str
    baseline: str | None
    names: list[str]
    base_values: list[float]
    low_values: list[float]
    high_values: list[float]
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def arms(self) -> tuple[str, ...]:
        return (self.strategy,) if self.baseline is None else (self.strategy, self.baseline)

    @property
    def measure(self) -> str:
        return "level" if self.baseline is None else "delta"


def design(base: dict, strategy: str, swing: float, parameters: Sequence[str] | None = None,
           baseline: str | None = "baseline") -> Design:
    """The parameters to swing ±swing (a fraction) for `strategy` against `baseline` (None: the level)."""
    if baseline == strategy:
        baseline = None
    scenario = load_data(base)
    running = _initiatives(scenario, strategy) | (_initiatives(scenario, baseline) if baseline else frozenset())
    params = numeric_parameters(base)
    names, values, lows, highs, skipped = [], [], [], [], {}
    for name in parameters or list(params):
        value = float(params[name]) if name in params else float(get_value(base, name))
        initiative = _initiative_of(name)
        if initiative is not None and initiative not in running:
            compared = strategy if baseline is None else f"{strategy} or {baseline}"
            skipped[name] = f"initiative '{initiative}' is not part of {compared}"
            continue
        if value == 0.0:
            skipped[name] = "base value 0 (a ±% swing does not move it)"
            continue
        a, b = clip_to_field(name, value * (1 - swing)), clip_to_field(name, value * (1 + swing))
        low, high = min(a, b), max(a, b)
        if low == high:
            skipped[name] = "its valid range leaves no room to move"
            continue
        names.append(name)
        values.append(value)
        lows.append(low)
        highs.append(high)
    return Design(strategy, baseline, names, values, lows, highs, skipped)


def _measure(y: np.ndarray, measure: str) -> np.ndarray:
    """(…, arms, reps) KPIs → (…, reps) of the measure: strategy − baseline, or the level."""
    return y[..., 0, :] - y[..., 1, :] if measure == "delta" else y[..., 0, :]


# ---- tornado ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TornadoRuns:
    """Per-replication values of the measure at base, and at each parameter's low and high value."""

    design: Design
    metric: str
    base: np.ndarray  # (reps,)
    low: np.ndarray   # (k, reps)
    high: np.ndarray  # (k, reps)


def tornado_runs(base: dict, strategy: str, metric: str, swing: float, replications: int, seed: int, months: int,
                 workers: int = 1, parameters: Sequence[str] | None = None, progress: Progress | None = None,
                 baseline: str | None = "baseline") -> TornadoRuns:
    d = design(base, strategy, swing, parameters, baseline)
    variants: list[Values] = [()]
    for name, low, high in zip(d.names, d.low_values, d.high_values, strict=True):
        variants += [((name, low),), ((name, high),)]
    y = _measure(run_variants(base, variants, d.arms, replications, seed, months, metric, workers, progress), d.measure)
    return TornadoRuns(d, metric, y[0], y[1::2], y[2::2])


def unpaired_ci(high: np.ndarray, low: np.ndarray) -> tuple[float, float]:
    """The swing's 95% CI as if high and low had been run on independent draws (Welch): for comparison only."""
    n = high.size
    se2_h, se2_l = high.var(ddof=1) / n, low.var(ddof=1) / n
    se = math.sqrt(se2_h + se2_l)
    dof = (se2_h + se2_l) ** 2 / ((se2_h ** 2 + se2_l ** 2) / (n - 1)) if se > 0 else n - 1
    half = t975(int(max(1, math.floor(dof)))) * se
    m = float(high.mean() - low.mean())
    return m - half, m + half


def summarise(runs: TornadoRuns) -> pd.DataFrame:
    """One row per parameter, largest |swing| first. `attrs`: measure, strategy, baseline, metric, base (mean,
    ci_low, ci_high), replications, skipped {parameter: reason}."""
    d = runs.design
    prefix = "delta" if d.measure == "delta" else "kpi"
    reps = runs.base.size
    base_mean, base_lo, base_hi = mean_ci(runs.base)
    rows = []
    for i, name in enumerate(d.names):
        low, high = runs.low[i], runs.high[i]
        swings = high - low
        mean, lo, hi = mean_ci(swings) if np.isfinite(swings).all() else (math.nan,) * 3
        if not math.isfinite(mean) or reps < 2:
            resolved = None  # no interval: an invalid range, or one replication
        else:
            resolved = bool(lo > 0 or hi < 0)
        rows.append({
            "parameter": name, "base_value": d.base_values[i], "low_value": d.low_values[i],
            "high_value": d.high_values[i], f"{prefix}_low": float(low.mean()), f"{prefix}_base": base_mean,
            f"{prefix}_high": float(high.mean()), "swing": mean, "swing_ci_low": lo, "swing_ci_high": hi,
            "resolved": resolved, "no_effect": bool(np.all(swings == 0)),
        })
        if d.measure == "level":
            rows[-1]["noise"] = (base_hi - base_lo) / 2  # the base level's own CI half-width (the report's band)
    columns = ["parameter", "base_value", "low_value", "high_value", f"{prefix}_low", f"{prefix}_base",
               f"{prefix}_high", "swing", "swing_ci_low", "swing_ci_high", "resolved", "no_effect"]
    df = pd.DataFrame(rows, columns=columns + (["noise"] if d.measure == "level" else []))
    if len(df):
        order = df["swing"].abs().sort_values(ascending=False, na_position="last", kind="stable").index
        df = df.loc[order].reset_index(drop=True)
    df.attrs.update({"measure": d.measure, "strategy": d.strategy, "baseline": d.baseline, "metric": runs.metric,
                     "base": {"mean": base_mean, "ci_low": base_lo, "ci_high": base_hi}, "replications": reps,
                     "skipped": dict(d.skipped)})
    return df


def tornado(base: dict, strategy: str, metric: str, swing: float, replications: int, seed: int, months: int,
            workers: int = 1, parameters: Sequence[str] | None = None, progress: Progress | None = None,
            baseline: str | None = "baseline") -> pd.DataFrame:
    """The tornado of KPI(strategy) − KPI(baseline) (the level when strategy is the baseline or baseline is None)
    under ±swing one-at-a-time, with each swing's paired 95% CI; see `summarise` for the columns."""
    return summarise(tornado_runs(base, strategy, metric, swing, replications, seed, months, workers, parameters,
                                  progress, baseline))


# ---- Morris -----------------------------------------------------------------------------------------------
MORRIS_RESAMPLES = 1000


def morris_screen(names: Sequence[str], bounds: Sequence[tuple[float, float]],
                  evaluate: Callable[[np.ndarray], np.ndarray], trajectories: int, seed: int,
                  levels: int = 4) -> pd.DataFrame:
    """Morris screening by SALib: `evaluate` maps the sample (rows of parameter values) to outputs.

    mu* is the mean |elementary effect|, an effect being the output's change per move across a parameter's
    whole range (so, for a linear output a·x, mu* = |a| × (high − low)); mu_star_conf is SALib's bootstrap
    95% half-width; sigma (spread of the effects) flags interactions and non-linearity. mu* first."""
    from SALib.analyze import morris as analyze
    from SALib.sample import morris as sample

    problem = {"num_vars": len(names), "names": list(names), "bounds": [[float(lo), float(hi)] for lo, hi in bounds]}
    x = sample.sample(problem, trajectories, num_levels=levels, seed=seed)
    y = np.asarray(evaluate(x), dtype=float)
    si = analyze.analyze(problem, x, y, num_resamples=MORRIS_RESAMPLES, conf_level=0.95, num_levels=levels, seed=seed)
    df = pd.DataFrame({"parameter": list(names), "mu_star": np.asarray(si["mu_star"], dtype=float),
                       "mu_star_conf": np.asarray(si["mu_star_conf"], dtype=float),
                       "mu": np.asarray(si["mu"], dtype=float), "sigma": np.asarray(si["sigma"], dtype=float)})
    return df.sort_values("mu_star", ascending=False, kind="stable").reset_index(drop=True)


def morris(base: dict, strategy: str, metric: str, swing: float, trajectories: int, replications: int, seed: int,
           months: int, workers: int = 1, parameters: Sequence[str] | None = None, levels: int = 4,
           progress: Progress | None = None, baseline: str | None = "baseline") -> pd.DataFrame:
    """Morris screening of the same measure as the tornado over the same ranges: every point of every trajectory
    runs all arms × replications on common random numbers, and its output is the mean over replications."""
    d = design(base, strategy, swing, parameters, baseline)
    if not d.names:
        return pd.DataFrame(columns=["parameter", "mu_star", "mu_star_conf", "mu", "sigma"])

    def evaluate(x: np.ndarray) -> np.ndarray:
        variants = [tuple((n, clip_to_field(n, float(v))) for n, v in zip(d.names, row, strict=True)) for row in x]
        y = run_variants(base, variants, d.arms, replications, seed, months, metric, workers, progress)
        return _measure(y, d.measure).mean(axis=-1)

    df = morris_screen(d.names, list(zip(d.low_values, d.high_values, strict=True)), evaluate, trajectories, seed, levels)
    df.attrs.update({"measure": d.measure, "strategy": d.strategy, "baseline": d.baseline, "metric": metric,
                     "skipped": dict(d.skipped)})
    return df
