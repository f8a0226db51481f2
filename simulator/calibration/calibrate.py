"""Calibration, stage by stage: history + design runs -> emulator -> fit -> check runs -> statistics.

    setup = prepare_setup(loaded, "history.csv", ["segments.regulars.churn_per_month"])
    design = plan_design(loaded, setup.params, budget=128, replications=2, seed=setup.seed, months=setup.months)
    result = calibrate(setup, design, run(design), "posterior", run)

`run` is how more runs happen (a point fit's refinement, the check runs): a callable taking `Runs` and
returning their series, so the command line sends them through its executor and results database and
a test may run them in-process. The design's series come in the same shape; one design serves any
number of histories (`calibrate` only reads it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from simulator.calibration.design import Runs, runs_at
from simulator.calibration.emulator import Emulator, fit_emulator
from simulator.calibration.history import History, model_metrics, observation_matrix, read_history
from simulator.calibration.posterior import (
    Likelihood,
    PointFit,
    Posterior,
    best_design_points,
    point_fit,
    sample_posterior,
)
from simulator.calibration.priors import FitParameter, parse_fit, to_unit
from simulator.calibration.stats import fit_statistics
from simulator.errors import UsageError
from simulator.scenario.loader import LoadedScenario

METHODS = ("posterior", "point")
RunFn = Callable[[Runs], np.ndarray]
CHECK_DRAWS = 16  # posterior draws run for real: the calibrated trajectory and its band
CHECK_SEED = 0x43484B  # "CHK": the check runs' seeds, apart from the design's and the noise runs'
REFINE_ROUNDS = 3  # point fit: real runs at the optimum added to the emulator's design, then fitted again
Z90 = 1.6448536269514722
NARROWING = 0.8  # a posterior sd at least this share of the prior's: the history barely informs the parameter
STRONG_CORRELATION = 0.8


@dataclass(frozen=True)
class Setup:
    """What a calibration fits to what: parameters, the history's metrics, and how runs are made."""

    loaded: LoadedScenario
    params: tuple[FitParameter, ...]
    history: History
    metrics: tuple[str, ...]
    months: int
    strategy: str
    replications: int
    seed: int
    fit_until: int | None = None  # fit on months 1..fit_until only; the rest is the out-of-sample check

    @property
    def paths(self) -> list[str]:
        return [p.path for p in self.params]


def prepare_setup(loaded: LoadedScenario, history: str | Path | History, fit: Sequence[str] | None = None,
                  months: int | None = None, strategy: str = "baseline", replications: int | None = None,
                  seed: int | None = None, fit_until: int | None = None) -> Setup:
    """Resolve and check everything a calibration needs before any run."""
    from simulator.graph.compiler import compile_loaded

    sc = loaded.scenario
    months = int(months or sc.metadata.horizon_months)
    params = tuple(parse_fit(loaded, fit))
    if not isinstance(history, History):
        history = read_history(history, model_metrics(compile_loaded(loaded)), months)
    elif history.last_month > months:
        raise UsageError(f"{history.file}: month {history.last_month} is after the runs' last month {months}")
    if fit_until is not None and not 1 <= fit_until < history.last_month:
        raise UsageError(f"--fit-until {fit_until}: give a month from 1 to {history.last_month - 1} (the history's "
                         "later months are then the out-of-sample check)")
    reps = int(replications or max(2, sc.uncertainty.replications))
    return Setup(loaded, params, history, history.metrics, months, strategy, reps,
                 int(seed if seed is not None else sc.run.seed), fit_until)


@dataclass
class Calibration:
    """What a calibration found, and how well the calibrated model reproduces the history."""

    setup: Setup
    method: str
    estimates: pd.DataFrame  # one row per parameter: prior and fitted summaries
    correlation: np.ndarray
    samples: np.ndarray | None  # posterior draws (posterior method)
    point: PointFit | None
    posterior: Posterior | None
    components: int
    design_runs: int
    extra_runs: int = 0
    statistics: pd.DataFrame = field(default_factory=pd.DataFrame)
    trajectories: dict[str, np.ndarray] = field(default_factory=dict)  # (months, metrics) arrays
    warnings: list[str] = field(default_factory=list)
    noise: LocalNoise | None = None


