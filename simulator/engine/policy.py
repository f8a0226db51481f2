"""A strategy's initiatives as functions of time: lever values, link effects, segment parameters, spend.

An effect reaches full size over its initiative's ramp; before the start and after the end it is off.
Effects on the same target compose in the order the strategy lists its initiatives.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from simulator.scenario.models import Effect, Initiative, Scenario


def apply(op: str, operand: float, value: float) -> float:
    if op == "set":
        return operand
    if op == "add":
        return value + operand
    return value * operand


@dataclass(frozen=True)
class Policy:
    """The initiatives of one strategy, with month-based timing converted to days."""

    initiatives: tuple[Initiative, ...]
    period_days: float

    @classmethod
    def for_strategy(cls, scenario: Scenario, strategy: str) -> Policy:
        if strategy == "baseline":
            return cls((), scenario.metadata.period_days)
        spec = next((s for s in scenario.strategies if s.name == strategy), None)
        if spec is None:
            raise KeyError(strategy)
        by_name = {i.name: i for i in scenario.initiatives}
        return cls(tuple(by_name[n] for n in spec.initiatives), scenario.metadata.period_days)

    def start_day(self, ini: Initiative) -> float:
        return ini.start_month * self.period_days

    def end_day(self, ini: Initiative) -> float:
        if ini.duration_months is None:
            return float("inf")
        return (ini.start_month + ini.duration_months) * self.period_days

    def strength(self, ini: Initiative, day: float) -> float:
        """0 before the start and after the end; ramps linearly to 1 over ramp_months."""
        start = self.start_day(ini)
        if day < start or day >= self.end_day(ini):
            return 0.0
        ramp = ini.ramp_months * self.period_days
        return 1.0 if ramp <= 0 else min(1.0, (day - start + 1e-9) / ramp)

    def _effects(self, day: float, kind: str):
        for ini in self.initiatives:
            s = self.strength(ini, day)
            if s > 0:
                for eff in ini.effects:
                    if getattr(eff, kind) is not None:
                        yield s, eff

    @staticmethod
    def _compose(value: float, strength: float, eff: Effect) -> float:
        op, operand = eff.operation
        return value + strength * (apply(op, operand, value) - value)

    def levers(self, day: float, references: dict[str, float]) -> dict[str, float]:
        values = dict(references)
        for s, eff in self._effects(day, "lever"):
            values[eff.lever] = self._compose(values[eff.lever], s, eff)
        return values

    def link_effects(self, day: float, base: dict[str, float]) -> dict[str, float]:
        out: dict[str, float] = {}
        for s, eff in self._effects(day, "link"):
            out[eff.link] = self._compose(out.get(eff.link, base[eff.link]), s, eff)
        return out

    def segment_values(self, day: float, segment: str, parameter: str, base: float) -> float:
        value = base
        for s, eff in self._effects(day, "segment"):
            if eff.segment == segment and eff.parameter == parameter:
                value = self._compose(value, s, eff)
        return value

    def touches_segments(self) -> bool:
        return any(e.segment is not None for ini in self.initiatives for e in ini.effects)

    @cached_property
    def _spending(self) -> tuple[tuple[float, float, float, float], ...]:
        """(start day, end day, one-off cost, monthly cost) of each initiative, for spend()."""
        return tuple((self.start_day(ini), self.end_day(ini), ini.one_off_cost, ini.monthly_cost)
                     for ini in self.initiatives)

    def spend(self, t0: float, t1: float) -> float:
        """Initiative spend in [t0, t1): one-off costs at their start, monthly costs pro rata while active."""
        total = 0.0
        for start, end, one_off_cost, monthly_cost in self._spending:
            if t0 <= start < t1:
                total += one_off_cost
            overlap = min(t1, end) - max(t0, start)
            if overlap > 0:
                total += monthly_cost * overlap / self.period_days
        return total
