"""`spc play FILE`: the flight simulator. `--replay decisions.yaml` replays a saved game headless;
without it the interactive game opens in the TUI (when the TUI is installed)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from simulator.errors import UsageError

NO_TUI = "interactive play needs the TUI; use --replay"


def register(sub: argparse._SubParsersAction) -> None:
    from simulator.limits import bounded_int, workers_arg

    p = sub.add_parser("play", help="flight simulator: set levers each turn within a budget (--replay a saved game)")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--replay", metavar="DECISIONS", help="replay a decisions file and print the scorecard and debrief")
    p.add_argument("--no-debrief", action="store_true", help="skip the search for the best strategy")
    p.add_argument("--workers", type=workers_arg)
    p.add_argument("--budget", type=float, default=60_000.0, help="interactive: money a turn may commit (default 60000)")
    p.add_argument("--turn-months", type=bounded_int("months per turn", 60, "the decisions file's cap"), default=3, help="interactive: months per turn (default 3)")
    p.add_argument("--save", metavar="DECISIONS", help="interactive: where to save the decisions "
                   "(default FILE's name + _decisions.yaml)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_play)


def cmd_play(args: argparse.Namespace) -> int:
    if not Path(args.file).exists():
        raise UsageError(f"no such file: {args.file}")
    if not args.replay:
        from simulator.cli.common import plugins

        if not 0 <= args.budget <= 1e12:  # NaN fails this too
            raise UsageError("--budget is an amount from 0 to 1e12")
        interactive = plugins("spc.interactive").get("play")  # offered by the terminal UI when installed
        if interactive is None:
            print(NO_TUI, file=sys.stderr)
            return 2
        return int(interactive(args.file, budget=args.budget, turn_months=args.turn_months, save_to=args.save) or 0)
    from simulator.play import debrief, play_document, read_decisions, replay
    from simulator.scenario.loader import load

    loaded = load(args.file)
    decisions = read_decisions(args.replay)
    played = replay(loaded, decisions, workers=args.workers or 1)
    brief = None if args.no_debrief else debrief(loaded, played, workers=args.workers or 1)
    currency = loaded.scenario.metadata.currency
    if args.json:
        json.dump(play_document(played, brief, currency), sys.stdout, indent=2, default=float)
        sys.stdout.write("\n")
        return 0
    _print(loaded, played, brief)
    return 0


def _print(loaded, played, brief) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from simulator.analysis.units import money, names_of, strategy_labels
    from simulator.cli.run import comparison_table, scorecard_table
    from simulator.play import carried_over, lever_settings

    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 160))
    d = played.decisions
    sc = loaded.scenario
    currency = sc.metadata.currency
    inis = names_of(sc.initiatives)
    nodes = names_of(sc.network.nodes)
    turns = Table(title=f"{len(d.turns)} turns of {d.turn_months} months; budget {money(d.budget, currency)} a turn")
    for col in ("turn", "levers held", "initiatives running", "committed"):
        turns.add_column(col, justify="right" if col in ("turn", "committed") else "left")
    refs = {n.name: n.reference for n in sc.network.nodes if n.kind == "lever"}
    for i, (held, cost) in enumerate(zip(lever_settings(sc, d), played.costs, strict=True), start=1):
        moved = ", ".join(f"{nodes.get(k, k)} = {v:g}" for k, v in held.items() if v != refs[k]) or "-"
        continued, started, stopped = carried_over(d, i)
        running = [f"{inis.get(n, n)} (carried over)" for n in continued] + [f"{inis.get(n, n)} (new)" for n in started]
        text = ", ".join(running) or "-"
        if stopped:
            text += "; stopped: " + ", ".join(inis.get(n, n) for n in stopped)
        turns.add_row(str(cost.turn), escape(moved), escape(text), money(cost.total, currency))
    console.print(turns)
    names = strategy_labels(sc) | {"played": "your game"}
    console.print(comparison_table(played.comparison, currency, names))
    console.print(kpi_table(played, sc))
    console.print(scorecard_table(played.scorecard, ("baseline", "played"), names))
    if brief is None:
        return
    measure = "firm value" if brief.ranked_on == "firm_value" else "NPV"
    table = Table(title=f"Debrief after {brief.months} months: your game against the best strategy found (same seed, "
                        f"replications, months), ranked on {measure}")
    heads = ("#", "candidate", "kind", "firm value", "Δ firm value", "NPV", "Δ NPV", "within budget")
    for col in heads:
        table.add_column(col, justify="left" if col in ("candidate", "kind", "within budget") else "right")
    for i, r in enumerate(brief.candidates.itertuples(), 1):
        style = "bold" if r.candidate == "your game" else ""
        label = escape(r.candidate)
        table.add_row(str(i), f"[{style}]{label}[/]" if style else label, r.kind, money(r.firm_value, currency),
                      money(r.delta_firm_value, currency, signed=True), money(r.npv, currency),
                      money(r.delta_npv, currency, signed=True), "yes" if r.within_budget else "no")
    console.print(table)
    gap = brief.best_value - brief.played_value
    verdict = "you found the best strategy" if brief.best == "your game" else (
        f"the best within budget was {brief.best}, {money(gap, currency)} more {measure} than your game")
    console.print(f"Your game ranks {brief.rank} within budget on {measure}: {verdict}.", highlight=False)
    if brief.warning:
        console.print(f"[bold yellow]Caution:[/] {escape(brief.warning)}", highlight=False)


def kpi_table(played, scenario):
    """Each KPI after the months played against its target, pro-rated for flows (see simulator.play)."""
    from rich.table import Table

    from simulator.analysis.units import format_value
    from simulator.cli.run import _STATUS_STYLE
    from simulator.report import kpi_labels

    currency = scenario.metadata.currency
    labels = kpi_labels(scenario)
    targets = played.targets.set_index("kpi") if played.targets is not None and len(played.targets) else None
    table = Table(title=f"KPIs after {played.months} of {scenario.metadata.horizon_months} months: flows judged on "
                        "targets pro-rated to the months played, levels and rates on their own target")
    for col in ("KPI", "target", "baseline", "your game"):
        table.add_column(col, justify="left" if col == "KPI" else "right")
    card = played.scorecard
    for kpi in dict.fromkeys(card["kpi"]):
        sub = card[card["kpi"] == kpi].set_index("strategy")
        first = sub.iloc[0]
        name, unit = labels.get(kpi, (kpi, ""))
        arrow = "≥" if first["direction"] == "higher" else "≤"
        target = f"{arrow} {format_value(first['target'], first['metric'], currency, unit)}"
        if targets is not None and kpi in targets.index and targets.at[kpi, "factor"] != 1.0:
            full = format_value(targets.at[kpi, "full_target"], first["metric"], currency, unit)
            target += f" (pro-rated from {full})"
        cells = [f"{_STATUS_STYLE[sub.at[s, 'status']]} {format_value(sub.at[s, 'value'], sub.at[s, 'metric'], currency, unit)}"
                 if s in sub.index else "-" for s in ("baseline", "played")]
        table.add_row(name, target, *cells)
    return table
