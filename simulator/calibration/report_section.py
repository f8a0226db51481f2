"""The calibration shown beside the decision: one function that runs it the way `spc calibrate` does, and the
report's "Calibration to history" section (HTML and Markdown) drawn from a `Calibration`.

`run_calibration` is shared by `spc report --history` and the terminal UI's calibration screen, so both go
through the same stages, executors and results database as the command line: a calibration already run
by `spc calibrate` with the same scenario, budget, replications and seed is read back from its store, not
run again. The section shows, per metric, the history against the written and the calibrated model with
its 90% band (the `--plot` chart), the fit statistics, the identifiability warnings and the fitted
parameters with their 90% intervals; metrics and parameters by their labels (simulator.calibration.labels),
the parameter paths only as the `--fit` options that would fit them again.
"""

from __future__ import annotations

import argparse
import base64
import html
import math
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from simulator.errors import UsageError
from simulator.scenario.loader import LoadedScenario

if TYPE_CHECKING:  # every `spc` command builds report's parser (add_arguments): scipy and pandas only when used
    from simulator.calibration.calibrate import Calibration

TITLE = "Calibration to history"
STATS_HEAD = ["metric", "months", "model", "RMSE", "MAPE %", "R²", "U^M", "U^S", "U^C", "in 90% band"]
PARAMS_HEAD = ["parameter", "written", "prior mean", "prior 90%", "fitted", "sd", "90% interval", "sd/prior"]
NOTE = ("Calibrated: the mean of real runs at posterior draws (or the point fit), each on a seed of its own; "
        "written: the file's values on the same seeds. The band adds the model's run-to-run noise and the "
        "observations' standard errors. Theil's shares split the mean squared error into bias (U^M), unequal "
        "variation (U^S) and unequal covariation (U^C): a good fit has its error mostly in U^C. R² = r².")


class StopCalibration(Exception):
    """Raised from the runs' progress callback to stop a calibration (the batch generator is closed)."""


def run_calibration(loaded: LoadedScenario, history: str | Path, fit: Sequence[str] | None = None, *,
                    method: str = "posterior", budget: int | None = None, replications: int | None = None,
                    seed: int | None = None, store: str | Path = "calibration.duckdb", executor=None,
                    steps: int = 1500, on_runs: Callable[[int, int, str], None] | None = None,
                    cancelled: Callable[[], bool] | None = None) -> Calibration:
    """`spc calibrate`'s stages on `executor` (closed by the caller) into `store`, resumable.

    `on_runs(done, total, stage)` is told as runs are stored; `cancelled()` is asked as they land and between
    stages, and stops the calibration with `StopCalibration` (finished runs stay stored)."""
    from simulator.batch.executors import LocalExecutor
    from simulator.calibration.calibrate import calibrate, prepare_setup
    from simulator.calibration.design import plan_design, runner
    from simulator.cli.calibrate import RUNS_PER_PARAMETER
    from simulator.store import Store

    setup = prepare_setup(loaded, history, fit, None, "baseline", replications, seed)
    budget = budget or max(96, RUNS_PER_PARAMETER * len(setup.params))
    design = plan_design(loaded, setup.params, budget, setup.replications, setup.seed, setup.months)
    executor = executor or LocalExecutor()

    def progress(runs, totals):
        stage = "design" if runs is design else "check runs"
        done = [totals.already_stored]

        def advance(n: int) -> None:
            done[0] += n
            if on_runs:
                on_runs(done[0], totals.tasks, stage)
            if cancelled and cancelled():
                raise StopCalibration

        if on_runs:
            on_runs(done[0], totals.tasks, stage)
        if cancelled and cancelled():
            raise StopCalibration
        return advance

    with Store(store) as st:
        go = runner(st, executor, setup.metrics, progress)
        series = go(design)
        if cancelled and cancelled():
            raise StopCalibration
        return calibrate(setup, design, series, method, go, seed=setup.seed, steps=steps)


# ---- the report's section ------------------------------------------------------------------------------------

def add_arguments(p: argparse.ArgumentParser) -> None:
    """`spc report`'s calibration options (the same meaning as `spc calibrate`'s)."""
    from simulator.cli.calibrate import DEFAULT_STORE
    from simulator.limits import bounded_int

    g = p.add_argument_group("calibration to history (the same runs as spc calibrate, read back from its store)")
    g.add_argument("--history", metavar="HISTORY", help="add a 'Calibration to history' section: CSV or Parquet of "
                                                         "month, metric, value (optionally se or n)")
    g.add_argument("--fit", action="append", metavar="PATH[=LOW:HIGH]", help="a parameter to fit (repeatable)")
    g.add_argument("--method", choices=["posterior", "point"], default="posterior",
                   help="as spc calibrate: posterior (emcee) or point fit (default posterior)")
    g.add_argument("--budget", type=bounded_int("--budget", 20_000, "design runs"), metavar="N",
                   help="draws of the design (default 48 per fitted parameter, at least 96)")
    g.add_argument("--calibration-store", default=DEFAULT_STORE, metavar="FILE",
                   help=f"results database of the calibration's runs (default {DEFAULT_STORE}, spc calibrate's)")


def check_arguments(args: argparse.Namespace, source: Path) -> None:
    """Refuse calibration options that cannot work before the report's own runs."""
    if getattr(args, "history", None) is None:
        if getattr(args, "fit", None):
            raise UsageError("--fit needs --history HISTORY (the history to calibrate to)")
        return
    if source.is_dir():
        raise UsageError(f"--history needs the scenario FILE, not the run folder {source} (calibration runs it)")
    if not Path(args.history).exists():
        raise UsageError(f"--history {args.history}: no such file")
    if source.exists():  # the history and --fit paths checked now, not after the report's runs
        from simulator.calibration.calibrate import prepare_setup
        from simulator.scenario.loader import load

        prepare_setup(load(source), args.history, args.fit, seed=args.seed)


