"""Where chunks run: in this process, on local worker processes, or on a Dask cluster.

Each executor takes a lazy stream of chunks and yields results as they finish, keeping at most a
small window of chunks in flight, so the coordinator's memory does not grow with the batch. Results
do not depend on the executor: a task's randomness depends only on (seed, replication).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Protocol

from simulator.batch.worker import Chunk, ChunkResult, run_chunk
from simulator.errors import UsageError

EXECUTORS = ("local", "processes", "dask")
IN_FLIGHT_PER_WORKER = 2  # one running, one queued: workers never wait for the coordinator


class Executor(Protocol):
    workers: int
    description: str

    def imap_unordered(self, chunks: Iterable[Chunk]) -> Iterator[list[ChunkResult]]:
        """Results as they finish, in lists of those that finished together."""
        ...

    def close(self) -> None: ...


class LocalExecutor:
    """One chunk after another in this process (debugging, tiny batches, a reference for the others)."""

    workers = 1
    description = "this process"

    def imap_unordered(self, chunks: Iterable[Chunk]) -> Iterator[list[ChunkResult]]:
        for chunk in chunks:
            yield run_chunk(chunk)

    def close(self) -> None:
        pass


def _watch_parent() -> None:
    """Exit when the process that started us is gone (the coordinator was killed with SIGKILL)."""
    parent = os.getppid()
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(1)


def _init_process() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the coordinator's: it stops the batch cleanly
    threading.Thread(target=_watch_parent, daemon=True).start()


class WorkerDied(Exception):
    """A worker process died (killed, out of memory) running the same chunk twice: names its tasks and why."""


def _tasks_text(chunk: Chunk) -> str:
    tasks = [f"run {p.run_id} strategy {s} replication {r}" for p in chunk.parts for s, r in p.tasks]
    return tasks[0] + (f" (and {len(tasks) - 1} more task(s) of its chunk)" if len(tasks) > 1 else "")


class ProcessExecutor:
    """Local worker processes, all started here and now.

    Forked where the platform can (no re-import: a worker is ready in milliseconds), so make this
    executor before opening the database or starting a progress bar: the workers are forked before
    any of their threads exist. Elsewhere they are spawned. A process that already runs threads (a
    terminal UI) passes `start_method="forkserver"`: a fork copies locks its other threads may hold.

    A worker that dies (killed, out of memory) breaks the pool: a new pool starts and every chunk that
    was in flight runs again, one at a time, so the chunk that kills a worker again is known; it stops
    the batch with `WorkerDied` (what was stored stays stored).
    """

    def __init__(self, workers: int | None = None, start_method: str | None = None):
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.description = f"{self.workers} local processes"
        method = start_method or ("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
        self._ctx = multiprocessing.get_context(method)
        from simulator.engine._numba import warm

        warm()  # compile or load the engine's kernels once here, so workers load them from the disk cache
        self._start()

    def _start(self) -> None:
        self._pool = ProcessPoolExecutor(self.workers, mp_context=self._ctx, initializer=_init_process)
        for future in [self._pool.submit(os.getpid) for _ in range(self.workers)]:
            future.result()  # start every worker now, not inside the timed batch

    def _restart(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._start()

    def _why(self) -> str:
        processes = list((getattr(self._pool, "_processes", None) or {}).values())
        for process in processes:
            process.join(1.0)  # the pool has just ended them: reap them so that their exit codes are known
        codes = sorted({p.exitcode for p in processes if p.exitcode not in (None, 0)})
        if len(codes) > 1 and -signal.SIGTERM in codes:
            codes.remove(-signal.SIGTERM)  # the pool ends the other workers itself once one has died
        if not codes:
            return "it ended abruptly"
        names = []
        for code in codes:
            if code < 0:
                try:
                    names.append(f"killed by {signal.Signals(-code).name}")
                except ValueError:
                    names.append(f"killed by signal {-code}")
            else:
                names.append(f"exit code {code}")
        return ", ".join(names) + (" (out of memory?)" if -signal.SIGKILL in codes else "")

    def imap_unordered(self, chunks: Iterable[Chunk]) -> Iterator[list[ChunkResult]]:
        window = self.workers * IN_FLIGHT_PER_WORKER
        source = iter(chunks)
        pending: dict[Future, Chunk] = {}
        suspects: list[Chunk] = []  # in flight when a worker died: run again, alone
        retrying = False
        try:
            while True:
                while not retrying and len(pending) < (1 if suspects else window):
                    if suspects:
                        chunk, retrying = suspects.pop(0), True
                    elif (chunk := next(source, None)) is None:
                        break
                    try:
                        pending[self._pool.submit(run_chunk, chunk)] = chunk
                    except BrokenProcessPool:  # a worker died before wait() saw it: none of these ran to the end
                        suspects[:0] = [*pending.values(), chunk]
                        pending.clear()
                        retrying = False
                        self._restart()
                if not pending:
                    return
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                results: list[ChunkResult] = []
                broken = False
                for future in done:
                    chunk = pending.pop(future)
                    try:
                        results += future.result()
                    except BrokenProcessPool:
                        if retrying:
                            raise WorkerDied(f"a worker process died twice running {_tasks_text(chunk)}: "
                                             f"{self._why()}") from None
                        broken = True
                        suspects.append(chunk)
                    else:
                        retrying = retrying and bool(pending)
                if broken:
                    suspects += pending.values()  # lost with the pool, whichever chunk killed it
                    pending.clear()
                    self._restart()
                if results:
                    yield results
        finally:
            for future in pending:
                future.cancel()

    def close(self) -> None:
        from simulator.processes import received

        # after SIGINT/SIGTERM the workers are already ended, perhaps mid-write: waiting could wait forever
        self._pool.shutdown(wait=not received, cancel_futures=True)


class DaskExecutor:
    """Tasks on a `distributed` cluster: the scheduler at `address`, or a LocalCluster started here."""

    def __init__(self, address: str | None = None, workers: int | None = None):
        import logging

        try:
            from distributed import Client, LocalCluster
        except ImportError:  # pragma: no cover - distributed is a dependency
            raise UsageError("--executor dask needs the 'distributed' package (pip install distributed)") from None
        self._cluster = None
        if address:
            try:
                self._client = Client(address, timeout="10s")
            except (OSError, TimeoutError) as exc:
                raise UsageError(f"--scheduler {address}: cannot reach a Dask scheduler ({exc})") from None
        else:
            self._cluster = LocalCluster(n_workers=max(1, workers or os.cpu_count() or 1), threads_per_worker=1,
                                         processes=True, host="127.0.0.1", dashboard_address=None,
                                         silence_logs=logging.ERROR)
            self._client = Client(self._cluster)
        self.workers = max(1, sum(self._client.nthreads().values()))
        where = address or "a LocalCluster on 127.0.0.1"
        self.description = f"Dask ({self.workers} worker threads at {where})"

    def imap_unordered(self, chunks: Iterable[Chunk]) -> Iterator[list[ChunkResult]]:
        from distributed import as_completed

        window = self.workers * IN_FLIGHT_PER_WORKER
        source = iter(chunks)
        running = as_completed()
        in_flight = 0

        def top_up() -> None:
            nonlocal in_flight
            while in_flight < window and (chunk := next(source, None)) is not None:
                running.add(self._client.submit(run_chunk, chunk, pure=False))
                in_flight += 1

        top_up()
        try:
            for batch in running.batches():
                results = [result for future in batch for result in future.result()]
                for future in batch:
                    future.release()
                in_flight -= len(batch)
                top_up()
                yield results
        finally:
            running.clear()

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(kind: str, workers: int | None = None, scheduler: str | None = None,
                  start_method: str | None = None) -> Executor:
    """`start_method`: how "processes" starts its workers (default: fork where available; see ProcessExecutor)."""
    if scheduler and kind != "dask":
        raise UsageError("--scheduler is for --executor dask")
    if kind == "local":
        return LocalExecutor()
    if kind == "processes":
        return LocalExecutor() if (workers or os.cpu_count() or 1) <= 1 else ProcessExecutor(workers, start_method)
    if kind == "dask":
        return DaskExecutor(scheduler, workers)
    raise UsageError(f"unknown executor '{kind}' (one of {', '.join(EXECUTORS)})")
