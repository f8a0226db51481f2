"""`spc tui [FILE]`: the terminal UI (or `--serve` it to a browser with textual-serve).

The command lives with the UI and reaches `spc` through the `spc.commands` entry point, so the engine's
command line never names the UI.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from simulator.cli.common import positive_int as _positive_int
from simulator.cli.common import seed_arg as _seed
from simulator.errors import UsageError
from simulator.limits import add_force, months_arg, replications_arg, workers_arg


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tui", help="explore a scenario interactively in the terminal UI")
    p.add_argument("file", metavar="FILE", nargs="?", help="scenario to open (default: the scenario browser)")
    p.add_argument("--replications", type=replications_arg, help="replications per strategy (default: the file's)")
    p.add_argument("--seed", type=_seed, help="random seed (default: the file's run.seed)")
    p.add_argument("--months", type=months_arg, help="horizon in months (default: the file's)")
    p.add_argument("--workers", type=workers_arg, help="worker processes (default: all cores)")
    p.add_argument("--draws", type=_positive_int,
                   help="draws of the uncertain assumptions for the Decision tab (default: the file's uncertainty.draws)")
    p.add_argument("--store", metavar="DB", help="open a stored run from a results database (spc batch)")
    p.add_argument("--run", type=_positive_int, metavar="ID", help="with --store: the run to open (spc results DB)")
    p.add_argument("--serve", action="store_true", help="serve the app to a web browser (textual-serve)")
    p.add_argument("--host", default="127.0.0.1", help="with --serve: address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8000, help="with --serve: port (default 8000)")
    add_force(p)
    p.set_defaults(func=cmd_tui)


def _port(value: str) -> int:
    number = _positive_int(value)
    if number > 65535:
        raise argparse.ArgumentTypeError(f"a port is 1 to 65535, got {number}")
    return number


def _loopback(host: str) -> bool:
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _preflight(args: argparse.Namespace) -> None:
    """Refuse a scenario whose first run would not fit (unless --force); a broken file is the app's to show."""
    from simulator.errors import ScenarioError
    from simulator.experiment import default_workers, resolve_strategies
    from simulator.limits import preflight
    from simulator.scenario.loader import load

    try:
        sc = load(args.file).scenario
    except ScenarioError:
        return
    runs = len(resolve_strategies(sc, None)) * (args.replications or sc.run.replications)
    preflight([(sc, args.months or sc.metadata.horizon_months, runs)], args.workers or default_workers(runs),
              kept=True, force=args.force)


def _own_command(args: argparse.Namespace) -> str:
    """The same `spc tui` without --serve, for textual-serve to start per browser session."""
    parts = [sys.executable, "-m", "simulator.cli", "tui"]
    if args.file:
        parts.append(args.file)
    for flag in ("replications", "seed", "months", "workers", "draws", "store", "run"):
        value = getattr(args, flag)
        if value is not None:
            parts += [f"--{flag}", str(value)]
    if args.force:
        parts.append("--force")
    for folder in getattr(args, "base_dir", None) or []:
        parts += ["--base-dir", folder]
    return shlex.join(parts)


def cmd_tui(args: argparse.Namespace) -> int:
    from simulator.cli import existing_file

    if args.file:
        existing_file(args.file)
    if (args.store is None) != (args.run is None):
        raise UsageError("--store and --run go together: spc tui --store results.duckdb --run ID")
    if args.store:
        existing_file(args.store)
    if args.file and not args.serve:
        _preflight(args)
    if args.serve:
        try:
            import textual_serve.server  # noqa: F401
        except ImportError:
            raise UsageError("--serve needs textual-serve (pip install textual-serve)") from None
        if not _loopback(args.host):
            print(f"warning: --host {args.host} lets other machines reach this app, which has no authentication: "
                  "anyone who can connect can run scenarios and read the files it opens", file=sys.stderr)
        from tui.serve import LocalServer

        print(f"Serving spc tui on http://{args.host}:{args.port} (Ctrl-C stops)", file=sys.stderr)
        LocalServer(_own_command(args), host=args.host, port=args.port, title="spc").serve()
        return 0

    def build_app():
        import os

        from simulator.live import WorkerPool

        # the workers start importing the engine now, while the UI is still being imported and drawn; in a served
        # session (textual-serve's web driver) only after the first frame: the page shows a splash until then, and
        # on two cores the fork server's imports doubled the time to it (3.3-3.7 s against 1.5-2.2 s)
        served = os.environ.get("TEXTUAL_DRIVER", "").endswith(":WebDriver")
        pool = WorkerPool(args.workers) if (args.workers or 2) > 1 and not served else None
        from tui.app import SpcApp  # the engine never imports the UI; only this command does

        return SpcApp(args.file, replications=args.replications, seed=args.seed, months=args.months,
                      workers=args.workers, store=args.store, stored_run=args.run, pool=pool, decide_draws=args.draws,
                      defer_pool=served)

    _run_ending_workers(build_app)
    return 0


def _run_ending_workers(build_app) -> None:
    """Build and run the app; SIGTERM or SIGINT end its worker processes at once, then close the app (the terminal
    is restored) and unwind as `spc run` does ("terminated", exit 143; "interrupted", 130). The handlers are in
    place before the first worker starts, so a signal while the UI is still being imported ends the workers too.
    Under textual-serve the web driver handles both signals itself by closing the app; the workers end when it
    returns either way."""
    import signal
    import threading

    from simulator.errors import Terminated
    from simulator.processes import end_children, start_unwind_watchdog

    received: list[int] = []
    app = None

    def close_app() -> None:
        try:
            app.call_from_thread(app.exit)
        except Exception:  # the app has already stopped (or never started): nothing to close
            pass

    def handler(signum: int, frame: object) -> None:
        received.append(signum)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second signal must not cut the cleanup short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        start_unwind_watchdog(signum)  # should the exception or the close be lost, the process still ends
        end_children()
        if app is None or getattr(app, "_loop", None) is None:  # not running yet: unwind right here
            raise KeyboardInterrupt if signum == signal.SIGINT else Terminated(signum)
        threading.Thread(target=close_app, name="spc-close", daemon=True).start()  # the app's loop is this thread

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        app = build_app()
        app.run()
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
        end_children()  # a worker busy with a long run would otherwise hold the exit until it finishes
    if received:
        raise KeyboardInterrupt if received[0] == signal.SIGINT else Terminated(received[0])
