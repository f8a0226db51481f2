"""`spc sensitivity FILE`: which assumptions move a strategy's gain over baseline most (tornado and Morris)."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from simulator.errors import UsageError

FIRM_VALUE = "firm_value"
BAR = 16  # characters of the longest bar
MAX_TRAJECTORIES = 1000


def register(sub: argparse._SubParsersAction) -> None:
    from simulator.cli.common import positive_int, seed_arg
    from simulator.limits import add_force, months_arg, replications_arg, workers_arg

    p = sub.add_parser("sensitivity", help="tornado and Morris screening of a strategy's gain over baseline")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--kpi", default="npv",
                   help="npv (final, default), firm_value (NPV + continuing value), or any column (mean of the last 12 months)")
    p.add_argument("--strategy", help="the strategy whose difference from baseline is measured (default: the first "
                                      "strategy after baseline); 'baseline' measures baseline's own level instead")
    p.add_argument("--swing", type=float, default=20.0, help="± percent around each base value (default 20)")
    p.add_argument("--replications", type=replications_arg, default=4,
                   help="replications per variant and arm (default 4; at least 2 for the swings' confidence intervals)")
    p.add_argument("--seed", type=seed_arg)
    p.add_argument("--months", type=months_arg)
    p.add_argument("--morris", type=int, default=0, metavar="R",
                   help="also run Morris screening with R trajectories (0 to 1,000)")
    p.add_argument("--only", help="comma-separated parameter paths (default: every link effect, numeric parameter and "
                                  "effect size of the compared strategy's initiatives; initiative costs by path too)")
    p.add_argument("--top", type=positive_int, default=15, help="rows to print (default 15)")
    p.add_argument("--workers", type=workers_arg)
    p.add_argument("--json", action="store_true")
    add_force(p)
    p.set_defaults(func=cmd_sensitivity)


def cmd_sensitivity(args: argparse.Namespace) -> int:
    from simulator.analysis.sensitivity import morris, tornado
    from simulator.cli.progress import task_progress
    from simulator.errors import closest
    from simulator.experiment import default_workers
    from simulator.results import metric_names
    from simulator.scenario.loader import load
    from simulator.scenario.paths import numeric_parameters

    if not Path(args.file).exists():
        raise UsageError(f"no such file: {args.file}")
    loaded = load(args.file)
    sc = loaded.scenario
    names = sc.strategy_names()
    strategy = args.strategy or (names[1] if len(names) > 1 else "baseline")
    if strategy not in names:
        raise UsageError(f"unknown strategy '{strategy}' ({closest(strategy, names) or 'see spc validate'})")
    kpis = [*metric_names(sc), FIRM_VALUE]
    if args.kpi not in kpis:
        raise UsageError(f"unknown metric '{args.kpi}' ({closest(args.kpi, kpis) or 'see the README'})")
    if not 0 < args.swing < 100:
        raise UsageError("--swing is a percentage between 0 and 100")
    if not 0 <= args.morris <= MAX_TRAJECTORIES:
        raise UsageError(f"--morris takes a number of trajectories, 0 (off) to {MAX_TRAJECTORIES:,}")
    data = {k: v for k, v in loaded.data.items() if k != "extends"}
    available = numeric_parameters(data)
    only = [s.strip() for s in args.only.split(",")] if args.only else None
    for name in only or []:
        if name not in available and not _is_number_at(data, name):  # e.g. initiatives.NAME.monthly_cost is fine
            raise UsageError(f"unknown parameter '{name}' ({closest(name, available) or 'e.g. ' + next(iter(available))})")
    seed = args.seed if args.seed is not None else sc.run.seed
    months = args.months or sc.metadata.horizon_months
    workers = args.workers or default_workers(1000)
    baseline = None if strategy == "baseline" else "baseline"
    swung = len(only or available)  # each parameter at its low and its high, both arms, plus the base
    runs = (2 * swung + 1 + args.morris * (swung + 1)) * 2 * args.replications
    from simulator.limits import preflight

    preflight([(sc, months, runs)], workers, kept=False, force=args.force)
    common = dict(strategy=strategy, metric=args.kpi, swing=args.swing / 100, replications=args.replications,
                  seed=seed, months=months, workers=workers, parameters=only, baseline=baseline)
    with task_progress(args.json) as report:
        torn = tornado(data, progress=report("one-at-a-time"), **common)
        mor = morris(data, trajectories=args.morris, progress=report("Morris"), **common) if args.morris else None
    if args.json:
        doc = {"scenario": sc.metadata.name, "kpi": args.kpi, "measure": torn.attrs["measure"], "strategy": strategy,
               "baseline": baseline, "swing_percent": args.swing, "replications": args.replications, "seed": seed,
               "months": months, "base": torn.attrs["base"], "skipped": torn.attrs["skipped"],
               "tornado": json.loads(torn.to_json(orient="records")),
               "morris": json.loads(mor.to_json(orient="records")) if mor is not None else None}
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    _print(torn, mor, args, sc)
    return 0


def _is_number_at(data: dict, path: str) -> bool:
    from simulator.scenario.paths import get_value

    try:
        value = get_value(data, path)
    except UsageError:
        return False
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def _formatter(kpi: str, currency: str):
    """Money KPIs by magnitude with their currency ('€1.2M', '−€77k', the currency also in the headers); other KPIs
    to 4 significant digits."""
    from simulator.analysis.units import money
    from simulator.results import MONEY

    if kpi in (*MONEY, "npv", "cumulative_profit", FIRM_VALUE):
        return (lambda x: money(x, currency)), f" ({currency})"
    return (lambda x: "-" if x != x else f"{x:,.4g}"), ""


def _print(torn, mor, args, sc) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 160))
    fmt, unit = _formatter(args.kpi, sc.metadata.currency)
    a = torn.attrs
    base = a["base"]
    reps = a["replications"]
    kpi = "NPV" if args.kpi == "npv" else "firm value" if args.kpi == FIRM_VALUE else args.kpi
    from simulator.analysis.units import humanise, strategy_labels

    names = strategy_labels(sc)
    strategy, baseline = (names.get(a[k]) or humanise(a[k]) for k in ("strategy", "baseline"))
    if a["measure"] == "delta":
        what = f"Δ{kpi}{unit} = {strategy} − {baseline}"
        col = f"Δ{kpi}"
    else:
        what = f"{kpi}{unit} of {strategy} itself — a level, not a difference from baseline"
        col = kpi
    ci = f" [95% CI {fmt(base['ci_low'])}, {fmt(base['ci_high'])}]" if reps > 1 else ""
    table = Table(title=f"{sc.metadata.name}: {what}; base {fmt(base['mean'])}{ci}\n"
                        f"each parameter ±{args.swing:g}%, {reps} replications, every run on common random numbers; "
                        f"swing = {col} at high − at low, with its paired 95% CI")
    for name in ("parameter", "low → high", f"{col} at low", f"{col} at high", "swing [95% CI]", "", "resolved?"):
        table.add_column(name, justify="left" if name in ("parameter", "", "resolved?") else "right", no_wrap=True)
    largest = torn["swing"].abs().max() if len(torn) else 0
    low_col, high_col = ("delta_low", "delta_high") if a["measure"] == "delta" else ("kpi_low", "kpi_high")
    for r in torn.head(args.top).to_dict("records"):
        swing = r["swing"]
        if not math.isfinite(swing):
            table.add_row(r["parameter"], f"{_num(r['low_value'])} → {_num(r['high_value'])}", "-", "-",
                          "invalid range", "", "")
            continue
        status = ("no effect" if r["no_effect"] else "-" if r["resolved"] is None
                  else "yes" if r["resolved"] else "not resolved")
        style = "dim" if status in ("not resolved", "no effect") else ("green" if swing > 0 else "red")
        bar = Text("█" * int(round(BAR * abs(swing) / largest)) if largest else "", style=style)
        interval = f" [{fmt(r['swing_ci_low'])}, {fmt(r['swing_ci_high'])}]" if reps > 1 else ""
        table.add_row(r["parameter"], f"{_num(r['low_value'])} → {_num(r['high_value'])}", fmt(r[low_col]),
                      fmt(r[high_col]), f"{fmt(swing)}{interval}", bar, Text(status, style=style))
    console.print(table)
    hidden = len(torn) - min(len(torn), args.top)
    notes = []
    if hidden:
        notes.append(f"{hidden} more parameters below (--top)")
    if a["skipped"]:
        notes.append(f"{len(a['skipped'])} skipped, not run: " + "; ".join(
            f"{reason} ({n})" for reason, n in _count(a["skipped"].values()).items()))
    if reps < 2:
        notes.append("one replication: no confidence intervals (use --replications 4 or more)")
    else:
        notes.append("not resolved = the swing's 95% CI spans 0: at this many replications the data cannot tell its "
                     "sign; add replications or treat the parameter as minor")
    console.print("\n".join(notes), style="dim")
    if mor is not None:
        mt = Table(title=f"Morris screening of {col}{unit} (effect of moving a parameter across its whole ±range)")
        for name in ("parameter", "mu*", "± (95%)", "mu", "sigma"):
            mt.add_column(name, justify="left" if name == "parameter" else "right")
        for r in mor.head(args.top).itertuples():
            mt.add_row(r.parameter, fmt(r.mu_star), fmt(r.mu_star_conf), fmt(r.mu), fmt(r.sigma))
        console.print(mt)


def _count(reasons) -> dict[str, int]:
    out: dict[str, int] = {}
    for reason in reasons:
        key = reason.split("'")[0].strip() if reason.startswith("initiative") else reason
        key = "an initiative neither arm runs" if reason.startswith("initiative") else key
        out[key] = out.get(key, 0) + 1
    return out
