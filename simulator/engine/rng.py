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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_TO_UNIT = 2.0**-53

# Purposes: one constant each, so draws for different purposes never coincide.
CONTACTS, CONTACT_TIME, HANDLING, PATIENCE, EXPERIENCE, PURCHASES, CHURN, ARRIVALS, EMPLOYEES, DISPOSITION = range(10)

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


@dataclass(frozen=True)
class KeyedRandom:
    """Uniforms and their transforms keyed by (purpose, entity keys, step, index) under one (seed, replication)."""

    root: int

    @classmethod
    def for_replication(cls, seed: int, replication: int) -> KeyedRandom:
        return cls(_scalar_mix(_scalar_mix(int(seed) + 0x9E3779B97F4A7C15) ^ (int(replication) * 0xD1B54A32D192ED03)))

    def _base(self, purpose: int, step: int) -> np.uint64:
        return np.uint64(_scalar_mix(_scalar_mix(self.root ^ (purpose * 0xA24BAED4963EE407)) ^ (step + 1)))

    def uniform(self, purpose: int, keys: np.ndarray, step: int = 0, index: np.ndarray | None = None) -> np.ndarray:
        """One uniform in (0, 1) per key (and per index within the key, e.g. the k-th contact of a customer)."""
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
        return poisson_inverse(self.uniform(purpose, keys, step), means)


_SMALL_MEAN = 30.0


def poisson_inverse(u: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Smallest k with P(X <= k) >= u for X ~ Poisson(mean), elementwise.

    Small means walk the CDF (vectorised, a few passes: the work is proportional to the largest count);
    large means use scipy's exact inverse (`poisson.ppf`), which is slower per call but rare.
    """
    u = np.asarray(u, dtype=np.float64)
    means = np.broadcast_to(np.asarray(means, dtype=np.float64), u.shape)
    out = np.zeros(u.shape, dtype=np.int64)
    if u.size == 0:
        return out
    small = means <= _SMALL_MEAN
    if not small.all():
        from scipy.stats import poisson

        big = ~small
        out[big] = poisson.ppf(u[big], means[big]).astype(np.int64)
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
