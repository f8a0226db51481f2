"""Scenario -> CompiledModel: the causal graph, its evaluation order, link functions, ports and loops.

Within one network step, links without delay into auxiliaries must form a DAG; stocks and delayed
links read last step's values and so break loops. The engine's own causal paths (`ENGINE_LINKS`) join
read ports to written ports, which closes the service-profit chain's feedback loops for the loop
listing and the causal map (they carry a one-step delay, so they never form an algebraic loop).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from simulator.errors import Problem, ScenarioError
from simulator.graph.links import LinkFunction, compile_link
from simulator.ports import ENGINE_LINKS, READ_PORTS, WRITTEN_PORTS
from simulator.scenario.loader import LoadedScenario, load, locate
from simulator.scenario.models import Scenario

if TYPE_CHECKING:  # imported where a graph is built: networkx alone took a fifth of the terminal UI's start-up
    import networkx as nx

MAX_LOOP_LENGTH = 14
MAX_LOOPS = 500


@dataclass(frozen=True)
class Loop:
    """A feedback loop: nodes in causal order (the last feeds the first)."""

    nodes: tuple[str, ...]
    polarity: str  # "reinforcing" | "balancing" | "undetermined"
    through_engine: bool

    @property
    def label(self) -> str:
        return " -> ".join((*self.nodes, self.nodes[0]))


@dataclass(frozen=True)
class CompiledModel:
    """Everything the engine needs from a scenario, computed once. The causal graph and its feedback loops are
    built on first use: the engine never reads them, and networkx (~0.14 s to import) would otherwise sit on the
    path of every `spc run` before its workers start."""

    scenario: Scenario
    order: tuple[str, ...]  # auxiliaries in evaluation order
    link_functions: dict[str, LinkFunction]
    ports_read: tuple[str, ...]  # read ports the scenario defines as nodes
    ports_written: tuple[str, ...]  # written ports the scenario declares as measures
    content_hash: str = ""
    source: str = ""
    incoming: dict[str, tuple[str, ...]] = field(default_factory=dict)  # node -> link ids into it

    @property
    def node_names(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.scenario.network.nodes)

    @cached_property
    def graph(self) -> nx.DiGraph:
        return build_graph(self.scenario, self.link_functions)

    @cached_property
    def loops(self) -> tuple[Loop, ...]:
        return find_loops(self.graph)


def _sign(effect: float, fn: LinkFunction) -> int:
    s = (1 if effect > 0 else -1 if effect < 0 else 0) * fn.monotone_sign
    return s


def build_graph(scenario: Scenario, functions: dict[str, LinkFunction]) -> nx.DiGraph:
    """Scenario nodes and links plus the engine's port-to-port paths that connect declared nodes."""
    import networkx as nx

    g = nx.DiGraph()
    for node in scenario.network.nodes:
        g.add_node(node.name, kind=node.kind, unit=node.unit, reference=node.reference, declared=True)
    for link in scenario.network.links:
        g.add_edge(link.source, link.target, effect=link.effect, form=link.form, delay_days=link.delay_days,
                   sign=_sign(link.effect, functions[link.id]), engine=False)
    engine = nx.DiGraph()
    engine.add_edges_from((a, b, {"sign": s}) for a, b, s in ENGINE_LINKS)
    declared_read = [n for n in g if n in READ_PORTS and n in engine]
    declared_written = {n for n in g if n in WRITTEN_PORTS and n in engine}
    keep: set[str] = set()
    for start in declared_read:
        reach = nx.descendants(engine, start) | {start}
        for node in reach:
            if declared_written & (nx.descendants(engine, node) | {node}):
                keep.add(node)
    for a, b, data in engine.edges(data=True):
        if a in keep and b in keep:
            for n in (a, b):
                if n not in g:
                    port = READ_PORTS.get(n) or WRITTEN_PORTS[n]
                    g.add_node(n, kind="engine", unit=port.unit, reference=0.0, declared=False)
            if not g.has_edge(a, b):
                g.add_edge(a, b, effect=float(data["sign"]), form="engine", delay_days=0.0, sign=data["sign"], engine=True)
    return g