def _observed(setup: Setup) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flat indices (into months x metrics) of the fitted observations, their values, their se, all values."""
    value, se = observation_matrix(setup.history, setup.metrics, setup.months)
    fitted = np.isfinite(value)
    if setup.fit_until is not None:
        fitted[setup.fit_until:, :] = False
    index = np.flatnonzero(fitted.ravel())
    return index, value.ravel()[index], se.ravel()[index], value


_EMULATORS: dict[str, tuple[Emulator, np.ndarray, np.ndarray]] = {}
_KEEP = 4


def _emulate(setup: Setup, theta: np.ndarray, series: np.ndarray, index: np.ndarray,
             seed: int) -> tuple[Emulator, np.ndarray, np.ndarray]:
    """The emulator, the design's weights and their per-draw deviations, for the observed entries `index`.

    None of it depends on the history's values, only on which entries it observes: kept (by content), so
    histories of the same metrics and months calibrated on one design fit their emulator once.
    """
    import hashlib

    digest = hashlib.sha1()
    for part in (theta, series, index, np.array([seed, len(setup.metrics)])):
        digest.update(np.ascontiguousarray(part).tobytes())
    key = digest.hexdigest()
    if key not in _EMULATORS:
        flat = series.reshape(series.shape[0], series.shape[1], -1)[:, :, index]  # (points, reps, n)
        emulator = fit_emulator(to_unit(setup.params, theta), flat.mean(axis=1), index % len(setup.metrics), seed)
        deviations = emulator.project(flat) - emulator.project(flat.mean(axis=1))[:, None, :]  # (points, reps, k)
        while len(_EMULATORS) >= _KEEP:
            _EMULATORS.pop(next(iter(_EMULATORS)))
        _EMULATORS[key] = (emulator, emulator.project(flat.mean(axis=1)), deviations)
    return _EMULATORS[key]


@dataclass(frozen=True)
class LocalNoise:
    """Runs of their own seeds at the first fit: how far one run of the world strays, and the design's luck.

    The design's draws share their random numbers, so the emulator learns the mean of R runs of *one*
    luck: that luck's offset from the mean over all seeds is a fixed error, estimated here and removed.
    The spread of runs of their own seeds is what one run of the world (the history) strays by; it depends
    on the parameters (a customer base that churns fast wanders less), hence runs where the fit lies.
    """

    at: np.ndarray  # (d,) the parameter values they ran at
    flat: np.ndarray  # (runs, n) their series at the observed entries
    variance: np.ndarray  # (months, metrics): one run's variance of every series, for the bands

    @property
    def runs(self) -> int:
        return len(self.flat)

    def in_space_of(self, setup: Setup, emulator: Emulator) -> tuple[np.ndarray, np.ndarray]:
        """(covariance (k, k), offset (k,)) in the emulator's components (a refit emulator has new ones)."""
        from sklearn.covariance import LedoitWolf

        w = emulator.project(self.flat)
        predicted, _ = emulator.weights(to_unit(setup.params, self.at[None, :]))
        cov = LedoitWolf().fit(w).covariance_ * self.runs / (self.runs - 1)
        return cov, w.mean(axis=0) - predicted[0]


NOISE_RUNS = 24
NOISE_SEED = 0x4E4F4953  # "NOIS": added to the seed, so these runs share no luck with the design's


def local_noise(setup: Setup, index: np.ndarray, at: np.ndarray, run: RunFn) -> tuple[LocalNoise, Runs]:
    runs = runs_at(setup.loaded, [dict(zip(setup.paths, at, strict=True))], setup.strategy, NOISE_RUNS,
                   (setup.seed + NOISE_SEED) % 2**32, setup.months)
    series = run(runs)[0]  # (runs, months, metrics)
    return LocalNoise(np.asarray(at, dtype=float), series.reshape(NOISE_RUNS, -1)[:, index],
                      series.var(axis=0, ddof=1)), runs


def _likelihood(setup: Setup, theta: np.ndarray, series: np.ndarray, index: np.ndarray, y: np.ndarray,
                se: np.ndarray, seed: int, noise: LocalNoise | None = None) -> tuple[Likelihood, Emulator, np.ndarray]:
    """The likelihood of the history: with `noise` from independent runs, or else the design's own spread
    between replications (which common random numbers may understate)."""
    emulator, design_weights, deviations = _emulate(setup, theta, series, index, seed)
    points, reps, k = deviations.shape
    projection = emulator.basis / emulator.scale  # (k, n): the observations' se in the components' space
    observed = (projection * se ** 2) @ projection.T
    if noise is None:
        dev = deviations.reshape(-1, k)
        cov = dev.T @ dev / (points * (reps - 1)) * (1 + 1 / reps)
        target = emulator.project(y)
    else:
        cov, offset = noise.in_space_of(setup, emulator)
        cov = cov * (1 + 1 / noise.runs)
        target = emulator.project(y) - offset
    return Likelihood(emulator, setup.params, target, cov + observed), emulator, design_weights


