"""`spc`: one command line with subcommands over the headless engine.

Bad input never shows a traceback: scenario problems print as FILE:LINE:COL lines and bad arguments
as one line, both with exit code 2.

One module per command group (`scenario`: validate, graph, schema; `run`; `decide`; `calibrate`; `sensitivity`;
`report`; `batch`: batch, results, export; `explain`: explain, loops; `play`; `import_`; `portfolio`), each with a
`register(sub)`; what several of them share lives in `common` and `progress`. This module only builds the parser and
runs a command; no command module imports it (tests/test_contracts.py checks that they form no import circle).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from simulator.cli.common import EXIT_BAD_INPUT, Parser, existing_file, plugins
from simulator.errors import ScenarioError, Terminated, UsageError

__all__ = ["EXIT_BAD_INPUT", "WORKER_COMMANDS", "build_parser", "existing_file", "main", "plugins"]

WORKER_COMMANDS = ("run", "batch", "decide", "sensitivity", "report", "explain", "loops", "graph", "calibrate")


def build_parser() -> argparse.ArgumentParser:
    from simulator import __version__

    parser = Parser(prog="spc", description="Service-profit-chain simulator: run strategy maps, compare CRM strategies.")
    parser.add_argument("--version", action="version", version=f"spc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    for register in _commands():
        register(sub)
    for command in sub.choices.values():
        command.add_argument("--base-dir", action="append", default=[], metavar="DIR",
                             help="a folder whose files an 'extends:' may name, besides the scenario's own folder "
                                  "tree and the shipped scenarios (repeatable)")
    return parser


def _commands() -> list[Callable[[argparse._SubParsersAction], None]]:
    """The command modules' `register`, then the subcommands other packages add through the `spc.commands`
    entry point (the terminal UI's `spc tui`): the engine never names the UI. Each command module imports only
    the standard library and light simulator modules at its top: `spc --help` stays fast."""
    from simulator.cli import (
        batch,
        calibrate,
        decide,
        explain,
        import_,
        play,
        portfolio,
        report,
        run,
        scenario,
        sensitivity,
    )

    return [scenario.register, run.register, decide.register, calibrate.register, sensitivity.register,
            report.register, batch.register, explain.register, play.register, import_.register, portfolio.register,
            *plugins("spc.commands").values()]


def main(argv: Sequence[str] | None = None) -> int:
    code = _main(argv)
    from simulator.processes import received

    if received:  # SIGINT/SIGTERM ended the workers: exit now, without joining pool threads they may have wedged
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def entry() -> None:
    """The `spc` console script and `python -m simulator.cli`: `main()`, then exit without tearing the interpreter
    down when nothing is left to wait for."""
    code = main()
    if _nothing_left_running():
        _exit_at_once(code)
    sys.exit(code)


def _nothing_left_running() -> bool:
    """No child process and no thread other than this one: the interpreter's own shutdown would only free memory."""
    import threading

    if any(t is not threading.main_thread() and t.is_alive() and not t.daemon for t in threading.enumerate()):
        return False
    if "multiprocessing" in sys.modules:
        import multiprocessing

        if multiprocessing.active_children():
            return False
    return True


def _exit_at_once(code: int) -> None:
    """Flush the standard streams, run the atexit handlers (DuckDB, logging, multiprocessing), then `os._exit`.

    What it skips is the interpreter's finalization: clearing every module and freeing pandas', numba's and LLVM's
    objects one by one took 0.3-0.9 s after the last line of `spc run` was printed (measured: 0.46-0.57 s against
    0.03-0.06 s with this exit, load 3-4). Files are written in `with` blocks, so nothing buffered is lost."""
    import atexit

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`spc ... | head`): nothing more can be written anyway
            pass
    atexit._run_exitfuncs()
    os._exit(code)


def _main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return EXIT_BAD_INPUT
        if args.base_dir or "simulator.scenario.loader" in sys.modules:  # set, or reset after an earlier call
            from simulator.scenario.loader import allow_base_dirs

            allow_base_dirs(args.base_dir)
        if args.command in WORKER_COMMANDS:
            from simulator.processes import workers_end_with_us

            with workers_end_with_us():  # SIGTERM / SIGINT end the worker processes first
                try:
                    return int(args.func(args) or 0)
                except (Exception, KeyboardInterrupt) as exc:  # SIGTERM seen by a library first (DuckDB's
                    from simulator.processes import terminated  # "interrupted"): still a SIGTERM

                    if terminated():
                        raise Terminated() from exc
                    raise
        return int(args.func(args) or 0)
    except ScenarioError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_BAD_INPUT
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Terminated as exc:
        print("terminated", file=sys.stderr)
        return 128 + exc.signum
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug in spc, not bad input: still one line unless asked for more
        if os.environ.get("SPC_DEBUG"):
            raise
        print(f"spc: internal error: {type(exc).__name__}: {exc} (set SPC_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1
