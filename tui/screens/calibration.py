"""Calibration to history (key C, or the command palette): fit the open scenario to the firm's own history.

A screen of its own, pushed over the tabs (the main views stay as they are). It asks for a history file
(or takes one), runs `spc calibrate`'s stages (`simulator.calibration.report_section.run_calibration`, the
same store, so a calibration the command line already ran is read back) in a thread worker, with a
progress line and c to cancel, and then shows per metric the history against the calibrated model with its
90% band and the file as written, the fit statistics (Theil's U^M/U^S/U^C, MAPE, R²), the identifiability
warnings and the fitted parameters. The runs' worker processes are closed however it ends: cancelled,
failed, or the screen closed (closing stops the runs at their next stored chunk and waits for them).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static
from textual_plotext import PlotextPlot

from simulator import LoadedScenario, ScenarioError, UsageError
from simulator.calibration.calibrate import Calibration
from simulator.calibration.report_section import (
    PARAMS_HEAD,
    STATS_HEAD,
    StopCalibration,
    describe,
    parameter_rows,
    statistics_rows,
)
from simulator.cli.calibrate import DEFAULT_STORE

CLOSE_WAIT = 10.0  # seconds to wait on close for the runs to stop at their next chunk and close their processes


class CalibrationProgress(Message):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class CalibrationEnded(Message):
    """The calibration finished (`result`), was cancelled or failed (`text`)."""

    def __init__(self, result: Calibration | None, text: str, severity: str = "information") -> None:
        super().__init__()
        self.result, self.text, self.severity = result, text, severity


class CalibrationScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("c", "cancel_calibration", "Cancel"),
    ]
    DEFAULT_CSS = """
    CalibrationScreen #cal-results { height: 1fr; }
    CalibrationScreen PlotextPlot { height: 14; }
    CalibrationScreen DataTable { height: auto; max-height: 20; margin: 1 0 0 0; }
    CalibrationScreen #cal-progress { color: $text-muted; }
    """

    def __init__(self, loaded: LoadedScenario, history: str | Path | None = None, *, fit: Sequence[str] | None = None,
                 workers: int = 1, budget: int | None = None, method: str = "posterior",
                 store: str | Path = DEFAULT_STORE, steps: int = 1500) -> None:
        super().__init__()
        self.loaded, self.history, self.fit = loaded, history, list(fit) if fit else None
        self.processes, self.budget, self.method, self.store, self.steps = workers, budget, method, store, steps
        self.result: Calibration | None = None
        self.running = False
        self._cal_stop = threading.Event()
        self._cal_done = threading.Event()
        self._cal_done.set()  # nothing running yet

    def compose(self) -> ComposeResult:
        name = self.loaded.scenario.metadata.name
        yield Static(f"[b]Calibration to history[/b]: {name}  [dim]enter runs · c cancels · esc closes[/]",
                     classes="panel-title")
        yield Input(str(self.history or ""), id="cal-history",
                    placeholder="history file: CSV or Parquet of month, metric, value (se or n optional)")
        yield Static("Give a history file and press enter: the fit runs as spc calibrate does, resumable from "
                     f"{self.store}.", id="cal-progress")
        with VerticalScroll(id="cal-results"):
            yield Static("", id="cal-summary")
            yield Static("", id="cal-warnings")
        yield Footer()

    def on_mount(self) -> None:
        if self.history:
            self.start(str(self.history))
        else:
            self.query_one("#cal-history", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "cal-history":
            self.start(event.value.strip())

    def start(self, history: str) -> None:
        """Check the file, then run the calibration in a thread worker (one at a time)."""
        if self.running:
            self.notify("A calibration is running: c cancels it")
            return
        if not history or not Path(history).is_file():
            self._progress(f"no such file: {history!r} (a CSV or Parquet of month, metric, value)")
            return
        self.history = history
        self.running = True
        self._cal_stop = threading.Event()
        self._cal_done = threading.Event()
        self.query_one("#cal-history", Input).disabled = True
        self._progress(f"calibrating to {history}…")
        self._calibrate(history, self._cal_stop, self._cal_done)

    @work(thread=True, group="calibrate", exit_on_error=False)
    def _calibrate(self, history: str, stop: threading.Event, closed: threading.Event) -> None:
        from simulator.batch.executors import make_executor

        start = time.perf_counter()
        executor = None
        try:
            executor = make_executor("processes" if self.processes > 1 else "local", self.processes,
                                     start_method="forkserver")
            where = executor.description

            def on_runs(done: int, total: int, stage: str) -> None:
                self.post_message(CalibrationProgress(
                    f"{stage}: {done:,} of {total:,} runs stored · {where} · {time.perf_counter() - start:.0f} s"))

            from simulator.calibration.report_section import run_calibration

            result = run_calibration(self.loaded, history, self.fit, method=self.method, budget=self.budget,
                                     store=self.store, executor=executor, steps=self.steps, on_runs=on_runs,
                                     cancelled=stop.is_set)
            self.post_message(CalibrationEnded(result, f"done in {time.perf_counter() - start:.1f} s: "
                                                       f"{result.design_runs:,} design and {result.extra_runs:,} "
                                                       f"further runs (stored in {self.store})"))
        except StopCalibration:
            self.post_message(CalibrationEnded(None, f"cancelled; the finished runs stay stored in {self.store}",
                                               "warning"))
        except ScenarioError as exc:
            self.post_message(CalibrationEnded(None, str(exc.problems[0]), "error"))
        except UsageError as exc:
            self.post_message(CalibrationEnded(None, str(exc), "error"))
        except Exception as exc:  # a failed calibration is shown, never fatal
            self.post_message(CalibrationEnded(None, f"{type(exc).__name__}: {exc}", "error"))
        finally:
            if executor is not None:
                executor.close()
            closed.set()

    def _progress(self, text: str) -> None:
        self.query_one("#cal-progress", Static).update(text)

    def on_calibration_progress(self, message: CalibrationProgress) -> None:
        if self.running:
            self._progress(message.text)

    def on_calibration_ended(self, message: CalibrationEnded) -> None:
        self.running = False
        box = self.query_one("#cal-history", Input)
        box.disabled = False
        self._progress(message.text)
        if message.severity != "information":
            self.notify(message.text, title="Calibration", severity=message.severity)
        if message.result is not None:
            self.show(message.result)

    def show(self, result: Calibration) -> None:
        """Charts per metric, the statistics table, the warnings and the fitted parameters."""
        self.result = result
        results = self.query_one("#cal-results", VerticalScroll)
        for old in results.query("PlotextPlot, DataTable"):
            old.remove()
        self.query_one("#cal-summary", Static).update(describe(result))
        charts = [self._chart(result, j) for j in range(len(result.setup.metrics))] if result.trajectories else []
        stats = DataTable(id="cal-stats", zebra_stripes=True, cursor_type="row")
        stats.add_columns(*STATS_HEAD)
        stats.add_rows(statistics_rows(result))
        params = DataTable(id="cal-params", zebra_stripes=True, cursor_type="row")
        params.add_columns(*PARAMS_HEAD)
        params.add_rows(parameter_rows(result))
        warnings = self.query_one("#cal-warnings", Static)
        results.mount_all([*charts, stats], before=warnings)
        results.mount(params, after=warnings)
        warnings.update("\n".join(f"[yellow]warning:[/] {w}" for w in result.warnings) if result.warnings
                        else "[green]No identifiability warnings.[/]")
        stats.focus()

    def _chart(self, result: Calibration, j: int) -> PlotextPlot:
        from simulator.calibration.history import observation_matrix
        from simulator.calibration.labels import metric_heading

        setup = result.setup
        tr = result.trajectories
        months = list(range(1, setup.months + 1))
        value, _ = observation_matrix(setup.history, setup.metrics, setup.months)
        chart = PlotextPlot(classes="cal-chart")
        plt = chart.plt
        heading = metric_heading(setup.loaded.scenario, setup.metrics[j])
        plt.title(f"{heading}: history (orange •), calibrated (blue) in its 90% band (light), as written (grey)")
        plt.plot(months, tr["lower"][:, j].tolist(), color="gray+", marker="braille")
        plt.plot(months, tr["upper"][:, j].tolist(), color="gray+", marker="braille")
        plt.plot(months, tr["written"][:, j].tolist(), color="gray", marker="braille")
        plt.plot(months, tr["calibrated"][:, j].tolist(), color="blue", marker="braille")
        ok = np.isfinite(value[:, j])
        plt.scatter([m for m, k in zip(months, ok, strict=True) if k], value[ok, j].tolist(), color="orange",
                    marker="•")
        if setup.fit_until:
            plt.vline(setup.fit_until + 0.5, "red")
        plt.xlim(1, setup.months)
        return chart

    def action_cancel_calibration(self) -> None:
        if self.running:
            self._cal_stop.set()
            self._progress("cancelling: the runs stop at their next stored chunk…")

    def action_close(self) -> None:
        self._cal_stop.set()
        self.dismiss(None)

    def on_unmount(self) -> None:
        self._cal_stop.set()  # no run outlives the screen: stop at the next chunk, then the processes are closed
        self._cal_done.wait(CLOSE_WAIT)
