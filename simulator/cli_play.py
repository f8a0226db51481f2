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
        from simulator.cli import plugins

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
    from rich.table import Table

    from simulator.analysis.stats import format_money
    from simulator.cli_run import comparison_table, scorecard_table

    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 160))
    d = played.decisions
    currency = loaded.scenario.metadata.currency
    turns = Table(title=f"{len(d.turns)} turns of {d.turn_months} months; budget {format_money(d.budget)} {currency} a turn")
    for col in ("turn", "levers held", "initiatives", "committed"):
        turns.add_column(col, justify="right" if col in ("turn", "committed") else "left")
    from simulator.play import lever_settings

    refs = {n.name: n.reference for n in loaded.scenario.network.nodes if n.kind == "lever"}
    for turn, held, cost in zip(d.turns, lever_settings(loaded.scenario, d), played.costs, strict=True):
        moved = ", ".join(f"{k}={v:g}" for k, v in held.items() if v != refs[k]) or "-"
        turns.add_row(str(cost.turn), moved, ", ".join(turn.initiatives) or "-", format_money(cost.total))
    console.print(turns)
    console.print(comparison_table(played.comparison, currency))
    console.print(scorecard_table(played.scorecard, ("baseline", "played")))
    if brief is None:
        return
    table = Table(title="Debrief: your game against the best strategy found (same seed, replications, months)")
    for col in ("#", "candidate", "kind", "NPV", "Δ NPV vs baseline", "within budget"):
        table.add_column(col, justify="right" if col in ("#", "NPV", "Δ NPV vs baseline") else "left")
    for i, r in enumerate(brief.candidates.itertuples(), 1):
        style = "bold" if r.candidate == "your game" else ""
        table.add_row(str(i), f"[{style}]{r.candidate}[/]" if style else r.candidate, r.kind, format_money(r.npv),
                      format_money(r.delta_npv), "yes" if r.within_budget else "no")
    console.print(table)
    gap = brief.best_npv - brief.played_npv
    verdict = "you found the best strategy" if brief.best == "your game" else (
        f"the best within budget was {brief.best}, {format_money(gap)} {currency} more NPV than your game")
    console.print(f"Your game ranks {brief.rank} within budget: {verdict}.")
