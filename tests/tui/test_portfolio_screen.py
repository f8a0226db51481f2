"""The customer portfolio screen (P, or "Customer portfolio…" in the palette) on the CDNOW sample.

One fit (in a child process, ~5-15 s) serves the whole test: it is the cost of the screen, the rest is free.
"""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import DataTable, Input, Static

pytest.importorskip("pymc_marketing", reason="the optional 'data' extra (pip install '.[data]')")

from simulator.analysis.units import money  # noqa: E402
from tests.helpers import ROOT  # noqa: E402
from tests.tui.conftest import run_async  # noqa: E402
from tui.app import COMMANDS, SpcApp  # noqa: E402
from tui.screens.portfolio import PortfolioScreen  # noqa: E402

SAMPLE = ROOT / "tests" / "data" / "cdnow" / "cdnow_sample.csv"
MINIMAL = ROOT / "tests" / "data" / "minimal.yaml"


async def _wait(pilot, until, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not until():
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout} s")
        await pilot.pause(0.1)


def _text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


@run_async
async def test_portfolio_screen_fits_and_shows_equity_parameters_and_customers():
    assert any(name == "portfolio" for name, *_ in COMMANDS)
    app = SpcApp(MINIMAL, replications=1, months=3, workers=1, timings=False)
    async with app.run_test(size=(130, 50)) as pilot:
        await pilot.pause()
        await pilot.press("P")
        screen = app.screen
        assert isinstance(screen, PortfolioScreen)
        cur = app.loaded.scenario.metadata.currency if app.loaded else None
        assert screen.currency == cur
        screen.draws = 20  # the intervals' parameter draws: fewer than the screen's 100 keep the test short
        # a bad date is one line, and nothing starts
        screen.query_one("#portfolio-path", Input).value = str(SAMPLE)
        screen.query_one("#portfolio-cal-end", Input).value = "30/09/1997"
        screen.query_one("#portfolio-path", Input).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert "not a date" in _text(screen, "#portfolio-progress") and not screen.fitting
        # the CDNOW calibration period: 39 weeks, the rest is the holdout
        screen.query_one("#portfolio-cal-end", Input).value = "1997-09-30"
        await pilot.press("enter")
        await _wait(pilot, lambda: screen.report is not None or screen.error is not None, 60)
        rep = screen.report
        assert rep is not None, screen.error
        await pilot.pause()
        summary = _text(screen, "#portfolio-summary")
        assert f"Customer equity {money(rep['equity']['clv_sum'], cur)}" in summary
        assert "1,882 repeat purchases" in summary  # the holdout's actual count in the data
        assert rep["fit"]["customers"] == 2357
        params = screen.query_one("#portfolio-params", DataTable)
        assert params.row_count == 7  # r, alpha, a, b; p, q, gamma
        r = rep["fit"]["models"][0]["parameters"]["r"]
        row = [str(c) for c in params.get_row_at(0)]
        assert row[1] == "r" and row[2] == f"{r['estimate']:.4g}"
        assert r["estimate"] == pytest.approx(0.243, rel=0.02)  # Fader, Hardie & Lee (2005)
        table = screen.query_one("#portfolio-customers", DataTable)
        top = rep["top"][0]
        first = [str(c) for c in table.get_row_at(0)]
        assert first[1] == top["customer_id"] and first[6] == money(top["clv"], cur)
        assert top["clv"] == max(c["clv"] for c in rep["top"])
        assert screen.query_one("#portfolio-whale").display
        assert screen._process is None and not screen.fitting  # the child is gone
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, PortfolioScreen)


@run_async
async def test_cancelling_a_fit_ends_its_process():
    app = SpcApp(MINIMAL, replications=1, months=3, workers=1, timings=False)
    async with app.run_test(size=(130, 50)) as pilot:
        await pilot.pause()
        app.action_portfolio()
        await pilot.pause()
        screen = app.screen
        screen.query_one("#portfolio-path", Input).value = str(SAMPLE)
        screen.query_one("#portfolio-path", Input).focus()
        await pilot.press("enter")
        await _wait(pilot, lambda: screen._process is not None and screen._process.is_alive(), 10)
        proc = screen._process
        await pilot.press("escape")  # closing the screen cancels the fit
        await _wait(pilot, lambda: not proc.is_alive(), 10)
        assert proc.exitcode is not None
        assert not isinstance(app.screen, PortfolioScreen)
