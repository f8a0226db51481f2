"""Bad input refused before it costs anything, no file read that was not asked for, no process left behind.

Most cases call `simulator.cli.main` in this process (an interpreter start costs ~1 s each); the ones
about signals and processes run `spc` in a subprocess and read the process table.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from simulator.cli import main
from simulator.errors import ScenarioError
from simulator.scenario.loader import load, load_data
from tests.scenario_helpers import DATA, MINIMAL, ROOT, minimal_data, write_yaml

SMALL = DATA / "engine_small.yaml"


def spc(capsys, *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err and "internal error" not in err, err
    return lines[0]


# ---- 1. argument limits: exit 2, one line, before any work ----------------------------------------------


@pytest.mark.parametrize("args, expected", [
    (["run", MINIMAL, "--workers", "100000"], "--workers: worker processes are 1 to"),
    (["run", MINIMAL, "--replications", "1000000000"], "--replications: replications is 1 to 10,000"),
    (["run", MINIMAL, "--months", "100000"], "--months: a horizon is 1 to 600"),
    (["run", MINIMAL, "--horizons", "12,601"], "a horizon is 1 to 600"),
    (["batch", MINIMAL, "--workers", "100000"], "--workers: worker processes are 1 to"),
    (["batch", MINIMAL, "--replications", "1000000000"], "replications is 1 to 10,000"),
    (["batch", MINIMAL, "--months", "100000"], "a horizon is 1 to 600"),
    (["batch", MINIMAL, "--sample", "lhs:1000000000", "--range", "employees.headcount=1:5"],
     "N in lhs:N is 1 to 100,000"),
    (["sensitivity", MINIMAL, "--replications", "1000000000"], "replications is 1 to 10,000"),
    (["sensitivity", MINIMAL, "--morris", "100000"], "--morris takes a number of trajectories"),
    (["sensitivity", MINIMAL, "--workers", "100000"], "worker processes are 1 to"),
    (["decide", DATA / "decide_small.yaml", "--draws", "1000000"], "--draws: draws is 1 to 100,000"),
    (["decide", DATA / "decide_small.yaml", "--replications", "1000000000"], "replications is 1 to 10,000"),
    (["decide", DATA / "decide_small.yaml", "--workers", "100000"], "worker processes are 1 to"),
    (["report", MINIMAL, "--out", "r.html", "--replications", "1000000000"], "replications is 1 to 10,000"),
    (["report", MINIMAL, "--out", "r.html", "--months", "601"], "a horizon is 1 to 600"),
    (["tui", MINIMAL, "--workers", "100000"], "worker processes are 1 to"),
    (["explain", MINIMAL, "--permutations", "100000000"], "--permutations: permutations is 1 to 10,000"),
    (["explain", MINIMAL, "--permutations", "0"], "--permutations: permutations is 1 to 10,000"),
    (["tui", MINIMAL, "--months", "601"], "a horizon is 1 to 600"),
    (["tui", MINIMAL, "--port", "70000"], "a port is 1 to 65535"),
    (["play", MINIMAL, "--budget", "nan"], "--budget is an amount"),
])
def test_argument_limits_exit_2_with_one_line_and_start_nothing(capsys, args, expected) -> None:
    start = time.perf_counter()
    code, out, err = spc(capsys, *args)
    assert code == 2 and expected in one_line(err), err
    assert not multiprocessing.active_children()
    assert time.perf_counter() - start < 5


def test_the_worker_limit_is_four_per_core(capsys) -> None:
    from simulator.limits import MAX_WORKERS_PER_CORE, max_workers

    assert max_workers() == MAX_WORKERS_PER_CORE * (os.cpu_count() or 1)
    code, _, err = spc(capsys, "run", MINIMAL, "--workers", str(max_workers() + 1))
    assert code == 2 and f"1 to {max_workers()}" in err


def test_a_huge_argument_costs_no_memory() -> None:
    """In a fresh interpreter: refused in well under a second of work, with the memory of an idle `spc`."""
    # peak RSS of this process image (VmHWM): ru_maxrss would carry over the forking parent's (pytest's) peak
    code = ("import re\n"
            "from simulator.cli import main\n"
            "rc = main(['run', 'tests/data/minimal.yaml', '--replications', '1000000000'])\n"
            "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)\n"
            "print(rc, hwm)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    rc, rss_kib = proc.stdout.split()
    assert rc == "2" and int(rss_kib) < 400 * 1024, proc.stdout + proc.stderr


def _big(tmp_path: Path) -> Path:
    data = minimal_data()
    data["segments"][0].update(initial_customers=5_000_000, acquisition_per_month=1_000_000)
    return write_yaml(tmp_path / "big.yaml", data)


@pytest.mark.parametrize("command", [["run"], ["batch"], ["report", "--out", "r.html"]])
def test_preflight_refuses_what_would_not_fit_and_says_how_large(capsys, tmp_path, command) -> None:
    big = _big(tmp_path)
    code, _, err = spc(capsys, command[0], big, *command[1:], "--months", "600", "--replications", "10000")
    line = one_line(err)
    assert code == 2 and ("too large for this machine" in line or "too long" in line), line
    assert "runs, about" in line and "--force" in line
    assert not multiprocessing.active_children()


def test_preflight_estimate_is_the_stated_rule() -> None:
    from simulator import limits

    sc = load(MINIMAL).scenario
    est = limits.estimate([(sc, 12, 4)], workers=2, kept=True)
    people = 100 + 20  # no acquisitions in minimal.yaml
    contacts = people * 1.0  # contacts_per_month defaults to 1
    seconds = 4 * (limits.SECONDS_PER_MONTH * 12 + limits.SECONDS_PER_EVENT * (people * 12 + contacts * 12)) / 2
    assert est.runs == 4 and est.seconds == pytest.approx(seconds)
    week = contacts * 7 / sc.metadata.period_days * limits.BYTES_PER_CONTACT
    assert est.bytes == pytest.approx(4 * people * 600 + 2 * 2 * (people * 600 + week))
    limits.preflight([(sc, 12, 4)], 2, kept=True, force=False)  # small: accepted
    huge = [(sc, 600, 10**12)]
    with pytest.raises(Exception, match="--force"):
        limits.preflight(huge, 1, kept=False, force=False)
    assert limits.preflight(huge, 1, kept=False, force=True).runs == 10**12  # --force runs it anyway


# ---- 2. strict types and bounds -----------------------------------------------------------------------


@pytest.mark.parametrize("section, key, value, expected", [
    ("employees", "headcount", True, "valid integer"),
    ("employees", "headcount", "yes", "valid integer"),
    ("employees", "headcount", 4.0, "valid integer"),
    ("employees", "annual_salary", True, "valid number"),
    ("employees", "annual_salary", "40000", "valid number"),
    ("employees", "annual_salary", 1e308, "less than or equal to 1000000000"),
    ("employees", "annual_salary", float("inf"), "finite number"),
    ("metadata", "discount_rate", float("nan"), "finite number"),
    ("segments", "acquisition_per_month", 1e12, "less than or equal to 1000000"),
    ("segments", "contacts_per_month", 1e9, "less than or equal to 1000"),
    ("segments", "basket", -1, "greater than or equal to 0"),
])
def test_numbers_are_strict_finite_and_bounded(section, key, value, expected) -> None:
    data = minimal_data()
    target = data["segments"][0] if section == "segments" else data.setdefault(section, {})
    target[key] = value
    with pytest.raises(ScenarioError) as info:
        load_data(data)
    assert expected in str(info.value), str(info.value)


def test_headcount_yes_in_a_file_is_an_error_not_one(tmp_path) -> None:
    text = MINIMAL.read_text().replace("headcount: 4", "headcount: yes")
    (tmp_path / "s.yaml").write_text(text)
    with pytest.raises(ScenarioError) as info:
        load(tmp_path / "s.yaml")
    (problem,) = info.value.problems
    assert problem.line == 6 and "employees.headcount" in problem.message and "True" in problem.message


def test_an_effect_may_not_push_a_segment_parameter_out_of_bounds() -> None:
    data = minimal_data()
    data["segments"][0]["acquisition_per_month"] = 10
    data["initiatives"].append({"name": "flood", "effects": [
        {"segment": "retail", "parameter": "acquisition_per_month", "scale": 1e12}]})
    with pytest.raises(ScenarioError, match=r"makes retail.acquisition_per_month 1e\+13, outside"):
        load_data(data)


# ---- 3. one-line errors for broken files and paths ----------------------------------------------------


def test_a_nul_byte_is_a_scenario_error_at_its_position(capsys, tmp_path) -> None:
    raw = MINIMAL.read_bytes()
    (tmp_path / "nul.yaml").write_bytes(raw[:20] + b"\0" + raw[20:])
    code, _, err = spc(capsys, "validate", tmp_path / "nul.yaml")
    assert code == 2 and one_line(err).startswith(f"{tmp_path / 'nul.yaml'}:2:") and "NUL byte" in err


@pytest.mark.parametrize("raw, where, expected", [
    ("metadata: {name: caf\u00e9}\n".encode("latin-1"), ":1:21:", "re-save the file as UTF-8"),
    ("metadata: {name: x}\n".encode("utf-16"), ":1:1:", "re-save it as UTF-8"),
    (b"a: 1\n\x1bb: 2\n", ":2:1:", "control character U+001B"),
])
def test_encoding_problems_get_a_hint(capsys, tmp_path, raw, where, expected) -> None:
    (tmp_path / "e.yaml").write_bytes(raw)
    code, _, err = spc(capsys, "validate", tmp_path / "e.yaml")
    assert code == 2 and where in one_line(err) and expected in err, err


def test_special_files_and_folders_are_refused_by_name(capsys, tmp_path) -> None:
    for path, expected in (("/dev/zero", "not a regular file"), (tmp_path, "is a folder")):
        code, _, err = spc(capsys, "validate", path)
        assert code == 2 and expected in one_line(err), err


def test_an_extends_symlink_loop_is_one_line(capsys, tmp_path) -> None:
    (tmp_path / "a.yaml").symlink_to(tmp_path / "b.yaml")
    (tmp_path / "b.yaml").symlink_to(tmp_path / "a.yaml")
    (tmp_path / "child.yaml").write_text("extends: a.yaml\n")
    code, _, err = spc(capsys, "validate", tmp_path / "child.yaml")
    assert code == 2 and "symlink loop" in one_line(err)
    code, _, err = spc(capsys, "validate", tmp_path / "a.yaml")  # the loop given directly
    assert code == 2 and "symbolic links" in one_line(err)


@pytest.mark.parametrize("make_args", [
    lambda t: ["run", MINIMAL, "--out", t / "file"],
    lambda t: ["run", MINIMAL, "--out", "/proc/spc-out"],
    lambda t: ["run", MINIMAL, "--report", t],
    lambda t: ["run", MINIMAL, "--report", "/proc/spc.html"],
    lambda t: ["report", MINIMAL, "--out", t],
    lambda t: ["report", MINIMAL, "--out", t / "file" / "r.html"],
    lambda t: ["report", MINIMAL, "--out", "/sys/spc.html"],
    lambda t: ["export", t / "no.duckdb", "--run", "1", "--out", t / "file"],
    lambda t: ["export", t / "no.duckdb", "--run", "1", "--out", "/proc/spc-out"],
])
def test_bad_out_paths_are_refused_before_any_run(capsys, tmp_path, make_args) -> None:
    (tmp_path / "file").write_text("not a folder\n")
    start = time.perf_counter()
    code, out, err = spc(capsys, *make_args(tmp_path))
    assert code == 2 and one_line(err).startswith("error: --"), err
    assert out == "" and time.perf_counter() - start < 3  # nothing simulated


@pytest.mark.parametrize("content", [bytes(range(256)), b"turns: []\n\0", "budget: caf\u00e9\n".encode("latin-1")])
def test_play_replay_of_a_binary_file_is_one_line(capsys, tmp_path, content) -> None:
    (tmp_path / "d.yaml").write_bytes(content)
    code, _, err = spc(capsys, "play", MINIMAL, "--replay", tmp_path / "d.yaml")
    assert code == 2 and str(tmp_path / "d.yaml") in one_line(err)


# ---- 3b. batch: a dead worker is retried once, then named ---------------------------------------------


def kill_worker_on_baseline_1(chunk):
    """Stands in for batch.worker.run_chunk in forked workers: SIGKILL itself on (baseline, replication 1),
    the first time only (KILL_MODE=once) or every time (KILL_MODE=always)."""
    from simulator.batch.worker import run_chunk

    if any(s == "baseline" and r == 1 for p in chunk.parts for s, r in p.tasks):
        marker = Path(os.environ["SPC_TEST_KILL_MARKER"])
        if os.environ["SPC_TEST_KILL_MODE"] == "always" or not marker.exists():
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
    return run_chunk(chunk)


def _stored(db: Path) -> int:
    from simulator.store import query

    return int(query(db, "SELECT count(*) AS n FROM tasks")["n"][0])


BATCH = ["batch", SMALL, "--replications", "3", "--months", "2", "--workers", "2", "--chunk-size", "1"]


def test_batch_retries_the_chunk_of_a_dead_worker_once(capsys, tmp_path, monkeypatch) -> None:
    import simulator.batch.executors as executors

    monkeypatch.setenv("SPC_TEST_KILL_MARKER", str(tmp_path / "killed"))
    monkeypatch.setenv("SPC_TEST_KILL_MODE", "once")
    monkeypatch.setattr(executors, "run_chunk", kill_worker_on_baseline_1)
    code, out, err = spc(capsys, *BATCH, "--store", tmp_path / "r.duckdb")
    assert code == 0, err
    assert (tmp_path / "killed").exists() and _stored(tmp_path / "r.duckdb") == 9
    from simulator.store import query

    reference = tmp_path / "ref.duckdb"
    monkeypatch.undo()
    assert spc(capsys, *BATCH, "--executor", "local", "--store", reference)[0] == 0
    sql = "SELECT * FROM summaries ORDER BY strategy, replication"
    assert query(tmp_path / "r.duckdb", sql).equals(query(reference, sql))


def test_batch_names_the_task_of_a_worker_that_dies_twice_and_keeps_the_store(capsys, tmp_path, monkeypatch) -> None:
    import simulator.batch.executors as executors

    db = tmp_path / "r.duckdb"
    monkeypatch.setenv("SPC_TEST_KILL_MARKER", str(tmp_path / "killed"))
    monkeypatch.setenv("SPC_TEST_KILL_MODE", "always")
    monkeypatch.setattr(executors, "run_chunk", kill_worker_on_baseline_1)
    code, out, err = spc(capsys, *BATCH, "--store", db)
    line = one_line(err)
    assert code == 1 and "died twice running run 1 strategy baseline replication 1" in line, line
    assert "SIGKILL" in line and f"kept in {db}" in line
    kept = _stored(db)
    assert kept < 9 and not multiprocessing.active_children()
    monkeypatch.undo()
    code, out, err = spc(capsys, *BATCH, "--store", db)  # the store is intact: the rerun finishes the rest
    assert code == 0 and f"{kept} already stored" in out and _stored(db) == 9, out + err


# ---- 3c. signals: Ctrl-C exits 130 resumably, SIGTERM leaves no process -------------------------------


def _spc_process(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "simulator.cli", *map(str, args)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def _wait_for_workers(proc: subprocess.Popen, n: int, timeout: float = 60) -> list[psutil.Process]:
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = parent.children(recursive=True)
        if len(kids) >= n:
            return kids
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    raise AssertionError("the workers never started")


def _session(pid: int) -> list[psutil.Process]:
    """Every live process of the session `pid` leads (start_new_session): what it left behind."""
    out = []
    for p in psutil.process_iter(["pid", "status"]):
        try:
            if os.getsid(p.pid) == pid and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except (ProcessLookupError, psutil.NoSuchProcess, PermissionError):
            continue
    return out


@pytest.mark.parametrize("command", [
    ["run", ROOT / "scenarios" / "service_profit_chain.yaml", "--replications", "400", "--workers", "2", "--json"],
    ["batch", SMALL, "--replications", "2000", "--workers", "2"],
    ["batch", SMALL, "--replications", "2000", "--workers", "2", "--executor", "dask"],  # a LocalCluster's workers
], ids=["run", "batch", "batch-dask"])
def test_sigterm_ends_the_workers_with_the_command(tmp_path, command) -> None:
    store = ["--store", str(tmp_path / "r.duckdb")] if command[0] == "batch" else []
    proc = _spc_process(*command, *store)
    if "dask" in command:  # the cluster is up once the batch line is printed (its executor comes first)
        assert proc.stdout.readline().startswith("batch:"), proc.stderr.read()
    workers = _wait_for_workers(proc, 3 if "dask" in command else 2)  # dask: a resource tracker and 2 workers
    time.sleep(1.0 if "dask" in command else 0.5)  # mid-run
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143 and err.strip().splitlines()[-1] == "terminated", err
    _, alive = psutil.wait_procs(workers, timeout=5)
    assert not alive and not _session(proc.pid), [p.pid for p in alive]


_SIGNAL_LOST_IN_A_GC_CALLBACK = """
import gc, os, signal, sys, time
from simulator import processes
processes.UNWIND_SECONDS = 1.0

