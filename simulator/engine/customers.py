"""Customers as columns of numpy arrays (one slot per customer ever active), grown in blocks."""

from __future__ import annotations

import numpy as np

from simulator.engine.rng import ARRIVALS, CHURN, DISPOSITION, SEGMENT_SHIFT, KeyedRandom, customer_keys
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
        self.step_contacts_by_segment = np.zeros(self.n_segments, dtype=np.int64)
        self.step_purchases_by_segment = np.zeros(self.n_segments, dtype=np.int64)

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

    def _append(self, segs: np.ndarray, ordinals: np.ndarray, joined: np.ndarray, tilt: np.ndarray | float = 0.0,
                ) -> np.ndarray:
        n = segs.size
        self._grow(self.size + n)
        idx = np.arange(self.size, self.size + n)
        keys = customer_keys(segs, ordinals)
        self.segment[idx] = segs
        self.key[idx] = keys
        self.active[idx] = True
        self.joined_day[idx] = joined
        self.left_day[idx] = np.inf
        self.disposition[idx] = self._rng.normal(DISPOSITION, keys) * self._spread + tilt if self._spread > 0 else 0.0
        self.satisfaction[idx] = np.clip(self.initial_satisfaction[segs] + self.disposition[idx], 0.0, 10.0)
        self.hazard_used[idx] = 0.0
        self.churn_budget[idx] = self._rng.exponential(CHURN, keys)
        self.size += n
        return idx

    def _gaps(self, segment: int, first_ordinal: int, n: int) -> np.ndarray:
        """Keyed Exp(1) gaps before arrivals first_ordinal .. first_ordinal + n - 1 of a segment."""
        ordinals = np.arange(first_ordinal, first_ordinal + n, dtype=np.int64)
        return self._rng.exponential(ARRIVALS, customer_keys(np.full(n, segment), ordinals))

    def arrive(self, rate_per_day: np.ndarray, t: float, dt: float) -> np.ndarray:
        """Advance every segment's arrival clock over [t, t + dt) at a constant rate; returns new indices.

        Arrivals come in segment order, each at the exact moment its segment's accumulated rate crosses
        the running sum of its keyed gaps."""
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
        self.step_contacts_by_segment = np.bincount(self.segment[who], minlength=self.n_segments)

    def record_purchases(self, idx: np.ndarray, buys: np.ndarray, revenue: np.ndarray, cogs: np.ndarray) -> None:
        self.purchases[idx] += buys
        self.revenue[idx] += revenue
        self.cost_of_goods[idx] += cogs
        self.step_purchases_by_segment = np.bincount(self.segment[idx], weights=buys, minlength=self.n_segments)

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
