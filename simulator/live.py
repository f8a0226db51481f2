"""Experiments for interactive front ends: warm worker processes, results streamed as they finish, cancel.

A batch command can afford to start processes per run; a person moving a lever cannot wait for it. So a
`WorkerPool` starts once (forkserver, which is safe inside a threaded UI, with the engine preloaded) and
compiles each scenario version once per worker. Until the pool is warm, runs go through a thread in this
process, so the first replication shows in well under a second. Tasks go replication-major (every strategy's
replication 0 first), so paired comparisons become possible as early as they can.

Each run's randomness depends only on (seed, replication), so where a run happens never changes its result.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import queue
import sys
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import forkserver, resource_tracker

import pandas as pd

from simulator.engine._numba import warm
from simulator.engine.model import RunOutput, run_once
from simulator.experiment import Task, default_workers, ledger_frame, timeseries_frame
from simulator.graph.compiler import CompiledModel, compile_scenario
from simulator.scenario.models import Scenario

_MODELS: dict[str, CompiledModel] = {}  # per worker process: scenario key -> compiled model


WORKER_NICE = 5
"""Workers run this much below the UI's priority (os.nice): while they use every core, the UI still gets one the
moment it has work (a key press), and when it has none they get the cores as before."""


def _warm() -> bool:
    with contextlib.suppress(OSError, AttributeError):  # (no os.nice on Windows)
        os.nice(WORKER_NICE)
    warm()  # load the service kernel from the disk cache while the pool starts, not in the first run
    return True


def _run_data(key: str, data: dict, task: Task, seed: int, months: int) -> RunOutput:
    """Run one task in a worker; the scenario arrives as data and is compiled once per version."""
    model = _MODELS.get(key)
    if model is None:
        if len(_MODELS) >= 4:
            _MODELS.clear()
        model = _MODELS[key] = compile_scenario(Scenario.model_validate(data))
    return run_once(model, task.strategy, task.replication, seed, months)


@contextlib.contextmanager
def _real_stdio():
    """The process's own stdout/stderr while helper processes start (Textual swaps in objects without a fd)."""
    saved = sys.stdout, sys.stderr
    try:
        if sys.__stdout__ is not None:
            sys.stdout = sys.__stdout__
        if sys.__stderr__ is not None:
            sys.stderr = sys.__stderr__
        yield
    finally:
        sys.stdout, sys.stderr = saved


