"""`spc run FILE`: simulate every strategy over replications and print the comparison."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.analysis.units import humanise, money, strategy_labels
from simulator.cli.common import horizons_arg, seed_arg
from simulator.errors import UsageError
from simulator.limits import add_force, months_arg, replications_arg, workers_arg
from simulator.results import SUMMARY_METRICS

if TYPE_CHECKING:
    import pandas as pd


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="simulate every strategy and print the comparison")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--strategies", help="comma-separated strategy names (default: all; baseline always runs)")
    p.add_argument("--replications", type=replications_arg,
                   help="replications per strategy, 1 to 10,000 (default: the file's run.replications)")
    p.add_argument("--seed", type=seed_arg, help="random seed (default: the file's run.seed)")
    p.add_argument("--months", type=months_arg, help="horizon in months, 1 to 600 (default: the file's metadata.horizon_months)")
    p.add_argument("--workers", type=workers_arg, help="worker processes, at most 4 per core (default: all cores)")
    add_force(p)
    p.add_argument("--out", metavar="DIR", help="write timeseries.parquet, customers.parquet, summary.csv, run.json")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    p.add_argument("--report", metavar="PATH", help="also write a report (HTML, or Markdown for a .md path)")
    p.add_argument("--no-tornado", action="store_true", help="with --report: skip the sensitivity runs of the tornado")
    p.add_argument("--horizons", type=horizons_arg, metavar="M1,M2,...",
                   help="run once per horizon (same seed and replications) and print the rankings side by side")
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
        "valuation": valuation_document(loaded.scenario, result),
        "capacity": capacity_document(loaded.scenario, result),
        "recommendation": recommendation_document(getattr(result, "recommendation", None)),
    }


def recommendation_document(rec) -> dict[str, Any] | None:
    return None if rec is None else {"strategy": rec.strategy, "headline": rec.headline, "reasons": list(rec.reasons)}


def print_recommendation(console, rec) -> None:
    """The decision panel: the same text as the terminal UI's first view and the report's top."""
    if rec is None:
        return
    from rich.markup import escape
    from rich.panel import Panel

    console.print(Panel("\n".join((f"[bold]{escape(rec.headline)}[/bold]", *map(escape, rec.reasons))),
                        title="Decision", title_align="left"))


def capacity_document(scenario, result) -> dict[str, Any]:
    """Time-driven ABC per strategy: capacity cost rate, each activity's volume, unit time and unit cost,
    used and unused capacity in minutes and money (totals over the horizon, mean over replications)."""
    from simulator.analysis.capacity import capacity_report

    return {strategy: report.document()
            for strategy, report in capacity_report(result.timeseries, scenario, result.strategies).items()}


def valuation_document(scenario, result) -> dict[str, Any]:
    """Value beyond the horizon: method, what the ranking used, the disagreement line, per strategy NPV,
    continuing value and firm value (mean and 95% CI over replications)."""
    from simulator.analysis.valuation import valuation_summary

    values = getattr(result, "valuation", None)
    per_strategy: dict[str, Any] = {}
    if values is not None and not values.empty:
        for r in valuation_summary(values, result.strategies).to_dict("records"):
            per_strategy[r["strategy"]] = {
                c: {"mean": _num(r[c]), "ci_low": _num(r[f"{c}_ci_low"]), "ci_high": _num(r[f"{c}_ci_high"])}
                for c in ("npv", "continuing_value", "firm_value")
            } | {"active_customers": _num(r["active_customers"])}
    return {
        "method": scenario.valuation.method, "rank_on": scenario.valuation.rank_on,
        "ranked_on": result.comparison.attrs.get("ranked_on", "npv"),
        "ranking_note": getattr(result, "ranking_note", None), "strategies": per_strategy,
    }


def _num(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def cmd_run(args: argparse.Namespace) -> int:
    from simulator.experiment import default_workers, resolve_strategies
    from simulator.graph.compiler import compile_loaded
    from simulator.limits import preflight
    from simulator.outputs import check_out_dir, check_out_file
    from simulator.scenario.loader import load

    if not Path(args.file).exists():
        raise UsageError(f"no such file: {args.file}")
    if args.out:
        check_out_dir(args.out, "--out")
    if args.report:
        check_out_file(args.report, "--report")
    loaded = load(args.file)
    model = compile_loaded(loaded)
    requested = [s.strip() for s in args.strategies.split(",") if s.strip()] if args.strategies else None
    strategies = resolve_strategies(loaded.scenario, requested)
    reps = args.replications or loaded.scenario.run.replications
    runs = len(strategies) * reps
    horizons = args.horizons or [args.months or loaded.scenario.metadata.horizon_months]
    preflight([(loaded.scenario, h, runs) for h in horizons], args.workers or default_workers(runs), kept=True,
              force=args.force)
    if args.horizons:
        return _run_horizons(loaded, model, strategies, reps, args)
    result = _run_with_progress(model, strategies, reps, args, quiet=args.json)
    # (pandas: imported while the workers ran, see run_experiment)
    from simulator.analysis.run_analysis import analyse

    inp = analyse(model, loaded.content_hash, result.timeseries, result.customers, result.strategies,
                  result.replications, result.seed, result.months)
    document = run_document(loaded, inp)
    if args.out:
        from simulator.export import write_run
        from simulator.outputs import writing

        with writing("--out", args.out):
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
        from simulator.analysis.run_analysis import with_tornado
        from simulator.cli.report import report_format, write_report
        from simulator.outputs import writing

        report_input = inp if args.no_tornado else with_tornado(inp, args.workers)
        with writing("--report", args.report):
            write_report(report_input, args.report, report_format(args.report, None))
        if not args.json:
            print(f"wrote {args.report}")
    return 0


def _run_with_progress(model, strategies, reps, args, quiet: bool, months: int | None = None):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from simulator.experiment import run_experiment

    kwargs = dict(strategies=strategies, replications=reps, seed=args.seed,
                  months=args.months if months is None else months, workers=args.workers)
    if quiet or not sys.stderr.isatty():
        return run_experiment(model, **kwargs)
    columns = (TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TextColumn("runs"),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        job = bar.add_task("runs", total=len(strategies) * reps)
        return run_experiment(model, progress=lambda done, total: bar.update(job, completed=done), **kwargs)


def _fmt(metric: str, mean: float, lo: float, hi: float, currency: str) -> str:
    from simulator.analysis.summary import format_figure

    # mean ± half, or mean [low, high] when the CI is asymmetric; money with its currency, no cents
    return format_figure(metric, mean, lo, hi, currency)


def print_tables(scenario, result) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 180))
    currency = scenario.metadata.currency
    names = strategy_labels(scenario)
    table = Table(title=f"{scenario.metadata.name}: {result.months} months, {result.replications} replications, "
                        f"seed {result.seed}; money in {currency}; mean ± 95% CI, or mean [95% CI]")
    table.add_column("strategy", style="bold", no_wrap=True)
    for label in SUMMARY_METRICS.values():
        table.add_column(label, justify="right")
    for strategy in result.strategies:
        rows = result.summary[result.summary["strategy"] == strategy].set_index("metric")
        table.add_row(names.get(strategy, humanise(strategy)),
                      *(_fmt(m, rows.at[m, "mean"], rows.at[m, "ci_low"], rows.at[m, "ci_high"], currency)
                        for m in SUMMARY_METRICS))
    console.print(table)
    if len(result.comparison):
        console.print(comparison_table(result.comparison, currency, names))
        if getattr(result, "ranking_note", None):
            console.print(result.ranking_note, markup=False, highlight=False)
    if len(result.scorecard):
        console.print(scorecard_table(result.scorecard, result.strategies, names))
    print_recommendation(console, getattr(result, "recommendation", None))


_STATUS_STYLE = {"green": "[green]● green[/]", "amber": "[yellow]● amber[/]", "red": "[red]● red[/]"}


def comparison_table(cmp: pd.DataFrame, currency: str, names: dict[str, str] | None = None):
    """The comparison against baseline; money with the currency ('€456k'), strategies by their labels."""
    import pandas as pd
    from rich.table import Table

    from simulator.analysis.comparison import p_better_text

    on_firm = cmp.attrs.get("ranked_on") == "firm_value"
    ranked = "firm value" if on_firm else "NPV"
    table = Table(title=f"Against baseline (paired over replications; ranked on {ranked}; P(better) and verdict judge "
                        f"{ranked}; {currency})")
    firm = ("Δ firm value [95% CI]", "right")
    columns = [("#", "right"), ("strategy", "left"), *([firm] if on_firm else []), ("Δ NPV [95% CI]", "right"),
               *([] if on_firm or not cmp.attrs.get("valued") else [firm]), ("P(better)", "right"),
               ("spend", "right"), ("ROI", "right"), ("payback", "right"), ("Δ sat.", "right"), ("verdict", "left")]
    for col, justify in columns:
        table.add_column(col, justify=justify, no_wrap=True)
    table.caption = ("unclear: the 95% CI of the difference spans 0; ~N reps: replications a paired t test needs to "
                     "resolve it with 80% power. P(better): replications won, with the 95% interval of that share.")
    for r in cmp.to_dict("records"):
        payback = "never" if r["payback_month"] is None or pd.isna(r["payback_month"]) else f"month {int(r['payback_month'])}"
        roi = "-" if pd.isna(r["roi"]) else f"{r['roi']:.0%}"
        if r["distinguishable"]:
            verdict = "better" if r["delta_decision"] > 0 else "worse"
        else:
            need = r["replications_needed"]
            verdict = "unclear" + ("" if need is None or pd.isna(need) else f", ~{int(need)} reps")
        npv = _ci_text(r["delta_npv"], r["ci_low"], r["ci_high"], currency)
        firm = _firm_text(r, currency)
        values = [firm, npv] if on_firm else [npv] + ([firm] if cmp.attrs.get("valued") else [])
        label = (names or {}).get(r["strategy"], humanise(r["strategy"]))
        table.add_row(str(r["rank"]), label, *values, p_better_text(r), money(r["spend"], currency), roi, payback,
                      f"{r['delta_satisfaction']:+.2f}", verdict)
    return table


def scorecard_table(card: pd.DataFrame, strategies, labels: dict[str, str] | None = None):
    from rich.table import Table

    from simulator.analysis.scorecard import rollup

    persp = rollup(card, "perspective")
    table = Table(title="Balanced scorecard by perspective (status of the weighted KPIs; P(green): share of "
                        "replications whose weighted roll-up is green)")
    table.add_column("strategy", no_wrap=True)
    names = list(dict.fromkeys(persp["perspective"]))
    for name in names:
        table.add_column(humanise(name))
    for strategy in strategies:
        sub = persp[persp["strategy"] == strategy].set_index("perspective")
        table.add_row((labels or {}).get(strategy, humanise(strategy)), *(f"{_STATUS_STYLE[sub.at[n, 'status']]} {sub.at[n, 'p_green']:.0%}" for n in names))
    return table


def _ci_text(mean: float, low: float, high: float, currency: str | None) -> str:
    """'+€12.3k [−€4.1k, +€28.7k]': a signed difference with its interval, in the scenario's currency."""
    return f"{money(mean, currency, signed=True)} [{money(low, currency, signed=True)}, {money(high, currency, signed=True)}]"


