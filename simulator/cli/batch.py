"""`spc batch`, `spc results`, `spc export`: sweeps into a results database, and reading it back."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from simulator.errors import UsageError

RUNS_SHOWN = 20
DEFAULT_STORE = "results.duckdb"  # simulator.store.DEFAULT_STORE (not imported here: keeps `spc --help` fast)
EXECUTORS = ("local", "processes", "dask")  # simulator.batch.executors.EXECUTORS


def register(sub: argparse._SubParsersAction) -> None:
    from simulator.cli.common import positive_int, seed_arg
    from simulator.limits import add_force, months_arg, replications_arg, workers_arg

    p = sub.add_parser("batch", help="run scenario files and parameter sweeps into a results database")
    p.add_argument("paths", nargs="+", metavar="PATH_OR_GLOB", help="scenario files, folders or globs")
    p.add_argument("--sweep", action="append", default=[], metavar="KEY=v1,v2,...",
                   help="grid values of a parameter path (repeat for a cartesian product)")
    p.add_argument("--sample", metavar="lhs:N", help="draw N Latin-hypercube points over the --range keys (N up to 100,000)")
    p.add_argument("--range", action="append", default=[], metavar="KEY=lo:hi", help="a range for --sample")
    p.add_argument("--strategies", help="comma-separated strategy names (default: all; baseline always runs)")
    p.add_argument("--replications", type=replications_arg,
                   help="replications per strategy, 1 to 10,000 (default: each file's)")
    p.add_argument("--seed", type=seed_arg, help="random seed (default: each file's run.seed)")
    p.add_argument("--months", type=months_arg, help="horizon in months, 1 to 600 (default: each file's)")
    p.add_argument("--workers", type=workers_arg, help="worker processes, at most 4 per core (default: all cores)")
    add_force(p)
    p.add_argument("--executor", choices=EXECUTORS, default="processes", help="where tasks run (default: processes)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="with --executor dask: a running scheduler, tcp://host:8786")
    p.add_argument("--store", default=DEFAULT_STORE, metavar="FILE", help=f"results database (default: {DEFAULT_STORE})")
    p.add_argument("--chunk-size", type=positive_int, metavar="N", help="tasks per chunk sent to a worker (default: auto)")
    p.set_defaults(func=cmd_batch)

    p = sub.add_parser("results", help="list the runs in a results database, or print a SQL query's result")
    p.add_argument("store", metavar="FILE")
    p.add_argument("--sql", metavar="QUERY", help="a read-only SQL query (DuckDB dialect): SELECT, WITH, SHOW, DESCRIBE "
                                                  "or a reading PRAGMA, on this database only")
    p.add_argument("--format", choices=["table", "csv"], default="table")
    p.add_argument("--compare", metavar="KEY", help="tabulate a sweep's outcome per strategy against the values of "
                                                    "a swept parameter path (e.g. employees.headcount)")
    p.add_argument("--measure", choices=["npv", "firm_value"],
                   help="with --compare: the figure tabulated (default: firm value when known, else NPV)")
    p.add_argument("--runs", action="store_true", help="list the runs only (no outcomes)")
    p.set_defaults(func=cmd_results)

    p = sub.add_parser("export", help="write one stored run as Parquet or CSV files (a folder like spc run --out)")
    p.add_argument("store", metavar="FILE")
    p.add_argument("--run", type=positive_int, required=True, metavar="ID")
    p.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    p.add_argument("--out", metavar="PATH", help="output folder (default: run-ID)")
    p.set_defaults(func=cmd_export)


# ---- spc batch ------------------------------------------------------------------------------------------


def cmd_batch(args: argparse.Namespace) -> int:
    from simulator.batch.plan import build_plan
    from simulator.batch.sweep import make_design
    from simulator.experiment import default_workers
    from simulator.limits import preflight

    design = make_design(args.sweep, args.range, args.sample)
    requested = [s.strip() for s in args.strategies.split(",") if s.strip()] if args.strategies else None
    if args.scheduler and args.executor != "dask":
        raise UsageError("--scheduler is for --executor dask")
    specs = build_plan(args.paths, design, args.replications, args.seed, args.months, requested)
    files = len({s.file for s in specs})
    workers = 1 if args.executor == "local" else args.workers or default_workers(10**9)
    preflight(((s.base if not s.variant else s.data(), s.months, len(s.strategies) * s.replications) for s in specs),
              workers, kept=False, force=args.force)
    return _run_batch(args, specs, files)


def _run_batch(args: argparse.Namespace, specs, files: int) -> int:
    from simulator.batch.coordinator import execute, prepare
    from simulator.batch.executors import WorkerDied, make_executor
    from simulator.cli.common import interrupted
    from simulator.cli.progress import progress_bar
    from simulator.store import Store

    executor = make_executor(args.executor, args.workers, args.scheduler)  # before the database: forks stay clean
    stored = 0
    try:
        with Store(args.store) as store:
            totals, done = prepare(store, specs)
            print(f"batch: {files} file(s) x {len(specs) // files} variant(s): {len(specs)} runs, {totals.tasks} tasks; "
                  f"{totals.already_stored} already stored, {totals.to_run} to run on {executor.description}",
                  flush=True)
            start = time.perf_counter()

            def count(n: int) -> None:
                nonlocal stored
                stored += n

            with progress_bar(totals.to_run) as advance:
                execute(store, specs, totals, done, executor, args.chunk_size, lambda n: (count(n), advance(n)))
    except WorkerDied as exc:
        print(f"batch: {exc}; the {stored} task(s) stored before are kept in {args.store}", file=sys.stderr)
        return 1
    except BaseException as exc:
        from simulator.processes import terminated

        if terminated() or not interrupted(exc):
            raise
        print(f"interrupted; rerun the same command to resume ({stored} task(s) of this batch stored in "
              f"{args.store})", file=sys.stderr)
        return 130
    finally:
        executor.close()
    seconds = time.perf_counter() - start
    rate = f" ({stored / seconds:.1f} tasks/s)" if stored and seconds > 0 else ""
    ids = totals.run_ids
    print(f"stored {stored} task(s) in {seconds:.1f} s{rate} in {args.store}, runs {_id_ranges(ids)}; "
          f"see: spc results {args.store}")
    return 0


def _id_ranges(ids) -> str:
    ids = sorted(set(ids))
    parts, start = [], None
    for i, x in enumerate(ids):
        start = x if start is None else start
        if i + 1 == len(ids) or ids[i + 1] != x + 1:
            parts.append(str(x) if start == x else f"{start}-{x}")
            start = None
    return ",".join(parts)


# ---- spc results ----------------------------------------------------------------------------------------


def cmd_results(args: argparse.Namespace) -> int:
    from simulator.store import list_runs, query

    if args.sql:
        _print_frame(query(args.store, args.sql), args.format, title=None)
        return 0
    if args.measure and not args.compare:
        raise UsageError("--measure goes with --compare KEY")
    if args.compare:
        from simulator.cli.results import print_compare
        from simulator.outcomes import check_key, compare, run_outcomes, swept_keys

        keys = swept_keys(args.store)
        check_key(args.compare, keys)  # before reading every run back
        outcomes = run_outcomes(args.store)
        print_compare(compare(outcomes, args.compare, keys, args.measure), outcomes, args.format)
        return 0
    runs = list_runs(args.store)
    if args.format == "csv":  # one table: the outcomes (per run and strategy), or with --runs the runs
        if args.runs:
            _print_frame(runs, "csv", title=None)
        else:
            from simulator.cli.results import print_outcomes
            from simulator.outcomes import run_outcomes

            print_outcomes(run_outcomes(args.store), "csv")
        return 0
    tasks, expected = int(runs["tasks_stored"].sum()), int(runs["tasks_expected"].sum())
    print(f"{args.store}: {len(runs)} run(s), {tasks} of {expected} task(s) stored; "
          "tables: runs, params, tasks, timeseries, customers, summaries, scenarios")
    shown = runs.drop(columns=["scenario_hash", "scenario_file", "created_at", "version"])
    shown["updated_at"] = shown["updated_at"].dt.strftime("%Y-%m-%d %H:%M:%S")
    if len(shown) > RUNS_SHOWN:
        print(f"(last {RUNS_SHOWN} shown; all with --runs --format csv or --sql 'SELECT * FROM runs')")
        shown = shown.tail(RUNS_SHOWN)
    _print_frame(shown, "table", title=None)
    if not args.runs:
        from simulator.cli.results import print_outcomes
        from simulator.outcomes import run_outcomes

        ids = [int(i) for i in runs["run_id"].tail(RUNS_SHOWN)]  # outcomes of the runs listed, not of every run
        print_outcomes(run_outcomes(args.store, ids), shown=RUNS_SHOWN)
    return 0


def _print_frame(df, fmt: str, title: str | None) -> None:
    if fmt == "csv":
        df.to_csv(sys.stdout, index=False)
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 200))
    table = Table(title=title)
    for column in df.columns:
        table.add_column(str(column), justify="right" if df[column].dtype.kind in "iuf" else "left", overflow="fold")
    for row in df.itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    console.print(table)
    print(f"({len(df)} row{'s' if len(df) != 1 else ''})")


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)


# ---- spc export -----------------------------------------------------------------------------------------


def cmd_export(args: argparse.Namespace) -> int:
    from simulator.export import write_run
    from simulator.outputs import check_out_dir, writing
    from simulator.store import load_run

    out = check_out_dir(args.out or f"run-{args.run}", "--out")
    run = load_run(args.store, args.run)
    if not run.tasks_stored:
        raise UsageError(f"run {args.run} has no finished task yet")
    summary, document = _analysis(run)
    with writing("--out", out):
        if args.format == "parquet":
            paths = write_run(out, run.timeseries, run.customers, summary, document)
        else:
            paths = _write_csv(out, run, summary, document)
    if not run.complete:
        print(f"note: run {args.run} is incomplete ({run.tasks_stored} of {run.tasks_expected} tasks stored)",
              file=sys.stderr)
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _analysis(run):
    """summary.csv and run.json as `spc run --out` writes them (so `spc report DIR` reads a Parquet export)."""
    from simulator.analysis.summary import summary_frame

    document = {"scenario": {"name": run.scenario_name, "file": run.scenario_file, "hash": run.scenario_hash},
                "run_id": run.run_id, "variant": run.variant, "seed": run.seed, "replications": run.replications,
                "months": run.months, "version": run.version, "strategies": list(run.strategies),
                "complete": run.complete, "scenario_data": run.scenario_data}
    if not run.complete:
        return summary_frame(run.timeseries, run.strategies), document
    from types import SimpleNamespace

    from simulator.analysis.run_analysis import analyse
    from simulator.cli.run import run_document

    model = run.model()
    inp = analyse(model, run.scenario_hash, run.timeseries, run.customers, run.strategies, run.replications,
                  run.seed, run.months)
    loaded = SimpleNamespace(scenario=model.scenario, path=run.scenario_file, content_hash=run.scenario_hash)
    full = run_document(loaded, inp)
    full.update({k: document[k] for k in ("run_id", "variant", "complete", "scenario_data")})
    full["strategies_order"] = list(run.strategies)
    return inp.summary, full


def _write_csv(out: Path, run, summary, document) -> list[Path]:
    import json
    import os

    out.mkdir(parents=True, exist_ok=True)
    paths = [out / n for n in ("timeseries.csv", "customers.csv", "summary.csv", "run.json")]
    writers = (lambda p: run.timeseries.to_csv(p, index=False), lambda p: run.customers.to_csv(p, index=False),
               lambda p: summary.to_csv(p, index=False),
               lambda p: p.write_text(json.dumps(document, indent=2, default=str) + "\n"))
    for path, write in zip(paths, writers, strict=True):
        tmp = path.with_name(f".{path.name}.tmp")
        write(tmp)
        os.replace(tmp, path)
    return paths
