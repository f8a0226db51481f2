"""Streaming runs for interactive front ends: same results wherever a run happens, cancellable."""

from __future__ import annotations

import pandas as pd

from simulator import compile_file
from simulator.experiment import run_experiment
from simulator.live import Collected, LiveRun, WorkerPool
from tests.helpers import DATA


def _stream(model, pool, reps=2, months=6) -> Collected:
    run = LiveRun(model, "k", tuple(model.scenario.strategy_names()), reps, 5, months, pool)
    got = Collected(run.strategies)
    for task, out in run.results():
        got.add(task, out)
    return got


def test_pool_and_in_process_runs_equal_run_experiment():
    model = compile_file(DATA / "engine_small.yaml")
    expected = run_experiment(model, replications=2, seed=5, months=6, workers=1).timeseries
    pool = WorkerPool(2)
    try:
        for source in (None, pool):
            ts, ledger, reps = _stream(model, source).frames()
            assert reps == 2 and ledger is not None
            pd.testing.assert_frame_equal(ts.reset_index(drop=True), expected.reset_index(drop=True))
    finally:
        pool.shutdown()


def test_a_failed_pool_falls_back_to_this_process():
    model = compile_file(DATA / "engine_small.yaml")
    pool = WorkerPool.__new__(WorkerPool)  # a pool whose start failed, without starting processes
    pool.workers, pool._executor, pool._failed = 2, None, RuntimeError("no forkserver here")
    import threading

    pool._ready, pool._lock = threading.Event(), threading.Lock()
    assert _stream(model, pool).done == 3 * 2


def test_cancel_stops_early_and_complete_replications_are_paired():
    model = compile_file(DATA / "engine_small.yaml")
    run = LiveRun(model, "k", tuple(model.scenario.strategy_names()), 20, 5, 6, None)
    got = Collected(run.strategies)
    for task, out in run.results():
        got.add(task, out)
        if got.done == 4:
            run.cancel()
    assert 4 <= got.done < 60
    assert got.complete_replications() == [0]  # 3 strategies: replication 0 complete, 1 not yet
    ts, _, reps = got.frames(customers=False)
    assert reps == 1 and set(ts["strategy"]) == set(run.strategies)
