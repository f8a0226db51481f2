"""`spc report FILE|RUN_DIR --out report.html`: one self-contained HTML (or Markdown) report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from simulator.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    from simulator.cli_run import _positive_int, _seed

    p = sub.add_parser("report", help="write an HTML or Markdown report of a scenario or of a saved run (spc run --out)")
    p.add_argument("source", metavar="FILE|RUN_DIR")
    p.add_argument("--out", required=True, metavar="PATH")
    p.add_argument("--format", choices=["html", "md"], help="default: from the file extension, else html")
    p.add_argument("--replications", type=_positive_int, help="when FILE is a scenario (default: its run.replications)")
    p.add_argument("--seed", type=_seed)
    p.add_argument("--months", type=_positive_int)
    p.add_argument("--workers", type=_positive_int)
    p.add_argument("--no-tornado", action="store_true", help="skip the sensitivity runs behind the tornado chart")
    p.set_defaults(func=cmd_report)


def report_format(path: str, given: str | None) -> str:
    return given or ("md" if path.lower().endswith((".md", ".markdown")) else "html")


def write_report(inp, path: str, fmt: str) -> None:
    import os

    from simulator.report import to_html, to_markdown

    text = to_markdown(inp) if fmt == "md" else to_html(inp)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)


def _from_run_dir(directory: Path):
    import pandas as pd

    from simulator.graph.compiler import compile_scenario
    from simulator.scenario.loader import load_data

    meta_path = directory / "run.json"
    if not meta_path.exists():
        raise UsageError(f"{directory} is not a run folder: no run.json (make one with 'spc run FILE --out DIR')")
    try:
        meta = json.loads(meta_path.read_text())
        data = meta["scenario_data"]
    except (json.JSONDecodeError, KeyError) as exc:
        raise UsageError(f"{meta_path}: not a run.json written by spc run ({exc})") from None
    model = compile_scenario(load_data(data, str(meta_path)), source=str(meta_path), content_hash=meta["scenario"]["hash"])
    ts = pd.read_parquet(directory / "timeseries.parquet")
    customers = pd.read_parquet(directory / "customers.parquet")
    return model, meta, ts, customers


def cmd_report(args: argparse.Namespace) -> int:
    from simulator.report import analyse, with_tornado

    source = Path(args.source)
    fmt = report_format(args.out, args.format)
    if source.is_dir():
        model, meta, ts, customers = _from_run_dir(source)
        inp = analyse(model, meta["scenario"]["hash"], ts, customers, list(meta["strategies"]), meta["replications"],
                      meta["seed"], meta["months"])
    elif source.exists():
        from simulator.experiment import run_experiment
        from simulator.graph.compiler import compile_loaded
        from simulator.scenario.loader import load

        loaded = load(source)
        model = compile_loaded(loaded)
        result = run_experiment(model, replications=args.replications, seed=args.seed, months=args.months,
                                workers=args.workers)
        inp = analyse(model, loaded.content_hash, result.timeseries, result.customers, result.strategies,
                      result.replications, result.seed, result.months)
    else:
        raise UsageError(f"no such file or folder: {args.source}")
    write_report(inp if args.no_tornado else with_tornado(inp, args.workers), args.out, fmt)
    print(f"wrote {args.out}")
    return 0