def calibrate(setup: Setup, design: Runs, design_series: np.ndarray, method: str = "posterior",
              run: RunFn | None = None, seed: int = 0, steps: int = 1500, check: bool = True) -> Calibration:
    """Fit the parameters to the history on the design's emulator; with `check`, run the result for real.

    The linear algebra runs on one BLAS thread: its matrices are small (months x metrics), where threads
    only contend, and the executor's workers need the cores.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return _calibrate(setup, design, design_series, method, run, seed, steps, check)


def _calibrate(setup: Setup, design: Runs, design_series: np.ndarray, method: str, run: RunFn | None, seed: int,
               steps: int, check: bool) -> Calibration:
    if method not in METHODS:
        raise UsageError(f"--method is one of {', '.join(METHODS)}")
    index, y, se, _ = _observed(setup)
    if len(y) < len(setup.params):
        raise UsageError(f"{setup.history.file}: {len(y)} observation(s) cannot inform {len(setup.params)} parameters")
    theta = design.inputs[setup.paths].to_numpy(dtype=float)
    series = design_series
    like, emulator, weights = _likelihood(setup, theta, series, index, y, se, seed)
    starts = best_design_points(like, theta, weights, max(4, 2 * len(setup.params)))
    extra = 0
    noise = None
    if run is not None:  # where the fit lies, independent runs measure the noise and the design's luck
        first = point_fit(like, starts).value
        noise, noise_runs = local_noise(setup, index, first, run)
        extra += noise_runs.tasks
        like, emulator, weights = _likelihood(setup, theta, series, index, y, se, seed, noise)
        starts = np.vstack([first, best_design_points(like, theta, weights, max(4, 2 * len(setup.params)))])
    posterior = point = None
    if method == "posterior":
        posterior = sample_posterior(like, starts, seed, steps)
        samples = posterior.samples
        mean, sd = posterior.mean, posterior.sd
        lo, hi = posterior.interval(0.9)
        corr = posterior.correlation
    else:
        point = point_fit(like, starts)
        for _ in range(REFINE_ROUNDS if run is not None else 0):
            more = runs_at(setup.loaded, [dict(zip(setup.paths, point.value, strict=True))], setup.strategy,
                           setup.replications, setup.seed, setup.months)
            theta = np.vstack([theta, point.value])
            series = np.concatenate([series, run(more)], axis=0)
            extra += more.tasks
            like, emulator, weights = _likelihood(setup, theta, series, index, y, se, seed, noise)
            point = point_fit(like, np.vstack([point.value, starts]))
        samples = None
        mean, sd = point.value, point.se
        support = np.array([p.support for p in setup.params])
        lo = np.maximum(mean - Z90 * sd, support[:, 0])  # a normal approximation, cut at the prior's support
        hi = np.minimum(mean + Z90 * sd, support[:, 1])
        corr = np.eye(len(mean))
    estimates = _estimates(setup.params, mean, sd, lo, hi)
    result = Calibration(setup, method, estimates, corr, samples, point, posterior, emulator.components,
                         design.tasks, extra, noise=noise)
    result.warnings = identifiability(result)
    if check and run is not None:
        _check(result, design_series, run)
    return result


def _estimates(params: Sequence[FitParameter], mean, sd, lo, hi) -> pd.DataFrame:
    rows = []
    for j, p in enumerate(params):
        rows.append({"path": p.path, "value": p.value, "prior_mean": p.prior_mean, "prior_sd": p.prior_sd,
                     "prior_lo90": p.prior_quantile(0.05), "prior_hi90": p.prior_quantile(0.95),
                     "mean": float(mean[j]), "sd": float(sd[j]), "lo90": float(lo[j]), "hi90": float(hi[j]),
                     "sd_ratio": float(sd[j]) / p.prior_sd if p.prior_sd > 0 else float("nan")})
    return pd.DataFrame(rows)


def uninformed(sd_ratio: float) -> bool:
    """A posterior (or point-fit) sd at least NARROWING x the prior's: the history says little about it."""
    return not np.isfinite(sd_ratio) or sd_ratio >= NARROWING


