"""The background side of the Decision tab: `spc decide`'s logic for the open scenario, refined as draws land.

It runs in a Textual thread worker: the plan, the runs (through `simulator.batch`, into a results database in a
temporary folder that is removed afterwards), and every re-analysis happen on that thread; the event loop only
receives finished `DecisionSnapshot`s. Re-analysis is throttled (about once a second, less often when it is slow:
on two cores every bit of work here slows the workers).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from simulator import LoadedScenario
from simulator.decision.analysis import DecisionResult

REFINE_EVERY = 1.0  # seconds between re-analyses while draws land (at least; see `_due`)
STORE_NAME = "decision.duckdb"


@dataclass(frozen=True)
class DecisionCost:
    """What pressing d would run: draws x strategies x replications (one horizon)."""

    draws: int
    strategies: int
    replications: int
    assumptions: int

    @property
    def runs(self) -> int:
        return self.draws * self.strategies * self.replications

    @property
    def text(self) -> str:
        return (f"{self.draws} draws of {self.assumptions} assumptions × {self.strategies} strategies × "
                f"{self.replications} replications = {self.runs:,} runs")


def decision_cost(loaded: LoadedScenario, draws: int | None = None) -> DecisionCost:
    """The size of the decision `plan_decision` would make (without drawing the design: that takes a second)."""
    unc = loaded.scenario.uncertainty
    n = int(draws or unc.draws) if unc.assumptions else 1
    return DecisionCost(n, len(loaded.scenario.strategy_names()), int(unc.replications), len(unc.assumptions))


@dataclass(frozen=True)
class DecisionSnapshot:
    decision_id: int
    draws: int  # planned
    runs_done: int  # stored so far
    runs: int  # in all
    elapsed: float
    result: DecisionResult | None  # over the complete draws so far; None until two are complete
    workers: str = ""  # where the runs go, e.g. "2 local processes"
    error: str | None = None

    @property
    def complete_draws(self) -> int:
        return self.result.draws if self.result is not None else 0


class StopDecision(Exception):
    """Raised inside the coordinator's progress callback to stop the batch (its generator is closed)."""


def analyse_stored(plan, store, run_ids) -> DecisionResult | None:
    """The decision over the complete draws stored so far, or None while fewer than two are complete."""
    from simulator.decision.analysis import analyse
    from simulator.decision.runner import read_outcomes

    try:
        result = analyse(plan, read_outcomes(store, plan, run_ids))
    except ValueError:  # no complete draw yet
        return None
    return result if result.draws >= 2 else None


def decide(loaded: LoadedScenario, decision_id: int, workers: int, post: Callable[[str, DecisionSnapshot], None],
           cancelled: Callable[[], bool], draws: int | None = None) -> None:
    """Plan, run and analyse the decision; `post(kind, snapshot)` with kind started|refined|finished|cancelled.

    `workers` > 1: worker processes started by the forkserver (the app's `WorkerPool` has it running): forking
    this threaded process could copy a lock another thread holds (the engine's compiler, an in-process run) into
    a worker that then waits on it forever. The executor's worker processes are closed and the temporary
    database removed however this ends."""
    from simulator.batch.coordinator import prepare
    from simulator.batch.executors import make_executor
    from simulator.decision.runner import plan_decision, run_decision
    from simulator.store import Store

    start = time.perf_counter()
    plan = plan_decision(loaded, draws)
    runs = plan.tasks
    if cancelled():
        return
    executor = make_executor("processes" if workers > 1 else "local", workers, start_method="forkserver")
    folder = tempfile.mkdtemp(prefix="spc-decide-")
    try:
        with Store(Path(folder) / STORE_NAME) as store:
            totals, done = prepare(store, plan.specs)
            stored = totals.already_stored
            result: DecisionResult | None = None
            last, cost = time.perf_counter(), 0.0

            def snap(result: DecisionResult | None) -> DecisionSnapshot:
                return DecisionSnapshot(decision_id, plan.draws, stored, runs, time.perf_counter() - start, result,
                                        executor.description)

            post("started", snap(None))
            if cancelled():
                post("cancelled", snap(None))
                return

            def progress(n: int) -> None:
                nonlocal stored, last, cost, result
                stored += n
                if cancelled():
                    raise StopDecision
                now = time.perf_counter()
                if now - last < max(REFINE_EVERY, 3 * cost):  # a slow analysis is not repeated back to back
                    return
                result = analyse_stored(plan, store, totals.run_ids) or result
                last = time.perf_counter()
                cost = last - now
                post("refined", snap(result))

            try:
                run_decision(plan, store, executor, progress, (totals, done))
            except StopDecision:
                post("cancelled", snap(result))
                return
            post("finished", snap(analyse_stored(plan, store, totals.run_ids)))
    finally:
        executor.close()
        shutil.rmtree(folder, ignore_errors=True)
