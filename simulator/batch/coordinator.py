"""The batch coordinator: stream the tasks not yet stored to an executor, write each chunk as it lands.

Memory stays flat whatever the batch size: chunks are made lazily, at most a small window is in
flight, and every finished chunk goes straight into the database in one transaction and is dropped.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from simulator.batch.executors import Executor
from simulator.batch.plan import RunSpec, task_count, tasks_of
from simulator.batch.worker import Chunk, ChunkResult, Part
from simulator.store import RunRecord, Store

Progress = Callable[[int], None]
"""Called with the number of tasks just stored."""

MAX_CHUNK = 32
CHUNK_SECONDS = 0.5  # long enough to amortise a chunk's overhead (~10-50 ms), short enough to balance the load


@dataclass(frozen=True)
class BatchTotals:
    tasks: int
    already_stored: int
    run_ids: tuple[int, ...]

    @property
    def to_run(self) -> int:
        return self.tasks - self.already_stored


def record_of(spec: RunSpec) -> RunRecord:
    return RunRecord(spec.name, spec.file, spec.scenario_hash, spec.base, spec.variant, spec.seed, spec.months,
                     spec.strategies, spec.replications)


class ChunkSizer:
    """Tasks per chunk: a fixed number, or about CHUNK_SECONDS of work as measured so far.

    Near the end of the batch chunks shrink so that every worker still gets a share of what is left.
    """

    def __init__(self, workers: int, pending: int, fixed: int | None = None):
        self.workers, self.unsent, self.fixed = workers, pending, fixed
        self.seconds, self.done = 0.0, 0

    def observe(self, results: Sequence[ChunkResult]) -> None:
        for r in results:
            self.seconds += float(r.tasks["seconds"].sum())
            self.done += len(r.tasks)

    def next_size(self) -> int:
        if self.fixed:
            size = self.fixed
        else:
            target = 1 if not self.done else round(CHUNK_SECONDS / max(self.seconds / self.done, 1e-6))
            size = max(1, min(MAX_CHUNK, target, math.ceil(self.unsent / (2 * self.workers))))
        self.unsent -= size
        return size


def _chunks(specs: Sequence[RunSpec], run_ids: Sequence[int], done: dict[int, set[tuple[str, int]]],
            sizer: ChunkSizer) -> Iterator[Chunk]:
    """Chunks of pending tasks (possibly of several runs), made only when the executor asks for more."""
    parts: list[Part] = []
    room = sizer.next_size()
    for spec, run_id in zip(specs, run_ids, strict=True):
        stored = done.get(run_id, set())
        pending = [t for t in tasks_of(spec) if t not in stored]
        if not pending:
            continue
        data = spec.data()
        variant_hash = hashlib.sha256(f"{spec.scenario_hash}|{spec.variant_key}".encode()).hexdigest()[:16]
        while pending:
            take, pending = pending[:room], pending[room:]
            parts.append(Part(run_id, variant_hash, data, spec.seed, spec.months, tuple(take), spec.outputs))
            room -= len(take)
            if room == 0:
                yield Chunk(tuple(parts))
                parts, room = [], sizer.next_size()
    if parts:
        yield Chunk(tuple(parts))


def prepare(store: Store, specs: Sequence[RunSpec]) -> tuple[BatchTotals, dict[int, set[tuple[str, int]]]]:
    """Register the runs and find what is stored already (the resume point)."""
    run_ids = store.register([record_of(s) for s in specs])
    done = store.stored_tasks(run_ids)
    already = sum(len(done.get(r, set()) & set(tasks_of(s))) for s, r in zip(specs, run_ids, strict=True))
    return BatchTotals(task_count(specs), already, tuple(run_ids)), done


def run_batch(store: Store, specs: Sequence[RunSpec], executor: Executor, chunk_size: int | None = None,
              progress: Progress | None = None) -> BatchTotals:
    """Run every task of `specs` not yet in `store`; returns the batch's totals."""
    totals, done = prepare(store, specs)
    execute(store, specs, totals, done, executor, chunk_size, progress)
    return totals


def execute(store: Store, specs: Sequence[RunSpec], totals: BatchTotals, done: dict[int, set[tuple[str, int]]],
            executor: Executor, chunk_size: int | None = None, progress: Progress | None = None) -> int:
    """Stream the pending tasks through the executor into the store; returns the number of tasks stored."""
    if totals.to_run <= 0:
        return 0
    sizer = ChunkSizer(executor.workers, totals.to_run, chunk_size)
    stored = 0
    results = executor.imap_unordered(_chunks(specs, totals.run_ids, done, sizer))
    try:
        for batch in results:
            store.write(batch)
            sizer.observe(batch)
            n = sum(len(r.tasks) for r in batch)
            stored += n
            if progress:
                progress(n)
    finally:
        close = getattr(results, "close", None)
        if close:
            close()
    return stored
