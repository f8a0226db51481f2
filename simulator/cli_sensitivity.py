"""`spc sensitivity FILE`: which parameters and causal links drive a KPI most (tornado and Morris)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from simulator.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    from simulator.cli_run import _positive_int, _seed

    p = sub.add_parser("sensitivity", help="tornado of one-at-a-time swings and Morris screening of a KPI")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--kpi", default="npv", help="result metric: npv (final) or any column (mean of the last 12 months)")
    p.add_argument("--strategy", default="baseline")
    p.add_argument("--swing", type=float, default=20.0, help="± percent around each base value (default 20)")
    p.add_argument("--replications", type=_positive_int, default=2, help="replications per variant (default 2)")
    p.add_argument("--seed", type=_seed)
    p.add_argument("--months", type=_positive_int)
    p.add_argument("--morris", type=int, default=0, metavar="R", help="also run Morris screening with R trajectories")
    p.add_argument("--only", help="comma-separated parameter paths (default: every link effect and numeric parameter)")
    p.add_argument("--top", type=_positive_int, default=15, help="rows to print (default 15)")
    p.add_argument("--workers", type=_positive_int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_sensitivity)


def cmd_sensitivity(args: argparse.Namespace) -> int:
    from simulator.analysis.sensitivity import morris, tornado
    from simulator.experiment import default_workers
    from simulator.results import metric_names
    from simulator.scenario.loader import load
    from simulator.scenario.paths import numeric_parameters

    if not Path(args.file).exists():
        raise UsageError(f"no such file: {args.file}")
    loaded = load(args.file)
    sc = loaded.scenario
    if args.strategy not in sc.strategy_names():
        from simulator.errors import closest

        raise UsageError(f"unknown strategy '{args.strategy}' ({closest(args.strategy, sc.strategy_names()) or 'see spc validate'})")
    if args.kpi not in metric_names(sc):
        from simulator.errors import closest

        raise UsageError(f"unknown metric '{args.kpi}' ({closest(args.kpi, metric_names(sc)) or 'see the README'})")
    if not 0 < args.swing < 100:
        raise UsageError("--swing is a percentage between 0 and 100")
    if args.morris < 0:
        raise UsageError("--morris takes a number of trajectories (0 = off)")
    data = {k: v for k, v in loaded.data.items() if k != "extends"}
    available = numeric_parameters(data)
    only = [s.strip() for s in args.only.split(",")] if args.only else None
    for name in only or []:
        if name not in available:
            from simulator.errors import closest

            raise UsageError(f"unknown parameter '{name}' ({closest(name, available) or 'e.g. ' + next(iter(available))})")
    seed = args.seed if args.seed is not None else sc.run.seed
    months = args.months or sc.metadata.horizon_months
    workers = args.workers or default_workers(1000)
    common = dict(strategy=args.strategy, metric=args.kpi, swing=args.swing / 100, replications=args.replications,
                  seed=seed, months=months, workers=workers, parameters=only)
    with _progress(args.json) as report:
        torn = tornado(data, progress=report("one-at-a-time"), **common)
        mor = morris(data, trajectories=args.morris, progress=report("Morris"), **common) if args.morris else None
    if args.json:
        doc = {"scenario": sc.metadata.name, "kpi": args.kpi, "strategy": args.strategy, "swing_percent": args.swing,
               "replications": args.replications, "seed": seed, "months": months,
               "tornado": json.loads(torn.to_json(orient="records")),
               "morris": json.loads(mor.to_json(orient="records")) if mor is not None else None}
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    _print(torn, mor, args, sc)
    return 0


class _progress:
    """A rich progress bar on a terminal; silent otherwise."""

    def __init__(self, quiet: bool):
        self.quiet = quiet or not sys.stderr.isatty()
        self.bar = None

    def __enter__(self):
        if not self.quiet:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                transient=True)
            self.bar.__enter__()
        return self.report

    def report(self, label: str):
        if self.bar is None:
            return None
        task = self.bar.add_task(label, total=None)
        return lambda done, total: self.bar.update(task, completed=done, total=total)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)
        return False


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def _print(torn, mor, args, sc) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 140))
    base = torn["kpi_base"].iloc[0] if len(torn) else float("nan")
    table = Table(title=f"{sc.metadata.name}: {args.kpi} of {args.strategy} (base {base:,.2f}); "
                        f"each parameter ±{args.swing:g}%, {args.replications} replications on common random numbers")
    for col in ("parameter", "low → high", "KPI at low", "KPI at high", "swing", ""):
        table.add_column(col, justify="left" if col in ("parameter", "") else "right", no_wrap=col == "parameter")
    largest = torn["swing"].max() if len(torn) else 0
    for r in torn.head(args.top).itertuples():
        bar = "█" * int(round(20 * r.swing / largest)) if largest and r.swing == r.swing else ""
        table.add_row(r.parameter, f"{_num(r.low_value)} → {_num(r.high_value)}", f"{r.kpi_low:,.2f}", f"{r.kpi_high:,.2f}",
                      f"{r.swing:,.2f}" if r.swing == r.swing else "invalid range", bar)
    console.print(table)
    if mor is not None:
        mt = Table(title="Morris screening (effect of moving a parameter across its whole ±range)")
        for col in ("parameter", "mu*", "mu", "sigma"):
            mt.add_column(col, justify="left" if col == "parameter" else "right")
        for r in mor.head(args.top).itertuples():
            mt.add_row(r.parameter, f"{r.mu_star:,.2f}", f"{r.mu:,.2f}", f"{r.sigma:,.2f}")
        console.print(mt)
