"""`spc explain FILE --strategy S` (the default method): Shapley attribution over pathway groups, printed."""

from __future__ import annotations

import argparse
import json
import math
import sys

from simulator.errors import UsageError


def _num(x: float) -> str:
    if not math.isfinite(x):
        return "n/a"
    return f"{x:+,.0f}" if abs(x) >= 1000 else f"{x:+.4g}"


def _figure(metric: str, currency: str | None):
    """How the metric's values print: money with its currency ('+€12.3k') for a money metric, else `_num`."""
    from simulator.analysis.units import metric_kind, money

    if currency and metric_kind(metric) == "money":
        return lambda x: money(x, currency, signed=True) if math.isfinite(x) else "n/a"
    return _num


def cmd_shapley(args: argparse.Namespace, model, strategy: str) -> int:
    from simulator.analysis.attribution import attribute, default_groups, load_groups
    from simulator.cli.progress import task_progress

    if args.month is not None:
        raise UsageError("--month applies to --method paths (Shapley explains npv/firm_value at the horizon and any "
                         "other metric as its mean over the horizon)")
    metric = args.metric or "npv"
    executor = getattr(args, "executor", None)
    if getattr(args, "scheduler", None) and executor != "dask":
        raise UsageError("--scheduler is for --executor dask")
    try:
        groups = default_groups(model, strategy) if args.groups == "auto" else load_groups(args.groups, model)
    except FileNotFoundError:
        raise UsageError(f"no such group file: {args.groups}") from None
    except ValueError as e:
        raise UsageError(str(e)) from None
    if not groups:
        raise UsageError(f"strategy '{strategy}' has no pathway to attribute (no wired read port, segment effect or cost)")
    with task_progress(args.json) as report:
        try:
            att = attribute(model, strategy, metric, groups, replications=args.replications, seed=args.seed,
                            months=args.months, workers=args.workers, permutations=args.permutations,
                            progress=report("counterfactual runs"), top_interactions=args.top,
                            executor=executor, scheduler=getattr(args, "scheduler", None))
        except ValueError as e:
            raise UsageError(str(e)) from None
    if args.json:
        json.dump(att.as_document(), sys.stdout, indent=2, default=float)
        sys.stdout.write("\n")
        return 0
    from simulator.analysis.units import strategy_labels

    print_attribution(att, model.scenario.metadata.currency, strategy_labels(model.scenario).get(att.strategy))
    return 0


def print_attribution(att, currency: str | None = None, label: str | None = None) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    _num = _figure(att.metric, currency)

    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 140))
    when = "at the horizon" if att.metric in ("npv", "cumulative_profit", "firm_value") else f"mean over {att.months} months"
    m, lo, hi = att.total
    console.print(f"[bold]{att.metric}[/]: {escape(label or att.strategy)} − baseline, {when}: [bold]{_num(m)}[/] "
                  f"[{_num(lo)}, {_num(hi)}] (95% CI, {att.replications} replications on common random numbers)")
    method = "exact" if att.exact else f"sampled, {att.permutations} permutations per replication"
    table = Table(title=escape(f"Shapley value per pathway group ({method}): what the strategy changes through it; "
                               "the rows sum to the total"))
    for col in ("group", "Shapley", "95% CI", "share", "sign", "freezing it alone removes", "frozen elements"):
        table.add_column(col, justify="left" if col in ("group", "frozen elements") else "right", overflow="fold")
    for g in sorted(att.groups, key=lambda g: -abs(g.value)):
        share = f"{g.share:.0%}" if math.isfinite(g.share) else "-"
        table.add_row(escape(g.name), _num(g.value), f"[{_num(g.low)}, {_num(g.high)}]", share, g.sign,
                      f"{_num(g.alone[0])} [{_num(g.alone[1])}, {_num(g.alone[2])}]", escape(", ".join(g.elements)))
    om, olo, ohi = att.outside
    if om != 0 or olo != 0 or ohi != 0:
        table.add_row("[italic]outside the groups[/]", _num(om), f"[{_num(olo)}, {_num(ohi)}]",
                      f"{om / m:.0%}" if m else "-", "", "", "channels no group freezes")
    table.add_row("[bold]total[/]", f"[bold]{_num(m)}[/]", f"[{_num(lo)}, {_num(hi)}]", "100%", "", "", "")
    console.print(table)
    console.print("sign: + or − when the 95% interval excludes 0, ± when it does not. Efficiency: |Σ Shapley + outside "
                  f"− total| ≤ {att.efficiency_gap:.2g} in every replication.\n'Freezing it alone removes' is the "
                  "counterfactual check you can run yourself (that group frozen, every other free): it equals the "
                  "Shapley value plus half of each interaction the group takes part in (up to higher-order terms).")
    shown = [row for row in att.interactions if row[2:] != (0.0, 0.0, 0.0)]  # additive pairs: nothing to show
    if shown:
        inter = Table(title="Largest pairwise interactions v(i,j) − v(i) − v(j) + v(∅) (already shared out in the "
                            "values above)")
        for col in ("groups", "interaction", "95% CI"):
            inter.add_column(col, justify="left" if col == "groups" else "right")
        for a, b, im, ilo, ihi in shown:
            inter.add_row(escape(f"{a} × {b}"), _num(im), f"[{_num(ilo)}, {_num(ihi)}]")
        console.print(inter)
    console.print(f"{att.runs} runs ({att.replications} baselines + {att.runs - att.replications} counterfactual) "
                  f"in {att.seconds:.1f} s.")
