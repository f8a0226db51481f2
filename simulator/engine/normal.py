"""The standard normal quantile (ndtri) without importing scipy.special.

The engine turns keyed uniforms into normal draws with scipy.special.ndtri. Importing scipy.special costs ~0.35 s
(it pulls in scipy's array-API layer), on the critical path of every `spc run` before its workers start. Its
ndtri is Cephes' rational approximation (S. L. Moshier, Cephes Math Library 2.3, ndtri.c; in scipy through the
xsf library): this module compiles the same algorithm, with the same coefficients and the same operations in the
same order (IEEE double, no fused multiply-add), with numba. tests/test_speed_invariants.py checks it against
scipy's to the bit on millions of uniforms and on the edges of every branch. Without numba, scipy's own is used.
"""

from __future__ import annotations

import math

import numpy as np

from simulator.engine._numba import LazyKernel

_S2PI = 2.50662827463100050242e0  # sqrt(2 pi)
_EXP_M2 = 0.13533528323661269189  # exp(-2)
# 0 <= |y - 0.5| <= 3/8
_P0 = (-5.99633501014107895267e1, 9.80010754185999661536e1, -5.66762857469070293439e1, 1.39312609387279679503e1,
       -1.23916583867381258016e0)
_Q0 = (1.95448858338141759834e0, 4.67627912898881538453e0, 8.63602421390890590575e1, -2.25462687854119370527e2,
       2.00260212380060660359e2, -8.20372256168333339912e1, 1.59056225126211695515e1, -1.18331621121330003142e0)
# z = sqrt(-2 log y) between 2 and 8
_P1 = (4.05544892305962419923e0, 3.15251094599893866154e1, 5.71628192246421288162e1, 4.40805073893200834700e1,
       1.46849561928858024014e1, 2.18663306850790267539e0, -1.40256079171354495875e-1, -3.50424626827848203418e-2,
       -8.57456785154685413611e-4)
_Q1 = (1.57799883256466749731e1, 4.53907635128879210584e1, 4.13172038254672030440e1, 1.50425385692907503408e1,
       2.50464946208309415979e0, -1.42182922854787788574e-1, -3.80806407691578277194e-2, -9.33259480895457427372e-4)
# z between 8 and 64
_P2 = (3.23774891776946035970e0, 6.91522889068984211695e0, 3.93881025292474443415e0, 1.33303460815807542389e0,
       2.01485389549179081538e-1, 1.23716634817820021358e-2, 3.01581553508235416007e-4, 2.65806974686737550832e-6,
       6.23974539184983293730e-9)
_Q2 = (6.02427039364742014255e0, 3.67983563856160859403e0, 1.37702099489081330271e0, 2.16236993594496635890e-1,
       1.34204006088543189037e-2, 3.28014464682127739104e-4, 2.89247864745380683936e-6, 6.79019408009981274425e-9)
_COEF = np.array(_P0 + _Q0 + _P1 + _Q1 + _P2 + _Q2)  # one array for the kernel: offsets 0, 5, 13, 22, 30, 39


def _polevl(x, c, start, n):  # pragma: no cover - compiled into the kernel
    """Cephes polevl: c[start] x^n + ... + c[start + n], by Horner's rule from the highest power."""
    ans = c[start]
    for i in range(1, n + 1):
        ans = ans * x + c[start + i]
    return ans


def _p1evl(x, c, start, n):  # pragma: no cover - compiled into the kernel
    """Cephes p1evl: as polevl with a leading coefficient of 1 that is not stored (n coefficients)."""
    ans = x + c[start]
    for i in range(1, n):
        ans = ans * x + c[start + i]
    return ans


def _ndtri_kernel(y, out, c):  # pragma: no cover - runs compiled
    """out[i] = Cephes ndtri(y[i]) (see the module docstring)."""
    for i in range(y.shape[0]):
        y0 = y[i]
        if y0 == 0.0:
            out[i] = -np.inf
            continue
        if y0 == 1.0:
            out[i] = np.inf
            continue
        if y0 < 0.0 or y0 > 1.0:
            out[i] = np.nan
            continue
        code = 1
        v = y0
        if v > 1.0 - 0.13533528323661269189:
            v = 1.0 - v
            code = 0
        if v > 0.13533528323661269189:
            v = v - 0.5
            v2 = v * v
            x = v + v * (v2 * _polevl(v2, c, 0, 4) / _p1evl(v2, c, 5, 8))
            out[i] = x * 2.50662827463100050242e0
            continue
        x = math.sqrt(-2.0 * math.log(v))
        x0 = x - math.log(x) / x
        z = 1.0 / x
        if x < 8.0:
            x1 = z * _polevl(z, c, 13, 8) / _p1evl(z, c, 22, 8)
        else:
            x1 = z * _polevl(z, c, 30, 8) / _p1evl(z, c, 39, 8)
        x = x0 - x1
        if code != 0:
            x = -x
        out[i] = x


_NDTRI = LazyKernel(_ndtri_kernel, "void(float64[::1], float64[::1], float64[::1])", (_polevl, _p1evl))


def ndtri(y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """scipy.special.ndtri(y, out=out) for a 1-d float64 array, bit for bit (compiled; scipy's without numba)."""
    kernel = _NDTRI.get()
    y = np.asarray(y, dtype=np.float64)
    if kernel is None or y.ndim != 1:
        from scipy.special import ndtri as scipy_ndtri

        return scipy_ndtri(y, out=out) if out is not None else scipy_ndtri(y)
    if out is None:
        out = np.empty(y.shape[0])
    src = y if y.flags.c_contiguous else np.ascontiguousarray(y)
    if out.flags.c_contiguous and out.dtype == np.float64:
        kernel(src, out, _COEF)
        return out
    tmp = np.empty(y.shape[0])
    kernel(src, tmp, _COEF)
    out[...] = tmp
    return out
