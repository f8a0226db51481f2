"""The results database: one DuckDB file (embedded, no server) that batches write and anyone can query.

Tables
    scenarios  scenario_hash, name, file, data (JSON of the merged scenario file)
    runs       run_id, scenario_name, scenario_file, scenario_hash, variant (JSON {path: value}), seed,
               months, strategies (JSON list), replications, version, created_at, updated_at
    params     run_id, key, value: the variant's values, one row each (easy to join and group by)
    tasks      run_id, strategy, replication, seed, seconds, worker, finished_at: one row per finished task
    timeseries run_id, strategy, replication, period, one column per metric (as `spc run` writes them)
    customers  run_id, strategy, replication, then the customer ledger's columns
    summaries  run_id, strategy, replication, npv, cumulative_revenue, active_customers, ...

A run is one scenario variant on one seed and horizon, unique by (scenario_hash, variant, seed,
months); a task is (run, strategy, replication). A task's rows in every table are written in the same
transaction as its `tasks` row, so a killed batch leaves whole tasks only, and `tasks` says what to skip.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from simulator.errors import UsageError
from simulator.experiment import ExperimentResult

if TYPE_CHECKING:
    import duckdb

    from simulator.graph.compiler import CompiledModel
    from simulator.scenario.models import Scenario

DEFAULT_STORE = "results.duckdb"
SCHEMA_VERSION = "1"
RESULT_TABLES = ("timeseries", "customers", "summaries")

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS scenarios (scenario_hash VARCHAR PRIMARY KEY, name VARCHAR, file VARCHAR, data VARCHAR);
CREATE TABLE IF NOT EXISTS runs (
    run_id BIGINT PRIMARY KEY, scenario_name VARCHAR, scenario_file VARCHAR, scenario_hash VARCHAR,
    variant VARCHAR, seed BIGINT, months BIGINT, strategies VARCHAR, replications BIGINT,
    timeseries_columns VARCHAR, customers_columns VARCHAR, version VARCHAR,
    created_at TIMESTAMP, updated_at TIMESTAMP, UNIQUE (scenario_hash, variant, seed, months));
CREATE TABLE IF NOT EXISTS params (run_id BIGINT, key VARCHAR, value DOUBLE, PRIMARY KEY (run_id, key));
CREATE TABLE IF NOT EXISTS tasks (
    run_id BIGINT, strategy VARCHAR, replication BIGINT, seed BIGINT, seconds DOUBLE, worker VARCHAR,
    finished_at TIMESTAMP, PRIMARY KEY (run_id, strategy, replication));
CREATE TABLE IF NOT EXISTS timeseries (run_id BIGINT, strategy VARCHAR, replication BIGINT, period BIGINT);
CREATE TABLE IF NOT EXISTS customers (run_id BIGINT, strategy VARCHAR, replication BIGINT);
CREATE TABLE IF NOT EXISTS summaries (run_id BIGINT, strategy VARCHAR, replication BIGINT);
"""


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _sql_type(dtype: Any) -> str:
    if pd.api.types.is_bool_dtype(dtype):
        return "BOOLEAN"
    if pd.api.types.is_integer_dtype(dtype):
        return "BIGINT"
    if pd.api.types.is_float_dtype(dtype):
        return "DOUBLE"
    return "VARCHAR"


def _interrupted(exc: BaseException) -> bool:
    import duckdb

    return isinstance(exc, duckdb.InterruptException) or (
        isinstance(exc, RuntimeError) and "interrupted" in str(exc).lower())


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def connect(path: str | Path, read_only: bool = False, config: dict | None = None) -> duckdb.DuckDBPyConnection:
    """A connection, with the usual failures (missing file, file in use, not a database) as one line."""
    import duckdb

    path = Path(path)
    if read_only and not path.exists():
        raise UsageError(f"no such results database: {path} (make one with 'spc batch ... --store {path}')")
    try:
        return duckdb.connect(str(path), read_only=read_only, config=config or {})
    except duckdb.IOException as exc:
        first = str(exc).splitlines()[0]
        if "lock" in first.lower():
            raise UsageError(f"{path} is open in another process (a batch still running?): {first}") from None
        raise UsageError(f"{path}: cannot open the results database: {first}") from None
    except duckdb.Error as exc:
        raise UsageError(f"{path}: cannot open the results database: {str(exc).splitlines()[0]}") from None