def _firm_text(r: dict, currency: str | None = None) -> str:
    import pandas as pd

    if pd.isna(r.get("delta_firm_value", float("nan"))):
        return "-"
    return _ci_text(r["delta_firm_value"], r["firm_ci_low"], r["firm_ci_high"], currency)


def _run_horizons(loaded, model, strategies, reps, args) -> int:
    """`spc run FILE --horizons 36,60,120`: the experiment once per horizon, rankings side by side."""
    from simulator.analysis.run_analysis import analyse

    if args.months or args.out or args.report:
        raise UsageError("--horizons cannot be combined with --months, --out or --report")
    documents, analyses = [], []
    for months in args.horizons:
        result = _run_with_progress(model, strategies, reps, args, quiet=args.json, months=months)
        inp = analyse(model, loaded.content_hash, result.timeseries, result.customers, result.strategies,
                      result.replications, result.seed, result.months)
        analyses.append(inp)
        documents.append({**run_document(loaded, inp), "ranking": horizon_ranking(inp.comparison)})
    if args.json:
        json.dump(documents, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 180))
    console.print(horizons_table(loaded.scenario, analyses))
    for inp in analyses:
        note = inp.ranking_note or "NPV and firm value rank the strategies alike."
        console.print(f"{inp.months} months: {note}", markup=False, highlight=False)
    return 0


