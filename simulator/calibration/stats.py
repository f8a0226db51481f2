"""How well a simulated series fits a history, as system-dynamics practice reports it (Sterman 1984).

Theil's inequality statistics split the mean squared error into bias, unequal variation and unequal
covariation:

    MSE = (mean_s - mean_a)^2 + (s_s - s_a)^2 + 2 (1 - r) s_s s_a
    U^M = (mean_s - mean_a)^2 / MSE,  U^S = (s_s - s_a)^2 / MSE,  U^C = 2 (1 - r) s_s s_a / MSE

with s the standard deviations (divisor n) and r the correlation of simulated and actual; the three
shares sum to 1. A good fit has a small MSE with its error mostly in U^C (unsystematic, point by point
noise); a large U^M or U^S is a systematic error. Also: MAPE (%) and R^2 as Sterman reports it, the
squared correlation of simulated and actual, plus the RMSE.
"""

from __future__ import annotations

import math

import numpy as np


def fit_statistics(simulated: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    """RMSE, MAPE (%), R^2 and Theil's U^M, U^S, U^C of `simulated` against `actual` (NaN entries skipped)."""
    s = np.asarray(simulated, dtype=float)
    a = np.asarray(actual, dtype=float)
    ok = np.isfinite(s) & np.isfinite(a)
    s, a = s[ok], a[ok]
    n = len(a)
    nan = float("nan")
    if n == 0:
        return {"n": 0, "rmse": nan, "mape": nan, "r2": nan, "um": nan, "us": nan, "uc": nan}
    err = s - a
    mse = float(np.mean(err * err))
    nonzero = a != 0
    mape = float(np.mean(np.abs(err[nonzero] / a[nonzero])) * 100) if nonzero.any() else nan
    ss, sa = float(s.std()), float(a.std())
    r = float(np.corrcoef(s, a)[0, 1]) if ss > 0 and sa > 0 else nan
    if mse > 0:
        um = (float(s.mean()) - float(a.mean())) ** 2 / mse
        us = (ss - sa) ** 2 / mse
        uc = 2 * (1 - r) * ss * sa / mse if math.isfinite(r) else max(0.0, 1 - um - us)
    else:
        um = us = uc = nan
    return {"n": n, "rmse": math.sqrt(mse), "mape": mape, "r2": r * r if math.isfinite(r) else nan,
            "um": um, "us": us, "uc": uc}
