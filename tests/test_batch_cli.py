"""`spc batch`, `spc results`, `spc export` as a planner uses them, including a SIGKILL mid-batch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import psutil
import pytest

from simulator.store import list_runs, load_run, query
from tests.scenario_helpers import DATA, ROOT, run_spc

SMALL = str(DATA / "engine_small.yaml")


@pytest.mark.parametrize("args, hint", [
    (["--sweep", "employees.headcont=3,4"], "did you mean 'employees.headcount'?"),
    (["--sweep", "segments.retail.contact_rate=1,2"], "valid keys near it: segments."),
    (["--sweep", "employees.headcount=3,four"], "'four' is not a number"),
    (["--sweep", "employees.headcount=3,0"], "employees.headcount=0 is not a valid scenario"),
    (["--sample", "lhs:3", "--range", "employees.annual_salary=9"], "expected lo:hi"),
])
def test_a_malformed_sweep_is_one_line_and_exit_2(tmp_path, args, hint):
    db = tmp_path / "r.duckdb"
    proc = run_spc("batch", SMALL, *args, "--store", str(db))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and hint in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and not db.exists()  # nothing was started


def test_batch_results_and_export_end_to_end(tmp_path):
    db = tmp_path / "r.duckdb"
    proc = run_spc("batch", SMALL, "--sweep", "employees.headcount=3,5", "--replications", "2", "--months", "2",
                   "--workers", "1", "--store", str(db))
    assert proc.returncode == 0, proc.stderr
    assert "2 runs, 12 tasks; 0 already stored" in proc.stdout and "stored 12 task(s)" in proc.stdout
    again = run_spc("batch", SMALL, "--sweep", "employees.headcount=3,5", "--replications", "2", "--months", "2",
                    "--store", str(db))
    assert "12 already stored, 0 to run" in again.stdout

    listing = run_spc("results", str(db))
    assert listing.returncode == 0 and "2 run(s), 12 of 12 task(s)" in listing.stdout
    assert '{"employees.headcount":5}' in listing.stdout
    sql = ("SELECT p.value AS headcount, count(*) AS n FROM summaries JOIN params p USING (run_id) "
           "GROUP BY 1 ORDER BY 1")
    csv = run_spc("results", str(db), "--sql", sql, "--format", "csv")
    assert csv.returncode == 0 and csv.stdout.splitlines() == ["headcount,n", "3.0,6", "5.0,6"]
    bad = run_spc("results", str(db), "--sql", "SELEC 1")
    assert bad.returncode == 2 and bad.stderr.startswith("error: --sql:") and len(bad.stderr.splitlines()) == 1

    out = tmp_path / "run2"
    exported = run_spc("export", str(db), "--run", "2", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    run = load_run(db, 2)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "timeseries.parquet"), run.timeseries)
    doc = json.loads((out / "run.json").read_text())
    assert doc["variant"] == {"employees.headcount": 5} and doc["seed"] == 7 and "comparison" in doc
    csv_out = tmp_path / "run1csv"
    assert run_spc("export", str(db), "--run", "1", "--format", "csv", "--out", str(csv_out)).returncode == 0
    assert len(pd.read_csv(csv_out / "timeseries.csv")) == 2 * 3 * 2
    missing = run_spc("export", str(db), "--run", "9")
    assert missing.returncode == 2 and "no run 9" in missing.stderr


def _size(db) -> int:
    return sum(p.stat().st_size for p in (db, db.with_name(db.name + ".wal")) if p.exists())


def test_sigkill_mid_batch_then_rerun_stores_each_task_exactly_once(tmp_path):
    db = tmp_path / "r.duckdb"
    args = [sys.executable, "-m", "simulator.cli", "batch", SMALL, "--sweep", "employees.headcount=3,4,5,6,7",
            "--replications", "12", "--months", "2", "--workers", "2", "--chunk-size", "2", "--store", str(db)]
    total = 5 * 3 * 12
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while _size(db) < 800_000 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, "the batch ended before it could be killed"
        workers = psutil.Process(proc.pid).children(recursive=True)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    gone, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive, f"worker processes outlived the killed batch: {alive}"

    runs = list_runs(db)  # readable after the kill
    stored = int(runs["tasks_stored"].sum())
    assert 0 < stored < total
    partial = query(db, "SELECT (SELECT count(*) FROM timeseries) ts, (SELECT count(*) FROM summaries) s")
    assert partial.values.tolist() == [[2 * stored, stored]]  # whole tasks only

    rerun = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{stored} already stored, {total - stored} to run" in rerun.stdout
    counts = query(db, """SELECT
        (SELECT count(*) FROM tasks) AS tasks,
        (SELECT count(DISTINCT (run_id, strategy, replication)) FROM tasks) AS distinct_tasks,
        (SELECT count(*) FROM timeseries) AS ts,
        (SELECT count(DISTINCT (run_id, strategy, replication, period)) FROM timeseries) AS distinct_ts,
        (SELECT count(*) FROM summaries) AS summaries,
        (SELECT count(DISTINCT (run_id, strategy, replication)) FROM customers) AS ledgers""")
    assert counts.iloc[0].tolist() == [total, total, 2 * total, 2 * total, total, total]
