"""Maximum-likelihood fits of BG/NBD (purchase and dropout) and Gamma-Gamma (spend per purchase).

Library: pymc-marketing's CLV module (the maintained successor of `lifetimes`), the optional `data` extra.
The published CDNOW estimates are maximum likelihood, so each parameter gets a flat prior on (0, inf)
(`HalfFlat`) and the fit is `method="map"`: with flat priors and no Jacobian term the posterior mode is the
MLE. Intervals are Laplace (Wald) intervals on the log scale, from a central-difference Hessian of the
model's compiled log-likelihood at the optimum (cheaper than compiling pytensor's symbolic Hessian, which
took 37 s cold here); the same normal approximation gives parameter draws for per-customer intervals.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulator.errors import UsageError

Z95 = 1.959963984540054
EXTRA_HINT = "spc import/portfolio need the optional 'data' extra: pip install \".[data]\" (pymc-marketing)"


def _require() -> None:
    try:
        import pymc_marketing.clv  # noqa: F401
    except ImportError:
        raise UsageError(EXTRA_HINT) from None


@dataclass
class Fit:
    """One fitted model: MLE, standard errors on the log scale, log-likelihood, and the library object."""

    name: str
    params: dict[str, float]
    log_se: dict[str, float]
    cov: np.ndarray  # covariance of the log-parameters, in `params` order
    loglik: float
    n: int
    model: object  # the pymc-marketing model, its fit_result set to the MLE

    def interval(self, key: str) -> tuple[float, float]:
        value, se = self.params[key], self.log_se[key]
        return value * float(np.exp(-Z95 * se)), value * float(np.exp(Z95 * se))

    def draws(self, n: int, seed: int) -> dict[str, np.ndarray]:
        """Parameter draws from the Laplace approximation (log scale normal), for prediction intervals."""
        names = list(self.params)
        mean = np.log([self.params[k] for k in names])
        z = np.random.default_rng(seed).multivariate_normal(mean, self.cov, size=n)
        return {k: np.exp(z[:, i]) for i, k in enumerate(names)}

    def set_params(self, values: dict[str, np.ndarray]) -> None:
        """Point the library model's predictions at these parameter draws (chain 1, draw n)."""
        import arviz as az
        import xarray as xr

        n = len(next(iter(values.values())))
        self.model.idata = az.InferenceData(posterior=xr.Dataset({k: (("chain", "draw"), np.asarray(v, float)[None, :])
                                            for k, v in values.items()},
                                           coords={"chain": [0], "draw": np.arange(n)}))

    def at_mle(self) -> None:
        self.set_params({k: np.array([v]) for k, v in self.params.items()})


def _laplace(model, names: list[str], mle: dict[str, float]) -> tuple[np.ndarray, float]:
    """Covariance of log-parameters from a central-difference Hessian of the log-likelihood, and its maximum."""
    logp = model.compile_logp(jacobian=False)
    value_names = {v.name.removesuffix("_log__"): v.name for v in model.value_vars}
    theta = np.log([mle[k] for k in names])

    def f(x: np.ndarray) -> float:
        return float(logp({value_names[k]: x[i] for i, k in enumerate(names)}))

    k, h = len(names), 1e-4
    hess = np.empty((k, k))
    for i in range(k):
        for j in range(i, k):
            ei, ej = np.eye(k)[i] * h, np.eye(k)[j] * h
            hess[i, j] = hess[j, i] = (f(theta + ei + ej) - f(theta + ei - ej) - f(theta - ei + ej)
                                       + f(theta - ei - ej)) / (4 * h * h)
    try:
        cov = np.linalg.inv(-hess)
    except np.linalg.LinAlgError:
        cov = np.full((k, k), np.nan)
    return cov, f(theta)


def _fit(model_cls, data: pd.DataFrame, names: list[str], label: str) -> Fit:
    from pymc_extras.prior import Prior

    model = model_cls(model_config={k: Prior("HalfFlat") for k in names})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # find_MAP's progress notes; a failed optimum shows in the Hessian below
        model.fit(data, method="map", progressbar=False)
    post = model.fit_result
    mle = {k: float(post[k].values.ravel()[0]) for k in names}
    cov, loglik = _laplace(model.model, names, mle)
    se = {k: float(np.sqrt(cov[i, i])) for i, k in enumerate(names)}
    fit = Fit(label, mle, se, cov, loglik, len(data), model)
    fit.at_mle()
    return fit


def fit_bgnbd(summary: pd.DataFrame) -> Fit:
    """BG/NBD (Fader, Hardie & Lee 2005) on frequency, recency, T in weeks: r, alpha (purchase), a, b (dropout)."""
    _require()
    from pymc_marketing.clv import BetaGeoModel

    data = summary[["customer_id", "frequency", "recency", "T"]].reset_index(drop=True)
    return _fit(BetaGeoModel, data, ["r", "alpha", "a", "b"], "BG/NBD")


def fit_gamma_gamma(summary: pd.DataFrame) -> Fit:
    """Gamma-Gamma spend model on repeat customers' mean repeat spend: p, q, gamma (pymc-marketing calls it v)."""
    _require()
    from pymc_marketing.clv import GammaGammaModel

    rep = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    if len(rep) < 10:
        raise UsageError(f"only {len(rep)} customers with a repeat purchase of positive value: too few to fit "
                         "the Gamma-Gamma spend model (need at least 10)")
    data = rep[["customer_id", "frequency", "monetary_value"]].reset_index(drop=True)
    return _fit(GammaGammaModel, data, ["p", "q", "v"], "Gamma-Gamma")