def callback(phase, info):  # Dask's scheduler registers one like it
    if phase == "start" and not processes.received:
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(10_000):  # the handler runs here; Python prints "Exception ignored" and goes on
            pass

gc.callbacks.append(callback)
with processes.workers_end_with_us():
    gc.collect()
    print("still running", flush=True)
    time.sleep(60)
"""


def test_sigterm_whose_exception_a_gc_callback_swallowed_still_ends_the_command() -> None:
    """The CI failure of [batch-dask]: the handler's Terminated raised inside distributed's gc callback was lost."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", _SIGNAL_LOST_IN_A_GC_CALLBACK], cwd=ROOT, capture_output=True,
                          text=True, timeout=30)
    assert done.stdout == "still running\n", done  # the exception really was lost
    assert "Exception ignored" in done.stderr
    assert done.returncode == 143 and done.stderr.strip().splitlines()[-1] == "terminated", done.stderr
    assert time.monotonic() - started < 20


def test_ctrl_c_on_batch_exits_130_and_the_same_command_resumes(tmp_path) -> None:
    command = ["batch", SMALL, "--replications", "40", "--months", "3", "--workers", "2", "--chunk-size", "2",
               "--store", tmp_path / "r.duckdb"]
    proc = _spc_process(*command)
    assert proc.stdout.readline().startswith("batch: 1 file(s) x 1 variant(s): 1 runs, 120 tasks")  # 3 strategies
    workers = _wait_for_workers(proc, 2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted; rerun the same command to resume" in one_line(err)
    _, alive = psutil.wait_procs(workers, timeout=5)
    assert not alive and not _session(proc.pid)
    stored = _stored(tmp_path / "r.duckdb")
    rerun = subprocess.run([sys.executable, "-m", "simulator.cli", *map(str, command)], cwd=ROOT, capture_output=True,
                           text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{stored} already stored" in rerun.stdout and _stored(tmp_path / "r.duckdb") == 120


# ---- 4. reads confined --------------------------------------------------------------------------------


def test_extends_outside_the_folder_tree_is_refused_without_reading_it(capsys, tmp_path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "secret.yaml").write_text("root:TOPSECRET:19000:0:99999:7:::\n")
    (tmp_path / "project").mkdir()
    child = tmp_path / "project" / "child.yaml"
    for target in ("../elsewhere/secret.yaml", str(tmp_path / "elsewhere" / "secret.yaml"), "/etc/passwd",
                   "/etc/shadow.yaml"):
        child.write_text(f"extends: {target}\n")
        code, _, err = spc(capsys, "validate", child)
        assert code == 2 and "TOPSECRET" not in err and "root:" not in err, err
        assert "outside the scenario's folder" in one_line(err) or "must name a .yaml file" in err, err
    (tmp_path / "project" / "link.yaml").symlink_to(tmp_path / "elsewhere" / "secret.yaml")
    child.write_text("extends: link.yaml\n")  # a symlink inside the tree that points out of it
    code, _, err = spc(capsys, "validate", child)
    assert code == 2 and "outside the scenario's folder" in one_line(err) and "TOPSECRET" not in err
    # allowed with --base-dir: now the base is read (and is not a scenario)
    child.write_text("extends: ../elsewhere/secret.yaml\n")
    code, _, err = spc(capsys, "validate", child, "--base-dir", tmp_path / "elsewhere")
    assert code == 2 and "secret.yaml" in err and "is outside the scenario's folder" not in err


def test_extends_a_base_in_an_allowed_folder_or_the_shipped_scenarios(capsys, tmp_path) -> None:
    (tmp_path / "common").mkdir()
    write_yaml(tmp_path / "common" / "base.yaml", minimal_data())
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "child.yaml").write_text("extends: ../common/base.yaml\nrun: {seed: 5}\n")
    code, _, err = spc(capsys, "validate", tmp_path / "mine" / "child.yaml")
    assert code == 2 and "--base-dir" in one_line(err)
    code, out, err = spc(capsys, "validate", tmp_path / "mine" / "child.yaml", "--base-dir", tmp_path / "common")
    assert code == 0 and ": ok:" in out, err
    shipped = os.path.relpath(ROOT / "scenarios" / "service_profit_chain.yaml", tmp_path / "mine")
    (tmp_path / "mine" / "edited.yaml").write_text(f"extends: {shipped}\nrun: {{seed: 5}}\n")  # what the TUI saves
    assert load(tmp_path / "mine" / "edited.yaml").scenario.run.seed == 5


@pytest.fixture(scope="module")
def results_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("sql") / "r.duckdb"
    assert main(["batch", str(SMALL), "--replications", "1", "--months", "1", "--executor", "local",
                 "--store", str(db)]) == 0
    return db


@pytest.mark.parametrize("sql, expected", [
    ("COPY tasks TO '{out}/x.csv'", "not COPY"),
    ("EXPORT DATABASE '{out}/x'", "not EXPORT"),
    ("INSTALL httpfs", "not LOAD"),
    ("LOAD httpfs", "not LOAD"),
    ("ATTACH '{out}/y.duckdb'", "not ATTACH"),
    ("SET enable_external_access = true", "not SET"),
    ("CREATE TABLE z (a INT)", "not CREATE"),
    ("SELECT * FROM read_text('/etc/passwd')", "disabled by configuration"),
    ("SELECT * FROM read_csv_auto('/etc/passwd')", "disabled by configuration"),
    ("SELECT * FROM 'https://example.com/x.csv'", "disabled by configuration"),
    ("SELECT 1; SELECT 2", "one statement"),
    ("PRAGMA enable_profiling", "only reading pragmas"),
])
def test_results_sql_refuses_writes_reads_and_installs(capsys, tmp_path, results_db, sql, expected) -> None:
    code, out, err = spc(capsys, "results", results_db, "--sql", sql.format(out=tmp_path))
    assert code == 2 and expected in one_line(err), err
    assert not list(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize("sql", ["SELECT count(*) FROM tasks", "WITH t AS (SELECT 1 AS a) SELECT * FROM t",
                                 "SHOW TABLES", "DESCRIBE runs", "PRAGMA table_info('runs')", "FROM runs"])
def test_results_sql_answers_reading_statements(capsys, results_db, sql) -> None:
    code, out, err = spc(capsys, "results", results_db, "--sql", sql, "--format", "csv")
    assert code == 0 and out.strip(), err


# ---- 5. the served UI warns when it is reachable from other machines ----------------------------------


def test_serving_beyond_loopback_warns_of_no_authentication() -> None:
    from tui.cli import _loopback

    assert _loopback("127.0.0.1") and _loopback("::1") and _loopback("localhost")
    assert not _loopback("0.0.0.0") and not _loopback("192.168.1.5") and not _loopback("example.com")


# ---- 6. the JSON Schema: partial files, NaN, one-of rules ---------------------------------------------


def test_schema_checks_extends_children_nan_and_the_one_of_rules(tmp_path) -> None:
    """One run of a real JSON Schema client (check-jsonschema) over files each with one thing to catch."""
    full = yaml.safe_load(MINIMAL.read_text())
    del full["employees"]
    cases = {
        "child_ok": ("extends: base.yaml\nsegments: [{name: retail, basket: 25}]\n", None),
        "full_without_defaults": (MINIMAL.read_text().replace("  horizon_months: 12\n", ""), None),
        "unknown_key": ("extends: base.yaml\nbogus: 1\n", "'bogus' was unexpected"),
        "float_count": ("extends: base.yaml\nemployees: {headcount: 2.5}\n", "$.employees.headcount"),
        "bad_enum": ("extends: base.yaml\nvaluation: {method: magic}\n", "$.valuation.method"),
        "nan": ("extends: base.yaml\nsegments: [{name: retail, basket: .nan}]\n", "$.segments[0].basket"),
        "huge_salary": ("extends: base.yaml\nemployees: {annual_salary: 1.0e+308}\n", "$.employees.annual_salary"),
        "two_operations": ("extends: base.yaml\ninitiatives: [{name: a, effects: [{lever: x, set: 1, add: 2}]}]\n",
                           "is valid under each of"),
        "two_targets": ("extends: base.yaml\ninitiatives: [{name: a, effects: [{lever: x, link: a->b, set: 1}]}]\n",
                        "is valid under each of"),
        "full_nan": (MINIMAL.read_text().replace("annual_salary: 40000", "annual_salary: .nan"),
                     "$.employees.annual_salary"),
        "full_missing_required": (yaml.safe_dump(full), "'employees' is a required property"),
    }
    for name, (text, _) in cases.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    proc = subprocess.run([sys.executable, "-m", "check_jsonschema", "--schemafile",
                           str(ROOT / "scenarios" / "schema.json"), *sorted(map(str, tmp_path.glob("*.yaml")))],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "Failed to parse" not in proc.stdout, proc.stdout
    for name, (_, expected) in cases.items():
        reported = [line for line in proc.stdout.splitlines() if f"{name}.yaml::" in line]
        if expected is None:
            assert not reported, (name, reported)
        else:
            assert any(expected in line for line in reported), (name, expected, proc.stdout)


def test_the_fast_exit_keeps_what_the_command_wrote(tmp_path) -> None:
    """`spc` skips the interpreter's teardown after its last line (simulator.cli.entry): the store it wrote is
    complete and readable by a new process, the JSON on stdout is whole, and the exit code is the command's."""
    import json

    from tests.scenario_helpers import run_spc

    store = tmp_path / "r.duckdb"
    batch = run_spc("batch", str(SMALL), "--replications", "3", "--months", "3", "--store", str(store))
    assert batch.returncode == 0, batch.stderr
    assert _stored(store) == 9 and not (tmp_path / "r.duckdb.wal").exists()
    run = run_spc("run", str(SMALL), "--replications", "2", "--months", "3", "--json")
    assert run.returncode == 0 and json.loads(run.stdout)["replications"] == 2, run.stderr
    bad = run_spc("run", str(SMALL), "--replications", "0")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


def test_the_fast_exit_waits_for_what_is_still_running() -> None:
    import threading

    from simulator.cli import _nothing_left_running

    assert _nothing_left_running()
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait)
    worker.start()
    try:
        assert not _nothing_left_running()
    finally:
        stop.set()
        worker.join()
