"""Counterfactual runs: a strategy run with chosen channels held ("frozen") at the baseline run's values.

A baseline run with `record=True` keeps, for every network step k, what the engine read from each read port,
each link's contribution to its target, and the observations the network saw. A strategy run of the same
(seed, replication) with a `Frozen` spec then replaces, step by step, the frozen elements by those values:

  port:NAME       read port: the engine reads the baseline's value of NAME at step k (see simulator.ports)
  link:A->B       network link: its contribution to B is the baseline's contribution at step k
  measure:NAME    written port: the network sees the baseline's observed NAME (the engine's feedback)
  segments:INI    initiative INI's segment-parameter effects are not applied (baseline parameters)
  levers:INI      initiative INI's lever and link-effect changes are not applied
  costs:INI       initiative INI's one-off and monthly costs are not charged

Draws are keyed by (seed, replication, purpose, key, step), so the engine's randomness does not depend on
what happens elsewhere: with every read port, every segment effect and every cost frozen the engine sees
exactly the baseline's inputs and the run equals the baseline run to the bit (a test checks it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

from simulator.engine.model import RunOutput, Simulation
from simulator.engine.policy import Policy
from simulator.graph.compiler import CompiledModel
from simulator.graph.network import NetworkState
from simulator.ports import READ_PORTS, WRITTEN_PORTS

KINDS = ("port", "link", "measure", "segments", "levers", "costs")


@dataclass(frozen=True)
class Recording:
    """Per network step of a baseline run: read-port values, link contributions, observations seen."""

    ports: tuple[dict[str, float], ...]
    links: tuple[dict[str, float], ...]
    measures: tuple[dict[str, float], ...]


@dataclass(frozen=True)
class Frozen:
    """Elements ('kind:name', see the module docstring) held at the baseline `recording`'s values."""

    recording: Recording | None
    elements: frozenset[str] = frozenset()

    def names(self, kind: str) -> frozenset[str]:
        prefix = kind + ":"
        return frozenset(e[len(prefix):] for e in self.elements if e.startswith(prefix))


def all_elements(model: CompiledModel, strategy: str) -> frozenset[str]:
    """Every element of the model and strategy (freezing them all gives the baseline run)."""
    sc = model.scenario
    policy = Policy.for_strategy(sc, strategy)
    out = {f"port:{p}" for p in READ_PORTS} | {f"link:{link.id}" for link in sc.network.links}
    out |= {f"measure:{m}" for m in model.ports_written} | {"measure:costs", "measure:profit"}
    for ini in policy.initiatives:
        out |= {f"segments:{ini.name}", f"levers:{ini.name}", f"costs:{ini.name}"}
    return frozenset(out)


def parse_element(text: str, model: CompiledModel) -> str:
    """'kind:name' checked against the model; a bare name is a read port, a link id or a written port."""
    links = {link.id for link in model.scenario.network.links}
    initiatives = {ini.name for ini in model.scenario.initiatives}
    text = text.strip()
    kind, sep, name = text.partition(":")
    if not sep:
        name = text
        kind = ("port" if name in READ_PORTS else "link" if name in links
                else "measure" if name in WRITTEN_PORTS else "")
        if not kind:
            raise ValueError(f"unknown element '{text}' (a read port, a link 'a->b', a written port, or kind:name "
                             f"with kind one of {', '.join(KINDS)})")
    valid = {"port": set(READ_PORTS), "link": links, "measure": set(WRITTEN_PORTS),
             "segments": initiatives, "levers": initiatives, "costs": initiatives}.get(kind)
    if valid is None:
        raise ValueError(f"unknown element kind '{kind}' in '{text}' (one of {', '.join(KINDS)})")
    if name not in valid:
        raise ValueError(f"unknown {kind} '{name}' in '{text}'")
    return f"{kind}:{name}"


