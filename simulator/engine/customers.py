"""Customers as columns of numpy arrays (one slot per customer ever active), grown in blocks.

The hot per-step updates also exist as numba kernels (bottom of the file) used by the model's compiled step;
they do the numpy code's float operations in its order, so both give bit-identical state.
"""

from __future__ import annotations

import numpy as np

from simulator.engine._numba import PAIRWISE, LazyKernel, pairwise_next, pairwise_stack, pairwise_sum
from simulator.engine.normal import ndtri
from simulator.engine.rng import (
    ARRIVALS,
    CHURN,
    DISPOSITION,
    SEGMENT_SHIFT,
    KeyedRandom,
    customer_keys,
)
from simulator.scenario.models import Scenario

_FLOAT_FIELDS = ("joined_day", "left_day", "satisfaction", "disposition", "revenue", "cost_of_goods", "cost_to_serve",
                 "acquisition_cost", "hazard_used", "churn_budget")
_INT_FIELDS = ("contacts", "purchases")


class CustomerBase:
    """Per-customer state; every update is a vectorised operation over index arrays.

    Each customer has a key (segment, ordinal): the ordinal-th customer of a segment is the same person in
    every strategy (same disposition, same draws). Leaving runs on an exponential clock: a customer leaves
    when the churn hazard accumulated since joining crosses an Exp(1) budget drawn once from the key, so
    two strategies whose hazards differ a little see the same customer leave at nearly the same time.
    Arrivals run on one clock per segment: the k-th arrival comes when the segment's accumulated arrival
    rate crosses the sum of k keyed Exp(1) gaps, so a higher rate brings the same people sooner.
    """

    def __init__(self, scenario: Scenario, rng: KeyedRandom):
        self.scenario = scenario
        self._rng = rng
        self._spread = scenario.service.disposition_spread
        self.n_segments = len(scenario.segments)
        self.initial_satisfaction = np.array([s.initial_satisfaction for s in scenario.segments])
        counts = [s.initial_customers for s in scenario.segments]
        total = int(sum(counts))
        capacity = max(64, total * 2)
        self.size = 0
        self.segment = np.zeros(capacity, dtype=np.int32)
        self.active = np.zeros(capacity, dtype=bool)
        self.key = np.zeros(capacity, dtype=np.uint64)
        for name in _FLOAT_FIELDS:
            setattr(self, name, np.zeros(capacity))
        for name in _INT_FIELDS:
            setattr(self, name, np.zeros(capacity, dtype=np.int64))
        self._packed = np.empty(0)  # satisfaction_nps_and_count's buffer, grown when used
        segs = np.repeat(np.arange(self.n_segments, dtype=np.int32), counts)
        ordinals = np.concatenate([np.arange(c, dtype=np.int64) for c in counts]) if total else np.zeros(0, np.int64)
        # The base on day 0 has survived churn selection: a customer's hazard falls as exp(-s * disposition),
        # so in steady state the customers on the books have dispositions N(s * spread^2, spread^2) (arrivals
        # N(0, spread^2) weighted by expected lifetime 1/hazard: an exponential tilt), not the arrivals' N(0, spread^2).
        sensitivity = np.array([seg.satisfaction_sensitivity for seg in scenario.segments])
        self._append(segs, ordinals, np.zeros(total), tilt=sensitivity[segs] * self._spread**2)
        # arrival clocks, one per segment: next ordinal, accumulated arrival rate, and the next arrival's budget
        self.next_ordinal = np.asarray(counts, dtype=np.int64)
        self.arrival_used = np.zeros(self.n_segments)
        self.arrival_budget = np.array([float(self._gaps(s, int(self.next_ordinal[s]), 1)[0])
                                        for s in range(self.n_segments)])
        self._sums = np.zeros(1)
        self._bases = {p: rng._base(p, 0) for p in (ARRIVALS, DISPOSITION, CHURN)}  # draws keyed without a step
        # the compiled clock: per segment, draws made ahead for a window of ordinals (see _refill_window)
        self._arrival_k: object = False  # the ARRIVE kernel (None: numpy), looked up on first use
        self._window_start = np.asarray(counts, dtype=np.int64)
        self._gap_logs = self._normals = self._churn_logs = np.empty((self.n_segments, 0))
        self._arrival_draws = np.zeros(self.n_segments, dtype=np.int64)
        self._arrival_logs = np.empty(0)
        self._arrival_out = (np.empty(0, dtype=np.int32), np.empty(0, dtype=np.int64), np.empty(0))

    # ---- growth ------------------------------------------------------------------------------------------
    def _grow(self, needed: int) -> None:
        capacity = self.segment.size
        if needed <= capacity:
            return
        new_capacity = max(needed, capacity * 2)
        for name in ("segment", "active", "key", *_FLOAT_FIELDS, *_INT_FIELDS):
            old = getattr(self, name)
            new = np.zeros(new_capacity, dtype=old.dtype)
            new[: self.size] = old[: self.size]
            setattr(self, name, new)

    def release_buffers(self) -> None:
        """Free satisfaction_nps_and_count's buffer (the run is over); it comes back if needed."""
        self._packed = np.empty(0)

    def _append(self, segs: np.ndarray, ordinals: np.ndarray, joined: np.ndarray, tilt: np.ndarray | float = 0.0,
                ) -> np.ndarray:
        n = segs.size
        self._grow(self.size + n)
        new = slice(self.size, self.size + n)  # the new slots: a contiguous block at the end
        keys = customer_keys(segs, ordinals)
        self.segment[new] = segs
        self.key[new] = keys
        self.active[new] = True
        self.joined_day[new] = joined
        self.left_day[new] = np.inf
        self.disposition[new] = self._rng.normal(DISPOSITION, keys) * self._spread + tilt if self._spread > 0 else 0.0
        self.satisfaction[new] = np.clip(self.initial_satisfaction[segs] + self.disposition[new], 0.0, 10.0)
        self.hazard_used[new] = 0.0
        self.churn_budget[new] = self._rng.exponential(CHURN, keys)
        self.size += n
        return np.arange(new.start, new.stop)

    def _gaps(self, segment: int, first_ordinal: int, n: int) -> np.ndarray:
        """Keyed Exp(1) gaps before arrivals first_ordinal .. first_ordinal + n - 1 of a segment."""
        keys = np.arange(first_ordinal, first_ordinal + n, dtype=np.uint64)
        keys |= np.uint64(segment << SEGMENT_SHIFT)  # = customer_keys(segment, ordinals)
        return self._rng.exponential(ARRIVALS, keys)

    def arrive(self, rate_per_day: np.ndarray, t: float, dt: float) -> np.ndarray:
        """Advance every segment's arrival clock over [t, t + dt) at a constant rate; returns new indices.

        Arrivals come in segment order, each at the exact moment its segment's accumulated rate crosses
        the running sum of its keyed gaps."""
        kernel = self._arrival_k
        if kernel is False:  # looked up once per customer base (LazyKernel.get per call costs microseconds)
            kernel = self._arrival_k = ARRIVE.get()
        if kernel is not None:
            joined = self._arrive_compiled(rate_per_day, t, dt, kernel)
            if joined is not None:
                return joined
        segs_out, ords_out, times_out = [], [], []
        for s in range(self.n_segments):
            rate = float(rate_per_day[s])
            if rate <= 0:
                continue
            used, end = self.arrival_used[s], self.arrival_used[s] + rate * dt
            budget, first = self.arrival_budget[s], int(self.next_ordinal[s])
            if budget <= end:
                expected = rate * dt
                n_draw = int(expected + 6 * np.sqrt(expected) + 8)
                points = [np.array([budget])]
                last, k = budget, first + 1
                while last <= end:  # extend until the first arrival beyond this step is known
                    cum = last + np.cumsum(self._gaps(s, k, n_draw))
                    points.append(cum)
                    last, k = float(cum[-1]), k + n_draw
                cum = np.concatenate(points)
                n_in = int(np.searchsorted(cum, end, side="right"))
                segs_out.append(np.full(n_in, s, dtype=np.int32))
                ords_out.append(np.arange(first, first + n_in, dtype=np.int64))
                times_out.append(t + (cum[:n_in] - used) / rate)
                self.next_ordinal[s] = first + n_in
                self.arrival_budget[s] = cum[n_in]
            self.arrival_used[s] = end
        if not segs_out:
            return np.zeros(0, dtype=np.int64)
        return self._append(np.concatenate(segs_out), np.concatenate(ords_out), np.concatenate(times_out))

    def _arrive_compiled(self, rate_per_day: np.ndarray, t: float, dt: float, kernel) -> np.ndarray | None:
        """arrive() in one kernel call (ARRIVE) on draws made ahead, or None (nothing changed) when a segment needs
        more gaps than the first batch: then the numpy clock."""
        rates = np.ascontiguousarray(rate_per_day, dtype=np.float64)
        while True:
            width = self._gap_logs.shape[1]
            room = self.n_segments * (width + 1)  # the most arrivals one call can make
            self._grow(self.size + room)
            if self._arrival_out[0].shape[0] < room:
                self._arrival_out = (np.empty(room, dtype=np.int32), np.empty(room, dtype=np.int64), np.empty(room))
                self._arrival_logs = np.empty(room)
            seg_out, ord_out, time_out = self._arrival_out
            n_new = kernel(rates, self.arrival_used, self.arrival_budget, self.next_ordinal, dt, t, self._window_start,
                           self._gap_logs, self._normals, self._churn_logs, self._arrival_draws, self._arrival_logs,
                           seg_out, ord_out, time_out, float(self._spread), self.initial_satisfaction, self.size,
                           self.segment, self.active, self.key, self.joined_day, self.left_day, self.disposition,
                           self.satisfaction, self.hazard_used, self.churn_budget)
            if n_new >= 0:
                break
            if n_new == -1 - self.n_segments:
                return None
            self._refill_window(-1 - n_new, int(self._arrival_draws[-1 - n_new]))
        first = self.size
        self.size += n_new
        return np.arange(first, first + n_new)

    def _refill_window(self, segment: int, draws: int) -> None:
        """Draw ahead for `segment` from its next ordinal: per ordinal, numpy's log of its ARRIVALS uniform (the gap
        before that arrival), ndtri of its DISPOSITION uniform and log of its CHURN uniform, as _gaps and _append
        draw them. The window holds a call's `draws` gaps and more; all segments' windows widen together."""
        width = self._gap_logs.shape[1]
        if width < draws + 2:
            width = max(256, 2 * (draws + 2), 2 * width)
            self._gap_logs, self._normals, self._churn_logs = (np.empty((self.n_segments, width)) for _ in range(3))
            self._window_start[:] = -1  # every window is refilled on its next use
            segments = range(self.n_segments)
        else:
            segments = range(segment, segment + 1)
        for s in segments:
            start = int(self.next_ordinal[s])
            keys = np.arange(start, start + width, dtype=np.uint64)
            keys |= np.uint64(s << SEGMENT_SHIFT)  # = customer_keys(s, ordinals)
            np.log(self._rng.uniform(ARRIVALS, keys), out=self._gap_logs[s])
            ndtri(self._rng.uniform(DISPOSITION, keys), out=self._normals[s])
            np.log(self._rng.uniform(CHURN, keys), out=self._churn_logs[s])
            self._window_start[s] = start

    def accumulate_churn(self, idx: np.ndarray, hazard_dt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Add each customer's hazard over the step to its clock -> (leaves?, fraction of the step before leaving)."""
        before = self.hazard_used[idx]
        after = before + hazard_dt
        self.hazard_used[idx] = after
        leave = after >= self.churn_budget[idx]
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.clip((self.churn_budget[idx][leave] - before[leave]) / hazard_dt[leave], 0.0, 1.0)
        return leave, frac

    def leave(self, idx: np.ndarray, when: np.ndarray) -> None:
        self.active[idx] = False
        self.left_day[idx] = when

    # ---- queries -----------------------------------------------------------------------------------------
    def active_indices(self) -> np.ndarray:
        return np.flatnonzero(self.active[: self.size])

    @property
    def active_count(self) -> int:
        return int(self.active[: self.size].sum())

    def satisfaction_and_nps(self) -> tuple[float, float]:
        return self.satisfaction_nps_and_count()[:2]

    def satisfaction_nps_and_count(self) -> tuple[float, float, int]:
        """Mean satisfaction, NPS and the number of active customers."""
        kernel = _SATISFACTION.get()
        if kernel is not None:
            packed = self._packed
            if packed.shape[0] < self.size:
                packed = self._packed = np.empty(self.segment.shape[0])
            sums = self._sums
            n, promoters, detractors = kernel(self.active, self.satisfaction, self.size, packed, sums)
            if n == 0:
                return 0.0, 0.0, 0
            return float(sums[0] / n), 100.0 * (promoters - detractors) / n, n  # the mean below, bit for bit
        sat, nps = self._satisfaction_and_nps_numpy()
        return sat, nps, self.active_count

    def state_after_step(self, kernel, idx: np.ndarray, promoters: np.ndarray) -> tuple[float, float, int]:
        """satisfaction_nps_and_count() with the compiled step's state kernel (STATE), which also writes the active
        customers in idx[:n] and the promoters per segment, as the next step starts from them."""
        packed = self._packed
        if packed.shape[0] < self.size:
            packed = self._packed = np.empty(self.segment.shape[0])
        sums = self._sums
        n, n_promoters, detractors = kernel(self.active, self.segment, self.satisfaction, self.size, packed, sums, idx,
                                            promoters)
        if n == 0:
            return 0.0, 0.0, 0
        return float(sums[0] / n), 100.0 * (n_promoters - detractors) / n, n

    def _satisfaction_and_nps_numpy(self) -> tuple[float, float]:
        sat = self.satisfaction[: self.size][self.active[: self.size]]
        if sat.size == 0:
            return 0.0, 0.0
        promoters = np.count_nonzero(sat >= 9.0)
        detractors = np.count_nonzero(sat < 7.0)
        return float(sat.mean()), 100.0 * (promoters - detractors) / sat.size

    # ---- updates -----------------------------------------------------------------------------------------
    def record_contacts(self, who: np.ndarray, score: np.ndarray, served: np.ndarray, cost: np.ndarray,
                        smoothing: float) -> None:
        """Fold each customer's experiences of this step into satisfaction (exponential smoothing)."""
        n = self.size
        k = np.bincount(who, minlength=n)
        self.contacts[:n] += k
        touched = np.flatnonzero(k)
        if touched.size:
            mean_score = np.bincount(who, weights=score, minlength=n)[touched] / k[touched]
            keep = (1.0 - smoothing) ** k[touched]
            self.satisfaction[touched] = self.satisfaction[touched] * keep + mean_score * (1.0 - keep)
        self.cost_to_serve[:n] += np.bincount(who[served], weights=cost[served], minlength=n)

    def record_purchases(self, idx: np.ndarray, buys: np.ndarray, revenue: np.ndarray, cogs: np.ndarray) -> None:
        self.purchases[idx] += buys
        self.revenue[idx] += revenue
        self.cost_of_goods[idx] += cogs

    def ledger(self, horizon: float, period_days: float) -> dict[str, np.ndarray]:
        n = self.size
        left = self.left_day[:n]
        end = np.minimum(left, horizon)
        profit = self.revenue[:n] - self.cost_of_goods[:n] - self.cost_to_serve[:n] - self.acquisition_cost[:n]
        names = [s.name for s in self.scenario.segments]
        return {
            "customer": np.arange(n),
            "segment": np.asarray(names, dtype=object)[self.segment[:n]],
            "ordinal": (self.key[:n] & np.uint64((1 << SEGMENT_SHIFT) - 1)).astype(np.int64),
            "joined_day": self.joined_day[:n].copy(),
            "left_day": np.where(np.isinf(left), np.nan, left),
            "tenure_months": (end - self.joined_day[:n]) / period_days,
            "active": self.active[:n].copy(),
            "contacts": self.contacts[:n].copy(),
            "purchases": self.purchases[:n].copy(),
            "revenue": self.revenue[:n].copy(),
            "cost_of_goods": self.cost_of_goods[:n].copy(),
            "cost_to_serve": self.cost_to_serve[:n].copy(),
            "acquisition_cost": self.acquisition_cost[:n].copy(),
            "profit": profit,
            "satisfaction": self.satisfaction[:n].copy(),
        }


# ---- numba kernels (plain Python source; compiled lazily, see _numba.LazyKernel) --------------------------
def _satisfaction_kernel(active, satisfaction, size, out, sums):  # pragma: no cover - runs compiled
    """satisfaction_and_nps: active customers' satisfaction packed into out[:n] (numpy's sum in sums[0])
    -> (n, promoters, detractors).
    Branch-free: who is active (or a promoter) is as good as random, so a branch on it mispredicts."""
    n = 0
    promoters = 0
    detractors = 0
    for c in range(size):
        x = satisfaction[c]
        a = 1 if active[c] else 0
        out[n] = x
        n += a
        promoters += a if x >= 9.0 else 0
        detractors += a if x < 7.0 else 0
    sums[0] = pairwise_sum(out, n)
    return n, promoters, detractors


def _active_kernel(active, segment, satisfaction, size, neg_sensitivity, reference, price_term, idx, arg,
                   promoters):  # pragma: no cover - runs compiled
    """The step's active customers (idx[:n]), their churn exponents -s * (satisfaction - reference) + price
    term (arg[:n]) and the promoters per segment at the start of the step. Returns n."""
    promoters[:] = 0
    n = 0
    for c in range(size):  # branch-free but for the (rarer) promoters: written always, kept if active
        s = np.uint64(segment[c])  # unsigned indices: no wrap-around test for negative ones
        x = satisfaction[c]
        idx[n] = c
        arg[n] = neg_sensitivity[s] * (x - reference) + price_term[s]
        if active[c]:
            n += 1
            if x >= 9.0:
                promoters[s] += 1
    return n


def _state_kernel(active, segment, satisfaction, size, out, sums, idx, promoters):
    # pragma: no cover - runs compiled
    """_satisfaction_kernel (its return value, out and sums the same), and what _active_kernel finds at the start
    of the next step while nothing changes the customers in between: the active customers (idx[:n]) and the
    promoters per segment."""
    n_seg = promoters.shape[0]
    tally = np.zeros(4 * n_seg, np.int64)  # per segment, in 4 lanes: no chain of adds to one memory slot
    n = 0
    n_promoters = 0
    detractors = 0
    for c in range(size):
        x = satisfaction[c]
        a = 1 if active[c] else 0
        out[n] = x
        idx[n] = c
        n += a
        p = a if x >= 9.0 else 0
        n_promoters += p
        tally[(c & 3) * n_seg + segment[c]] += p
        detractors += a if x < 7.0 else 0
    for s in range(n_seg):
        promoters[s] = tally[s] + tally[n_seg + s] + tally[2 * n_seg + s] + tally[3 * n_seg + s]
    sums[0] = pairwise_sum(out, n)
    return n, n_promoters, detractors


def _exponent_kernel(idx, n, segment, satisfaction, neg_sensitivity, reference, price_term, arg):
    # pragma: no cover - runs compiled
    """_active_kernel's churn exponents for active customers already known (idx[:n])."""
    for i in range(n):
        c = np.uint64(idx[i])
        s = np.uint64(segment[c])
        arg[i] = neg_sensitivity[s] * (satisfaction[c] - reference) + price_term[s]


def _clip(x, lo, hi):  # pragma: no cover - compiled into the kernels
    """np.clip for floats, as numpy gives it: nan stays nan, and so does -0.0 against a bound of 0.0."""
    x = lo if x < lo else x
    return hi if x > hi else x


def _exposure_kernel(idx, n_active, first_joined, n_joined, growth, segment, key, hazard_used, churn_budget,
                     joined_day, active, left_day, acquisition_cost, base_hazard, hazard_factor, contacts_per_month,
                     purchases_per_month, acquisition_cost_by_segment, rate, t, dt, who, segs, keys, start, exposure,
                     means, neg_segment, partial, neg_partial, leavers, leave_frac, sums):
    # pragma: no cover - runs compiled
    """Churn clocks of the active customers (hazard = base * factor * growth, growth = exp(churn exponent)),
    then everyone's exposure in the step (active ones, then those who joined) and the means of their contacts
    (means[:n]) and purchases ([n:2n]) as the numpy step computes them. Also what the numpy step does at its end
    (nothing reads it in between): leavers leave, and the new customers get their acquisition cost (numpy's sum
    of it in sums[0]).

    For exp(-mean) (numpy's exp, taken by the caller): minus the means of a customer exposed the whole step, per
    segment (neg_segment: contacts [:n_seg], purchases [n_seg:]), which are every such customer's own to the
    bit, and the customers exposed for less (partial[:p]) with minus their means (neg_partial[2j], [2j + 1]).

    Returns the number of leavers (leavers[:k], leave_frac[:k]) and p."""
    n = n_active + n_joined
    k = 0
    for i in range(n_active):
        c = np.uint64(idx[i])  # unsigned indices: no wrap-around test for negative ones
        s = np.uint64(segment[c])
        step_hazard = ((base_hazard[s] * hazard_factor) * growth[i]) * dt
        before = hazard_used[c]
        after = before + step_hazard
        hazard_used[c] = after
        span = dt
        if after >= churn_budget[c]:
            frac = _clip((churn_budget[c] - before) / step_hazard, 0.0, 1.0)
            leavers[k] = c
            leave_frac[k] = frac
            k += 1
            span = frac * dt
            active[c] = False
            left_day[c] = t + frac * dt
        who[i] = idx[i]
        segs[i] = segment[c]
        keys[i] = key[c]
        start[i] = t
        exposure[i] = span
    for j in range(n_joined):
        c = first_joined + j
        i = n_active + j
        frac = _clip((joined_day[c] - t) / dt, 0.0, 1.0)
        who[i] = c
        segs[i] = segment[c]
        keys[i] = key[c]
        start[i] = t + frac * dt
        exposure[i] = (1.0 - frac) * dt
        acquisition_cost[c] = acquisition_cost_by_segment[segment[c]]
    sums[0] = pairwise_sum(acquisition_cost[first_joined:first_joined + n_joined], n_joined)
    n_seg = neg_segment.shape[0] // 2
    for s in range(n_seg):
        neg_segment[s] = -((contacts_per_month[s] * rate) * dt)
        neg_segment[n_seg + s] = -((purchases_per_month[s] * rate) * dt)
    p = 0
    for i in range(n):  # branch-free: the partial ones written always, kept if partial
        s = np.uint64(segs[i])
        e = exposure[i]
        m = (contacts_per_month[s] * rate) * e
        means[i] = m
        mp = (purchases_per_month[s] * rate) * e
        means[n + i] = mp
        partial[p] = i
        neg_partial[2 * p] = -m
        neg_partial[2 * p + 1] = -mp
        p += 0 if e == dt else 1
    return k, p


def _contacts_kernel(who, cseg, served, exits, times, handle, normal, disposition, price_points, keep_after,
                     quality, noise, wait_penalty, abandon_penalty, minutes_per_day, minute_rate, who_all, counts,
                     owner, position, order, contacts, satisfaction, cost_to_serve, experience):
    # pragma: no cover - runs compiled
    """record_contacts, with each contact's experience score computed first, in queue order:
    score = quality + disposition + normal * noise - wait_penalty * wait minutes - abandonment - price points,
    clipped to [0, 10], and its desk cost if served (`disposition`: the customer's, in queue order). Then customer
    by customer (owner: each contact's index in who_all, contacts grouped by customer; position: its place in the
    queue, and order the reverse), each one's scores and costs summed from zero in queue order (as np.bincount
    does), so the customer arrays are walked in order, not at random. keep_after[k] = (1 - smoothing) ** k (numpy's
    power).

    Score and cost go to `experience` (2 x total) in the customers' order, side by side: a large step's contacts
    do not fit the cache, and the walk by customer reads them in order, not at random. An unserved contact's cost
    is +0.0, which leaves a sum of costs (from +0.0, of costs >= 0) unchanged to the bit."""
    total = who.shape[0]
    for r in range(total):
        s = np.uint64(cseg[r])  # unsigned indices: no wrap-around test for negative ones
        x = quality + disposition[r]
        x = x + normal[r] * noise
        x = x - wait_penalty * ((exits[r] - times[r]) * minutes_per_day)
        x = x - (0.0 if served[r] else abandon_penalty)
        x = x - price_points[s]
        e = np.uint64(2 * order[r])
        experience[e] = _clip(x, 0.0, 10.0)
        experience[e + np.uint64(1)] = (handle[r] * minutes_per_day) * minute_rate if served[r] else 0.0
    in_order = np.empty(keep_after.shape[0], np.int64)  # one customer's queue positions, sorted
    which = np.empty(keep_after.shape[0], np.int64)  # and which of its contacts each is
    j = 0
    while j < total:
        i = np.uint64(owner[j])
        c = np.uint64(who_all[i])
        k = counts[i]
        if k == 1:
            e = np.uint64(2 * j)
            score_sum = 0.0 + experience[e]
            cost_sum = 0.0 + experience[e + np.uint64(1)]
        else:
            for q in range(k):  # insertion sort of a few positions
                r = position[j + q]
                p = q
                while p > 0 and in_order[p - 1] > r:
                    in_order[p] = in_order[p - 1]
                    which[p] = which[p - 1]
                    p -= 1
                in_order[p] = r
                which[p] = q
            score_sum = 0.0
            cost_sum = 0.0
            for q in range(k):
                e = np.uint64(2 * (j + which[q]))
                score_sum += experience[e]
                cost_sum += experience[e + np.uint64(1)]
        contacts[c] += k
        keep = keep_after[k]
        mean = score_sum / k
        satisfaction[c] = satisfaction[c] * keep + mean * (1.0 - keep)
        cost_to_serve[c] += cost_sum
        j += k


def _purchase_terms(i, who, segs, exposure, buys, basket, price_index, cogs_fraction, self_service_per_month, rate,
                    self_service_cost, purchases, revenue, cost_of_goods, cost_to_serve):
    # pragma: no cover - compiled into _purchases_kernel
    """record_purchases and the self-service channel for the i-th customer of the step: its accounts updated, and
    (purchases, revenue, cost of goods, self-service contacts, channel cost) returned for the step's sums."""
    c = np.uint64(who[i])  # unsigned indices: no wrap-around test for negative ones
    s = np.uint64(segs[i])
    b = buys[i]
    money = (np.float64(b) * basket[s]) * price_index
    goods = money * cogs_fraction[s]
    purchases[c] += b
    revenue[c] += money
    cost_of_goods[c] += goods
    volume = (self_service_per_month[s] * rate) * exposure[i]
    channel = volume * self_service_cost[s]
    cost_to_serve[c] += channel
    return b, money, goods, volume, channel


def _purchases_kernel(who, segs, exposure, buys, basket, price_index, cogs_fraction, self_service_per_month,
                      rate, self_service_cost, purchases, revenue, cost_of_goods, cost_to_serve, applies,
                      activity_minutes, period_days, minute_rate, months, activity_sums, sums):
    # pragma: no cover - runs compiled
    """record_purchases and the self-service channel of one step, per customer in `who` order, and numpy's sums
    of revenue, cost of goods, self-service contacts and channel costs (sums[:4]); returns the number of
    purchases.

    The four sums are numpy's pairwise sums, bit for bit, taken as the terms are made: the customers go through
    in pairwise_sum's blocks (_numba.pairwise_next), each block's terms into its 8 accumulators (a block of fewer
    than 8 terms, and the terms after the last 8, one by one), the blocks' sums added as pairwise_sum adds them.
    Writing the terms out and summing them afterwards cost ~6 ns a contact more at 100x and 300x (four arrays
    written and read again).

    Then k customer_month activities (Simulation._activities), each after the channel and the one before it, as
    if one after the other (each customer's cost_to_serve gets the same additions in the same order): activity a
    applies to segment s if applies[a * n_seg + s]; the months of exposure of its customers are packed in
    months[a * n:] (numpy's sum of them, its volume, in activity_sums[a]), each booked to its customer at
    activity_minutes[a] x minute_rate."""
    total = 0
    n = who.shape[0]
    k = activity_minutes.shape[0]
    n_seg = applies.shape[0] // k if k else 0
    stack = pairwise_stack(n)  # pairwise_next's walk over n terms
    sp = 1
    lanes = np.empty(32)  # a block's 8 accumulators for each of the four sums
    partial = np.empty(512)  # the four sums' pending partial sums (pairwise_sum's values), 128 deep each
    depth = 0
    while n > 0:
        sp, lo, m, adds = pairwise_next(stack, sp)
        for _ in range(adds):
            for q in range(0, 512, 128):
                partial[q + depth - 2] = partial[q + depth - 2] + partial[q + depth - 1]
            depth -= 1
        if m == 0:
            break
        stop = lo + m
        one_by_one = lo
        t0 = -0.0
        t1 = -0.0
        t2 = -0.0
        t3 = -0.0
        if m >= 8:
            one_by_one = stop - m % 8
            for g in range(lo, one_by_one, 8):
                for j in range(8):
                    b, money, goods, volume, channel = _purchase_terms(
                        g + j, who, segs, exposure, buys, basket, price_index, cogs_fraction, self_service_per_month,
                        rate, self_service_cost, purchases, revenue, cost_of_goods, cost_to_serve)
                    total += b
                    if g == lo:
                        lanes[j] = money
                        lanes[8 + j] = goods
                        lanes[16 + j] = volume
                        lanes[24 + j] = channel
                    else:
                        lanes[j] += money
                        lanes[8 + j] += goods
                        lanes[16 + j] += volume
                        lanes[24 + j] += channel
            t0 = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
            t1 = ((lanes[8] + lanes[9]) + (lanes[10] + lanes[11])) + ((lanes[12] + lanes[13]) + (lanes[14] + lanes[15]))
            t2 = (((lanes[16] + lanes[17]) + (lanes[18] + lanes[19]))
                  + ((lanes[20] + lanes[21]) + (lanes[22] + lanes[23])))
            t3 = (((lanes[24] + lanes[25]) + (lanes[26] + lanes[27]))
                  + ((lanes[28] + lanes[29]) + (lanes[30] + lanes[31])))
        for i in range(one_by_one, stop):
            b, money, goods, volume, channel = _purchase_terms(
                i, who, segs, exposure, buys, basket, price_index, cogs_fraction, self_service_per_month, rate,
                self_service_cost, purchases, revenue, cost_of_goods, cost_to_serve)
            total += b
            t0 += money
            t1 += goods
            t2 += volume
            t3 += channel
        partial[depth] = t0
        partial[128 + depth] = t1
        partial[256 + depth] = t2
        partial[384 + depth] = t3
        depth += 1
    for q in range(4):
        sums[q] = 0.0 + partial[128 * q] if n > 0 else 0.0
    if k == 0:
        return total
    for a in range(k):  # branch-free: whom an activity applies to is as good as random
        m = 0
        minutes = activity_minutes[a]
        base = a * n
        for i in range(n):
            x = exposure[i] / period_days
            applied = applies[a * n_seg + segs[i]]
            months[base + m] = x  # written always, kept if it applies
            m += 1 if applied else 0
            c = np.uint64(who[i])
            before = cost_to_serve[c]
            after = before + x * minutes * minute_rate
            cost_to_serve[c] = after if applied else before
        activity_sums[a] = pairwise_sum(months[base:], m)
    return total


def _arrival_clock_kernel(logs, rates, used, budgets, next_ordinal, n_draws, dt, t, seg_out, ord_out, time_out):
    # pragma: no cover - runs compiled
    """arrive(), second half, given the logs of the gaps' uniforms: for each segment with an arrival, arrivals
    at budget, budget + cumsum(gaps), ... up to the clock's end (each at t + (cum - used) / rate), the first
    beyond it the next budget; then the clocks advance. Returns how many arrived, or -1 (clocks untouched) if a
    segment's gaps ran out before its end: the numpy clock then draws more."""
    n_seg = rates.shape[0]
    n_in = np.zeros(n_seg, np.int64)
    next_budget = np.zeros(n_seg)
    w = 0
    pos = 0
    for s in range(n_seg):
        if n_draws[s] == 0:
            continue
        rate = rates[s]
        start = used[s]
        end = start + rate * dt
        budget = budgets[s]
        first = next_ordinal[s]
        seg_out[w] = s
        ord_out[w] = first
        time_out[w] = t + (budget - start) / rate
        w += 1
        count = 1
        cum = 0.0
        beyond = False
        for j in range(n_draws[s]):
            gap = -logs[pos + j]
            cum = gap if j == 0 else cum + gap
            x = budget + cum
            if x <= end:
                seg_out[w] = s
                ord_out[w] = first + count
                time_out[w] = t + (x - start) / rate
                w += 1
                count += 1
            else:
                next_budget[s] = x
                beyond = True
                break
        if not beyond:
            return -1
        n_in[s] = count
        pos += n_draws[s]
    for s in range(n_seg):
        rate = rates[s]
        if not rate <= 0:
            if n_draws[s] > 0:
                next_ordinal[s] += n_in[s]
                budgets[s] = next_budget[s]
            used[s] = used[s] + rate * dt
    return w


def _arrive_kernel(rates, used, budgets, next_ordinal, dt, t, window_start, gap_logs, normals, churn_logs, n_draws,
                   logs, seg_out, ord_out, time_out, spread, initial_satisfaction, first, segment, active, key,
                   joined_day, left_day, disposition, satisfaction, hazard_used, churn_budget):
    # pragma: no cover - runs compiled
    """arrive() on draws made ahead (CustomerBase._refill_window: row s of gap_logs, normals and churn_logs holds
    ordinals window_start[s] ..): for each segment with an arrival in the step (rate > 0, budget <= used + rate *
    dt), the numpy clock's first batch of gaps (expected + 6 sqrt(expected) + 8 of them, the ordinals after the next
    one), then _arrival_clock_kernel, then the new customers in slots first .. as _append makes them (keys, no
    tilt). Returns how many arrived; -1 - s if segment s's window does not hold its batch, or -1 - n_seg if the
    clock needs more than one batch (in both cases nothing changed)."""
    n_seg = rates.shape[0]
    width = gap_logs.shape[1]
    for s in range(n_seg):
        n_draws[s] = 0
        rate = rates[s]
        if not rate <= 0 and budgets[s] <= used[s] + rate * dt:  # (a nan rate moves the clock, as in numpy)
            expected = rate * dt
            n = int(expected + 6 * np.sqrt(expected) + 8)
            n_draws[s] = n
            lo = next_ordinal[s] - window_start[s]
            if window_start[s] < 0 or lo < 0 or lo + n + 1 > width:
                return -1 - s
    pos = 0
    for s in range(n_seg):
        lo = next_ordinal[s] - window_start[s] + 1
        for j in range(n_draws[s]):
            logs[pos] = gap_logs[s, lo + j]
            pos += 1
    n_new = _arrival_clock_kernel(logs, rates, used, budgets, next_ordinal, n_draws, dt, t, seg_out, ord_out, time_out)
    if n_new < 0:
        return -1 - n_seg
    for i in range(n_new):
        c = first + i
        s = seg_out[i]
        o = ord_out[i]
        col = o - window_start[s]
        key[c] = (np.uint64(s) << _SHIFT) | np.uint64(o)
        segment[c] = s
        active[c] = True
        joined_day[c] = time_out[i]
        left_day[c] = np.inf
        d = normals[s, col] * spread + 0.0 if spread > 0 else 0.0
        disposition[c] = d
        satisfaction[c] = _clip(initial_satisfaction[s] + d, 0.0, 10.0)
        hazard_used[c] = 0.0
        churn_budget[c] = -churn_logs[s, col]
    return n_new


_SHIFT = np.uint64(SEGMENT_SHIFT)

ARRIVAL_CLOCK = LazyKernel(_arrival_clock_kernel,
                           "int64(float64[::1], float64[::1], float64[::1], float64[::1], int64[::1], int64[::1], "
                           "float64, float64, int32[::1], int64[::1], float64[::1])")
ARRIVE = LazyKernel(_arrive_kernel,
                    "int64(float64[::1], float64[::1], float64[::1], int64[::1], float64, float64, int64[::1], "
                    "float64[:, ::1], float64[:, ::1], float64[:, ::1], int64[::1], float64[::1], int32[::1], "
                    "int64[::1], float64[::1], float64, float64[::1], int64, int32[::1], boolean[::1], uint64[::1], "
                    "float64[::1], float64[::1], float64[::1], float64[::1], float64[::1], float64[::1])",
                    (_arrival_clock_kernel, _clip))

_SATISFACTION = LazyKernel(_satisfaction_kernel,
                           "UniTuple(int64, 3)(boolean[::1], float64[::1], int64, float64[::1], float64[::1])",
                           PAIRWISE)
STATE = LazyKernel(_state_kernel,
                   "UniTuple(int64, 3)(boolean[::1], int32[::1], float64[::1], int64, float64[::1], float64[::1], "
                   "int64[::1], int64[::1])", PAIRWISE)
EXPONENT = LazyKernel(_exponent_kernel, "void(int64[::1], int64, int32[::1], float64[::1], float64[::1], float64, "
                                        "float64[::1], float64[::1])")
ACTIVE = LazyKernel(_active_kernel, "int64(boolean[::1], int32[::1], float64[::1], int64, float64[::1], float64, "
                                    "float64[::1], int64[::1], float64[::1], int64[::1])")
EXPOSURE = LazyKernel(_exposure_kernel,
                      "UniTuple(int64, 2)(int64[::1], int64, int64, int64, float64[::1], int32[::1], uint64[::1], "
                      "float64[::1], float64[::1], float64[::1], boolean[::1], float64[::1], float64[::1], "
                      "float64[::1], float64, float64[::1], float64[::1], float64[::1], float64, float64, float64, "
                      "int64[::1], int32[::1], uint64[::1], float64[::1], float64[::1], float64[::1], float64[::1], "
                      "int64[::1], float64[::1], int64[::1], float64[::1], float64[::1])", (_clip, *PAIRWISE))
