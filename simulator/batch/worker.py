"""The work a batch ships to a worker: a chunk of tasks, sent as plain data.

A chunk holds parts, one per scenario variant (run), each with the variant's scenario *data* (a dict),
never a pickled model or user code; the worker validates and compiles it (cached per variant) and
returns tidy frames per part, so results leave the worker once per chunk and the coordinator writes
them in one transaction. A chunk may span variants, so a sweep of many one-task variants still ships
work in useful amounts.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import pandas as pd

from simulator.analysis.summary import output_row
from simulator.engine.model import RunOutput, run_once
from simulator.experiment import ledger_frame, timeseries_frame
from simulator.graph.compiler import CompiledModel, compile_scenario
from simulator.scenario.loader import load_data


@dataclass(frozen=True)
class Part:
    """Tasks of one run: one scenario variant on one seed and horizon."""

    run_id: int
    variant_hash: str  # identifies the variant's data: the worker's compile cache key
    data: dict
    seed: int
    months: int
    tasks: tuple[tuple[str, int], ...]  # (strategy, replication)
    outputs: str = "full"  # "decision": summaries only (with firm value and scorecard greens), no series or ledger
    # "series": the monthly time series and summaries, no customer ledger (calibration: ~36 rows a run)


@dataclass(frozen=True)
class Chunk:
    parts: tuple[Part, ...]

    @property
    def size(self) -> int:
        return sum(len(p.tasks) for p in self.parts)


@dataclass(frozen=True)
class ChunkResult:
    """Rows for the results database; every frame starts with run_id, strategy, replication."""

    run_id: int
    tasks: pd.DataFrame  # run_id, strategy, replication, seed, seconds, worker
    timeseries: pd.DataFrame
    customers: pd.DataFrame
    summaries: pd.DataFrame


_CACHE: OrderedDict[str, CompiledModel] = OrderedDict()
_CACHE_SIZE = 8
_LOCK = threading.Lock()


def _model(chunk: Part) -> CompiledModel:
    with _LOCK:
        model = _CACHE.get(chunk.variant_hash)
        if model is not None:
            _CACHE.move_to_end(chunk.variant_hash)
            return model
    model = compile_scenario(load_data(chunk.data))
    with _LOCK:
        _CACHE[chunk.variant_hash] = model
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return model


def _keyed(df: pd.DataFrame, run_id: int) -> pd.DataFrame:
    df.insert(0, "run_id", run_id)
    return df


def run_part(part: Part) -> ChunkResult:
    """Simulate every task of one part; the frames are what `run_experiment` would give for them."""
    model = _model(part)
    outputs: list[RunOutput] = []
    seconds: list[float] = []
    for strategy, replication in part.tasks:
        start = time.perf_counter()
        outputs.append(run_once(model, strategy, replication, part.seed, part.months))
        seconds.append(time.perf_counter() - start)
    # each task's figures from its own arrays only (analysis.runs), so they do not depend on how tasks were chunked
    # (executor, timing); pandas' grouped reductions over several runs could round a figure differently in the last bit
    summaries = pd.DataFrame([_summary(out, model.scenario, part.outputs) for out in outputs])
    worker = f"{socket.gethostname()}:{os.getpid()}"
    tasks = pd.DataFrame({"strategy": [t[0] for t in part.tasks], "replication": [t[1] for t in part.tasks],
                          "seed": part.seed, "seconds": seconds, "worker": worker})
    if part.outputs == "decision":  # the tables keep their key columns and get no rows
        ts, ledger = (pd.DataFrame({"strategy": pd.Series(dtype=object), "replication": pd.Series(dtype="int64")})
                      for _ in range(2))
    elif part.outputs == "series":
        ts = timeseries_frame(outputs)
        ledger = pd.DataFrame({"strategy": pd.Series(dtype=object), "replication": pd.Series(dtype="int64")})
    else:
        ts, ledger = timeseries_frame(outputs), ledger_frame(outputs)
    return ChunkResult(part.run_id, _keyed(tasks, part.run_id), _keyed(ts, part.run_id),
                       _keyed(ledger, part.run_id), _keyed(summaries, part.run_id))


def _summary(output: RunOutput, scenario, outputs: str) -> dict:
    """One run's row of the summaries table (with firm value and scorecard greens for a decision)."""
    return output_row(output, scenario if outputs == "decision" else None)


def run_chunk(chunk: Chunk) -> list[ChunkResult]:
    """What a worker runs: every part of the chunk, one result per part."""
    return [run_part(part) for part in chunk.parts]
