"""`spc decide FILE`: every strategy over a design of the scenario's uncertain assumptions, and what to do."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from simulator.errors import UsageError

DEFAULT_STORE = "decisions.duckdb"


def register(sub: argparse._SubParsersAction) -> None:
    from simulator.cli.common import horizons_arg, seed_arg
    from simulator.limits import add_executor_args, add_force, draws_arg, replications_arg

    p = sub.add_parser("decide", help="compare strategies over uncertain assumptions: P(best), regret, "
                                      "value of information and a recommendation")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--draws", type=draws_arg, help="draws of the assumptions (default: the file's uncertainty.draws)")
    p.add_argument("--replications", type=replications_arg,
                   help="replications per draw and strategy (default: the file's uncertainty.replications)")
    p.add_argument("--horizons", type=horizons_arg, metavar="M1,M2,...",
                   help="decide on the first horizon and show how the ranking changes at the others")
    p.add_argument("--strategies", help="comma-separated strategy names (default: all; baseline always runs)")
    p.add_argument("--seed", type=seed_arg, help="random seed (default: the file's run.seed)")
    p.add_argument("--design", choices=["sobol", "lhs"], help="space-filling design (default: the file's, sobol)")
    p.add_argument("--measure", choices=["firm_value", "npv"],
                   help="what strategies are ranked on (default: the file's valuation.rank_on)")
    add_executor_args(p, DEFAULT_STORE, "resumes from it")
    p.add_argument("--json", action="store_true", help="print the decision as JSON instead of tables")
    add_force(p)
    p.set_defaults(func=cmd_decide)


def cmd_decide(args: argparse.Namespace) -> int:
    from simulator.batch.coordinator import prepare
    from simulator.batch.executors import WorkerDied, make_executor
    from simulator.decision.analysis import analyse, decision_document
    from simulator.decision.runner import plan_decision, read_outcomes, run_decision
    from simulator.scenario.loader import load
    from simulator.store import Store

    if not Path(args.file).exists():
        raise UsageError(f"no such file: {args.file}")
    if args.scheduler and args.executor != "dask":
        raise UsageError("--scheduler is for --executor dask")
    loaded = load(args.file)
    requested = [s.strip() for s in args.strategies.split(",") if s.strip()] if args.strategies else None
    plan = plan_decision(loaded, args.draws, args.replications, args.seed, args.horizons, requested, args.design,
                         args.measure)
    from simulator.experiment import default_workers
    from simulator.limits import preflight

    workers = 1 if args.executor == "local" else args.workers or default_workers(10**9)
    preflight([(loaded.scenario, h, plan.draws * len(plan.strategies) * plan.replications) for h in plan.horizons],
              workers, kept=False, force=args.force)
    executor = make_executor(args.executor, args.workers, args.scheduler)  # before the database: forks stay clean
    start = time.perf_counter()
    try:
        with Store(args.store) as store:
            totals, done = prepare(store, plan.specs)
            if not args.json:
                print(f"decide: {plan.draws} draw(s) of {plan.inputs.shape[1]} assumption(s) x {len(plan.horizons)} "
                      f"horizon(s) x {len(plan.strategies)} strategies x {plan.replications} replication(s) = "
                      f"{totals.tasks:,} runs; {totals.already_stored:,} already stored, {totals.to_run:,} to run on "
                      f"{executor.description}", file=sys.stderr, flush=True)
            from simulator.cli.progress import progress_bar

            try:
                with progress_bar(totals.to_run) as advance:
                    run_decision(plan, store, executor, advance, (totals, done))
            except WorkerDied as exc:
                print(f"decide: {exc}; the finished runs stay stored in {args.store}", file=sys.stderr)
                return 1
            except BaseException as exc:
                from simulator.cli.common import interrupted
                from simulator.processes import terminated

                if terminated() or not interrupted(exc):
                    raise
                print(f"interrupted; rerun the same command to resume (the finished runs are stored in {args.store})",
                      file=sys.stderr)
                return 130
    finally:
        executor.close()
    seconds = time.perf_counter() - start
    result = analyse(plan, read_outcomes(args.store, plan, totals.run_ids))
    if args.json:
        doc = decision_document(result)
        doc["seconds"] = round(seconds, 2)
        doc["store"] = str(args.store)
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    from simulator.analysis.units import strategy_labels
    from simulator.decision.report import print_decision

    print_decision(result, names=strategy_labels(loaded.scenario))
    print(f"{totals.to_run:,} runs in {seconds:.1f} s; stored in {args.store} (runs {min(totals.run_ids)}-"
          f"{max(totals.run_ids)})", file=sys.stderr)
    return 0