def with_calibration(inp, args: argparse.Namespace, source: Path):
    """The report's analysis plus the calibration section when `--history` is given."""
    import sys
    import time
    from dataclasses import replace

    if getattr(args, "history", None) is None:
        return inp
    from simulator.batch.executors import make_executor
    from simulator.scenario.loader import load

    loaded = load(source)
    executor = make_executor("processes", args.workers)
    start = time.perf_counter()
    try:
        result = run_calibration(loaded, args.history, args.fit, method=args.method, budget=args.budget,
                                 seed=args.seed, store=args.calibration_store,  # calibrate's replications
                                 executor=executor)
    finally:
        executor.close()
    print(f"--history: calibrated to {args.history} ({result.method}, {result.design_runs:,} design + "
          f"{result.extra_runs:,} check runs, {time.perf_counter() - start:.1f} s; store {args.calibration_store})",
          file=sys.stderr)
    return replace(inp, calibration=result)


def _g(x: float, digits: int = 4) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.{digits}g}"


def _f(x: float, decimals: int = 2) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.{decimals}f}"


def statistics_rows(result: Calibration) -> list[list[str]]:
    """The fit statistics per metric (its label and unit: RMSE is in that unit), sample and model."""
    from simulator.calibration.labels import metric_heading

    scenario = result.setup.loaded.scenario
    rows = []
    for r in result.statistics.itertuples():
        band = f"{r.in_band:.0%}" if r.model == "calibrated" and math.isfinite(r.in_band) else ""
        rows.append([metric_heading(scenario, r.metric), r.sample, r.model, _g(r.rmse), _f(r.mape, 1), _f(r.r2),
                     _f(r.um), _f(r.us), _f(r.uc), band])
    return rows


def parameter_rows(result: Calibration) -> list[list[str]]:
    """Per fitted parameter (by its label): written value, prior, fitted mean, sd, 90% interval, sd/prior sd."""
    from simulator.calibration.labels import parameter_label

    scenario = result.setup.loaded.scenario
    return [[parameter_label(scenario, r.path), _g(r.value), _g(r.prior_mean),
             f"{_g(r.prior_lo90)}..{_g(r.prior_hi90)}", _g(r.mean), _g(r.sd, 2), f"{_g(r.lo90)}..{_g(r.hi90)}",
             _g(r.sd_ratio, 2)] for r in result.estimates.itertuples()]


def describe(result: Calibration) -> str:
    from simulator.calibration.labels import metric_label

    setup = result.setup
    how = ("posterior (emcee on a Gaussian-process emulator)" if result.method == "posterior"
           else "point fit (least squares on the emulator, refined with real runs)")
    holdout = f"; fitted on months 1-{setup.fit_until}, later months out of sample" if setup.fit_until else ""
    metrics = ", ".join(metric_label(setup.loaded.scenario, m) for m in setup.metrics)
    return (f"Calibrated to {setup.history.file}: {metrics} over {setup.history.last_month} months; "
            f"{how}; {result.design_runs:,} design runs and {result.extra_runs:,} further runs{holdout}.")


def chart_png(result: Calibration) -> bytes:
    """History against the written and the calibrated model with its band, per metric (`spc calibrate --plot`)."""
    from simulator.calibration.plot import plot

    if not result.trajectories:
        return b""
    with tempfile.TemporaryDirectory(prefix="spc-cal-") as folder:
        path = Path(folder) / "calibration.png"
        plot(result, path)
        return path.read_bytes()


def section_html(result: Calibration) -> str:
    from simulator.calibration.labels import FIT_HINT, fit_options

    e = html.escape

    def table(head, rows) -> str:
        return ("<table><thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr></thead><tbody>"
                + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows)
                + "</tbody></table>")

    options = fit_options(result.estimates["path"])
    png = chart_png(result)
    chart = (f'<img alt="history against the calibrated model" src="data:image/png;base64,'
             f'{base64.b64encode(png).decode()}">' if png else "")
    warnings = ("<h3>Identifiability</h3><ul>" + "".join(f"<li>warning: {e(w)}</li>" for w in result.warnings)
                + "</ul>") if result.warnings else "<p>No identifiability warnings.</p>"
    return (f'<section class="calibration"><h2>{TITLE}</h2><p>{e(describe(result))}</p>{chart}'
            f"<h3>Fit to the history</h3><p>{e(NOTE)}</p>{table(STATS_HEAD, statistics_rows(result))}{warnings}"
            f"<h3>Fitted parameters</h3>{table(PARAMS_HEAD, parameter_rows(result))}"
            f"<p><small>{FIT_HINT} {' '.join(f'<code>{e(o)}</code>' for o in options)}</small></p></section>")


def section_markdown(result: Calibration) -> str:
    from simulator.calibration.labels import FIT_HINT, fit_options

    def table(head, rows) -> str:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join(lines + ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows])

    png = chart_png(result)
    parts = [f"## {TITLE}", describe(result)]
    if png:
        parts.append(f"![{TITLE}](data:image/png;base64,{base64.b64encode(png).decode()})")
    parts += ["### Fit to the history", NOTE, table(STATS_HEAD, statistics_rows(result))]
    parts += (["### Identifiability", "\n".join(f"- warning: {w}" for w in result.warnings)] if result.warnings
              else ["No identifiability warnings."])
    parts += ["### Fitted parameters", table(PARAMS_HEAD, parameter_rows(result)),
              f"{FIT_HINT} {' '.join(f'`{o}`' for o in fit_options(result.estimates['path']))}"]
    return "\n\n".join(parts)