def horizon_ranking(cmp: pd.DataFrame) -> list[dict[str, Any]]:
    """Per strategy in rank order: rank, ranks on NPV and on firm value, Δ NPV and Δ firm value with 95% CIs."""
    doc = []
    for r in cmp.to_dict("records"):
        doc.append({
            "strategy": r["strategy"], "rank": int(r["rank"]),
            "rank_npv": None if r.get("rank_npv") is None or math.isnan(r["rank_npv"]) else int(r["rank_npv"]),
            "rank_firm_value": None if r.get("rank_firm_value") is None or math.isnan(r["rank_firm_value"])
            else int(r["rank_firm_value"]),
            "delta_npv": {"mean": _num(r["delta_npv"]), "ci_low": _num(r["ci_low"]), "ci_high": _num(r["ci_high"])},
            "delta_firm_value": {"mean": _num(r.get("delta_firm_value")), "ci_low": _num(r.get("firm_ci_low")),
                                 "ci_high": _num(r.get("firm_ci_high"))},
        })
    return doc


def horizons_table(scenario, analyses):
    """One row per strategy; per horizon its rank, Δ NPV and Δ firm value against baseline."""
    from rich.table import Table

    first = analyses[0]
    ranked = "firm value" if first.comparison.attrs.get("ranked_on") == "firm_value" else "NPV"
    table = Table(title=f"{scenario.metadata.name}: rankings by horizon ({first.replications} replications, seed "
                        f"{first.seed}; ranked on {ranked}; Δ against baseline, mean; {scenario.metadata.currency})")
    table.add_column("strategy", style="bold", no_wrap=True)
    for inp in analyses:
        for label in ("#", "Δ NPV", "Δ firm value"):
            table.add_column(f"{label} ({inp.months}m)" if label == "#" else label, justify="right")
    currency, labels = scenario.metadata.currency, strategy_labels(scenario)
    names = [s for s in first.strategies if s != "baseline"]
    for name in names:
        cells = []
        for inp in analyses:
            row = inp.comparison[inp.comparison["strategy"] == name]
            if row.empty:
                cells += ["-", "-", "-"]
                continue
            r = row.iloc[0]
            cells += [str(int(r["rank"])), money(r["delta_npv"], currency, signed=True),
                      money(r.get("delta_firm_value", float("nan")), currency, signed=True)]
        table.add_row(labels.get(name, humanise(name)), *cells)
    return table
