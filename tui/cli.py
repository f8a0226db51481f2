"""`spc tui [FILE]`: the terminal UI (or `--serve` it to a browser with textual-serve).

The command lives with the UI and reaches `spc` through the `spc.commands` entry point, so the engine's
command line never names the UI.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from simulator.cli_run import _positive_int, _seed
from simulator.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tui", help="explore a scenario interactively in the terminal UI")
    p.add_argument("file", metavar="FILE", nargs="?", help="scenario to open (default: the scenario browser)")
    p.add_argument("--replications", type=_positive_int, help="replications per strategy (default: the file's)")
    p.add_argument("--seed", type=_seed, help="random seed (default: the file's run.seed)")
    p.add_argument("--months", type=_positive_int, help="horizon in months (default: the file's)")
    p.add_argument("--workers", type=_positive_int, help="worker processes (default: all cores)")
    p.add_argument("--store", metavar="DB", help="open a stored run from a results database (spc batch)")
    p.add_argument("--run", type=_positive_int, metavar="ID", help="with --store: the run to open (spc results DB)")
    p.add_argument("--serve", action="store_true", help="serve the app to a web browser (textual-serve)")
    p.add_argument("--host", default="127.0.0.1", help="with --serve: address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=_positive_int, default=8000, help="with --serve: port (default 8000)")
    p.set_defaults(func=cmd_tui)


def _own_command(args: argparse.Namespace) -> str:
    """The same `spc tui` without --serve, for textual-serve to start per browser session."""
    parts = [sys.executable, "-m", "simulator.cli", "tui"]
    if args.file:
        parts.append(args.file)
    for flag in ("replications", "seed", "months", "workers", "store", "run"):
        value = getattr(args, flag)
        if value is not None:
            parts += [f"--{flag}", str(value)]
    return shlex.join(parts)


def cmd_tui(args: argparse.Namespace) -> int:
    from simulator.cli import existing_file

    if args.file:
        existing_file(args.file)
    if (args.store is None) != (args.run is None):
        raise UsageError("--store and --run go together: spc tui --store results.duckdb --run ID")
    if args.store:
        existing_file(args.store)
    if args.serve:
        try:
            from textual_serve.server import Server
        except ImportError:
            raise UsageError("--serve needs textual-serve (pip install textual-serve)") from None
        print(f"Serving spc tui on http://{args.host}:{args.port} (Ctrl-C stops)", file=sys.stderr)
        Server(_own_command(args), host=args.host, port=args.port, title="spc").serve()
        return 0
    from simulator.live import WorkerPool

    # the workers start importing the engine now, while the UI is still being imported and drawn
    pool = WorkerPool(args.workers) if (args.workers or 2) > 1 else None
    from tui.app import SpcApp  # the engine never imports the UI; only this command does

    SpcApp(args.file, replications=args.replications, seed=args.seed, months=args.months, workers=args.workers,
           store=args.store, stored_run=args.run, pool=pool).run()
    return 0
