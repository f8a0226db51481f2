"""The causal network's step for the engine's inner loop: `NetworkState.step` with its lookups done once.

`NetworkState.step` looks up every node, link, link function and smoothed input by name on every step (some
30 dictionary lookups and method calls per link); with a few dozen links that was ~20 us of a 1x step's
~300 us, paid on every step whatever the customer count. `FastNetworkState` precomputes, per node, the
tuple of what its incoming links need and runs the same float operations in the same order, so the values
are bit-identical (tests/test_speed_invariants.py compares the two step by step). Validation, `settle` and
the frozen network (simulator/engine/frozen.py) keep the plain class.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from simulator.graph.compiler import CompiledModel
from simulator.graph.network import NetworkState

# an incoming link: (link id, reads the smoothed copy?, source node, default effect, linear?, x_ref, function)
_Incoming = tuple[str, bool, str, float, bool, float, object]


class FastNetworkState(NetworkState):
    """NetworkState whose step walks precomputed plans (same arithmetic, same order, same results)."""

    def __init__(self, model: CompiledModel):
        super().__init__(model)
        self._measure_names = frozenset(self.values)
        self._lever_bounds = {name: (n.min, n.max) for name, n in self._nodes.items()}
        self._smoothing = [(lid, self._links[lid].source, self._links[lid].delay_days) for lid in self._smoothed]
        self._alphas: tuple[float, list[float]] = (math.nan, [])
        self._aux_plan = [self._plan(n) for n in self._auxiliaries]
        self._stock_plan = [(self._plan(n), n.integrate, n.adjust_days) for n in self._stocks]

    def _plan(self, node) -> tuple[str, object, object, object, tuple[_Incoming, ...]]:
        incoming = []
        for lid in self.model.incoming[node.name]:
            link = self._links[lid]
            f = self.model.link_functions[lid]
            linear = f.form == "linear"
            incoming.append((lid, lid in self._smoothed, link.source, link.effect, linear, f.x_ref, f))
        return node.name, node.reference, node.min, node.max, tuple(incoming)

    def step(self, dt: float, measures: Mapping[str, float], levers: Mapping[str, float],
             link_effects: Mapping[str, float]) -> dict[str, float]:
        """As NetworkState.step (see there); the order of every addition is the same."""
        values, smoothed, names = self.values, self._smoothed, self._measure_names
        for name, value in measures.items():
            if name in names:
                values[name] = float(value)
        bounds = self._lever_bounds
        for name, value in levers.items():
            value = float(value)
            lo, hi = bounds[name]
            if lo is not None and value < lo:
                value = lo
            elif hi is not None and value > hi:
                value = hi
            values[name] = value
        if self._smoothing:
            at, alphas = self._alphas
            if at != dt:  # dt is the same on most steps: the same exp, once
                alphas = [1.0 - math.exp(-dt / delay) for _, _, delay in self._smoothing]
                self._alphas = (dt, alphas)
            for (lid, source, _), alpha in zip(self._smoothing, alphas, strict=True):
                smoothed[lid] += (values[source] - smoothed[lid]) * alpha
        get = link_effects.get
        for name, total, lo, hi, incoming in self._aux_plan:
            for lid, is_smoothed, source, default, linear, x_ref, f in incoming:
                x = smoothed[lid] if is_smoothed else values[source]
                effect = get(lid, default)
                total += effect * (x - x_ref) if linear else f.contribution(x, effect)
            if lo is not None and total < lo:
                total = lo
            elif hi is not None and total > hi:
                total = hi
            values[name] = total
        new_stock: list[tuple[str, float]] = []
        for (name, reference, lo, hi, incoming), integrate, adjust_days in self._stock_plan:
            indicated = reference
            for lid, is_smoothed, source, default, linear, x_ref, f in incoming:
                x = smoothed[lid] if is_smoothed else values[source]
                effect = get(lid, default)
                indicated += effect * (x - x_ref) if linear else f.contribution(x, effect)
            current = values[name]
            if integrate:
                value = current + dt * (indicated - reference)
            else:
                value = current + (indicated - current) * (1.0 - math.exp(-dt / adjust_days))
            if lo is not None and value < lo:
                value = lo
            elif hi is not None and value > hi:
                value = hi
            new_stock.append((name, value))
        values.update(new_stock)
        return values