def find_loops(g: nx.DiGraph) -> tuple[Loop, ...]:
    import networkx as nx

    loops: list[Loop] = []
    for cycle in nx.simple_cycles(g, length_bound=MAX_LOOP_LENGTH):
        edges = list(zip(cycle, cycle[1:] + cycle[:1], strict=False))
        signs = [g.edges[e]["sign"] for e in edges]
        product = 1
        for s in signs:
            product *= s
        polarity = "reinforcing" if product > 0 else "balancing" if product < 0 else "undetermined"
        loops.append(Loop(_canonical(cycle), polarity, any(g.edges[e]["engine"] for e in edges)))
        if len(loops) >= MAX_LOOPS:
            break
    return tuple(sorted(loops, key=lambda lp: (len(lp.nodes), lp.nodes)))


def _canonical(cycle: list[str]) -> tuple[str, ...]:
    i = cycle.index(min(cycle))
    return tuple(cycle[i:] + cycle[:i])


def compile_scenario(scenario: Scenario, positions: dict | None = None, source: str = "<scenario>",
                     content_hash: str = "") -> CompiledModel:
    """Compile a validated scenario, or raise ScenarioError for an algebraic loop."""
    nodes = {n.name: n for n in scenario.network.nodes}
    functions = {
        link.id: compile_link(link, nodes[link.source].reference, nodes[link.target].reference)
        for link in scenario.network.links
    }
    auxiliaries = [n.name for n in scenario.network.nodes if n.kind == "auxiliary"]
    instantaneous = [(link.source, link.target) for link in scenario.network.links
                     if link.delay_days == 0 and nodes[link.target].kind == "auxiliary"
                     and nodes[link.source].kind == "auxiliary"]
    order = lexicographic_order(auxiliaries, instantaneous)
    if order is None:
        raise ScenarioError(_algebraic_loops(scenario, auxiliaries, instantaneous, positions, source))
    incoming: dict[str, list[str]] = {n: [] for n in nodes}
    for link in scenario.network.links:
        incoming[link.target].append(link.id)
    return CompiledModel(
        scenario=scenario,
        order=order,
        link_functions=functions,
        ports_read=tuple(n for n in nodes if n in READ_PORTS),
        ports_written=tuple(n for n, node in nodes.items() if node.kind == "measure"),
        content_hash=content_hash,
        source=source,
        incoming={k: tuple(v) for k, v in incoming.items()},
    )


def lexicographic_order(nodes: list[str], edges: list[tuple[str, str]]) -> tuple[str, ...] | None:
    """Topological order, the smallest name first among those ready (networkx's lexicographical_topological_sort,
    with the standard library: Kahn's algorithm on a heap); None when the edges hold a cycle."""
    successors: dict[str, list[str]] = {n: [] for n in nodes}
    waiting = dict.fromkeys(nodes, 0)
    for a, b in edges:
        successors[a].append(b)
        waiting[b] += 1
    ready = [n for n, k in waiting.items() if k == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        node = heapq.heappop(ready)
        order.append(node)
        for nxt in successors[node]:
            waiting[nxt] -= 1
            if waiting[nxt] == 0:
                heapq.heappush(ready, nxt)
    return tuple(order) if len(order) == len(nodes) else None


def _algebraic_loops(scenario: Scenario, nodes: list[str], edges: list[tuple[str, str]], positions: dict | None,
                     source: str) -> list[Problem]:
    """One problem per loop of links with no delay and no stock (at most 10), located at its closing link."""
    import networkx as nx

    instantaneous = nx.DiGraph()
    instantaneous.add_nodes_from(nodes)
    instantaneous.add_edges_from(edges)
    index = {link.id: i for i, link in enumerate(scenario.network.links)}
    problems: list[Problem] = []
    for cycle in nx.simple_cycles(instantaneous):
        ordered = _canonical(cycle)
        closing = f"{ordered[-1]}->{ordered[0]}"
        file, line, col = locate(positions or {}, ("network", "links", index.get(closing, 0)), source)
        problems.append(Problem(file, line, col,
                                f"loop with no delay and no stock: {' -> '.join((*ordered, ordered[0]))}",
                                f"give a link on it a delay (e.g. delay_days: 7 on {closing}) or make one node a stock"))
        if len(problems) >= 10:
            break
    return problems


def compile_loaded(loaded: LoadedScenario) -> CompiledModel:
    return compile_scenario(loaded.scenario, loaded.positions, str(loaded.path), loaded.content_hash)


def compile_file(path: str | Path) -> CompiledModel:
    """Load and compile a scenario file; raises ScenarioError with FILE:LINE:COL problems."""
    return compile_loaded(load(path))
