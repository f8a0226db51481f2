"""The results database: runs read back exactly, resume skips what is stored, a chunk is all or nothing."""

from __future__ import annotations

import pandas as pd
import pytest

from simulator.batch.coordinator import run_batch
from simulator.batch.executors import LocalExecutor
from simulator.batch.plan import build_plan
from simulator.batch.sweep import make_design
from simulator.errors import UsageError
from simulator.experiment import run_experiment
from simulator.graph.compiler import compile_file
from simulator.store import Store, list_runs, load_run, query
from tests.helpers import DATA

SMALL = DATA / "engine_small.yaml"


def _specs(sweep=(), replications=2, months=2, strategies=None):
    return build_plan([str(SMALL)], make_design(list(sweep), [], None), replications, 7, months, strategies)


def _batch(path, specs, chunk_size=None):
    with Store(path) as store:
        return run_batch(store, specs, LocalExecutor(), chunk_size=chunk_size)


def test_a_stored_run_reads_back_as_run_experiment_frames(tmp_path):
    db = tmp_path / "r.duckdb"
    totals = _batch(db, _specs(["employees.headcount=4,6"]), chunk_size=4)
    assert totals.tasks == 12 and totals.already_stored == 0 and totals.run_ids == (1, 2)
    for run_id, headcount in ((1, 4), (2, 6)):
        run = load_run(db, run_id)
        assert run.complete and run.variant == {"employees.headcount": headcount}
        assert run.scenario_data["employees"]["headcount"] == headcount
        expected = run_experiment(run.model(), replications=2, seed=7, months=2, workers=1)
        pd.testing.assert_frame_equal(run.timeseries, expected.timeseries)
        pd.testing.assert_frame_equal(run.customers, expected.customers)
        assert run.strategies == expected.strategies and (run.seed, run.months, run.replications) == (7, 2, 2)
    base = run_experiment(compile_file(SMALL), replications=2, seed=7, months=2, workers=1)
    pd.testing.assert_frame_equal(load_run(db, 1).timeseries, base.timeseries)  # 4 is the file's own headcount


def test_rerunning_skips_stored_tasks_and_extends_runs(tmp_path):
    db = tmp_path / "r.duckdb"
    _batch(db, _specs(replications=1))
    again = _batch(db, _specs(replications=1))
    assert again.already_stored == again.tasks == 3
    more = _batch(db, _specs(replications=3))
    assert (more.tasks, more.already_stored) == (9, 3)
    runs = list_runs(db)
    assert runs[["run_id", "tasks_stored", "tasks_expected", "replications"]].values.tolist() == [[1, 9, 9, 3]]
    counts = query(db, "SELECT count(*) AS n, count(DISTINCT (strategy, replication)) AS d FROM tasks")
    assert counts.values.tolist() == [[9, 9]]
    assert len(query(db, "SELECT * FROM timeseries")) == 9 * 2


def test_a_failed_chunk_leaves_nothing_behind(tmp_path, monkeypatch):
    db = tmp_path / "r.duckdb"
    calls = {"n": 0}
    original = Store._insert

    def flaky(self, table, df):
        if table == "customers":
            calls["n"] += 1
            if calls["n"] == 2:  # the second chunk dies half-way through its writes
                raise RuntimeError("disk on fire")
        return original(self, table, df)

    monkeypatch.setattr(Store, "_insert", flaky)
    with pytest.raises(RuntimeError, match="disk on fire"):
        _batch(db, _specs(replications=2), chunk_size=3)
    monkeypatch.undo()
    stored = query(db, "SELECT (SELECT count(*) FROM tasks) t, (SELECT count(*) FROM timeseries) ts, "
                       "(SELECT count(DISTINCT (strategy, replication)) FROM customers) c, "
                       "(SELECT count(*) FROM summaries) s")
    assert stored.values.tolist() == [[3, 3 * 2, 3, 3]]  # the first chunk, whole; nothing of the second
    resumed = _batch(db, _specs(replications=2), chunk_size=3)
    assert resumed.already_stored == 3 and load_run(db, 1).complete


def test_summaries_hold_each_tasks_headline_figures(tmp_path):
    db = tmp_path / "r.duckdb"
    _batch(db, _specs())
    got = query(db, "SELECT strategy, replication, npv FROM summaries ORDER BY strategy, replication")
    ts = load_run(db, 1).timeseries
    final = ts[ts["period"] == 2].set_index(["strategy", "replication"])["npv"]
    for row in got.itertuples():
        assert row.npv == final[(row.strategy, row.replication)]


def test_reading_errors_are_one_line(tmp_path):
    db = tmp_path / "r.duckdb"
    with pytest.raises(UsageError, match="no such results database"):
        list_runs(db)
    _batch(db, _specs(replications=1))
    with pytest.raises(UsageError, match=r"no run 5 \(runs 1..1"):
        load_run(db, 5)
    with pytest.raises(UsageError, match="--sql: .*"):
        query(db, "SELECT nope FROM runs")
    with pytest.raises(UsageError, match="--sql: .*read-only"):
        query(db, "DELETE FROM runs")
    not_db = tmp_path / "x.duckdb"
    not_db.write_text("hello")
    with pytest.raises(UsageError, match="cannot open the results database"):
        list_runs(not_db)
