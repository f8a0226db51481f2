"""Gains of the engine's own causal links (no formula: port -> engine -> written port) measured by
counterfactual runs, for the loop scores of `loops`.

For each replication the strategy runs once with a recording (simulator.engine.frozen); then, per read
port p, once more with *every* read port frozen at that recording and p moved by a small constant
δ_p (PERTURBATION × its mean level). With the other ports frozen, the network's feedback is cut: what
changes is the engine's own response to p, on the same random draws (common random numbers), so the
difference of two runs is the effect and not noise. Mean responses over the replications give, for an
engine link a -> b:

  a read port:     g = Σ_t resp_b(t) / Σ_t δ_a                        (the response per unit of a)
  an engine node:  g = Σ_t resp_b(t) / Σ_t resp_a(t) under a port p whose every engine path to b passes
                   through a (the chain rule: p moves b only through a); of several such ports, the one
                   that moves a most clearly (largest |mean| / standard error over the replications)
  a node moved only through another parent c of b whose gain came from the chain rule: 0, since c's
                   ratio already carries that path (the engine moves abandonment only with the wait, so
                   loops through abandonment_rate count in their mean_wait_minutes twins)
  otherwise:       the gains of b's engine parents solved together from every port's responses
                   (resp_b = Σ_a g_a resp_a over ports and months, signs from the ports table):
                   a linear system in counterfactual responses, not a fit to the trajectory's changes

Gains are constant over the horizon (one per link, per strategy and seed). Accounting identities
(customers = won - lost, profit = revenue - costs, costs' parts) need no gain: `loops` uses them directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np

from simulator.engine.frozen import Frozen, Recording
from simulator.engine.model import run_once
from simulator.graph.compiler import CompiledModel
from simulator.ports import ENGINE_LINKS, READ_PORTS

PERTURBATION = 0.1
"""Each read port is moved by this share of its mean level (or of 1 where its level is 0) ..."""
MIN_STEP = {"headcount_target": 1.0}
"""... and at least this much where the engine works in whole units (one employee)."""
IDENTITIES = {("customers_won", "active_customers"), ("customers_lost", "active_customers"),
              ("revenue", "profit"), ("costs", "profit"), ("headcount", "costs"), ("employee_quits", "costs"),
              ("employee_quits", "headcount"), ("employee_quit_rate", "employee_quits")}


@dataclass(frozen=True)
class EngineGains:
    gains: dict[tuple[str, str], float]
    how: dict[tuple[str, str], str]  # "port", "chain via PORT" or "solved"
    runs: int
    responses: tuple = ()  # per replication: port -> (δ, column -> response); for resampling
    links: tuple[tuple[str, str], ...] = ()

    def resample(self, rng: np.random.Generator) -> dict[tuple[str, str], float]:
        """The gains again from a bootstrap resample of the replications (their noise, for `loops`)."""
        picks = rng.integers(0, len(self.responses), len(self.responses))
        return _solve([self.responses[i] for i in picks], list(self.links))[0]


def engine_links_needing_gains(model: CompiledModel) -> list[tuple[str, str]]:
    """The engine links whose target is an engine node (not one of the network's nodes) and not an identity."""
    network = {n.name for n in model.scenario.network.nodes if n.kind in ("auxiliary", "stock", "lever")}
    return [(a, b) for a, b, _ in ENGINE_LINKS if b not in network and (a, b) not in IDENTITIES]


def _responses(model: CompiledModel, strategy: str, rep: int, seed: int, months: int,
               ports: Sequence[str]) -> dict[str, tuple[float, dict[str, np.ndarray]]]:
    """Per port: (δ, response of every period column) for one replication."""
    base = run_once(model, strategy, rep, seed, months, record=True)
    rec = base.recording
    every = frozenset(f"port:{p}" for p in READ_PORTS)
    out = {}
    for p in ports:
        level = float(np.mean([abs(step[p]) for step in rec.ports]))
        delta = max(PERTURBATION * (level if level > 0 else 1.0), MIN_STEP.get(p, 0.0))
        moved = Recording(tuple({**step, p: step[p] + delta} for step in rec.ports), rec.links, rec.measures)
        run = run_once(model, strategy, rep, seed, months, frozen=Frozen(moved, every))
        out[p] = (delta, {k: np.asarray(run.periods[k], float) - np.asarray(base.periods[k], float)
                          for k in base.periods if k != "period"})
    return out


def _job(args):
    model, strategy, rep, seed, months, ports = args
    return _responses(model, strategy, rep, seed, months, ports)


def measure_gains(model: CompiledModel, strategy: str, seed: int, months: int, replications: int,
                  workers: int = 1, needed: Sequence[tuple[str, str]] | None = None) -> EngineGains:
    """Counterfactual gains of the engine links that need one (see the module docstring); only the ports that
    reach a `needed` link's target are moved (default: every link's)."""
    links = engine_links_needing_gains(model)
    targets = {b for _, b in (needed if needed is not None else links)}
    links = [(a, b) for a, b in links if b in targets]
    engine = nx.DiGraph([(a, b) for a, b, _ in ENGINE_LINKS])
    ports = sorted({p for p in READ_PORTS if p in engine and any(nx.has_path(engine, p, b) for _, b in links)})
    jobs = [(model, strategy, r, seed, months, ports) for r in range(replications)]
    if not ports:
        return EngineGains({}, {}, 0, (), tuple(links))
    if workers > 1 and replications > 1:
        from concurrent.futures import ProcessPoolExecutor

        from simulator.engine._numba import warm

        warm()
        with ProcessPoolExecutor(min(workers, replications)) as pool:
            results = list(pool.map(_job, jobs))
    else:
        results = [_job(j) for j in jobs]
    gains, how = _solve(results, links)
    return EngineGains(gains, how, replications * (1 + len(ports)), tuple(results), tuple(links))


def _precision(results: list[dict], port: str, node: str) -> float:
    """|mean| / standard error over replications of node's summed response to port: the port that moves the
    node most clearly gives the chain-rule ratio with the least noise."""
    sums = np.array([float(np.sum(res[port][1].get(node, 0.0))) for res in results])
    if len(sums) < 2:
        return abs(float(sums.mean()))
    se = float(sums.std(ddof=1)) / np.sqrt(len(sums))
    return abs(float(sums.mean())) / max(se, 1e-12 * max(abs(float(sums.mean())), 1e-300))


def _solve(results: list[dict], links: list[tuple[str, str]]):
    ports = sorted(results[0])
    engine = nx.DiGraph([(a, b) for a, b, _ in ENGINE_LINKS])
    delta = {p: float(np.mean([res[p][0] for res in results])) for p in ports}
    resp = {p: {k: np.mean([res[p][1][k] for res in results], axis=0) for k in results[0][p][1]} for p in ports}
    T = len(next(iter(resp[ports[0]].values()))) if ports else 0

    def response(p: str, node: str) -> np.ndarray:
        if node in READ_PORTS:
            return np.full(T, delta[p] if node == p else 0.0)
        return resp[p].get(node, np.zeros(T))

    gains: dict[tuple[str, str], float] = {}
    how: dict[tuple[str, str], str] = {}
    unsolved: dict[str, list[str]] = {}
    for a, b in links:
        if a in READ_PORTS:
            gains[a, b] = float(response(a, b).sum() / (T * delta[a])) if a in delta else 0.0
            how[a, b] = "port"
            continue
        cut = engine.copy()
        cut.remove_node(a)
        isolating = [p for p in ports if nx.has_path(engine, p, a) and not (p in cut and b in cut and
                                                                           nx.has_path(cut, p, b))]
        isolating = [p for p in isolating if abs(response(p, a).sum()) > 0]
        if isolating:
            p = max(isolating, key=lambda q: _precision(results, q, a))
            gains[a, b] = float(response(p, b).sum() / response(p, a).sum())
            how[a, b] = f"chain via {p}"
        else:
            unsolved.setdefault(b, []).append(a)
    for b, sources in list(unsolved.items()):
        for a in list(sources):
            for c in [c for (c, bb), h in how.items() if bb == b and h.startswith("chain")]:
                cut = engine.copy()
                cut.remove_node(c)
                if not any(p in cut and nx.has_path(cut, p, a) for p in ports):
                    gains[a, b] = 0.0  # every port moves a only through c: c's chain gain includes a's path
                    how[a, b] = f"included in {c}->{b}"
                    sources.remove(a)
                    break
        if not sources:
            del unsolved[b]
    for b, _ in unsolved.items():
        parents = [a for a, bb in links if bb == b]
        X = np.vstack([np.column_stack([response(p, a) for a in parents]) for p in ports])
        y = np.concatenate([response(p, b) for p in ports])
        scale = np.abs(X).max(axis=0)
        scale[scale == 0] = 1.0
        from simulator.analysis.causal import signed_lsq

        signs = np.array([next(s for aa, bb, s in ENGINE_LINKS if (aa, bb) == (a, b)) for a in parents], float)
        g = signed_lsq(X / scale, y, signs) / scale
        for a, value in zip(parents, g, strict=True):
            if a in unsolved[b]:
                gains[a, b] = float(value)
                how[a, b] = "solved"
    return gains, how