class WorkerPool:
    """Worker processes that outlive one experiment. Starting it never blocks the caller."""

    def __init__(self, workers: int | None = None):
        self.workers = max(1, workers or default_workers(64))
        self._executor: ProcessPoolExecutor | None = None
        self._ready = threading.Event()
        self._failed: BaseException | None = None
        self._lock = threading.Lock()
        try:
            self._context = multiprocessing.get_context("forkserver")
            # the engine, and its compiled kernels loaded once in the fork server (engine.preload): every worker
            # forked from it starts with them
            self._context.set_forkserver_preload(["simulator.live", "simulator.engine.preload"])
            with _real_stdio():  # helper processes inherit stderr's descriptor; a UI may have replaced it
                resource_tracker.ensure_running()
                forkserver.ensure_running()
        except Exception as exc:  # no forkserver on this platform: runs stay in-process
            self._failed = exc
            return
        threading.Thread(target=self._start, name="spc-pool-start", daemon=True).start()

    def _start(self) -> None:
        try:
            # (no warm() here: the fork server compiled or loaded the kernels before forking the first worker
            # (engine.preload); in this process it cost ~0.35 s of the UI's CPU while the app was starting)
            executor = ProcessPoolExecutor(self.workers, mp_context=self._context)
            with self._lock:
                self._executor = executor
            for f in [executor.submit(_warm) for _ in range(self.workers)]:
                f.result()
            self._ready.set()
        except BaseException as exc:  # no pool (e.g. a platform without forkserver): runs stay in-process
            self._failed = exc

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    @property
    def failed(self) -> bool:
        return self._failed is not None

    def submit(self, key: str, data: dict, task: Task, seed: int, months: int) -> Future:
        assert self._executor is not None and self.ready
        return self._executor.submit(_run_data, key, data, task, seed, months)

    def shutdown(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


@dataclass
class LiveRun:
    """One experiment streamed as it runs. Iterate `results()` in a background thread; `cancel()` from any thread."""

    model: CompiledModel
    scenario_key: str
    strategies: tuple[str, ...]
    replications: int
    seed: int
    months: int
    pool: WorkerPool | None = None
    _cancelled: threading.Event = field(default_factory=threading.Event)

    @property
    def tasks(self) -> list[Task]:
        return [Task(s, r) for r in range(self.replications) for s in self.strategies]

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def cancel(self) -> None:
        self._cancelled.set()

    def results(self) -> Iterator[tuple[Task, RunOutput]]:
        """Finished runs in completion order. In-process until the pool is warm, then on the pool."""
        pending = deque(self.tasks)
        lock = threading.Lock()
        finished: queue.Queue = queue.Queue()
        inflight: list[Future] = []
        data = self.model.scenario.as_data() if self.pool is not None else {}

        def take() -> Task | None:
            with lock:
                return pending.popleft() if pending and not self.cancelled else None

        def local() -> None:
            # Runs go here until the pool is warm (it takes a few seconds to import the engine), then stop;
            # everything goes here only when there is no pool at all.
            while not self.cancelled and (self.pool is None or self.pool.failed or not self.pool.ready):
                task = take()
                if task is None:
                    break
                try:
                    finished.put((task, run_once(self.model, task.strategy, task.replication, self.seed, self.months)))
                except BaseException as exc:
                    finished.put((task, exc))
            finished.put(None)

        def on_done(task: Task, future: Future) -> None:
            if future.cancelled():
                return
            exc = future.exception()
            finished.put((task, exc if exc is not None else future.result()))

        total = len(pending)
        delivered = 0
        def start_local() -> None:
            threading.Thread(target=local, name="spc-local-run", daemon=True).start()

        start_local()
        local_alive = True
        try:
            while delivered < total and not self.cancelled:
                if not local_alive and self.pool is not None and self.pool.failed and pending:
                    start_local()  # the pool could not start: finish in this process
                    local_alive = True
                if self.pool is not None and self.pool.ready:
                    inflight = [f for f in inflight if not f.done()]
                    # 4 per worker: ~0.2-0.4 s of work queued, so the workers keep going while the thread that
                    # iterates here pauses (a UI holds its analysis back for a moment after a key press); a cancel
                    # still stops all but the workers + 1 the pool has already handed out
                    while len(inflight) < 4 * self.pool.workers and (task := take()) is not None:
                        future = self.pool.submit(self.scenario_key, data, task, self.seed, self.months)
                        future.add_done_callback(lambda f, t=task: on_done(t, f))
                        inflight.append(future)
                try:
                    item = finished.get(timeout=0.05)
                except queue.Empty:
                    continue
                if item is None:  # the in-process loop handed over to the pool
                    local_alive = False
                    continue
                task, out = item
                if isinstance(out, BaseException):
                    raise out
                delivered += 1
                yield task, out
        finally:
            self.cancel()
            for f in inflight:
                f.cancel()


@dataclass
class Collected:
    """Runs received so far, and frames over the replications every strategy has finished."""

    strategies: tuple[str, ...]
    outputs: dict[Task, RunOutput] = field(default_factory=dict)

    def add(self, task: Task, out: RunOutput) -> None:
        self.outputs[task] = out

    @property
    def done(self) -> int:
        return len(self.outputs)

    def complete_replications(self) -> list[int]:
        reps = sorted({t.replication for t in self.outputs})
        return [r for r in reps if all(Task(s, r) in self.outputs for s in self.strategies)]

    def frames(self, customers: bool = True) -> tuple[pd.DataFrame, pd.DataFrame | None, int]:
        """(timeseries, customer ledger, replications) over complete replications (paired comparisons)."""
        reps = self.complete_replications()
        if not reps:
            return pd.DataFrame(), None, 0
        ordered = [self.outputs[Task(s, r)] for s in self.strategies for r in reps]
        return timeseries_frame(ordered), (ledger_frame(ordered) if customers else None), len(reps)

    def partial_timeseries(self) -> pd.DataFrame:
        """Every run received so far, complete replication or not (for charts that need no pairing)."""
        if not self.outputs:
            return pd.DataFrame()
        order = {s: i for i, s in enumerate(self.strategies)}
        tasks = sorted(self.outputs, key=lambda t: (order.get(t.strategy, math.inf), t.replication))
        return timeseries_frame([self.outputs[t] for t in tasks])
