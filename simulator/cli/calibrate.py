"""`spc calibrate FILE --history H`: fit uncertain parameters to the firm's own monthly history."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from simulator.errors import UsageError

DEFAULT_STORE = "calibration.duckdb"
RUNS_PER_PARAMETER = 48  # default design: 48 draws per fitted parameter, at least 96


def register(sub: argparse._SubParsersAction) -> None:
    from simulator.cli.common import seed_arg
    from simulator.limits import add_executor_args, add_force, bounded_int, months_arg, replications_arg

    p = sub.add_parser("calibrate", help="fit uncertain parameters to the firm's own history (posterior or point "
                                         "fit on an emulator) and write them as distributions for spc decide")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--history", required=True, metavar="HISTORY",
                   help="CSV or Parquet: month, metric, value, optionally se or n (a survey's sample size)")
    p.add_argument("--fit", action="append", metavar="PATH[=LOW:HIGH]",
                   help="a parameter to fit, with its distribution in FILE as the prior or a uniform prior on "
                        "LOW:HIGH (repeatable; default: the file's assumptions other than initiative effects)")
    p.add_argument("--method", choices=["posterior", "point"], default="posterior",
                   help="posterior: MCMC (emcee) on the emulator; point: least squares on the emulator, refined with "
                        "real runs (default: posterior)")
    p.add_argument("--budget", type=bounded_int("--budget", 20_000, "design runs"), metavar="N",
                   help=f"draws of the design ({RUNS_PER_PARAMETER} per fitted parameter, at least 96)")
    p.add_argument("--replications", type=replications_arg,
                   help="replications per draw, at least 2 (default: the file's uncertainty.replications, at least 2)")
    p.add_argument("--months", type=months_arg, help="months each run covers (default: the horizon)")
    p.add_argument("--fit-until", type=months_arg, metavar="MONTH",
                   help="fit on months 1..MONTH only and report the later months as an out-of-sample check")
    p.add_argument("--strategy", default="baseline", help="the strategy the history was lived under (default: baseline)")
    p.add_argument("--seed", type=seed_arg, help="random seed of the design and the runs (default: the file's run.seed)")
    p.add_argument("--design", choices=["sobol", "lhs"], default="sobol", help="space-filling design (default sobol)")
    p.add_argument("--out", metavar="FITTED.yaml", help="write the calibrated scenario (extends FILE) here")
    p.add_argument("--plot", metavar="FILE.png|svg", help="draw the history against the calibrated model")
    add_executor_args(p, DEFAULT_STORE, "resumes from it and one design serves many histories")
    p.add_argument("--json", action="store_true", help="print the result as JSON instead of tables")
    add_force(p)
    p.set_defaults(func=cmd_calibrate)


def cmd_calibrate(args: argparse.Namespace) -> int:
    from simulator.batch.executors import WorkerDied, make_executor
    from simulator.calibration.calibrate import calibrate, prepare_setup
    from simulator.calibration.design import plan_design, runner
    from simulator.scenario.loader import load
    from simulator.store import Store

    if not Path(args.file).exists():
        raise UsageError(f"no such file: {args.file}")
    if args.scheduler and args.executor != "dask":
        raise UsageError("--scheduler is for --executor dask")
    loaded = load(args.file)
    setup = prepare_setup(loaded, args.history, args.fit, args.months, args.strategy, args.replications, args.seed,
                          args.fit_until)
    if args.out:
        from simulator.calibration.fitted import check_destination

        check_destination(Path(loaded.path), Path(args.out))
    if args.plot:
        from simulator.calibration.plot import check_plot_path

        check_plot_path(args.plot)
    budget = args.budget or max(96, RUNS_PER_PARAMETER * len(setup.params))
    design = plan_design(loaded, setup.params, budget, setup.replications, setup.seed, setup.months, setup.strategy,
                         args.design)
    from simulator.experiment import default_workers
    from simulator.limits import preflight

    workers = 1 if args.executor == "local" else args.workers or default_workers(10**9)
    preflight([(loaded.scenario, setup.months, design.tasks)], workers, kept=False, force=args.force)
    quiet = args.json
    if not quiet:
        print(f"history {setup.history.file}:", file=sys.stderr)
        for line in setup.history.describe():
            print(f"  {line}", file=sys.stderr)
    executor = make_executor(args.executor, args.workers, args.scheduler)  # before the database: forks stay clean
    start = time.perf_counter()
    ran = {"tasks": 0, "stored": 0}
    bars: list = []

    def progress(runs, totals):
        from simulator.cli.progress import progress_bar

        ran["tasks"] += totals.to_run
        ran["stored"] += totals.already_stored
        if not quiet:
            kind = "design" if runs is design else "runs"
            print(f"calibrate: {kind}: {len(runs.specs)} point(s) x {runs.replications} replication(s) of "
                  f"{runs.strategy} = {totals.tasks:,} runs; {totals.already_stored:,} already stored, "
                  f"{totals.to_run:,} to run on {executor.description}", file=sys.stderr, flush=True)
        if totals.to_run <= 0:
            return None
        bar = progress_bar(totals.to_run)
        advance = bar.__enter__()
        bars.append(bar)
        return advance

    try:
        with Store(args.store) as store:
            go = runner(store, executor, setup.metrics, progress)

            def run_closing(runs):
                try:
                    return go(runs)
                finally:
                    while bars:
                        bars.pop().__exit__(None, None, None)

            try:
                series = run_closing(design)
                result = calibrate(setup, design, series, args.method, run_closing, seed=setup.seed)
            except WorkerDied as exc:
                print(f"calibrate: {exc}; the finished runs stay stored in {args.store}", file=sys.stderr)
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
    written = None
    if args.out:
        from simulator.calibration.fitted import write_fitted

        written = write_fitted(result, args.out)
    if args.plot:
        from simulator.calibration.plot import plot

        plot(result, args.plot)
    if args.json:
        doc = document(result)
        doc.update(seconds=round(seconds, 2), runs=ran["tasks"], already_stored=ran["stored"], store=str(args.store),
                   out=str(written) if written else None, plot=args.plot)
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print_result(result)
    print(f"\n{ran['tasks']:,} runs in {seconds:.1f} s ({ran['stored']:,} already stored); stored in {args.store}",
          file=sys.stderr)
    if written:
        print(f"wrote {written}: spc decide {written}", file=sys.stderr)
    else:
        print("give --out FITTED.yaml to write the calibrated scenario for spc decide", file=sys.stderr)
    if args.plot:
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


def _g(x: float, digits: int = 4) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.{digits}g}"


def _f(x: float, decimals: int = 2) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.{decimals}f}"


def print_result(result) -> None:
    """The fitted parameters, the fit to the history, and the warnings, as plain tables."""
    setup = result.setup
    if result.method == "posterior":
        p = result.posterior
        how = (f"posterior (emcee, {p.walkers} walkers x {p.steps} steps, acceptance {p.acceptance:.2f}; "
               f"{len(p.samples):,} draws kept)")
    else:
        how = f"point fit (least squares on the emulator, {result.point.starts} starts, refined with real runs)"
    print(f"{setup.loaded.scenario.metadata.name}: calibrated to {setup.history.file}")
    print(f"method: {how}; emulator: {result.components} components over {result.design_runs:,} design runs")
    from simulator.calibration.labels import FIT_HINT, fit_options, metric_heading, parameter_label

    scenario = setup.loaded.scenario
    est = result.estimates
    names = [parameter_label(scenario, p) for p in est["path"]]
    width = max(len("parameter"), *(len(n) for n in names))
    print(f"\n{'parameter':<{width}}  {'written':>9}  {'prior mean':>10}  {'prior 90%':>19}  {'fitted':>9}  {'sd':>9}  "
          f"{'90% interval':>19}  {'sd/prior':>8}")
    for name, r in zip(names, est.itertuples(), strict=True):
        print(f"{name:<{width}}  {_g(r.value):>9}  {_g(r.prior_mean):>10}  "
              f"{_g(r.prior_lo90) + '..' + _g(r.prior_hi90):>19}  {_g(r.mean):>9}  {_g(r.sd, 2):>9}  "
              f"{_g(r.lo90) + '..' + _g(r.hi90):>19}  {_g(r.sd_ratio, 2):>8}")
    print(f"  {FIT_HINT} {' '.join(fit_options(est['path']))}")
    st = result.statistics
    if not st.empty:
        print("\nfit to the history (Theil: U^M bias, U^S variance, U^C covariance shares of the MSE; R^2 = r^2):")
        headings = {m: metric_heading(scenario, m) for m in st["metric"].unique()}
        mw = max(len("metric"), *(len(h) for h in headings.values()))
        print(f"{'metric':<{mw}}  {'months':>7}  {'model':<10}  {'RMSE':>9}  {'MAPE %':>7}  {'R^2':>5}  {'U^M':>5}  "
              f"{'U^S':>5}  {'U^C':>5}  {'in 90% band':>11}")
        for r in st.itertuples():
            band = f"{r.in_band:.0%}" if r.model == "calibrated" and math.isfinite(r.in_band) else ""
            months = "fit" if r.sample == "fit" else "holdout"
            print(f"{headings[r.metric]:<{mw}}  {months:>7}  {r.model:<10}  {_g(r.rmse):>9}  {_f(r.mape, 1):>7}  "
                  f"{_f(r.r2):>5}  {_f(r.um):>5}  {_f(r.us):>5}  {_f(r.uc):>5}  {band:>11}")
        at = "posterior draws" if result.method == "posterior" else "the point fit"
        print(f"  (calibrated: the mean of real runs at {at}, each on a seed of its own; written: the file's values, on "
              "the same seeds; the band adds the model's own run-to-run noise and the observations' se)")
    if result.warnings:
        print("\nidentifiability:")
        for w in result.warnings:
            print(f"  warning: {w}")


def document(result) -> dict:
    """The result as JSON-ready data."""
    def clean(v):
        return None if isinstance(v, float) and not math.isfinite(v) else v

    setup = result.setup
    return {
        "scenario": str(setup.loaded.path), "history": setup.history.file, "method": result.method,
        "metrics": list(setup.metrics), "months": setup.months, "fit_until": setup.fit_until,
        "design_runs": result.design_runs, "extra_runs": result.extra_runs, "components": result.components,
        "acceptance": result.posterior.acceptance if result.posterior else None,
        "parameters": [{k: clean(v) for k, v in row.items()} for row in result.estimates.to_dict("records")],
        "correlation": result.correlation.round(4).tolist(),
        "statistics": [{k: clean(v) for k, v in row.items()} for row in result.statistics.to_dict("records")],
        "warnings": result.warnings,
    }
