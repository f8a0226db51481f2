"""`spc report FILE|RUN_DIR --out report.html`: one self-contained HTML (or Markdown) report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from simulator.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    from simulator.cli.common import seed_arg
    from simulator.limits import add_force, months_arg, replications_arg, workers_arg

    p = sub.add_parser("report", help="write an HTML or Markdown report of a scenario or of a saved run (spc run --out)")
    p.add_argument("source", metavar="FILE|RUN_DIR")
    p.add_argument("--out", required=True, metavar="PATH")
    p.add_argument("--format", choices=["html", "md"], help="default: from the file extension, else html")
    p.add_argument("--replications", type=replications_arg,
                   help="when FILE is a scenario, 1 to 10,000 (default: its run.replications)")
    p.add_argument("--seed", type=seed_arg)
    p.add_argument("--months", type=months_arg, help="1 to 600 (default: the file's)")
    p.add_argument("--workers", type=workers_arg, help="at most 4 per core (default: all cores)")
    add_force(p)
    p.add_argument("--no-tornado", action="store_true", help="skip the sensitivity runs behind the tornado chart")
    p.add_argument("--explain", action="store_true",
                   help="attribute the mapped strategy's Δ NPV to pathways (spc explain's Shapley values, on the "
                        "report's replications and seed) and draw the strategy map's links as wide as their share")
    add_portfolio_args(p)
    from simulator.calibration.report_section import add_arguments

    add_arguments(p)  # --history, --fit, ...: a 'Calibration to history' section
    p.set_defaults(func=cmd_report)


def add_portfolio_args(p: argparse.ArgumentParser) -> None:
    """`--transactions`: a "Customer portfolio" section from a transaction export (as `spc portfolio`)."""
    from simulator.customers_data.args import date_arg

    g = p.add_argument_group("customer portfolio (needs pip install \".[data]\")")
    g.add_argument("--transactions", metavar="T", help="CSV or Parquet transaction export: adds a Customer portfolio "
                                                       "section (equity, whale curve, P(alive), repricing candidates)")
    g.add_argument("--customer-id", metavar="COL", help="customer column (default: customer_id)")
    g.add_argument("--date", metavar="COL", help="date column (default: date)")
    g.add_argument("--amount", metavar="COL", help="amount column (default: amount)")
    g.add_argument("--calibration-end", type=date_arg, metavar="DATE", help="fit up to DATE; the rest is the "
                                                                            "holdout check, shown in the section")
    g.add_argument("--costs", metavar="C", help="per-customer costs file (cost to serve: repricing candidates)")


def portfolio_section(args: argparse.Namespace, source: Path) -> dict | None:
    """Fitted before any simulation run, so a missing extra or a bad export stops the report at once; handle
    minutes are costed at the reported scenario's capacity cost rate (a run folder: the default base's)."""
    if not getattr(args, "transactions", None):
        if any(getattr(args, k, None) for k in ("customer_id", "date", "amount", "calibration_end", "costs")):
            raise UsageError("--customer-id/--date/--amount/--calibration-end/--costs describe a transaction export: "
                             "give it with --transactions T")
        return None
    from simulator.customers_data.report_section import analyse_transactions

    return analyse_transactions(args.transactions, customer_id=args.customer_id, date=args.date, amount=args.amount,
                                calibration_end=args.calibration_end, costs=args.costs,
                                base=str(source) if source.is_file() else None)[1]


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
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        data = meta["scenario_data"]
        content_hash = meta["scenario"]["hash"]
    except UnicodeDecodeError:
        raise UsageError(f"{meta_path}: not UTF-8 text, so not a run.json written by spc run") from None
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise UsageError(f"{meta_path}: not a run.json written by spc run ({exc})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{meta_path}: not a run.json written by spc run (scenario_data is not a mapping)")
    model = compile_scenario(load_data(data, str(meta_path)), source=str(meta_path), content_hash=content_hash)
    try:
        ts = pd.read_parquet(directory / "timeseries.parquet")
        customers = pd.read_parquet(directory / "customers.parquet")
    except (OSError, ValueError) as exc:  # pyarrow's errors derive from these
        raise UsageError(f"{directory}: cannot read the run's Parquet files ({str(exc).splitlines()[0]})") from None
    return model, meta, ts, customers


def with_attribution(inp, workers: int | None = None):
    """The analysis plus the Shapley attribution of Δ NPV for the strategy its map shows (none for the baseline)."""
    import sys
    from dataclasses import replace

    from simulator.analysis.attribution import attribute, default_groups
    from simulator.report import map_strategy

    chosen = map_strategy(inp)
    if chosen in (None, "baseline") or not default_groups(inp.model, chosen):
        print("--explain: no strategy to attribute on the map (only the baseline, or no pathway)", file=sys.stderr)
        return inp
    att = attribute(inp.model, chosen, "npv", replications=inp.replications, seed=inp.seed, months=inp.months,
                    workers=workers)
    print(f"--explain: Δ NPV of {chosen} attributed over {len(att.groups)} pathway groups ({att.runs} runs, "
          f"{att.seconds:.1f} s)", file=sys.stderr)
    return replace(inp, attribution=att)


def cmd_report(args: argparse.Namespace) -> int:
    from simulator.analysis.run_analysis import analyse, with_tornado
    from simulator.outputs import check_out_file, writing

    source = Path(args.source)
    fmt = report_format(args.out, args.format)
    check_out_file(args.out, "--out")
    from simulator.calibration.report_section import check_arguments, with_calibration

    check_arguments(args, source)
    portfolio = portfolio_section(args, source) if source.exists() else None
    if source.is_dir():
        model, meta, ts, customers = _from_run_dir(source)
        inp = analyse(model, meta["scenario"]["hash"], ts, customers, list(meta["strategies"]), meta["replications"],
                      meta["seed"], meta["months"])
    elif source.exists():
        from simulator.experiment import default_workers, resolve_strategies, run_experiment
        from simulator.graph.compiler import compile_loaded
        from simulator.limits import preflight
        from simulator.scenario.loader import load

        loaded = load(source)
        model = compile_loaded(loaded)
        runs = len(resolve_strategies(loaded.scenario, None)) * (args.replications or loaded.scenario.run.replications)
        preflight([(loaded.scenario, args.months or loaded.scenario.metadata.horizon_months, runs)],
                  args.workers or default_workers(runs), kept=True, force=args.force)
        result = run_experiment(model, replications=args.replications, seed=args.seed, months=args.months,
                                workers=args.workers)
        inp = analyse(model, loaded.content_hash, result.timeseries, result.customers, result.strategies,
                      result.replications, result.seed, result.months)
    else:
        raise UsageError(f"no such file or folder: {args.source}")
    report_input = inp if args.no_tornado else with_tornado(inp, args.workers)
    if portfolio is not None:
        from dataclasses import replace

        report_input = replace(report_input, portfolio=portfolio)
    report_input = with_calibration(report_input, args, source)
    if getattr(args, "explain", False):
        report_input = with_attribution(report_input, args.workers)
    with writing("--out", args.out):
        write_report(report_input, args.out, fmt)
    print(f"wrote {args.out}")
    return 0
