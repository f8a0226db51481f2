"""`spc validate`, `spc graph`, `spc schema`: check scenario files, draw their causal maps, print the file schema."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from simulator.cli.common import EXIT_BAD_INPUT
from simulator.errors import ScenarioError, UsageError


def register(sub: argparse._SubParsersAction) -> None:
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
