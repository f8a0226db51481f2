"""The causal network at run time: one `step(dt)` advances every node by dt days.

Order within a step: measures take the engine's latest observations, levers take the initiatives'
values, delayed links smooth their source, auxiliaries are evaluated in topological order, stocks
adjust toward their indicated value (or integrate). Plain floats in dicts: a network has tens of
nodes, so this is cheap next to the service layer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from simulator.graph.compiler import CompiledModel


class NetworkState:
    """Current values of every node, with the smoothed copies that delayed links see."""

    def __init__(self, model: CompiledModel):
        self.model = model
        sc = model.scenario
        self._nodes = {n.name: n for n in sc.network.nodes}
        self._links = {link.id: link for link in sc.network.links}
        self.values: dict[str, float] = {
            n.name: float(n.initial if (n.kind == "stock" and n.initial is not None) else n.reference)
            for n in sc.network.nodes
        }
        self._smoothed: dict[str, float] = {
            lid: self.values[link.source] for lid, link in self._links.items() if link.delay_days > 0
        }
        self._stocks = [n for n in sc.network.nodes if n.kind == "stock"]
        self._auxiliaries = [self._nodes[name] for name in model.order]

    def _input(self, link_id: str) -> float:
        if link_id in self._smoothed:
            return self._smoothed[link_id]
        return self.values[self._links[link_id].source]

    def _indicated(self, name: str, effects: Mapping[str, float]) -> float:
        node = self._nodes[name]
        total = node.reference
        for lid in self.model.incoming[name]:
            link = self._links[lid]
            effect = effects.get(lid, link.effect)
            total += self.model.link_functions[lid].contribution(self._input(lid), effect)
        return total

    @staticmethod
    def _clamp(node, value: float) -> float:
        if node.min is not None and value < node.min:
            return node.min
        if node.max is not None and value > node.max:
            return node.max
        return value

    def step(self, dt: float, measures: Mapping[str, float], levers: Mapping[str, float],
             link_effects: Mapping[str, float]) -> dict[str, float]:
        """Advance dt days. `link_effects` overrides link effects (initiatives); returns the new values."""
        for name, value in measures.items():
            if name in self.values:
                self.values[name] = float(value)
        for name, value in levers.items():
            self.values[name] = self._clamp(self._nodes[name], float(value))
        for lid in self._smoothed:
            link = self._links[lid]
            alpha = 1.0 - math.exp(-dt / link.delay_days)
            self._smoothed[lid] += (self.values[link.source] - self._smoothed[lid]) * alpha
        for node in self._auxiliaries:
            self.values[node.name] = self._clamp(node, self._indicated(node.name, link_effects))
        new_stock: dict[str, float] = {}
        for node in self._stocks:
            indicated = self._indicated(node.name, link_effects)
            current = self.values[node.name]
            if node.integrate:
                value = current + dt * (indicated - node.reference)
            else:
                value = current + (indicated - current) * (1.0 - math.exp(-dt / node.adjust_days))
            new_stock[node.name] = self._clamp(node, value)
        self.values.update(new_stock)
        return self.values

    def settle(self, levers: Mapping[str, float], link_effects: Mapping[str, float], measures: Mapping[str, float],
               steps: int = 2000, dt: float = 7.0) -> dict[str, float]:
        """Run to (near) steady state with constant inputs; used by validation and explain."""
        for _ in range(steps):
            self.step(dt, measures, levers, link_effects)
        return dict(self.values)
