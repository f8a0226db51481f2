"""The parameters a calibration fits, each with its prior: the scenario's own distribution, or bounds.

    --fit segments.mass_retail.churn_per_month                  the file's distribution is the prior
    --fit links.employee_satisfaction->service_quality.effect=0.02:0.2   a uniform prior on [0.02, 0.2]

A prior is a `Distribution` (simulator.scenario.uncertainty) truncated at its field's bounds, so the
design samples it with `decision.sampling` exactly as `spc decide` would, and the posterior's log
density uses the same truncation. Initiative effects are never fitted by default: a history of the
status quo holds no run of an initiative, so it says nothing about what one would do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from simulator.errors import UsageError, closest
from simulator.scenario.loader import LoadedScenario
from simulator.scenario.uncertainty import Bounds, Distribution, field_bounds, owner_and_field

MAX_DEFAULT = 8  # without --fit, at most this many of the file's assumptions are fitted at once
_GRID = (np.arange(4000) + 0.5) / 4000  # quantile grid for a prior's moments


@dataclass(frozen=True)
class FitParameter:
    """One fitted number: its path, its prior, the value the file gives it now, and its field's bounds."""

    path: str
    prior: Distribution
    value: float
    bounds: Bounds

    @cached_property
    def _grid(self) -> np.ndarray:
        from simulator.decision.sampling import inverse

        return np.asarray(inverse(self.prior, _GRID, self.bounds), dtype=float)

    @property
    def prior_mean(self) -> float:
        return float(self._grid.mean())

    @property
    def prior_sd(self) -> float:
        return float(self._grid.std())

    def prior_quantile(self, q: float) -> float:
        return float(np.quantile(self._grid, q))

    @cached_property
    def support(self) -> tuple[float, float]:
        """Where the prior has density: its own support cut at the field's bounds."""
        lo, hi = self.prior.support()
        return max(lo, self.bounds.lo), min(hi, self.bounds.hi)

    @cached_property
    def scale(self) -> tuple[float, float]:
        """(origin, width) mapping the prior's 0.05%..99.95% range onto [0, 1] for the emulator."""
        lo, hi = self.prior_quantile(0.0005), self.prior_quantile(0.9995)
        return lo, (hi - lo) if hi > lo else 1.0

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        """The prior's log density (up to a constant) at each of `x`; -inf outside its support."""
        return _frozen_logpdf(self.prior, np.asarray(x, dtype=float), self.support)


def _frozen_logpdf(d: Distribution, x: np.ndarray, support: tuple[float, float]) -> np.ndarray:
    """Closed forms, constants dropped: scipy.stats' own logpdf costs more than the sampler step itself."""
    lo, hi = support
    inside = (x >= lo) & (x <= hi)
    out = np.full(x.shape, -np.inf)
    if not inside.any():
        return out
    xi = x[inside]
    with np.errstate(divide="ignore", invalid="ignore"):
        if d.dist == "triangular":
            left = (xi - d.low) / (d.mode - d.low) if d.mode > d.low else np.where(xi >= d.mode, 1.0, 0.0)
            right = (d.high - xi) / (d.high - d.mode) if d.high > d.mode else np.where(xi <= d.mode, 1.0, 0.0)
            val = np.log(np.where(xi < d.mode, left, right))
        elif d.dist == "uniform":
            val = np.zeros_like(xi)
        elif d.dist == "normal":
            val = -0.5 * ((xi - d.mean) / d.sd) ** 2
        elif d.dist == "lognormal":
            sigma2 = math.log1p((d.sd / d.mean) ** 2)
            m = math.log(d.mean) - sigma2 / 2
            val = -np.log(xi) - (np.log(xi) - m) ** 2 / (2 * sigma2)
        else:  # beta on [low, high]
            blo = 0.0 if d.low is None else d.low
            bhi = 1.0 if d.high is None else d.high
            mean, sd = (d.mean - blo) / (bhi - blo), d.sd / (bhi - blo)
            k = mean * (1 - mean) / (sd * sd) - 1
            t = (xi - blo) / (bhi - blo)
            val = (mean * k - 1) * np.log(t) + ((1 - mean) * k - 1) * np.log1p(-t)
    out[inside] = np.where(np.isnan(val), -np.inf, val)
    return out


def candidates(loaded: LoadedScenario) -> list[str]:
    """The file's assumptions a history of the status quo can inform (initiative effects excluded)."""
    return sorted(p for p in loaded.scenario.uncertainty.assumptions if not p.startswith("initiatives."))


def parse_fit(loaded: LoadedScenario, fit: Sequence[str] | None) -> list[FitParameter]:
    """The parameters named by `--fit` (PATH or PATH=LOW:HIGH), or the file's assumptions by default."""
    from simulator.scenario.paths import get_value

    assumptions = loaded.scenario.uncertainty.assumptions
    data = loaded.scenario.as_data()
    if not fit:
        fit = candidates(loaded)
        if not fit:
            raise UsageError(f"{loaded.path}: no assumption written as a distribution to fit "
                             "(hint: name parameters with --fit PATH=LOW:HIGH)")
        if len(fit) > MAX_DEFAULT:
            raise UsageError(f"{loaded.path} has {len(fit)} assumptions; name the 2-{MAX_DEFAULT} to fit with --fit PATH "
                             f"(e.g. --fit {fit[0]})")
    out: list[FitParameter] = []
    for item in fit:
        path, _, rng = item.partition("=")
        path = path.strip()
        if owner_and_field(path) is None:
            raise UsageError(f"--fit {item}: '{path}' is not a parameter a calibration can fit "
                             f"({closest(path, assumptions) or 'e.g. links.FROM->TO.effect or segments.NAME.churn_per_month'})")
        value = get_value(data, path)  # UsageError with a hint for an unknown segment, link, node ...
        bounds = field_bounds(path)
        if rng:
            prior = _uniform(item, rng, bounds)
        elif path in assumptions:
            prior = assumptions[path]
        else:
            raise UsageError(f"--fit {path}: the file gives it no distribution (hint: give bounds, "
                             f"--fit {path}=LOW:HIGH)")
        if any(p.path == path for p in out):
            raise UsageError(f"--fit {path} is given twice")
        out.append(FitParameter(path, prior, float(value), bounds))
    return out


def _uniform(item: str, rng: str, bounds: Bounds) -> Distribution:
    lo_text, sep, hi_text = rng.partition(":")
    try:
        lo, hi = float(lo_text), float(hi_text)
    except ValueError:
        raise UsageError(f"--fit {item}: bounds are LOW:HIGH, two numbers (e.g. =0.1:0.3)") from None
    if not sep or not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
        raise UsageError(f"--fit {item}: bounds are LOW:HIGH with LOW < HIGH")
    if bounds.below(lo) or bounds.above(hi):
        raise UsageError(f"--fit {item}: the field accepts {bounds.text()}")
    return Distribution(dist="uniform", low=lo, high=hi, source="--fit bounds")


def log_prior(params: Sequence[FitParameter], theta: np.ndarray) -> np.ndarray:
    """Sum of the priors' log densities, for a (walkers x parameters) array."""
    theta = np.atleast_2d(theta)
    return sum((p.logpdf(theta[:, j]) for j, p in enumerate(params)), np.zeros(len(theta)))


def to_unit(params: Sequence[FitParameter], theta: np.ndarray) -> np.ndarray:
    """Parameter values scaled to the emulator's inputs (each prior's central range onto [0, 1])."""
    origin = np.array([p.scale[0] for p in params])
    width = np.array([p.scale[1] for p in params])
    return (np.atleast_2d(theta) - origin) / width
