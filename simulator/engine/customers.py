"""Customers as columns of numpy arrays (one slot per customer ever active), grown in blocks."""

from __future__ import annotations

import numpy as np

from simulator.engine.rng import Streams
from simulator.scenario.models import Scenario

_FLOAT_FIELDS = ("joined_day", "left_day", "satisfaction", "disposition", "revenue", "cost_of_goods", "cost_to_serve",
                 "acquisition_cost")
_INT_FIELDS = ("contacts", "purchases")


class CustomerBase:
    """Per-customer state; every update is a vectorised operation over index arrays."""

    def __init__(self, scenario: Scenario, streams: Streams):
        self.scenario = scenario
        self._rng = streams.dispositions
        self._spread = scenario.service.disposition_spread
        self.n_segments = len(scenario.segments)
        self.initial_satisfaction = np.array([s.initial_satisfaction for s in scenario.segments])
        counts = [s.initial_customers for s in scenario.segments]
        total = int(sum(counts))
        capacity = max(64, total * 2)
        self.size = 0
        self.segment = np.zeros(capacity, dtype=np.int32)
        self.active = np.zeros(capacity, dtype=bool)
        for name in _FLOAT_FIELDS:
            setattr(self, name, np.zeros(capacity))
        for name in _INT_FIELDS:
            setattr(self, name, np.zeros(capacity, dtype=np.int64))
        segs = np.repeat(np.arange(self.n_segments, dtype=np.int32), counts)
        self._append(segs, np.zeros(total))
        self.step_contacts_by_segment = np.zeros(self.n_segments, dtype=np.int64)
        self.step_purchases_by_segment = np.zeros(self.n_segments, dtype=np.int64)

    # ---- growth ------------------------------------------------------------------------------------------
    def _grow(self, needed: int) -> None:
        capacity = self.segment.size
        if needed <= capacity:
            return
        new_capacity = max(needed, capacity * 2)
        for name in ("segment", "active", *_FLOAT_FIELDS, *_INT_FIELDS):
            old = getattr(self, name)
            new = np.zeros(new_capacity, dtype=old.dtype)
            new[: self.size] = old[: self.size]
            setattr(self, name, new)

    def _append(self, segs: np.ndarray, joined: np.ndarray) -> np.ndarray:
        n = segs.size
        self._grow(self.size + n)
        idx = np.arange(self.size, self.size + n)
        self.segment[idx] = segs
        self.active[idx] = True
        self.joined_day[idx] = joined
        self.left_day[idx] = np.inf
        self.disposition[idx] = self._rng.normal(0.0, self._spread, n) if self._spread > 0 else 0.0
        self.satisfaction[idx] = np.clip(self.initial_satisfaction[segs] + self.disposition[idx], 0.0, 10.0)
        self.size += n
        return idx

    def join(self, per_segment: np.ndarray, when: np.ndarray) -> np.ndarray:
        """New customers per segment (in segment order) joining at the given days; returns their indices."""
        segs = np.repeat(np.arange(self.n_segments, dtype=np.int32), per_segment)
        return self._append(segs, when)

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
