"""The fit: a Gaussian likelihood of the history on the emulator, sampled (emcee) or maximised (scipy).

The history's component weights (its projection on the emulator's principal components, Higdon et al.
2008) against the emulated weights at theta:

    w_h - b = w(theta) + e,  e ~ N(0, C + diag(v(theta))),
    C = Sigma_w (1 + 1/m) + P diag(se^2) P'

Sigma_w is the model's own run-to-run noise in the components' space and b the design's shared luck
(its draws run on common random numbers), both measured by m runs of their own seeds where a first fit
lies (calibration.calibrate.LocalNoise); se the observations' standard errors, P the projection on the
components, and v(theta) the emulator's own variance of each weight. What lies outside the components no parameter can move, so it carries no information about
them. A k x k Cholesky per evaluation (k components): a walker step costs microseconds.

Posterior: emcee's affine-invariant ensemble sampler (Foreman-Mackey et al. 2013), small, pure Python
and tuning-free, on the prior times this likelihood, walkers started at the design points the
likelihood likes best. Point fit: scipy.optimize.least_squares (trust-region reflective, within the
prior's support) on the whitened residuals L^-1 (w_h - w(theta)) of the emulator's mean, from the best
design points; its Gauss-Newton covariance (J'J)^-1 gives the point fit's standard errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular

from simulator.calibration.emulator import Emulator
from simulator.calibration.priors import FitParameter, log_prior, to_unit


@dataclass
class Likelihood:
    """log p(history | theta) on an emulator: `target` the history's weights (k,), `noise` C (k, k)."""

    emulator: Emulator
    params: Sequence[FitParameter]
    target: np.ndarray
    noise: np.ndarray

    def __post_init__(self) -> None:
        k = len(self.target)
        self.noise = self.noise + np.eye(k) * 1e-10 * max(float(np.trace(self.noise)) / k, 1e-12)
        self._lower = np.linalg.cholesky(self.noise)

    def whitened(self, theta: np.ndarray) -> np.ndarray:
        """L^-1 (w_h - w(theta)) per row of theta: (m, k); its squared norm is the misfit without emulator error."""
        w, _ = self.emulator.weights(to_unit(self.params, theta))
        return solve_triangular(self._lower, (self.target - w).T, lower=True).T

    def misfit(self, weights: np.ndarray) -> np.ndarray:
        """Squared whitened distance of given weights (m, k) from the history's."""
        z = solve_triangular(self._lower, (self.target - weights).T, lower=True)
        return np.sum(z * z, axis=0)

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        w, v = self.emulator.weights(to_unit(self.params, np.atleast_2d(theta)))
        cov = self.noise[None] + v[:, :, None] * np.eye(len(self.target))[None]
        lower = np.linalg.cholesky(cov)
        z = np.linalg.solve(lower, (self.target - w)[:, :, None])[:, :, 0]
        logdet = 2.0 * np.sum(np.log(np.diagonal(lower, axis1=1, axis2=2)), axis=1)
        return -0.5 * (np.sum(z * z, axis=1) + logdet + len(self.target) * np.log(2 * np.pi))


def log_posterior(like: Likelihood, theta: np.ndarray) -> np.ndarray:
    lp = log_prior(like.params, theta)
    out = np.full(len(lp), -np.inf)
    ok = np.isfinite(lp)
    if ok.any():
        out[ok] = lp[ok] + like(theta[ok])
    return out


@dataclass(frozen=True)
class Posterior:
    samples: np.ndarray  # (draws, d) after burn-in and thinning
    acceptance: float
    walkers: int
    steps: int

    @property
    def mean(self) -> np.ndarray:
        return self.samples.mean(axis=0)

    @property
    def sd(self) -> np.ndarray:
        return self.samples.std(axis=0, ddof=1)

    def interval(self, level: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
        a = (1 - level) / 2
        return np.quantile(self.samples, a, axis=0), np.quantile(self.samples, 1 - a, axis=0)

    @property
    def correlation(self) -> np.ndarray:
        d = self.samples.shape[1]
        return np.corrcoef(self.samples, rowvar=False) if d > 1 else np.ones((1, 1))


def sample_posterior(like: Likelihood, starts: np.ndarray, seed: int, steps: int = 1500,
                     walkers: int | None = None) -> Posterior:
    """emcee ensemble: walkers near the best starting points, half the steps discarded as burn-in."""
    import emcee

    d = starts.shape[1]
    walkers = walkers or max(16, 4 * d)
    rng = np.random.default_rng(seed)
    width = np.array([p.scale[1] for p in like.params])
    centre = starts[rng.integers(len(starts), size=walkers)]
    p0 = centre + rng.normal(0, 0.01, size=(walkers, d)) * width
    for i in range(walkers):  # keep every walker where the prior has density
        while not np.isfinite(log_prior(like.params, p0[i:i + 1])[0]):
            p0[i] = centre[i] + rng.normal(0, 0.001, size=d) * width
    sampler = emcee.EnsembleSampler(walkers, d, lambda t: log_posterior(like, t), vectorize=True)
    sampler.random_state = np.random.RandomState(int(rng.integers(2**31))).get_state()  # deterministic by seed
    sampler.run_mcmc(p0, steps, progress=False)
    chain = sampler.get_chain(discard=steps // 2, thin=5, flat=True)
    return Posterior(chain, float(np.mean(sampler.acceptance_fraction)), walkers, steps)


def best_design_points(like: Likelihood, design_theta: np.ndarray, design_weights: np.ndarray,
                       count: int) -> np.ndarray:
    """The design points whose own mean series fit the history best: where the search starts."""
    return design_theta[np.argsort(like.misfit(design_weights))[:count]]


@dataclass(frozen=True)
class PointFit:
    value: np.ndarray
    se: np.ndarray  # Gauss-Newton standard errors (inf where the data do not inform a parameter)
    cost: float  # half the sum of squared whitened residuals
    starts: int


def point_fit(like: Likelihood, starts: np.ndarray) -> PointFit:
    """least_squares on the whitened emulator residuals within the priors' support, from each start."""
    from scipy.optimize import least_squares

    lo = np.array([p.support[0] for p in like.params])
    hi = np.array([p.support[1] for p in like.params])
    width = np.array([p.scale[1] for p in like.params])
    origin = np.array([p.scale[0] for p in like.params])
    lo_u, hi_u = (lo - origin) / width, (hi - origin) / width
    best = None
    for start in starts:
        u0 = np.clip((start - origin) / width, lo_u + 1e-9, hi_u - 1e-9)
        res = least_squares(lambda u: like.whitened(origin + u * width)[0], u0, bounds=(lo_u, hi_u),
                            method="trf", x_scale=1.0, diff_step=1e-4)
        if best is None or res.cost < best.cost:
            best = res
    j = best.jac / width  # d residual / d theta
    try:
        cov = np.linalg.inv(j.T @ j)
        se = np.sqrt(np.clip(np.diag(cov), 0, None))
    except np.linalg.LinAlgError:
        se = np.full(len(width), np.inf)
    return PointFit(origin + best.x * width, se, float(best.cost), len(starts))
