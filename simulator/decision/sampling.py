"""Draws of a scenario's uncertain assumptions: a space-filling design mapped through each distribution.

sample -> evaluate -> analyse, as SALib: `draw` gives one dict of parameter values per draw, which a run
applies to the scenario data by path (paths.with_values). The unit design is a scrambled Sobol sequence
(or a Latin hypercube) seeded by (seed, a stream of its own), so the draws of one seed are the same on
every machine and share no stream with the engine's random numbers of that seed. A correlation group is
imposed with a Gaussian copula: the design's normal scores times the Cholesky factor of the normal-score
correlation that gives each pair its rank (Spearman) correlation. Each uniform then goes through its
distribution's inverse CDF, truncated at its field's bounds (a normal on a share stays in [0, 1]), and
whole-number fields are rounded.

scipy.stats is imported inside `draw` only (it takes ~0.5 s); the point values need no scipy.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from simulator.scenario.uncertainty import Bounds, Distribution, correlation_matrix, field_bounds, point_value

DRAW_STREAM = 0x415353  # "ASS(umptions)": keeps the design apart from every engine stream of the same seed
DESIGNS = ("sobol", "lhs")
_TINY = 2.0 ** -53  # uniforms are kept in [tiny, 1 - tiny] so an unbounded inverse CDF stays finite


def point_values(assumptions: Mapping[str, Distribution]) -> dict[str, float | int]:
    """The value every ordinary run uses for each assumption (mode of a triangular, mean as written otherwise)."""
    return {path: point_value(path, dist) for path, dist in assumptions.items()}


def unit_design(n: int, dims: int, seed: int, design: str = "sobol") -> np.ndarray:
    """n points in (0, 1)^dims: scrambled Sobol or Latin hypercube, seeded by (seed, DRAW_STREAM)."""
    from scipy.stats import qmc

    if design not in DESIGNS:
        raise ValueError(f"design is one of {', '.join(DESIGNS)}, got {design!r}")
    rng = np.random.default_rng(np.random.SeedSequence((int(seed), DRAW_STREAM)))
    if design == "sobol":
        engine = qmc.Sobol(dims, scramble=True, rng=rng)
        with warnings.catch_warnings():  # n need not be a power of 2: the first n points of the sequence
            warnings.simplefilter("ignore", UserWarning)
            u = engine.random(n)
    else:
        u = qmc.LatinHypercube(dims, rng=rng).random(n)
    return np.clip(u, _TINY, 1.0 - _TINY)


def draw(assumptions: Mapping[str, Distribution], n: int, seed: int, design: str = "sobol",
         correlate: Iterable[Any] = ()) -> list[dict[str, float | int]]:
    """n draws of the assumptions, one dict {path: value} per draw; deterministic by seed.

    Columns follow the sorted paths, so the same assumptions give the same draws whatever their order.
    `correlate`: groups with `parameters` and `rho` (models or mappings), as uncertainty.correlate.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    paths = sorted(assumptions)
    if not paths:
        return [{} for _ in range(n)]
    u = unit_design(n, len(paths), seed, design)
    groups = list(correlate)
    if groups:
        u = _copula(u, paths, groups)
    columns = [inverse(assumptions[p], u[:, j], field_bounds(p)) for j, p in enumerate(paths)]
    return [{p: col[i] for p, col in zip(paths, columns, strict=True)} for i in range(n)]


def _copula(u: np.ndarray, paths: list[str], groups: list[Any]) -> np.ndarray:
    from scipy.special import ndtr, ndtri

    lower = np.linalg.cholesky(correlation_matrix(paths, groups))
    return np.clip(ndtr(ndtri(u) @ lower.T), _TINY, 1.0 - _TINY)


def inverse(dist: Distribution, u: np.ndarray, bounds: Bounds | None = None) -> list[float | int]:
    """Values of `dist` at the uniforms `u` (its inverse CDF), truncated at and clipped to `bounds`."""
    from scipy import stats

    bounds = bounds or Bounds()

    u = np.asarray(u, dtype=float)
    kind = dist.dist
    if kind in ("triangular", "uniform") and dist.low == dist.high:
        x = np.full(u.shape, float(dist.point))
    elif kind == "triangular":
        width = dist.high - dist.low
        x = stats.triang.ppf(u, (dist.mode - dist.low) / width, loc=dist.low, scale=width)
    elif kind == "uniform":
        x = dist.low + u * (dist.high - dist.low)
    elif kind == "normal":
        lo = max(-math.inf if dist.low is None else dist.low, bounds.lo)
        hi = min(math.inf if dist.high is None else dist.high, bounds.hi)
        if math.isinf(lo) and math.isinf(hi):
            x = stats.norm.ppf(u, loc=dist.mean, scale=dist.sd)
        else:
            x = stats.truncnorm.ppf(u, (lo - dist.mean) / dist.sd, (hi - dist.mean) / dist.sd,
                                    loc=dist.mean, scale=dist.sd)
    elif kind == "lognormal":
        sigma = math.sqrt(math.log1p((dist.sd / dist.mean) ** 2))
        frozen = stats.lognorm(s=sigma, scale=dist.mean * math.exp(-sigma * sigma / 2))
        lo = max(0.0 if dist.low is None else dist.low, bounds.lo, 0.0)
        hi = min(math.inf if dist.high is None else dist.high, bounds.hi)
        p_lo, p_hi = float(frozen.cdf(lo)), float(frozen.cdf(hi))
        x = frozen.ppf(p_lo + u * (p_hi - p_lo))
    elif kind == "beta":
        lo = 0.0 if dist.low is None else dist.low
        hi = 1.0 if dist.high is None else dist.high
        m = (dist.mean - lo) / (hi - lo)
        s = dist.sd / (hi - lo)
        k = m * (1 - m) / (s * s) - 1
        x = stats.beta.ppf(u, m * k, (1 - m) * k, loc=lo, scale=hi - lo)
    else:  # pragma: no cover - the model admits no other kind
        raise ValueError(f"unknown distribution {kind!r}")
    return [bounds.clip(float(v)) for v in np.asarray(x, dtype=float)]
