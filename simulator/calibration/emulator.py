"""A Gaussian-process emulator of the model's mean monthly series, and the model's own noise.

Higdon et al.'s recipe for calibrating a simulator with many outputs (JASA 2008): the design's
per-draw mean series (the observed month-metric entries, each metric on its own scale) are reduced to their leading
principal components, and each component's weight is a Gaussian process of the parameters
(scikit-learn's GaussianProcessRegressor: a constant times an anisotropic RBF kernel plus a white
term for what common random numbers leave rough). The emulator predicts the mean series at any
parameter values with its own variance, mapped back through the components; the components left out
add their variance as a constant.

Components are taken metric by metric (a block-diagonal basis). The model's own noise, how far one run strays from the mean of its draw, is the covariance of the
within-draw deviations pooled over the design, in the components' space: the history is one such run,
so the likelihood must allow for it, month-to-month correlation included.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular

VARIANCE_KEPT = 0.99  # components up to this share of the design's variance
MAX_COMPONENTS = 6  # per metric


@dataclass
class Emulator:
    """Mean series m(x) = mu + scale * (w(x) @ basis), each weight w_j(x) a fitted GP."""

    mu: np.ndarray  # (n,) mean of the design's series
    scale: np.ndarray  # (n,) their metric's spread across the design (1 where it does not move)
    basis: np.ndarray  # (k, n) principal directions in standardised units
    gps: list  # k fitted GaussianProcessRegressor
    white: np.ndarray  # (k,) each GP's fitted white-noise variance: what common random numbers leave rough
    _cache: list | None = None

    @property
    def components(self) -> int:
        return len(self.gps)

    @property
    def loadings(self) -> np.ndarray:
        """(n, k): how a unit of each component's weight moves each output (output units)."""
        return self.basis.T * self.scale[:, None]

    def weights(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predicted component weights (m, k) and their latent variances (m, k) at unit inputs x (m, d).

        The GPs' predictive equations written out (the kernel is fixed after fitting): sklearn's `predict`
        validates its input on every call, which costs more than the algebra for the few points of one
        sampler step. The white term is left out of the variance: the runs' own noise is counted apart.
        """
        x = np.atleast_2d(x)
        mean = np.empty((len(x), self.components))
        var = np.empty_like(mean)
        for j, (train, alpha, lower, amplitude, length, y_mean, y_std) in enumerate(self._fitted()):
            diff = (x[:, None, :] - train[None, :, :]) / length
            cross = amplitude * np.exp(-0.5 * np.sum(diff * diff, axis=2))  # (m, points)
            mean[:, j] = (cross @ alpha) * y_std + y_mean
            v = solve_triangular(lower, cross.T, lower=True)
            var[:, j] = np.maximum(amplitude - np.sum(v * v, axis=0), 1e-12) * y_std * y_std
        return mean, var

    def _fitted(self) -> list[tuple]:
        if self._cache is None:
            self._cache = [(gp.X_train_, gp.alpha_, gp.L_, float(gp.kernel_.k1.k1.constant_value),
                            np.asarray(gp.kernel_.k1.k2.length_scale, dtype=float),
                            float(np.ravel(gp._y_train_mean)[0]), float(np.ravel(gp._y_train_std)[0]))
                           for gp in self.gps]
        return self._cache

    def project(self, y: np.ndarray) -> np.ndarray:
        """Component weights of series `y` (..., n): where the history sits in the emulator's space."""
        return ((y - self.mu) / self.scale) @ self.basis.T

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The emulated mean series (m, n) at unit inputs x (m, d)."""
        w, _ = self.weights(x)
        return self.mu + (w @ self.basis) * self.scale


def fit_emulator(x: np.ndarray, means: np.ndarray, groups: np.ndarray | None = None, seed: int = 0) -> Emulator:
    """An emulator of `means` (points, n) over unit inputs `x` (points, d).

    `groups` (n,): the metric of each output. Components are taken per metric, so that a metric the model
    computes without noise (a survey index moved by a stock) keeps components of its own instead of sharing
    them with a noisy count, whose noise would drown what it says.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    mu = means.mean(axis=0)
    groups = np.zeros(means.shape[1], dtype=int) if groups is None else np.asarray(groups)
    scale = np.ones(means.shape[1])
    for g in np.unique(groups):  # one scale per metric: a month where the parameters move little stays small
        cols = groups == g
        spread = float(np.sqrt(np.mean(means[:, cols].var(axis=0))))
        scale[cols] = spread if spread > 1e-12 * max(float(np.abs(mu[cols]).max()), 1.0) else 1.0
    z = (means - mu) / scale
    rows = []
    for g in np.unique(groups):
        cols = np.flatnonzero(groups == g)
        _, s, vt = np.linalg.svd(z[:, cols], full_matrices=False)
        share = np.cumsum(s * s) / max(float(np.sum(s * s)), 1e-300)
        k = int(min(np.searchsorted(share, VARIANCE_KEPT) + 1, MAX_COMPONENTS, len(s)))
        block = np.zeros((k, z.shape[1]))
        block[:, cols] = vt[:k]
        rows.append(block)
    basis = np.vstack(rows)
    w = z @ basis.T
    d = x.shape[1]
    gps, white = [], []
    for j in range(len(basis)):
        kernel = (ConstantKernel(1.0, (1e-3, 1e3)) * RBF(np.full(d, 0.5), (1e-2, 1e2))
                  + WhiteKernel(1e-3, (1e-8, 1.0)))
        gp = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=1, random_state=seed + j)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gp.fit(x, w[:, j])
        gps.append(gp)
        noise = gp.kernel_.k2.noise_level * float(getattr(gp, "_y_train_std", 1.0)) ** 2
        white.append(noise)
    return Emulator(mu, scale, basis, gps, np.asarray(white))