def identifiability(result: Calibration) -> list[str]:
    """Parameters the history barely informs, and pairs it cannot tell apart (by their labels)."""
    from simulator.calibration.labels import parameter_label

    scenario = result.setup.loaded.scenario
    out = []
    kind = "posterior" if result.method == "posterior" else "fitted"
    then = ("its fitted distribution stays close to the prior" if result.method == "posterior"
            else "the fitted file keeps its prior")
    for row in result.estimates.itertuples():
        if uninformed(row.sd_ratio):
            ratio = "no" if not np.isfinite(row.sd_ratio) else f"{row.sd_ratio:.2f} x the prior's"
            out.append(f"the history barely informs '{parameter_label(scenario, row.path)}' ({kind} sd {ratio}); "
                       f"{then}")
    paths = [f"'{parameter_label(scenario, p)}'" for p in result.setup.paths]
    for i in range(len(paths)):
        for j in range(i + 1, len(paths)):
            r = float(result.correlation[i, j])
            if abs(r) > STRONG_CORRELATION:
                out.append(f"{paths[i]} and {paths[j]} are correlated {r:+.2f} in the posterior: the history "
                           "pins down a combination of them, not each")
    return out


def check_points(result: Calibration) -> list[dict]:
    """Where the check runs go: evenly spaced posterior draws (or the point fit)."""
    paths = result.setup.paths
    if result.samples is not None:
        rng = np.random.default_rng(result.setup.seed)
        picks = result.samples[rng.permutation(len(result.samples))[:CHECK_DRAWS]]
    else:  # the point fit on as many seeds: its luck averages out like the posterior draws'
        picks = np.repeat(result.point.value[None, :], CHECK_DRAWS, axis=0)
    return [{p: float(v) for p, v in zip(paths, row, strict=True)} for row in picks]


def _check(result: Calibration, design_series: np.ndarray, run: RunFn) -> None:
    """Run the calibrated model (posterior draws) and the file as written; compare both with the history."""
    setup = result.setup
    points = check_points(result)
    first = (setup.seed + CHECK_SEED) % 2**32
    seeds = [(first + i) % 2**32 for i in range(len(points))]  # a luck of its own for each: the mean averages luck
    draws = runs_at(setup.loaded, points, setup.strategy, setup.replications, setup.seed, setup.months, seeds)
    written = runs_at(setup.loaded, [{p.path: p.value for p in setup.params}] * len(points), setup.strategy,
                      setup.replications, setup.seed, setup.months, seeds)
    calibrated_series, written_series = run(draws), run(written)
    result.extra_runs += draws.tasks + written.tasks
    per_draw = calibrated_series.mean(axis=1)  # (draws, months, metrics)
    mean = per_draw.mean(axis=0)
    if result.noise is not None:
        noise = result.noise.variance  # one run's variance, from runs of their own seeds
    else:
        reps = design_series.shape[1]
        dev = design_series - design_series.mean(axis=1, keepdims=True)
        noise = (dev * dev).sum(axis=(0, 1)) / (design_series.shape[0] * (reps - 1))
    _, se_obs = observation_matrix(setup.history, setup.metrics, setup.months)
    spread = np.sqrt(per_draw.var(axis=0) + noise + np.nan_to_num(se_obs) ** 2)
    result.trajectories = {"calibrated": mean, "lower": mean - Z90 * spread, "upper": mean + Z90 * spread,
                           "written": written_series.mean(axis=(0, 1))}
    _, _, _, observed = _observed(setup)
    rows = []
    cut = setup.fit_until or setup.months
    for j, metric in enumerate(setup.metrics):
        for sample, months in (("fit", slice(0, cut)), ("holdout", slice(cut, setup.months))):
            actual = observed[months, j]
            if not np.isfinite(actual).any():
                continue
            inside = np.isfinite(actual) & (actual >= result.trajectories["lower"][months, j]) & (
                actual <= result.trajectories["upper"][months, j])
            for model in ("calibrated", "written"):
                stats = fit_statistics(result.trajectories[model][months, j], actual)
                if model == "calibrated":
                    stats["in_band"] = float(inside.sum() / np.isfinite(actual).sum())
                rows.append({"metric": metric, "sample": sample, "model": model, **stats})
    result.statistics = pd.DataFrame(rows)
