"""The sign-constrained least squares behind the engine's gains is scipy's: never a worse fit than nnls."""

from __future__ import annotations

import numpy as np
from scipy.optimize import lsq_linear, nnls

from simulator.analysis.causal import signed_lsq


def _problem(rng: np.random.Generator):
    n, k = int(rng.integers(4, 40)), int(rng.integers(1, 8))
    X = rng.normal(size=(n, k))
    if k > 1 and rng.random() < 0.5:  # near-collinear parents, as the chain's measures often are
        X[:, 1] = X[:, 0] + 0.05 * rng.normal(size=n)
    y = X @ rng.normal(size=k) + 0.3 * rng.normal(size=n)
    signs = rng.choice([-1.0, 1.0], size=k)
    return X, y, signs


def test_signed_lsq_residual_never_larger_than_scipy() -> None:
    rng = np.random.default_rng(14)
    for _ in range(200):
        X, y, signs = _problem(rng)
        g = signed_lsq(X, y, signs)
        assert np.all(g * signs >= 0.0)
        ours = float(np.linalg.norm(X @ g - y))
        _, ref_nnls = nnls(X * signs, y)
        lo = np.where(signs > 0, 0.0, -np.inf)
        hi = np.where(signs > 0, np.inf, 0.0)
        ref_bvls = float(np.linalg.norm(X @ lsq_linear(X, y, bounds=(lo, hi), method="bvls").x - y))
        assert ours <= min(ref_nnls, ref_bvls) + 1e-9 * (1.0 + float(np.linalg.norm(y)))


def test_signed_lsq_edge_cases() -> None:
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = X @ np.array([2.0, -3.0])
    assert np.allclose(signed_lsq(X, y, np.array([1.0, -1.0])), [2.0, -3.0])
    g = signed_lsq(X, y, np.array([1.0, 1.0]))  # the second gain wants to be negative: held at 0
    assert g[1] == 0.0 and g[0] >= 0.0
    assert signed_lsq(np.zeros((3, 0)), np.ones(3), np.zeros(0)).shape == (0,)