@contextmanager
def reading(path: str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(path, read_only=True)
    try:
        yield con
    finally:
        con.close()


@dataclass(frozen=True)
class RunRecord:
    """What identifies a run (one scenario variant) before any of its tasks has run."""

    scenario_name: str
    scenario_file: str
    scenario_hash: str
    scenario_data: dict
    variant: dict
    seed: int
    months: int
    strategies: tuple[str, ...]
    replications: int

    @property
    def variant_json(self) -> str:
        return json.dumps(dict(sorted(self.variant.items())), separators=(",", ":"))


class Store:
    """The writer of one results database (DuckDB allows one writing process per file)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.con = connect(self.path)
        self.con.execute("SET threads = 1")  # the workers need the cores; inserts are small
        # Flat memory however long the batch: committed pages are on disk, so a small cache only evicts them
        self.con.execute("SET memory_limit = '64MB'")
        self.con.execute("SET checkpoint_threshold = '4MB'")
        self.con.execute(_DDL)
        self.con.execute("INSERT INTO meta VALUES ('schema_version', ?) ON CONFLICT DO NOTHING", [SCHEMA_VERSION])
        self._columns = {t: self._table_columns(t) for t in RESULT_TABLES}

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _table_columns(self, table: str) -> list[str]:
        rows = self.con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                                "ORDER BY ordinal_position", [table]).fetchall()
        return [r[0] for r in rows]

    def register(self, records: Sequence[RunRecord]) -> list[int]:
        """The run id of every record, creating runs not seen before; ids follow the records' order.

        Set-based (a few statements whatever the number of runs), so a 1,000-point sweep registers at once.
        """
        from simulator import __version__

        now = _now()
        with self._transaction():
            scenarios = {r.scenario_hash: r for r in records}
            for h, rec in scenarios.items():
                self.con.execute("INSERT INTO scenarios VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                                 [h, rec.scenario_name, rec.scenario_file, json.dumps(rec.scenario_data)])
            rows = self.con.execute("SELECT scenario_hash, variant, seed, months, run_id, strategies, replications "
                                    "FROM runs WHERE scenario_hash IN (SELECT unnest(?::VARCHAR[]))",
                                    [list(scenarios)]).fetchall()
            existing = {tuple(r[:4]): r[4:] for r in rows}
            next_id = int(self.con.execute("SELECT coalesce(max(run_id), 0) + 1 FROM runs").fetchall()[0][0])
            ids: list[int] = []
            new_runs: list[dict] = []
            params: list[tuple] = []
            updates: list[list] = []
            for rec in records:
                key = (rec.scenario_hash, rec.variant_json, rec.seed, rec.months)
                if key in existing:
                    run_id, old_strategies, old_reps = existing[key]
                    # a rerun may ask for more: the run keeps the union of strategies and the most replications
                    old = json.loads(old_strategies)
                    strategies = list(rec.strategies) + [s for s in old if s not in rec.strategies]
                    if strategies != old or rec.replications > old_reps:
                        updates.append([json.dumps(strategies), max(old_reps, rec.replications), run_id])
                    ids.append(int(run_id))
                    continue
                existing[key] = (next_id, json.dumps(list(rec.strategies)), rec.replications)
                new_runs.append(dict(run_id=next_id, scenario_name=rec.scenario_name, scenario_file=rec.scenario_file,
                                     scenario_hash=rec.scenario_hash, variant=rec.variant_json, seed=rec.seed,
                                     months=rec.months, strategies=json.dumps(list(rec.strategies)),
                                     replications=rec.replications, version=__version__, created_at=now,
                                     updated_at=now))
                params += [(next_id, k, float(v)) for k, v in rec.variant.items()]
                ids.append(next_id)
                next_id += 1
            if new_runs:
                self._append("runs", pd.DataFrame(new_runs))
            if params:
                self._append("params", pd.DataFrame(params, columns=["run_id", "key", "value"]))
            if updates:
                self.con.executemany("UPDATE runs SET strategies = ?, replications = ? WHERE run_id = ?", updates)
        return ids

    def _append(self, table: str, df: pd.DataFrame) -> None:
        self.con.register("_rows", df)
        try:
            self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _rows")
        finally:
            self.con.unregister("_rows")

    def stored_tasks(self, run_ids: Iterable[int]) -> dict[int, set[tuple[str, int]]]:
        """(strategy, replication) already stored, per run (only runs that have some)."""
        ids = list(run_ids)
        out: dict[int, set[tuple[str, int]]] = {}
        if not ids:
            return out
        rows = self.con.execute("SELECT run_id, strategy, replication FROM tasks WHERE run_id IN "
                                "(SELECT unnest(?::BIGINT[]))", [ids]).fetchall()
        for run_id, strategy, replication in rows:
            out.setdefault(int(run_id), set()).add((strategy, int(replication)))
        return out

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self.con.begin()
        try:
            yield
        except BaseException as exc:
            with suppress(Exception):  # an interrupted statement may have ended the transaction already
                self.con.rollback()
            with suppress(Exception):
                self._columns = {t: self._table_columns(t) for t in RESULT_TABLES}
            if _interrupted(exc):
                raise KeyboardInterrupt from None  # Ctrl-C inside a DuckDB statement arrives as its own error
            raise
        self.con.commit()

    def _insert(self, table: str, df: pd.DataFrame) -> None:
        if table not in self._columns:
            self._columns[table] = self._table_columns(table)
        known = self._columns[table]
        for column in df.columns:
            if column not in known:
                self.con.execute(f"ALTER TABLE {table} ADD COLUMN {_quote(column)} {_sql_type(df[column].dtype)}")
                known.append(column)
        self.con.register("_chunk", df)
        try:
            self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _chunk")
        except BaseException:  # Ctrl-C cut the insert short: the transaction is aborted until the rollback,
            with suppress(Exception):  # so unregistering fails too; the error worth reporting is the first
                self.con.unregister("_chunk")
            raise
        self.con.unregister("_chunk")

    def write(self, results: Sequence[Any]) -> None:
        """Finished chunks (`ChunkResult`s), all of them or none, in one transaction.

        Results that arrived together are written together: a statement costs milliseconds whatever its
        size, so a coordinator that falls behind catches up by writing bigger batches.
        """
        now = _now()
        with self._transaction():
            for group in _same_columns(results):
                self._insert("tasks", pd.concat([r.tasks for r in group], ignore_index=True).assign(finished_at=now))
                for table in RESULT_TABLES:
                    self._insert(table, pd.concat([getattr(r, table) for r in group], ignore_index=True))
            for result in results:
                self.con.execute(
                    "UPDATE runs SET updated_at = ?, timeseries_columns = coalesce(timeseries_columns, ?), "
                    "customers_columns = coalesce(customers_columns, ?) WHERE run_id = ?",
                    [now, json.dumps(list(result.timeseries.columns[1:])),
                     json.dumps(list(result.customers.columns[1:])), result.run_id])


def _same_columns(results: Sequence[Any]) -> list[list[Any]]:
    """Results grouped so that concatenating a group never invents missing values (scenarios differ)."""
    groups: dict[tuple, list[Any]] = {}
    for r in results:
        key = tuple(tuple(getattr(r, t).columns) for t in RESULT_TABLES)
        groups.setdefault(key, []).append(r)
    return list(groups.values())


# ---- reading ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredRun(ExperimentResult):
    """A run read back from the database: the frames `run_experiment` returns, plus where they came from.

    `timeseries` and `customers` have exactly the columns, dtypes and row order of
    `run_experiment(...)` for the same scenario variant, strategies, replications, seed and months
    (of the tasks stored so far: see `complete`).
    """

    run_id: int = 0
    scenario_name: str = ""
    scenario_file: str = ""
    scenario_hash: str = ""
    variant: dict | None = None
    scenario_data: dict | None = None
    version: str = ""
    tasks_stored: int = 0

    @property
    def tasks_expected(self) -> int:
        return len(self.strategies) * self.replications

    @property
    def complete(self) -> bool:
        return self.tasks_stored == self.tasks_expected

    def scenario(self) -> Scenario:
        from simulator.scenario.loader import load_data

        return load_data(self.scenario_data or {}, self.scenario_file)

    def model(self) -> CompiledModel:
        """The compiled variant, e.g. for `simulator.analysis.run_analysis.analyse(run.model(), run.scenario_hash, ...)`."""
        from simulator.graph.compiler import compile_scenario

        return compile_scenario(self.scenario(), source=self.scenario_file, content_hash=self.scenario_hash)


def _ordered(df: pd.DataFrame, strategies: Sequence[str], last: str) -> pd.DataFrame:
    rank = {s: i for i, s in enumerate(strategies)}
    order = df["strategy"].map(rank).fillna(len(rank))
    df = df.assign(_rank=order).sort_values(["_rank", "replication", last], kind="stable")
    return df.drop(columns="_rank").reset_index(drop=True)


def _run_row(con: duckdb.DuckDBPyConnection, path: str | Path, run_id: int) -> dict[str, Any]:
    cur = con.execute("SELECT r.*, s.data FROM runs r LEFT JOIN scenarios s USING (scenario_hash) WHERE run_id = ?",
                      [int(run_id)])
    rows = cur.fetchall()
    row = rows[0] if rows else None
    if row is None:
        count, low, high = con.execute("SELECT count(*), min(run_id), max(run_id) FROM runs").fetchall()[0]
        known = f"runs {low}..{high}" if count else "it holds no runs yet"
        raise UsageError(f"{path}: no run {run_id} ({known}; see 'spc results {path}')")
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def load_run(path: str | Path, run_id: int) -> StoredRun:
    """Read one stored run back as tidy frames, ordered like `run_experiment`'s (for the TUI and exports)."""
    from simulator.scenario.paths import with_values

    with reading(path) as con:
        row = _run_row(con, path, run_id)
        strategies = tuple(json.loads(row["strategies"]))
        frames = {}
        for table, key in (("timeseries", "period"), ("customers", "customer")):
            columns = json.loads(row[f"{table}_columns"] or "[]")
            if not columns:
                frames[table] = pd.DataFrame()
                continue
            select = ", ".join(_quote(c) for c in columns)
            df = con.execute(f"SELECT {select} FROM {table} WHERE run_id = ?", [int(run_id)]).df()
            frames[table] = _ordered(df, strategies, key)
        stored = int(con.execute("SELECT count(*) FROM tasks WHERE run_id = ?", [int(run_id)]).fetchall()[0][0])
    variant = json.loads(row["variant"])
    base = json.loads(row["data"]) if row["data"] else {}
    return StoredRun(
        timeseries=frames["timeseries"], customers=frames["customers"], strategies=strategies,
        replications=int(row["replications"]), seed=int(row["seed"]), months=int(row["months"]),
        run_id=int(run_id), scenario_name=row["scenario_name"], scenario_file=row["scenario_file"],
        scenario_hash=row["scenario_hash"], variant=variant, scenario_data=with_values(base, variant),
        version=row["version"], tasks_stored=stored)


def list_runs(path: str | Path) -> pd.DataFrame:
    """One row per run: id, scenario, variant, seed, months, tasks stored / expected, timestamps."""
    with reading(path) as con:
        return con.execute("""
            SELECT r.run_id, r.scenario_name AS scenario, r.variant, r.seed, r.months,
                   json_array_length(r.strategies::JSON) AS strategies, r.replications,
                   coalesce(t.n, 0) AS tasks_stored,
                   json_array_length(r.strategies::JSON) * r.replications AS tasks_expected,
                   r.version, r.created_at, r.updated_at, r.scenario_hash, r.scenario_file
            FROM runs r LEFT JOIN (SELECT run_id, count(*) AS n FROM tasks GROUP BY run_id) t USING (run_id)
            ORDER BY r.run_id""").df()


SEALED = {"enable_external_access": False, "autoinstall_known_extensions": False,
          "autoload_known_extensions": False, "allow_community_extensions": False, "lock_configuration": True}
"""`spc results --sql`: no file, URL or extension beyond the database itself, and no SET to undo that."""

READ_PRAGMAS = ("table_info", "show", "show_tables", "show_tables_expanded", "database_list", "database_size",
                "storage_info", "version", "platform")


def check_read_only_sql(sql: str) -> None:
    """One SELECT (WITH, SHOW, DESCRIBE, SUMMARIZE and FROM-first queries parse as SELECT) or a reading PRAGMA;
    anything else (COPY, EXPORT, INSTALL, ATTACH, SET, CREATE, ...) is a UsageError before the query runs."""
    import re

    import duckdb

    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise UsageError(f"--sql: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1:
        raise UsageError(f"--sql takes one statement, got {len(statements)}")
    kind = statements[0].type
    if kind == duckdb.StatementType.SELECT:
        return
    if kind == duckdb.StatementType.PRAGMA:
        name = re.match(r"\s*pragma\s+(\w+)", sql, re.I)
        if name and name.group(1).lower() in READ_PRAGMAS:
            return
        raise UsageError(f"--sql: only reading pragmas are allowed ({', '.join(READ_PRAGMAS)})")
    raise UsageError(f"--sql: read-only: SELECT, WITH, SHOW, DESCRIBE or a reading PRAGMA, not {kind.name}")


def query(path: str | Path, sql: str) -> pd.DataFrame:
    """The result of one read-only SQL query (a bad or writing query is a one-line usage error).

    The database opens read-only with external access disabled (no other file, no URL, no extension
    install or autoload) and the configuration locked; only SELECT-like statements and reading pragmas run."""
    import duckdb

    check_read_only_sql(sql)
    if Path(path).exists() and not Path(path).is_file():
        raise UsageError(f"{path}: not a results database file")
    con = connect(path, read_only=True, config=SEALED)
    try:
        cur = con.execute(sql)
        return cur.df() if cur.description else pd.DataFrame()
    except duckdb.Error as exc:
        raise UsageError(f"--sql: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()
