"""`spc run FILE`: simulate every strategy over replications and print the comparison."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.analysis.stats import format_money as _money
from simulator.errors import UsageError
from simulator.results import SUMMARY_METRICS

if TYPE_CHECKING:
    import pandas as pd


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{value}'") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {number}")
    return number


def _seed(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{value}'") from None
    if not 0 <= number < 2**63:
        raise argparse.ArgumentTypeError("a seed is a whole number from 0 to 2**63-1")
    return number


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="simulate every strategy and print the comparison")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--strategies", help="comma-separated strategy names (default: all; baseline always runs)")
    p.add_argument("--replications", type=_positive_int, help="replications per strategy (default: the file's run.replications)")
    p.add_argument("--seed", type=_seed, help="random seed (default: the file's run.seed)")
    p.add_argument("--months", type=_positive_int, help="horizon in months (default: the file's metadata.horizon_months)")
    p.add_argument("--workers", type=_positive_int, help="worker processes (default: all cores)")
    p.add_argument("--out", metavar="DIR", help="write timeseries.parquet, customers.parquet, summary.csv, run.json")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    p.add_argument("--report", metavar="PATH", help="also write a report (HTML, or Markdown for a .md path)")
    p.add_argument("--no-tornado", action="store_true", help="with --report: skip the sensitivity runs of the tornado")
    p.set_defaults(func=cmd_run)


def run_document(loaded, result) -> dict[str, Any]:
    """The JSON of a run: reproduction facts, headline figures, scorecard and comparison."""
    from simulator import __version__
    from simulator.analysis.comparison import comparison_document
    from simulator.analysis.scorecard import scorecard_document

    strategies: dict[str, Any] = {}
    for strategy in result.strategies:
        rows = result.summary[result.summary["strategy"] == strategy]
        strategies[strategy] = {
            r.metric: {"mean": _num(r.mean), "ci_low": _num(r.ci_low), "ci_high": _num(r.ci_high)}
            for r in rows.itertuples()
        }
    return {
        "scenario": {"name": loaded.scenario.metadata.name, "file": str(loaded.path), "hash": loaded.content_hash},
        "seed": result.seed,
        "replications": result.replications,
        "months": result.months,
        "version": __version__,
        "currency": loaded.scenario.metadata.currency,
        "strategies": strategies,
        "scorecard": scorecard_document(result.scorecard),
        "comparison": comparison_document(result.comparison),
    }


def _num(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def cmd_run(args: argparse.Namespace) -> int:
    from simulator.experiment import resolve_strategies
    from simulator.graph.compiler import compile_loaded
    from simulator.report import analyse
    from simulator.scenario.loader import load

    if not Path(args.file).exists():
        raise UsageError(f"no such file: {args.file}")
    loaded = load(args.file)
    model = compile_loaded(loaded)
    requested = [s.strip() for s in args.strategies.split(",") if s.strip()] if args.strategies else None
    strategies = resolve_strategies(loaded.scenario, requested)
    reps = args.replications or loaded.scenario.run.replications
    result = _run_with_progress(model, strategies, reps, args, quiet=args.json)
    inp = analyse(model, loaded.content_hash, result.timeseries, result.customers, result.strategies,
                  result.replications, result.seed, result.months)
    document = run_document(loaded, inp)
    if args.out:
        from simulator.export import write_run

        write_run(Path(args.out), inp.timeseries, inp.customers, inp.summary,
                  {**document, "scenario_data": loaded.scenario.as_data()})
    if args.json:
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_tables(loaded.scenario, inp)
        if args.out:
            print(f"wrote {args.out}/timeseries.parquet, customers.parquet, summary.csv, run.json")
    if args.report:
        from simulator.cli_report import report_format, write_report
        from simulator.report import with_tornado

        write_report(inp if args.no_tornado else with_tornado(inp, args.workers), args.report,
                     report_format(args.report, None))
        if not args.json:
            print(f"wrote {args.report}")
    return 0


def _run_with_progress(model, strategies, reps, args, quiet: bool):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from simulator.experiment import run_experiment

    kwargs = dict(strategies=strategies, replications=reps, seed=args.seed, months=args.months, workers=args.workers)
    if quiet or not sys.stderr.isatty():
        return run_experiment(model, **kwargs)
    columns = (TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TextColumn("runs"),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        job = bar.add_task("runs", total=len(strategies) * reps)
        return run_experiment(model, progress=lambda done, total: bar.update(job, completed=done), **kwargs)


def _fmt(metric: str, mean: float, lo: float, hi: float, currency: str) -> str:
    half = (hi - lo) / 2
    if metric in ("npv", "cumulative_revenue"):
        return f"{_money(mean)} ± {_money(half)}"
    if metric == "active_customers":
        return f"{mean:,.0f} ± {half:,.0f}"
    if metric == "employee_turnover":
        return f"{mean:.1%} ± {half:.1%}"
    return f"{mean:.2f} ± {half:.2f}"


def print_tables(scenario, result) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 160))
    currency = scenario.metadata.currency
    table = Table(title=f"{scenario.metadata.name}: {result.months} months, {result.replications} replications, "
                        f"seed {result.seed}; money in {currency}; mean ± 95% CI")
    table.add_column("strategy", style="bold", no_wrap=True)
    for label in SUMMARY_METRICS.values():
        table.add_column(label, justify="right")
    for strategy in result.strategies:
        rows = result.summary[result.summary["strategy"] == strategy].set_index("metric")
        table.add_row(strategy, *(_fmt(m, rows.at[m, "mean"], rows.at[m, "ci_low"], rows.at[m, "ci_high"], currency)
                                  for m in SUMMARY_METRICS))
    console.print(table)
    if len(result.comparison):
        console.print(comparison_table(result.comparison, currency))
    if len(result.scorecard):
        console.print(scorecard_table(result.scorecard, result.strategies))


_STATUS_STYLE = {"green": "[green]● green[/]", "amber": "[yellow]● amber[/]", "red": "[red]● red[/]"}


def comparison_table(cmp: pd.DataFrame, currency: str):
    import pandas as pd
    from rich.table import Table

    table = Table(title=f"Against baseline (paired over replications; {currency})")
    for col, justify in (("#", "right"), ("strategy", "left"), ("Δ NPV (95% CI)", "right"), ("P(better)", "right"),
                         ("spend", "right"), ("ROI", "right"), ("payback", "right"), ("Δ revenue", "right"),
                         ("savings", "right"), ("Δ sat.", "right"), ("verdict", "left")):
        table.add_column(col, justify=justify, no_wrap=col in ("strategy", "Δ NPV (95% CI)", "verdict"))
    for r in cmp.to_dict("records"):
        payback = "never" if r["payback_month"] is None or pd.isna(r["payback_month"]) else f"month {int(r['payback_month'])}"
        roi = "-" if pd.isna(r["roi"]) else f"{r['roi']:.0%}"
        if r["distinguishable"]:
            verdict = "better" if r["delta_npv"] > 0 else "worse"
        else:
            need = r["replications_needed"]
            verdict = "not distinguishable yet" + ("" if need is None or pd.isna(need) else f" (~{int(need)} reps)")
        table.add_row(str(r["rank"]), r["strategy"], f"{_money(r['delta_npv'])} [{_money(r['ci_low'])}, {_money(r['ci_high'])}]",
                      f"{r['p_better']:.0%}", _money(r["spend"]), roi, payback, _money(r["revenue_growth"]),
                      _money(r["cost_savings"]), f"{r['delta_satisfaction']:+.2f}", verdict)
    return table


def scorecard_table(card: pd.DataFrame, strategies):
    from rich.table import Table

    from simulator.analysis.scorecard import rollup

    persp = rollup(card, "perspective")
    table = Table(title="Balanced scorecard by perspective (status of the weighted KPIs; P(green))")
    table.add_column("strategy", no_wrap=True)
    names = list(dict.fromkeys(persp["perspective"]))
    for name in names:
        table.add_column(name.replace("_", " "))
    for strategy in strategies:
        sub = persp[persp["strategy"] == strategy].set_index("perspective")
        table.add_row(strategy, *(f"{_STATUS_STYLE[sub.at[n, 'status']]} {sub.at[n, 'p_green']:.0%}" for n in names))
    return table
