"""Experiments: strategies x replications, each run with its own streams, on one or several processes.

A task is (strategy, replication). Results come back in task order whatever the worker count, and each
run's randomness depends only on (seed, replication), so the same seed gives bit-identical frames for
any number of workers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from simulator.engine._numba import warm
from simulator.engine.model import RunOutput, run_once
from simulator.errors import UsageError
from simulator.graph.compiler import CompiledModel, compile_scenario
from simulator.results import ID_COLUMNS
from simulator.scenario.models import Scenario

if TYPE_CHECKING:
    import pandas as pd

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Task:
    strategy: str
    replication: int


@dataclass(frozen=True)
class ExperimentResult:
    """Tidy frames of one experiment plus what is needed to reproduce it."""

    timeseries: pd.DataFrame
    customers: pd.DataFrame
    strategies: tuple[str, ...]
    replications: int
    seed: int
    months: int


def resolve_strategies(scenario: Scenario, requested: Sequence[str] | None) -> tuple[str, ...]:
    """Baseline first, then the requested strategies in the scenario's order; unknown names are usage errors."""
    known = scenario.strategy_names()
    if not requested:
        return tuple(known)
    from simulator.errors import closest

    for name in requested:
        if name not in known:
            hint = closest(name, known) or "known: " + ", ".join(known)
            raise UsageError(f"unknown strategy '{name}' ({hint})")
    wanted = set(requested) | {"baseline"}
    return tuple(s for s in known if s in wanted)


def _run_task(model: CompiledModel, task: Task, seed: int, months: int) -> RunOutput:
    return run_once(model, task.strategy, task.replication, seed, months)


_WORKER_MODEL: CompiledModel | None = None


def _init_worker(scenario_data: dict) -> None:
    global _WORKER_MODEL
    _WORKER_MODEL = compile_scenario(Scenario.model_validate(scenario_data))


def _run_in_worker(task: Task, seed: int, months: int) -> tuple[Task, RunOutput]:
    assert _WORKER_MODEL is not None
    return task, _run_task(_WORKER_MODEL, task, seed, months)


def iter_runs(model: CompiledModel, tasks: Sequence[Task], seed: int, months: int,
              workers: int = 1, started: Callable[[], object] | None = None) -> Iterator[tuple[Task, RunOutput]]:
    """Yield finished runs as they complete (any order); the scenario travels to workers as data.
    `started()` is called once the worker processes have their tasks: the caller's own preparation (imports)
    then overlaps the runs instead of delaying them."""
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield task, _run_task(model, task, seed, months)
        return
    data = model.scenario.as_data()
    warm()  # compile or load the service kernel once here; workers inherit it or load it from the disk cache
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(data,))
    try:
        futures = [pool.submit(_run_in_worker, task, seed, months) for task in tasks]
        if started is not None:
            started()
        try:
            for future in as_completed(futures):
                yield future.result()
        except BaseException:
            for f in futures:
                f.cancel()
            raise
    finally:
        from simulator.processes import received

        # after SIGINT/SIGTERM the workers are already ended, perhaps mid-write: waiting could wait forever
        pool.shutdown(wait=not received, cancel_futures=True)


def run_experiment(model: CompiledModel, strategies: Sequence[str] | None = None, replications: int | None = None,
                   seed: int | None = None, months: int | None = None, workers: int | None = None,
                   progress: Progress | None = None) -> ExperimentResult:
    sc = model.scenario
    names = resolve_strategies(sc, strategies)
    reps = int(replications if replications is not None else sc.run.replications)
    seed = int(seed if seed is not None else sc.run.seed)
    months = int(months if months is not None else sc.metadata.horizon_months)
    if reps < 1:
        raise UsageError("--replications must be at least 1")
    if months < 1:
        raise UsageError("--months must be at least 1")
    tasks = [Task(s, r) for r in range(reps) for s in names]
    workers = default_workers(len(tasks)) if workers is None else max(1, workers)
    outputs: dict[Task, RunOutput] = {}
    for done, (task, out) in enumerate(iter_runs(model, tasks, seed, months, workers, _import_pandas), start=1):
        outputs[task] = out
        if progress:
            progress(done, len(tasks))
    ordered = [outputs[Task(s, r)] for s in names for r in range(reps)]
    return ExperimentResult(timeseries_frame(ordered), ledger_frame(ordered), names, reps, seed, months)


def _import_pandas() -> None:
    """The frames need pandas (~0.4 s to import) and the intervals scipy.special (~0.15 s): in the parent while
    the workers run, not before they start nor after they finish."""
    import pandas  # noqa: F401
    import scipy.special  # noqa: F401


def default_workers(n_tasks: int) -> int:
    return max(1, min(os.cpu_count() or 1, n_tasks))


def _tidy(outputs: Sequence[RunOutput], part: str) -> pd.DataFrame:
    """Stack one part ('periods' or 'ledger') of every run, keyed by strategy and replication.

    Column by column with numpy (one DataFrame at the end) when every run has the same columns: the same frame
    as stacking one DataFrame per run with pd.concat (tests/test_speed_invariants.py), in a fraction of the time
    (it ran on the TUI's background thread, holding the GIL, for every refresh)."""
    import pandas as pd

    parts = [getattr(out, part) for out in outputs]
    if parts and parts[0] and all(list(p) == list(parts[0]) for p in parts):
        lengths = [len(next(iter(p.values()))) for p in parts]
        dtypes = [np.asarray(v).dtype for v in parts[0].values()]
        if all(len(v) == n and np.asarray(v).dtype == d for p, n in zip(parts, lengths, strict=True)
               for v, d in zip(p.values(), dtypes, strict=True)):
            columns: dict[str, np.ndarray] = {
                "strategy": np.repeat(np.array([out.strategy for out in outputs], dtype=object), lengths),
                "replication": np.repeat(np.array([out.replication for out in outputs], dtype=np.int64), lengths),
            }
            for name in parts[0]:
                if name not in columns:
                    columns[name] = np.concatenate([np.asarray(p[name]) for p in parts])
            if len(columns) == len(parts[0]) + 2:  # (no run column named strategy or replication)
                return pd.DataFrame(columns)
    frames = []
    for out in outputs:
        df = pd.DataFrame(getattr(out, part))
        df.insert(0, "replication", out.replication)
        df.insert(0, "strategy", out.strategy)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def timeseries_frame(outputs: Sequence[RunOutput]) -> pd.DataFrame:
    df = _tidy(outputs, "periods")
    return df[list(ID_COLUMNS) + [c for c in df.columns if c not in ID_COLUMNS]]


def ledger_frame(outputs: Sequence[RunOutput]) -> pd.DataFrame:
    return _tidy(outputs, "ledger")
