"""Same seed, same stored results: in-process, on local processes, and on a real Dask LocalCluster."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from simulator.batch.coordinator import run_batch
from simulator.batch.executors import DaskExecutor, LocalExecutor, ProcessExecutor, make_executor
from simulator.batch.plan import build_plan
from simulator.batch.sweep import make_design
from simulator.errors import UsageError
from simulator.store import Store, load_run, query
from tests.helpers import DATA

SMALL = DATA / "engine_small.yaml"
RESULTS = ("SELECT * EXCLUDE (finished_at, seconds, worker) FROM tasks ORDER BY ALL",
           "SELECT * FROM timeseries ORDER BY run_id, strategy, replication, period",
           "SELECT * FROM customers ORDER BY run_id, strategy, replication, customer",
           "SELECT * FROM summaries ORDER BY run_id, strategy, replication",
           "SELECT * EXCLUDE (created_at, updated_at) FROM runs ORDER BY run_id",
           "SELECT * FROM params ORDER BY ALL")


def _specs():
    design = make_design(["employees.headcount=3,5"], ["segments.regulars.basket=15:25"], "lhs:2")
    return build_plan([str(SMALL)], design, replications=2, seed=11, months=2, strategies=None)


def _run(path, executor, chunk_size=None):
    try:
        with Store(path) as store:
            totals = run_batch(store, _specs(), executor, chunk_size=chunk_size)
    finally:
        executor.close()
    assert totals.tasks == 4 * 3 * 2
    return [query(path, sql) for sql in RESULTS]


def _same(a, b):
    """Bit-identical, not merely close: every stored figure, whatever the executor and chunk size."""
    for x, y in zip(a, b, strict=True):
        pd.testing.assert_frame_equal(x, y, check_exact=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("local") / "r.duckdb", LocalExecutor())


def test_two_processes_store_what_one_process_stores(reference, tmp_path):
    _same(reference, _run(tmp_path / "two.duckdb", ProcessExecutor(2), chunk_size=1))


def test_a_dask_local_cluster_stores_what_one_process_stores(reference, tmp_path):
    db = tmp_path / "dask.duckdb"
    _same(reference, _run(db, DaskExecutor(workers=2), chunk_size=5))  # chunks span runs
    workers = set(query(db, "SELECT DISTINCT worker FROM tasks")["worker"])
    assert workers and not any(w.endswith(f":{os.getpid()}") for w in workers)  # ran in the cluster's workers
    assert load_run(db, 4).complete


def test_executor_choice_errors():
    with pytest.raises(UsageError, match="--scheduler is for --executor dask"):
        make_executor("processes", 2, "tcp://127.0.0.1:1")
    with pytest.raises(UsageError, match="unknown executor"):
        make_executor("threads")
    assert isinstance(make_executor("processes", 1), LocalExecutor)
