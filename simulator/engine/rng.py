"""Keyed random numbers: every draw is a pure function of what it belongs to, never of how many came before.

A draw is `hash(seed, replication, purpose, entity, step, index)` mapped to a uniform in (0, 1) and then
inverse-transformed (exponential, normal, Poisson), so
  * a customer's contacts, handle times, patience, experience noise and purchases in a step depend only on
    (seed, replication, purpose, customer key, step): the same whatever else happens in the run;
  * a higher rate gives more events on the same uniforms (inverse transform is monotone in the rate);
  * the k-th customer of a segment and the j-th employee are the same person in every strategy.
That is what keeps strategies on common random numbers after their customer sets diverge. No generator
state is carried anywhere, so results do not depend on worker count, executor or call order.

The hash is SplitMix64's finaliser (Steele, Lea & Flood 2014) applied to a chained combination of the
key's fields: a well-mixed 64-bit function, vectorised over numpy uint64 arrays (wrap-around arithmetic).

The hashing and the Poisson CDF walk also run as numba kernels (compiled lazily, cached on disk; see
`_numba`) that do the same integer and float operations in the same order, so both paths give bit-identical
draws. Transcendental functions (exp, log) always run in numpy, whose SIMD versions may differ from
libm in the last bit: a kernel gets `np.exp(-mean)`, never computes it. ndtri is scipy's scalar Cephes code (libm's
log, no SIMD), which `simulator.engine.normal` compiles bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from simulator.engine._numba import LazyKernel
from simulator.engine.normal import ndtri

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_TO_UNIT = 2.0**-53

# Purposes: one constant each, so draws for different purposes never coincide.
CONTACTS, CONTACT_TIME, HANDLING, PATIENCE, EXPERIENCE, PURCHASES, CHURN, ARRIVALS, EMPLOYEES, DISPOSITION = range(10)
_N_PURPOSES = 10

SEGMENT_SHIFT = 40
"""A customer's key is (segment << SEGMENT_SHIFT) | ordinal: the ordinal-th customer of that segment."""


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser, in place on a uint64 array (returns it)."""
    x ^= x >> _S30
    x *= _M1
    x ^= x >> _S27
    x *= _M2
    x ^= x >> _S31
    return x


def _scalar_mix(x: int) -> int:
    x &= 0xFFFFFFFFFFFFFFFF
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return x ^ (x >> 31)


@lru_cache(maxsize=1024)
def _purpose_root(root: int, purpose: int) -> int:
    return _scalar_mix(root ^ (purpose * 0xA24BAED4963EE407))


@lru_cache(maxsize=64)
def _purpose_roots(root: int) -> np.ndarray:
    return np.array([_purpose_root(root, purpose) for purpose in range(_N_PURPOSES)], dtype=np.uint64)


@dataclass(frozen=True)
class KeyedRandom:
    """Uniforms and their transforms keyed by (purpose, entity keys, step, index) under one (seed, replication)."""

    root: int

    @classmethod
    def for_replication(cls, seed: int, replication: int) -> KeyedRandom:
        return cls(_scalar_mix(_scalar_mix(int(seed) + 0x9E3779B97F4A7C15) ^ (int(replication) * 0xD1B54A32D192ED03)))

    def _base(self, purpose: int, step: int) -> np.uint64:
        return np.uint64(_scalar_mix(_purpose_root(self.root, purpose) ^ (step + 1)))

    def step_bases(self, step: int) -> np.ndarray:
        """_base(purpose, step) for every purpose at once (index it by purpose): the same mixing in numpy."""
        return _mix(self.purpose_roots() ^ np.uint64(step + 1))

    def purpose_roots(self) -> np.ndarray:
        """Per purpose, the root a step's base is mixed from (shared: never write to it; kernels take it with
        _step_base)."""
        return _purpose_roots(self.root)

    def uniform(self, purpose: int, keys: np.ndarray, step: int = 0, index: np.ndarray | None = None) -> np.ndarray:
        """One uniform in (0, 1) per key (and per index within the key, e.g. the k-th contact of a customer)."""
        kernel = _UNIFORM.get()
        if kernel is not None:
            k = np.asarray(keys, dtype=np.uint64)
            if k.ndim == 1 and (index is None or np.shape(index) == k.shape):
                out = np.empty(k.shape[0])
                if index is None:
                    kernel(_contiguous(k), self._base(purpose, step), _NO_INDEX, False, out)
                else:
                    kernel(_contiguous(k), self._base(purpose, step), _contiguous(np.asarray(index, dtype=np.uint64)),
                           True, out)
                return out
        return self._uniform_numpy(purpose, keys, step, index)

    def _uniform_numpy(self, purpose: int, keys: np.ndarray, step: int = 0,
                       index: np.ndarray | None = None) -> np.ndarray:
        x = np.asarray(keys, dtype=np.uint64) * _GOLDEN
        x ^= self._base(purpose, step)
        _mix(x)
        if index is not None:
            x ^= np.asarray(index, dtype=np.uint64) * _M2
            _mix(x)
        return ((x >> np.uint64(11)).astype(np.float64) + 0.5) * _TO_UNIT

    def exponential(self, purpose: int, keys: np.ndarray, step: int = 0, index: np.ndarray | None = None) -> np.ndarray:
        """Exp(1) draws by inverse transform."""
        return -np.log(self.uniform(purpose, keys, step, index))

    def normal(self, purpose: int, keys: np.ndarray, step: int = 0, index: np.ndarray | None = None) -> np.ndarray:
        """Standard normal draws by inverse transform."""
        return ndtri(self.uniform(purpose, keys, step, index))

    def poisson(self, purpose: int, keys: np.ndarray, means: np.ndarray, step: int = 0) -> np.ndarray:
        """Poisson counts by inverse transform: the same uniform gives at least as many events at a higher mean."""
        kernel = _KEYED_POISSON.get()
        if kernel is not None:
            k = np.asarray(keys, dtype=np.uint64)
            if k.ndim == 1:
                m = _contiguous(np.broadcast_to(np.asarray(means, dtype=np.float64), k.shape))
                out = np.zeros(k.shape[0], dtype=np.int64)
                if k.shape[0] and kernel(_contiguous(k), self._base(purpose, step), m, _exp_neg(m), out):
                    big = ~(m <= _SMALL_MEAN)
                    out[big] = _poisson_ppf(self.uniform(purpose, k[big], step), m[big])
                return out
        return poisson_inverse(self.uniform(purpose, keys, step), means)


_SMALL_MEAN = 30.0


def _poisson_ppf(u: np.ndarray, means: np.ndarray) -> np.ndarray:
    from scipy.stats import poisson

    return poisson.ppf(u, means).astype(np.int64)


def _exp_neg(means: np.ndarray) -> np.ndarray:
    """exp(-mean) for the CDF walk's first term (numpy's exp, as the numpy walk uses)."""
    with np.errstate(over="ignore"):
        return np.exp(-means)


def poisson_inverse(u: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Smallest k with P(X <= k) >= u for X ~ Poisson(mean), elementwise.

    Small means walk the CDF (a numba kernel, or vectorised numpy passes: the work is proportional to the
    largest count); large means use scipy's exact inverse (`poisson.ppf`), which is slower per call but rare.
    """
    u = np.asarray(u, dtype=np.float64)
    means = np.broadcast_to(np.asarray(means, dtype=np.float64), u.shape)
    out = np.zeros(u.shape, dtype=np.int64)
    if u.size == 0:
        return out
    kernel = _POISSON.get()
    if kernel is not None and u.ndim == 1:
        m = _contiguous(means)
        if kernel(_contiguous(u), m, _exp_neg(m), out):
            big = ~(m <= _SMALL_MEAN)
            out[big] = _poisson_ppf(u[big], m[big])
        return out
    return _poisson_inverse_numpy(u, means, out)


