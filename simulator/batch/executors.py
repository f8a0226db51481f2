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


class ProcessExecutor:
    """Local worker processes, all started here and now.

    Forked where the platform can (no re-import: a worker is ready in milliseconds), so make this
    executor before opening the database or starting a progress bar: the workers are forked before
    any of their threads exist. Elsewhere they are spawned.
    """

    def __init__(self, workers: int | None = None):
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.description = f"{self.workers} local processes"
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        ctx = multiprocessing.get_context(method)
        from simulator.engine._numba import warm

        warm()  # compile or load the engine's kernels once here, so workers load them from the disk cache
        self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_init_process)
        for future in [self._pool.submit(os.getpid) for _ in range(self.workers)]:
            future.result()  # start every worker now, not inside the timed batch

    def imap_unordered(self, chunks: Iterable[Chunk]) -> Iterator[list[ChunkResult]]:
        window = self.workers * IN_FLIGHT_PER_WORKER
        source = iter(chunks)
        pending: set[Future] = set()
        try:
            while True:
                while len(pending) < window and (chunk := next(source, None)) is not None:
                    pending.add(self._pool.submit(run_chunk, chunk))
                if not pending:
                    return
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield [result for future in done for result in future.result()]
        finally:
            for future in pending:
                future.cancel()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


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


def make_executor(kind: str, workers: int | None = None, scheduler: str | None = None) -> Executor:
    if scheduler and kind != "dask":
        raise UsageError("--scheduler is for --executor dask")
    if kind == "local":
        return LocalExecutor()
    if kind == "processes":
        return LocalExecutor() if (workers or os.cpu_count() or 1) <= 1 else ProcessExecutor(workers)
    if kind == "dask":
        return DaskExecutor(scheduler, workers)
    raise UsageError(f"unknown executor '{kind}' (one of {', '.join(EXECUTORS)})")
