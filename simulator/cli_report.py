"""`spc report FILE|RUN_DIR --out report.html`: one self-contained HTML (or Markdown) report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from simulator.errors import UsageError

TORNADO_REPLICATIONS = 4  # one replication left the chart dominated by noise once paths diverge


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


def build_input(model, scenario_hash: str, timeseries, customers, strategies, replications: int, seed: int, months: int,
                tornado: bool, workers: int | None):
    from simulator import __version__
    from simulator.analysis.comparison import comparison_frame
    from simulator.analysis.scorecard import scorecard_frame
    from simulator.analysis.summary import summary_frame
    from simulator.report import ReportInput

    sc = model.scenario
    torn = None
    if tornado and sc.network.links:
        from simulator.analysis.sensitivity import tornado as run_tornado
        from simulator.experiment import default_workers

        data = sc.model_dump(mode="json", by_alias=True, exclude={"extends"})
        links = [f"links.{link.source}->{link.target}.effect" for link in sc.network.links]
        torn = run_tornado(data, "baseline", "npv", 0.2, replications=TORNADO_REPLICATIONS, seed=seed, months=months,
                           workers=workers or default_workers(2 * len(links)), parameters=links)
    return ReportInput(
        model=model, timeseries=timeseries, customers=customers,
        summary=summary_frame(timeseries, strategies), scorecard=scorecard_frame(timeseries, sc, strategies),
        comparison=comparison_frame(timeseries, sc.metadata.discount_rate, sc.metadata.period_days, strategies=strategies),
        strategies=tuple(strategies), replications=replications, seed=seed, months=months, scenario_hash=scenario_hash,
        version=__version__, tornado=torn)


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
    source = Path(args.source)
    fmt = report_format(args.out, args.format)
    if source.is_dir():
        model, meta, ts, customers = _from_run_dir(source)
        inp = build_input(model, meta["scenario"]["hash"], ts, customers, list(meta["strategies"]), meta["replications"],
                          meta["seed"], meta["months"], not args.no_tornado, args.workers)
    elif source.exists():
        from simulator.experiment import run_experiment
        from simulator.graph.compiler import compile_loaded
        from simulator.scenario.loader import load

        loaded = load(source)
        model = compile_loaded(loaded)
        result = run_experiment(model, replications=args.replications, seed=args.seed, months=args.months,
                                workers=args.workers)
        inp = build_input(model, loaded.content_hash, result.timeseries, result.customers, result.strategies,
                          result.replications, result.seed, result.months, not args.no_tornado, args.workers)
    else:
        raise UsageError(f"no such file or folder: {args.source}")
    write_report(inp, args.out, fmt)
    print(f"wrote {args.out}")
    return 0