@dataclass(frozen=True)
class PartialPolicy(Policy):
    """A policy some of whose initiatives' segment effects, lever/link effects or costs are switched off."""

    segments_off: frozenset[str] = frozenset()
    levers_off: frozenset[str] = frozenset()
    costs_off: frozenset[str] = frozenset()

    def _effects_of(self, day: float, kind: str, off: frozenset[str]):
        for ini in self.initiatives:
            if ini.name in off:
                continue
            s = self.strength(ini, day)
            if s > 0:
                for eff in ini.effects:
                    if getattr(eff, kind) is not None:
                        yield s, eff

    def levers(self, day: float, references: dict[str, float]) -> dict[str, float]:
        values = dict(references)
        for s, eff in self._effects_of(day, "lever", self.levers_off):
            values[eff.lever] = self._compose(values[eff.lever], s, eff)
        return values

    def link_effects(self, day: float, base: dict[str, float]) -> dict[str, float]:
        out: dict[str, float] = {}
        for s, eff in self._effects_of(day, "link", self.levers_off):
            out[eff.link] = self._compose(out.get(eff.link, base[eff.link]), s, eff)
        return out

    def segment_values(self, day: float, segment: str, parameter: str, base: float) -> float:
        value = base
        for s, eff in self._effects_of(day, "segment", self.segments_off):
            if eff.segment == segment and eff.parameter == parameter:
                value = self._compose(value, s, eff)
        return value

    def touches_segments(self) -> bool:
        return any(e.segment is not None for ini in self.initiatives if ini.name not in self.segments_off
                   for e in ini.effects)

    @cached_property
    def _spending(self) -> tuple[tuple[float, float, float, float], ...]:
        return tuple((self.start_day(ini), self.end_day(ini), ini.one_off_cost, ini.monthly_cost)
                     for ini in self.initiatives if ini.name not in self.costs_off)


class _Network(NetworkState):
    """The network with frozen links and measures, recording link contributions and measures when asked."""

    def __init__(self, model: CompiledModel, frozen: Frozen | None, record: bool):
        super().__init__(model)
        self._frozen_links = frozen.names("link") if frozen else frozenset()
        self._frozen_measures = frozen.names("measure") if frozen else frozenset()
        self._baseline = frozen.recording if frozen else None
        if (self._frozen_links or self._frozen_measures) and self._baseline is None:
            raise ValueError("freezing needs the baseline run's recording")
        self._k = -1
        self.record = record
        self.recorded_links: list[dict[str, float]] = []
        self.recorded_measures: list[dict[str, float]] = []
        self._links_now: dict[str, float] = {}

    def step(self, dt: float, measures: Mapping[str, float], levers: Mapping[str, float],
             link_effects: Mapping[str, float]) -> dict[str, float]:
        self._k += 1
        if self.record:
            self.recorded_measures.append(dict(measures))
            self._links_now = {}
            self.recorded_links.append(self._links_now)
        if self._frozen_measures:
            seen = self._baseline.measures[self._k]
            measures = dict(measures)
            for name in self._frozen_measures:
                if name in seen:
                    measures[name] = seen[name]
                else:
                    measures.pop(name, None)
        return super().step(dt, measures, levers, link_effects)

    def _indicated(self, name: str, effects: Mapping[str, float]) -> float:
        node = self._nodes[name]
        total = node.reference
        frozen = self._frozen_links
        for lid in self.model.incoming[name]:
            if lid in frozen:
                c = self._baseline.links[self._k][lid]
            else:
                link = self._links[lid]
                effect = effects.get(lid, link.effect)
                c = self.model.link_functions[lid].contribution(self._input(lid), effect)
            if self.record:
                self._links_now[lid] = c
            total += c
        return total


class FrozenSimulation(Simulation):
    """Simulation with frozen elements and/or a recording of what freezing needs (see the module docstring)."""

    def __init__(self, model: CompiledModel, strategy: str, replication: int, seed: int, months: int | None,
                 frozen: Frozen | None, record: bool):
        super().__init__(model, strategy, replication, seed, months)
        self.network = _Network(model, frozen, record)
        self._record = record
        self._frozen_ports = sorted(frozen.names("port")) if frozen else []
        self._baseline = frozen.recording if frozen else None
        if self._frozen_ports and self._baseline is None:
            raise ValueError("freezing needs the baseline run's recording")
        self._port_step = -1
        self._recorded_ports: list[dict[str, float]] = []
        if frozen is not None and (frozen.names("segments") or frozen.names("levers") or frozen.names("costs")):
            self.policy = PartialPolicy(self.policy.initiatives, self.policy.period_days,
                                        frozen.names("segments"), frozen.names("levers"), frozen.names("costs"))

    def _read_ports(self, values: dict[str, float]) -> None:
        super()._read_ports(values)
        self._port_step += 1
        if self._frozen_ports:
            seen = self._baseline.ports[self._port_step]
            for name in self._frozen_ports:
                self.ports[name] = seen[name]
        if self._record:
            self._recorded_ports.append(dict(self.ports))

    def run(self) -> RunOutput:
        out = super().run()
        if self._record:
            out.recording = Recording(tuple(self._recorded_ports), tuple(self.network.recorded_links),
                                      tuple(self.network.recorded_measures))
        return out


def freeze(recording: Recording, elements: Iterable[str]) -> Frozen:
    return Frozen(recording, frozenset(elements))


__all__ = ["KINDS", "Frozen", "FrozenSimulation", "PartialPolicy", "Recording", "all_elements", "freeze",
           "parse_element"]
