"""`spc`: one command line with subcommands over the headless engine.

Bad input never shows a traceback: scenario problems print as FILE:LINE:COL lines and bad arguments
as one line, both with exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from simulator.errors import ScenarioError, Terminated, UsageError

EXIT_BAD_INPUT = 2
WORKER_COMMANDS = ("run", "batch", "decide", "sensitivity", "report", "explain", "loops", "graph", "calibrate")


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument as one line with exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


def cmd_validate(args: argparse.Namespace) -> int:
    from simulator.graph.compiler import compile_file

    failed = 0
    for file in args.files:
        try:
            model = compile_file(file)
        except ScenarioError as exc:
            failed += 1
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            continue
        kinds = {"reinforcing": 0, "balancing": 0, "undetermined": 0}
        for loop in model.loops:
            kinds[loop.polarity] += 1
        sc = model.scenario
        print(
            f"{file}: ok: {len(sc.network.nodes)} nodes, {len(sc.network.links)} links, "
            f"{len(model.loops)} loops ({kinds['reinforcing']} reinforcing, {kinds['balancing']} balancing"
            + (f", {kinds['undetermined']} undetermined" if kinds["undetermined"] else "")
            + f"), {len(sc.strategy_names())} strategies"
        )
    return EXIT_BAD_INPUT if failed else 0


def cmd_graph(args: argparse.Namespace) -> int:
    from simulator.graph.compiler import compile_file
    from simulator.graph.render import to_dot, to_mermaid

    model = compile_file(args.file)
    if args.format in ("svg", "png"):
        return _graph_picture(args, model)
    if args.strategy or args.out or args.explain:
        raise UsageError("--strategy, --explain and --out need --format svg or png")
    print(to_mermaid(model) if args.format == "mermaid" else to_dot(model))
    if args.loops:
        for loop in model.loops:
            print(f"%% {loop.polarity}: {loop.label}" if args.format == "mermaid" else f"// {loop.polarity}: {loop.label}")
    return 0


def _graph_picture(args: argparse.Namespace, model) -> int:
    """`spc graph FILE --format svg|png [--strategy S] [--out FILE]`: the strategy map as a picture."""
    from simulator.errors import closest
    from simulator.graph.strategy_map import draw

    card = None
    if args.strategy:
        names = model.scenario.strategy_names()
        if args.strategy not in names:
            raise UsageError(f"unknown strategy '{args.strategy}' ({closest(args.strategy, names) or ', '.join(names)})")
        from simulator.analysis.scorecard import scorecard_frame
        from simulator.experiment import run_experiment

        result = run_experiment(model, [args.strategy], replications=args.replications, months=args.months)
        card = scorecard_frame(result.timeseries, model.scenario, [args.strategy])
    weights = None
    if args.explain:
        if not args.strategy:
            raise UsageError("--explain needs --strategy S (the strategy whose ΔNPV is attributed)")
        from simulator.analysis.attribution import attribute
        from simulator.graph.strategy_map import attribution_edge_weights

        att = attribute(model, args.strategy, "npv", replications=args.replications, months=args.months,
                        workers=args.workers)
        weights = attribution_edge_weights(model, att.groups)
        print(f"edge widths: Shapley attribution of ΔNPV over {len(att.groups)} groups "
              f"({att.runs} runs, {att.seconds:.1f} s)", file=sys.stderr)
    data = draw(model, args.format, strategy=args.strategy, scorecard=card, edge_weights=weights)
    if args.out:
        Path(args.out).write_bytes(data)
        print(f"wrote {args.out}", file=sys.stderr)
    elif args.format == "png" and sys.stdout.isatty():
        raise UsageError("a PNG is binary: give --out FILE (or redirect the output)")
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from simulator.scenario.schema import json_schema_text

    sys.stdout.write(json_schema_text())
    return 0


def build_parser() -> argparse.ArgumentParser:
    from simulator import __version__

    parser = _Parser(prog="spc", description="Service-profit-chain simulator: run strategy maps, compare CRM strategies.")
    parser.add_argument("--version", action="version", version=f"spc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("validate", help="check scenario files and summarise their networks")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=cmd_validate)

    from simulator.limits import months_arg, replications_arg, workers_arg

    p = sub.add_parser("graph", help="print the causal map (Mermaid or Graphviz DOT) or draw the strategy map (SVG/PNG)")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--format", choices=["mermaid", "dot", "svg", "png"], default="mermaid")
    p.add_argument("--loops", action="store_true", help="also list feedback loops as comments")
    p.add_argument("--strategy", help="svg/png: colour nodes by this strategy's KPI status (runs a quick experiment)")
    p.add_argument("--replications", type=replications_arg, default=2,
                   help="svg/png with --strategy: replications of the quick experiment (default 2)")
    p.add_argument("--months", type=months_arg, help="svg/png with --strategy: months to run (default: the horizon)")
    p.add_argument("--out", metavar="FILE", help="svg/png: write the picture here (default: standard output)")
    p.add_argument("--explain", action="store_true",
                   help="svg/png with --strategy: draw each link as wide as the |Shapley value| of the pathway group "
                        "carrying it (runs `spc explain`'s attribution of ΔNPV: replications x (1 + 2^groups) runs)")
    p.add_argument("--workers", type=workers_arg, help="with --explain: worker processes (default: all cores)")
    p.set_defaults(func=cmd_graph)

    p = sub.add_parser("schema", help="print the JSON Schema of scenario files")
    p.set_defaults(func=cmd_schema)

    for register in _extra_commands():
        register(sub)
    for command in sub.choices.values():
        command.add_argument("--base-dir", action="append", default=[], metavar="DIR",
                             help="a folder whose files an 'extends:' may name, besides the scenario's own folder "
                                  "tree and the shipped scenarios (repeatable)")
    return parser


def _extra_commands() -> list[Callable[[argparse._SubParsersAction], None]]:
    """Subcommands that live in their own modules, then those other packages add through the `spc.commands`
    entry point (the terminal UI's `spc tui`): the engine never names the UI."""
    import simulator.cli_calibrate as cli_calibrate
    import simulator.cli_import as cli_import
    import simulator.cli_portfolio as cli_portfolio
    from simulator import cli_batch, cli_decide, cli_explain, cli_play, cli_report, cli_run, cli_sensitivity

    return [cli_run.register, cli_decide.register, cli_calibrate.register, cli_sensitivity.register,
            cli_report.register, cli_batch.register,
            cli_explain.register, cli_play.register, cli_import.register, cli_portfolio.register,
            *plugins("spc.commands").values()]


def plugins(group: str) -> dict[str, Callable]:
    """Callables other installed packages offer under an entry point group (name -> loaded object)."""
    from importlib.metadata import entry_points

    return {ep.name: ep.load() for ep in entry_points(group=group)}


def main(argv: Sequence[str] | None = None) -> int:
    code = _main(argv)
    from simulator.processes import received

    if received:  # SIGINT/SIGTERM ended the workers: exit now, without joining pool threads they may have wedged
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


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


def existing_file(value: str) -> Path:
    path = Path(value)
    if not path.exists():
        raise UsageError(f"no such file: {value}")
    return path


if __name__ == "__main__":
    sys.exit(main())