def _poisson_inverse_numpy(u: np.ndarray, means: np.ndarray, out: np.ndarray) -> np.ndarray:
    small = means <= _SMALL_MEAN
    if not small.all():
        big = ~small
        out[big] = _poisson_ppf(u[big], means[big])
    idx = np.flatnonzero(small & (means > 0))
    if idx.size == 0:
        return out
    lam = means[idx]
    uu = u[idx]
    p = np.exp(-lam)
    cdf = p.copy()
    k = 0
    while idx.size:
        more = uu > cdf
        if not more.any():
            break
        idx, lam, uu, p, cdf = idx[more], lam[more], uu[more], p[more], cdf[more]
        k += 1
        out[idx] = k
        p *= lam / k
        cdf += p
        if k > 400:  # the CDF has converged to within rounding of 1: the last bit of u cannot be reached
            break
    return out


def customer_keys(segments: np.ndarray, ordinals: np.ndarray) -> np.ndarray:
    return (np.asarray(segments, dtype=np.uint64) << np.uint64(SEGMENT_SHIFT)) | np.asarray(ordinals, dtype=np.uint64)


def within_group_index(counts: np.ndarray) -> np.ndarray:
    """For np.repeat(x, counts): the position of each repeated element within its group (0, 1, ... per group)."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    starts = np.cumsum(counts) - counts
    return np.arange(total, dtype=np.int64) - np.repeat(starts, counts)


# ---- numba kernels (plain Python source; compiled lazily, see _numba.LazyKernel) --------------------------
def _contiguous(x: np.ndarray) -> np.ndarray:
    """x as a kernel argument: C-contiguous and writeable (the signatures name plain arrays), copied if need be."""
    return x if x.flags.c_contiguous and x.flags.writeable else np.array(x, order="C")


_NO_INDEX = np.zeros(0, dtype=np.uint64)
_S11 = np.uint64(11)


def _unit(key, base):  # pragma: no cover - compiled into the kernels
    """uniform() for one key without index: hash, then the top 53 bits to (0, 1)."""
    x = (key * _GOLDEN) ^ base
    x ^= x >> _S30
    x *= _M1
    x ^= x >> _S27
    x *= _M2
    x ^= x >> _S31
    return (np.float64(x >> _S11) + 0.5) * _TO_UNIT


def _unit_at(key, base, index):  # pragma: no cover - compiled into the kernels
    """uniform() for one key and its index (a uint64)."""
    x = (key * _GOLDEN) ^ base
    x ^= x >> _S30
    x *= _M1
    x ^= x >> _S27
    x *= _M2
    x ^= x >> _S31
    x ^= index * _M2
    x ^= x >> _S30
    x *= _M1
    x ^= x >> _S27
    x *= _M2
    x ^= x >> _S31
    return (np.float64(x >> _S11) + 0.5) * _TO_UNIT


def _walk_start(u, m, first):  # pragma: no cover - compiled into the kernels
    """_poisson_inverse_numpy's CDF walk for one draw (0 < m <= _SMALL_MEAN, first = exp(-m)), its operations in
    its order, over its first four terms only: computed whether needed or not and counted without branching
    (the CDF is nondecreasing, so the number of terms below u is where the walk stops; a branch on a random u
    mispredicts). 4 means: walk on (_walk)."""
    c0 = first
    p = c0 * m  # p *= m / 1
    c1 = c0 + p
    p = p * (m * 0.5)  # m / 2, exactly
    c2 = c1 + p
    p = p * (m / 3.0)
    c3 = c2 + p
    return (1 if u > c0 else 0) + (1 if u > c1 else 0) + (1 if u > c2 else 0) + (1 if u > c3 else 0)


def _walk(u, m, first):  # pragma: no cover - compiled into the kernels
    """The whole walk (as _walk_start, then on from the fourth term)."""
    c0 = first
    p = c0 * m
    c1 = c0 + p
    p = p * (m * 0.5)
    c2 = c1 + p
    p = p * (m / 3.0)
    c3 = c2 + p
    k = (1 if u > c0 else 0) + (1 if u > c1 else 0) + (1 if u > c2 else 0) + (1 if u > c3 else 0)
    if k < 4:
        return k
    k = 3
    cdf = c3
    while u > cdf:
        k += 1
        p *= m / k
        cdf += p
        if k > 400:  # the CDF has converged to within rounding of 1
            break
    return k


def _step_base(root, step):  # pragma: no cover - compiled into the kernels
    """_base(purpose, step) from _purpose_root(root, purpose): _scalar_mix in uint64 arithmetic."""
    x = root ^ np.uint64(step + 1)
    x ^= x >> _S30
    x *= _M1
    x ^= x >> _S27
    x *= _M2
    x ^= x >> _S31
    return x


def _uniform_kernel(keys, base, index, has_index, out):  # pragma: no cover - runs compiled
    """KeyedRandom._uniform_numpy, one key at a time."""
    if has_index:
        for i in range(keys.shape[0]):
            out[i] = _unit_at(keys[i], base, index[i])
    else:
        for i in range(keys.shape[0]):
            out[i] = _unit(keys[i], base)


def _poisson_kernel(uniforms, means, first, out):  # pragma: no cover - runs compiled
    """_poisson_inverse_numpy one draw at a time: fills out[i] for means in (0, _SMALL_MEAN] (others are left
    alone) with exp(-mean) given as `first`; returns how many means need scipy."""
    big = 0
    for i in range(uniforms.shape[0]):
        m = means[i]
        if not m <= _SMALL_MEAN:
            big += 1
        elif m > 0.0:
            out[i] = _walk(uniforms[i], m, first[i])
    return big


def _keyed_poisson_kernel(keys, base, means, first, out):  # pragma: no cover - runs compiled
    """uniform (no index) and the CDF walk fused: no array of uniforms. Returns how many means need scipy.
    A branch-free pass (it vectorises) settles draws of at most 3 events; a second pass walks on the rest."""
    n = keys.shape[0]
    for i in range(n):
        m = means[i]
        k = _walk_start(_unit(keys[i], base), m, first[i])
        out[i] = k if m > 0.0 and m <= _SMALL_MEAN else out[i]
    big = 0
    for i in range(n):
        m = means[i]
        if not m <= _SMALL_MEAN:
            big += 1
        elif m > 0.0 and out[i] == 4:
            out[i] = _walk(_unit(keys[i], base), m, first[i])
    return big


HASH_HELPERS = (_unit, _unit_at, _walk_start, _walk, _step_base)
"""The helpers a kernel that draws keyed numbers passes to LazyKernel."""

_UNIFORM = LazyKernel(_uniform_kernel, "void(uint64[::1], uint64, uint64[::1], boolean, float64[::1])",
                      HASH_HELPERS)
_POISSON = LazyKernel(_poisson_kernel, "int64(float64[::1], float64[::1], float64[::1], int64[::1])",
                      HASH_HELPERS)
_KEYED_POISSON = LazyKernel(_keyed_poisson_kernel,
                            "int64(uint64[::1], uint64, float64[::1], float64[::1], int64[::1])", HASH_HELPERS)
