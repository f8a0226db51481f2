"""Pilot: C opens "Calibration to history", a history typed in runs the calibration in a thread, and the screen
shows the calibration's own statistics, a chart per metric and the fitted parameters; esc closes it."""

from __future__ import annotations

from textual.widgets import DataTable, Input, Static
from textual_plotext import PlotextPlot

from simulator.calibration.report_section import parameter_rows, statistics_rows
from simulator.scenario.loader import load
from tests.test_calibration_report import CHURN, write_history, write_scenario
from tests.tui.conftest import run_async, wait_for_finished_run
from tui.app import COMMANDS, SpcApp
from tui.screens.calibration import CalibrationScreen


async def _wait_until(pilot, done, timeout: float = 60.0) -> None:
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not done():
        assert loop.time() < deadline, "the calibration did not end in time"
        await pilot.pause(0.1)


def test_the_palette_lists_the_calibration():
    assert ("calibrate", "Calibration to history…") in [(name, title) for name, title, _ in COMMANDS]


@run_async
async def test_key_c_opens_the_screen_runs_the_calibration_and_shows_its_statistics(tmp_path):
    scenario = write_scenario(tmp_path)
    history = write_history(load(scenario), tmp_path / "history.csv")
    app = SpcApp(scenario, replications=2, workers=1, timings=False)
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_for_finished_run(app, pilot)
        await pilot.press("C")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CalibrationScreen)
        box = screen.query_one("#cal-history", Input)
        assert box.has_focus
        # small and fast: one parameter, 24 draws, a store of the test's own
        screen.fit, screen.budget, screen.store, screen.steps = [CHURN], 24, tmp_path / "cal.duckdb", 600
        await pilot.press(*"nothere.csv", "enter")  # a wrong path: one line on the screen, nothing runs
        await pilot.pause()
        assert not screen.running
        assert "no such file: 'nothere.csv'" in str(screen.query_one("#cal-progress", Static).render())
        box.value = ""
        await pilot.press(*str(history), "enter")
        await pilot.pause()
        assert screen.running and box.disabled
        await _wait_until(pilot, lambda: not screen.running)
        result = screen.result
        assert result is not None, str(screen.query_one("#cal-progress", Static).render())
        assert "done in" in str(screen.query_one("#cal-progress", Static).render())
        stats = screen.query_one("#cal-stats", DataTable)
        shown = [[str(c) for c in stats.get_row_at(i)] for i in range(stats.row_count)]
        assert shown == statistics_rows(result) and len(shown) == 4  # 2 metrics x (calibrated, written)
        assert {r[2] for r in shown} == {"calibrated", "written"}
        params = screen.query_one("#cal-params", DataTable)
        assert [str(c) for c in params.get_row_at(0)] == parameter_rows(result)[0]
        assert len(screen.query(PlotextPlot)) == len(result.setup.metrics)
        warnings = str(screen.query_one("#cal-warnings", Static).render())
        assert ("No identifiability warnings" in warnings) == (not result.warnings)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, CalibrationScreen)


@run_async
async def test_closing_the_screen_mid_run_stops_the_calibration_and_leaves_no_worker_process(tmp_path):
    from tests.tui.test_decision import _no_workers_left

    scenario = write_scenario(tmp_path)
    history = write_history(load(scenario), tmp_path / "history.csv")
    app = SpcApp(scenario, replications=2, workers=2, timings=False)  # a pool: the calibration runs on 2 processes
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_for_finished_run(app, pilot)
        await pilot.press("C")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CalibrationScreen) and screen.processes == 2
        screen.fit, screen.budget, screen.store = [CHURN], 24, tmp_path / "cal.duckdb"
        await pilot.press(*str(history), "enter")
        await _wait_until(pilot, lambda: "design:" in str(screen.query_one("#cal-progress", Static).render()))
        await pilot.press("escape")  # closes mid-run: the runs stop at their next chunk, the processes close
        await pilot.pause()
        assert not isinstance(app.screen, CalibrationScreen)
        assert screen._cal_done.is_set() and screen.result is None
    assert _no_workers_left() == []
