"""`spc explain FILE` (why a metric moved, path by path) and `spc loops FILE` (which loop drives it when)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from simulator.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    from simulator.cli.common import positive_int, seed_arg
    from simulator.limits import months_arg, permutations_arg, replications_arg, workers_arg

    p = sub.add_parser("explain", help="why a metric moved: Shapley attribution over causal pathways, by counterfactual runs")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--metric", help="npv, firm_value, or any engine metric or node (mean over the horizon); default npv "
                   "(profit with --method paths)")
    p.add_argument("--method", choices=("shapley", "paths"), default="shapley",
                   help="shapley (default): counterfactual runs with pathway groups frozen at baseline; paths: the "
                        "older local-regression split along paths")
    p.add_argument("--groups", default="auto", metavar="auto|FILE",
                   help="pathway groups: auto (the chain's stages) or a YAML file of name -> list of elements")
    p.add_argument("--permutations", type=permutations_arg, default=64,
                   help="sampled permutations per replication beyond 8 groups (default 64, at most 10,000)")
    p.add_argument("--strategy", help="strategy to explain (default: the scenario's first)")
    p.add_argument("--month", type=positive_int, help="explain the change at this month (default: mean over the horizon)")
    p.add_argument("--replications", type=replications_arg,
                   help="replications on common random numbers (default: the scenario's for shapley, 4 for paths)")
    p.add_argument("--seed", type=seed_arg)
    p.add_argument("--months", type=months_arg)
    p.add_argument("--top", type=positive_int, default=12, help="paths and links to print (default 12)")
    p.add_argument("--workers", type=workers_arg)
    p.add_argument("--executor", choices=("local", "processes", "dask"),
                   help="where the counterfactual runs go (default: this process or local processes); the values "
                        "do not depend on it")
    p.add_argument("--scheduler", metavar="ADDRESS", help="with --executor dask: a running scheduler, tcp://host:8786")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("loops", help="feedback loops and which one dominates a metric, as a few phases")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--metric", default="profit")
    p.add_argument("--strategy", default="baseline")
    p.add_argument("--replications", type=replications_arg, default=40,
                   help="replications averaged for the trajectory (default 40; the first 16 also measure the engine's "
                        "link gains by counterfactual runs)")
    p.add_argument("--seed", type=seed_arg)
    p.add_argument("--months", type=months_arg)
    p.add_argument("--workers", type=workers_arg)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_loops)


def _model(path: str):
    from simulator.graph.compiler import compile_file

    if not Path(path).exists():
        raise UsageError(f"no such file: {path}")
    return compile_file(path)


def _strategy(model, name: str | None, allow_baseline: bool) -> str:
    from simulator.errors import closest

    names = model.scenario.strategy_names()
    if name is None:
        if len(names) < 2:
            raise UsageError("the scenario has no strategy to compare with the baseline")
        return names[1]
    if name not in names or (name == "baseline" and not allow_baseline):
        choices = [n for n in names if allow_baseline or n != "baseline"]
        raise UsageError(f"unknown strategy '{name}' ({closest(name, choices) or 'choose one of: ' + ', '.join(choices)})")
    return name


def _num(x: float) -> str:
    return f"{x:+,.0f}" if abs(x) >= 1000 else f"{x:+.4g}"


def cmd_explain(args: argparse.Namespace) -> int:
    from simulator.analysis.explain import SUM_TOLERANCE, explain

    model = _model(args.file)
    strategy = _strategy(model, args.strategy, allow_baseline=False)
    if args.method == "shapley":
        from simulator.cli.shapley import cmd_shapley

        return cmd_shapley(args, model, strategy)
    if args.executor or args.scheduler:
        raise UsageError("--executor and --scheduler apply to the Shapley method (not --method paths)")
    args.metric = args.metric or "profit"
    args.replications = args.replications or 4
    ex = explain(model, args.metric, strategy, month=args.month, replications=args.replications, seed=args.seed,
                 months=args.months, workers=args.workers)
    if args.json:
        json.dump(ex.as_document(), sys.stdout, indent=2, default=float)
        sys.stdout.write("\n")
        return 0
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from simulator.cli.shapley import _figure

    fig = _figure(ex.metric, model.scenario.metadata.currency)  # the metric's unit; node deltas stay plain numbers
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 160))
    when = f"at month {ex.month}" if ex.month else ("at the horizon" if ex.metric in ("npv", "cumulative_profit")
                                                     else f"mean over {ex.months} months")
    console.print(f"[bold]{ex.metric}[/]: {strategy} − baseline, {when}: [bold]{fig(ex.total)}[/] "
                  f"({args.replications} replications on common random numbers)")
    table = Table(title=escape("Contribution per causal path (rows sum to the total; [own] = direct effect of an "
                               "initiative; [residual at X] = not explained by X's links)"))
    for col in ("path", "contribution", "share"):
        table.add_column(col, justify="left" if col == "path" else "right", overflow="fold")
    shown = ex.paths.head(args.top)
    for r in shown.itertuples():
        table.add_row(escape(r.path), fig(r.contribution), f"{r.share:.0%}")
    rest = ex.paths.iloc[len(shown):]
    if len(rest):
        table.add_row(f"({len(rest)} more rows)", fig(rest["contribution"].sum()), f"{rest['share'].sum():.0%}")
    table.add_row("[bold]total[/]", f"[bold]{fig(ex.paths['contribution'].sum())}[/]", "100%")
    console.print(table)
    gap = abs(ex.paths["contribution"].sum() - ex.total)
    console.print(f"Sum of rows − total = {gap:.2g} (tolerance {SUM_TOLERANCE:g} × |total|). Residual rows (what the "
                  f"local link splits do not explain: noise, clamping, non-linearity) sum to {fig(ex.residual)} "
                  f"({ex.residual / ex.total:.0%} of the total)." if ex.total else "No change to explain.")
    links = Table(title="Change carried by each link (any cut through the map sums to the total)")
    links.add_column("link")
    links.add_column("carried", justify="right")
    for r in ex.links.head(args.top).itertuples():
        links.add_row(r.link, fig(r.contribution))
    console.print(links)
    trace = Table(title="Trace of the shock: the month each node starts to move (≥10% of its peak change)")
    for col in ("month", "node", "Δ then", "Δ at the end", "via"):
        trace.add_column(col, justify="right" if col.startswith(("month", "Δ")) else "left")
    events = list(ex.events)
    for r in ex.trace.itertuples():
        while events and events[0][0] <= r.month:
            m, text = events.pop(0)
            trace.add_row(str(m), f"[italic]{text}[/]", "", "", "")
        trace.add_row(str(r.month), r.node, _num(r.delta_first), _num(r.delta_end), r.via)
    console.print(trace)
    return 0


def cmd_loops(args: argparse.Namespace) -> int:
    from simulator.analysis.loops import (
        dominance_phases,
        dominance_timeline,
        loop_ids,
        loops_for,
        phases_sentence,
        relevant_loops,
    )

    model = _model(args.file)
    strategy = _strategy(model, args.strategy, allow_baseline=True)
    loops = relevant_loops(model, args.metric)
    frame = loops_for(model, args.metric, strategy, replications=args.replications, seed=args.seed, months=args.months,
                      workers=args.workers) if loops else None
    timeline = dominance_timeline(frame) if frame is not None else None
    phases = dominance_phases(frame) if frame is not None else None
    ids = loop_ids(model.loops)
    if args.json:
        doc = {"metric": args.metric, "strategy": strategy,
               "loops": [{"id": ids[lp], "loop": lp.label, "polarity": lp.polarity} for lp in loops],
               "phases": [] if phases is None else phases.to_dict("records"),
               "summary": phases_sentence(phases) if phases is not None else "no loop",
               "timeline": [] if timeline is None else timeline.to_dict("records"),
               "scores": [] if frame is None else frame.to_dict("records")}
        json.dump(doc, sys.stdout, indent=2, default=float)
        sys.stdout.write("\n")
        return 0
    if not loops:
        print(f"no feedback loop reaches {args.metric} ({len(model.loops)} loops in the scenario)")
        return 0
    print(f"{len(loops)} feedback loops reach {args.metric} ({strategy}, mean of {args.replications} replications "
          "on common random numbers):")
    for lp in loops:
        print(f"  {ids[lp]:>4}  {lp.polarity:<12} {lp.label}")
    print("\nDominance phases: the loop with the largest |loop gain| (the product of its links' local gains on the "
          "smoothed mean\ntrajectory; engine links' gains measured by counterfactual runs), 'no dominant loop' where "
          "its lead over the\nrunner-up is within 3 bootstrap standard errors; phases under 3 months merged:")
    if phases is None or phases.empty:
        print("  none: nothing moves")
        return 0
    for r in phases.itertuples():
        months = f"month {r.first}" if r.first == r.last else f"months {r.first}-{r.last}"
        if r.loop_id in ("at rest", "no dominant loop"):
            print(f"  {months:<14} {r.loop_id}")
        else:
            print(f"  {months:<14} {r.loop_id:>4} {r.polarity:<12} mean share {r.mean_share:.0%}")
    print(f"\nIn short: {phases_sentence(phases)}.")
    return 0
