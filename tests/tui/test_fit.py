"""What an executive sees at 80x24 and 120x40: the columns that decide on screen, the recommended strategy in the
scorecard, the footer's Help and Quit, scroll cues naming what is off screen, money with its currency, and a
pinned run's before → after after a lever edit. Plus the time-series and whale-curve arithmetic, without an app."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from textual.widgets import DataTable, Footer

from simulator.analysis.customer_value import whale_curve
from simulator.analysis.units import strategy_labels
from tests.tui.conftest import (
    FAST,
    SHIPPED,
    retype,
    run_async,
    wait_for_finished_run,
    wait_for_rerun_after_typing,
)
from tui.app import SpcApp
from tui.format import signed_money
from tui.widgets.comparison import columns, decision_measure, pinned_column
from tui.widgets.customers import GRID, mean_whale
from tui.widgets.levers import LeverPanel
from tui.widgets.scrollcue import ScrollCue, column_widths, hidden_columns
from tui.widgets.timeseries import axis, axis_ticks, month_ticks, nice_step, plot_rows, spikes, tick_count


def _deciding(app) -> list[str]:
    """The five columns that decide: rank, strategy, the Δ the verdict judges with its interval, P(better), verdict."""
    return list(columns(decision_measure(app.snapshot.analysis.comparison))[:5])


def _plain(cell) -> str:
    return cell.plain if hasattr(cell, "plain") else str(cell)


def _footer_keys_on_screen(app) -> set[str]:
    """The footer's key labels whose whole region is inside the screen."""
    footer = app.screen.query_one(Footer)
    width = app.size.width
    return {key.description for key in footer.query("FooterKey") if key.region.width and key.region.right <= width}


def _recommended(app) -> str:
    rec = app.snapshot.analysis.recommendation
    assert rec is not None
    return rec.strategy


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
@run_async
async def test_comparison_and_scorecard_keep_what_decides_on_screen(size):
    app = SpcApp(SHIPPED, seed=20261123, **FAST)
    async with app.run_test(size=size) as pilot:
        await wait_for_finished_run(app, pilot)
        await pilot.pause(0.2)
        assert app.lever_panel.display == (size[0] >= 110)  # at 120 the lever panel takes 32 columns
        assert {"Help", "Quit"} <= _footer_keys_on_screen(app)

        table = app.query_one("#comparison-table", DataTable)
        labels = [c.label.plain for c in table.ordered_columns]
        deciding = _deciding(app)
        assert labels[:5] == deciding and deciding[2] == "Δ firm value [95% CI]"  # the run has valued the customers
        left, right = hidden_columns(table)
        assert not left and not set(deciding) & set(right), right
        cue = app.query_one("#comparison-cue", ScrollCue)
        assert cue.display and cue.right == right  # the rest is named under the table
        assert "more columns" in _plain(cue.render())
        names = strategy_labels(app.model.scenario)
        best = _recommended(app)
        row = table.get_row(best)
        assert _plain(row[1]).startswith("★ ") and names[best].startswith(_plain(row[1])[2:].rstrip("…"))
        assert _plain(row[2]).startswith(("+€", "−€"))  # money with its currency
        assert _plain(row[4]) in ("better", "worse", "not yet")
        for key in app.snapshot.analysis.comparison["strategy"]:  # the verdict agrees with the number beside it
            delta, p_better, verdict = (_plain(c) for c in table.get_row(key)[2:5])
            wins, n = p_better.split()[0].split("/")
            if verdict == "better":
                assert delta.startswith("+") and wins != "0", (key, delta, p_better)
            elif verdict == "worse":
                assert delta.startswith("−") and wins != n, (key, delta, p_better)

        await pilot.press("2")
        for _ in range(200):  # the scorecard is computed when first shown
            card = app.query_one("#scorecard-table", DataTable)
            if card.row_count:
                break
            await pilot.pause(0.05)
        await pilot.pause(0.2)
        columns = [c.label.plain for c in card.ordered_columns]
        assert " ".join(columns[1].split()) == f"★ {names[best]}" and columns[2] == "baseline"
        left, right = hidden_columns(card)
        assert columns[1] not in right and columns[2] not in right and not left
        cue = app.query_one("#scorecard-cue", ScrollCue)
        assert cue.display == bool(right) and cue.right == right
        assert len(right) >= (3 if size[0] == 80 else 1)  # six strategies never fit beside the KPI names
        cell = _plain(card.get_row_at(1)[1])  # the first KPI (NPV of profit) of the recommended strategy
        assert "€" in cell and "(" in cell


@run_async
async def test_a_pinned_run_shows_before_and_after_a_lever_edit():
    app = SpcApp(SHIPPED, debounce=0.3, seed=20261123, **FAST)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_finished_run(app, pilot)
        before = app.snapshot.analysis.comparison.set_index("strategy")["delta_npv"]
        await pilot.press("p")
        await pilot.pause(0.1)
        assert app.pinned is app.snapshot.analysis
        table = app.query_one("#comparison-table", DataTable)
        # at 120 columns beside the lever panel the pinned change is in view, compact ('vs pinned': the change)
        pinned = pinned_column(decision_measure(app.snapshot.analysis.comparison), compact=True)
        assert [c.label.plain for c in table.ordered_columns][5] == pinned
        assert pinned not in hidden_columns(table)[1]
        assert _plain(table.get_row("crm_for_acquisition")[5]) == "same"
        firm_before = app.snapshot.analysis.comparison.set_index("strategy")["delta_firm_value"]

        box = app.query_one(LeverPanel).input_for("initiatives.crm_package.one_off_cost")
        await retype(pilot, box, "300000")
        await wait_for_rerun_after_typing(app, pilot)
        after = app.snapshot.analysis.comparison.set_index("strategy")["delta_npv"]
        firm_after = app.snapshot.analysis.comparison.set_index("strategy")["delta_firm_value"]
        cell = _plain(table.get_row("crm_for_acquisition")[5])
        # 180k more spent in month 1 on the same random numbers: Δ NPV falls by about 180k discounted, and firm
        # value with it (the customers left at the horizon are the same)
        drop = before["crm_for_acquisition"] - after["crm_for_acquisition"]
        assert drop == pytest.approx(180_000, rel=0.02)
        firm_drop = firm_before["crm_for_acquisition"] - firm_after["crm_for_acquisition"]
        assert firm_drop == pytest.approx(drop, rel=1e-6)
        assert cell == signed_money(-firm_drop, "EUR", compact=True), cell
        assert _plain(table.get_row("invest_in_people")[5]) == "same"  # the edit only touches CRM
        ranking = _plain(app.query_one("#comparison-ranking").render())
        assert "Pinned run 1" in ranking and "baseline NPV" in ranking and f"'{pinned}'" in ranking

        await pilot.press("escape", "l")  # the panel hidden, the whole width: the change in full, before → after
        await pilot.pause(0.5)
        full = pinned_column(decision_measure(app.snapshot.analysis.comparison))
        assert [c.label.plain for c in table.ordered_columns][5] == full
        cell = _plain(table.get_row("crm_for_acquisition")[5])
        assert "→" in cell and f"({signed_money(-firm_drop, 'EUR', compact=True)})" in cell, cell

        await pilot.press("2")
        for _ in range(200):
            card = app.query_one("#scorecard-table", DataTable)
            if card.row_count:
                break
            await pilot.pause(0.05)
        await pilot.pause(0.2)
        shown = [" ".join(c.label.plain.split()) for c in card.ordered_columns]
        crm = shown.index(
            strategy_labels(app.model.scenario)["crm_for_acquisition"])
        npv_cell = _plain(card.get_row_at(1)[crm])  # NPV of profit: lower by the extra spend, marked ▼
        assert "▼€" in npv_cell, npv_cell
        await pilot.press("p")  # unpinned: the column goes
        await pilot.pause(0.1)
        assert app.pinned is None
        assert not {pinned, full} & {c.label.plain for c in table.ordered_columns}


@run_async
async def test_a_pinned_run_at_80x24_keeps_the_deciding_columns_and_the_change_on_screen():
    """Issue 15: with a pinned run at 80 columns, rank, strategy, the Δ the verdict judges with its interval,
    P(better) and the verdict stay on screen and the change against the pinned run is beside them ('vs pinned',
    the change alone); P(better) gives up its interval ('10/10') to make room, the strategy label keeps ≥ 12."""
    app = SpcApp(SHIPPED, debounce=0.3, seed=20261123, **FAST)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_finished_run(app, pilot)
        await pilot.press("p")
        await pilot.pause(0.1)
        app.lever_panel.display = True  # edit a lever, then hide the panel again as at 80 columns
        box = app.query_one(LeverPanel).input_for("initiatives.crm_package.one_off_cost")
        await retype(pilot, box, "300000")
        await wait_for_rerun_after_typing(app, pilot)
        await pilot.press("escape")
        app.lever_panel.display = False
        await pilot.pause(0.3)
        table = app.query_one("#comparison-table", DataTable)
        labels = [c.label.plain for c in table.ordered_columns]
        pinned = pinned_column(decision_measure(app.snapshot.analysis.comparison), compact=True)
        assert labels[:6] == [*_deciding(app), pinned]
        left, right = hidden_columns(table)
        assert not left and not set(labels[:6]) & set(right), right
        assert sum(w for w in column_widths(table)[:6]) <= table.scrollable_content_region.width
        crm = [_plain(c) for c in table.get_row("crm_for_acquisition")]
        assert crm[5].startswith("−€") and "/" in crm[3] and "(" not in crm[3], crm
        best = _recommended(app)
        assert _plain(table.get_row(best)[1]).startswith("★ ")
        assert len(_plain(table.get_row(best)[1])) >= 12


@run_async
async def test_a_served_session_starts_its_worker_pool_after_the_first_frame():
    """`spc tui --serve` sessions defer the pool (its fork server's imports doubled the time to the first frame,
    which the page's splash waits for); the pool still starts before the first run and serves the runs."""
    app = SpcApp(SHIPPED, seed=20261123, replications=2, months=12, workers=2, timings=False, defer_pool=True)
    assert app.pool is None
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_finished_run(app, pilot)
        assert app.pool is not None and not app.pool.failed
        assert app.live.pool is app.pool  # the first run was handed the pool
        assert app.snapshot.analysis.recommendation is not None


def test_help_lists_the_pin_key():
    from tui.screens.help import HELP

    assert "| `p` | pin the results" in HELP


# ---- the charts' arithmetic ------------------------------------------------------------------------------------
@pytest.mark.parametrize("lo,hi", [(-110_000, 820_000), (2_400, 4_600), (6.1, 8.9), (0.031, 0.087), (5, 5)])
def test_axis_ticks_are_round_even_and_cover_the_data(lo, hi):
    ticks, labels = axis_ticks(lo, hi, 5, "profit" if hi > 100_000 else "")
    steps = np.diff(ticks)
    assert np.allclose(steps, steps[0]) and steps[0] > 0  # evenly spaced
    mantissa = steps[0] / 10 ** np.floor(np.log10(steps[0]))
    assert any(np.isclose(mantissa, m) for m in (1, 2, 2.5, 5))  # round steps
    assert ticks[0] <= lo and ticks[-1] >= hi and 3 <= len(ticks) <= 7
    assert len(set(labels)) == len(labels)


@pytest.mark.parametrize("count", [2, 3, 4, 5])
def test_a_short_chart_gets_few_enough_ticks_for_a_row_each(count):
    ticks, _ = axis_ticks(-110_000, 820_000, count, "profit")
    assert 2 <= len(ticks) <= count + 1 and ticks[0] <= -110_000 and ticks[-1] >= 820_000
    assert np.allclose(np.diff(ticks), np.diff(ticks)[0])


@pytest.mark.parametrize("height", [11, 12, 13, 14, 16, 17, 21])
def test_ticks_land_evenly_on_the_rows_plotext_draws(height):
    """plotext rounds each tick to a text row; the ticks chosen for a chart's rows are equally many rows apart."""
    import re

    import plotext as plt

    rows = plot_rows(height)
    ticks, labels, (bottom, top) = axis(2_900, 3_850, tick_count(height), "active_customers", rows=rows)
    plt.clear_figure()
    plt.plotsize(50, height)
    plt.theme("clear")
    plt.title("t")
    plt.plot([1, 2, 3], [2_900, 3_400, 3_850])
    plt.yticks(ticks, labels)
    plt.ylim(bottom, top)
    lines = plt.build().splitlines()
    at = [i for i, line in enumerate(lines) if re.match(r"\s*[\d,]+┤", line)]
    assert len(at) == len(ticks) >= 2 and len(set(np.diff(at))) == 1, (ticks, at)
    assert bottom == ticks[0] <= 2_900 and top >= 3_850 and top >= ticks[-1]
    assert (3_850 - 2_900) / (top - bottom) >= 0.45  # the data fills about half the chart or more


def test_axis_labels_carry_units_and_thousand_separators():
    _, money = axis_ticks(-110_000, 820_000, 5, "profit", "EUR")
    assert money == ["−€250k", "€0", "€250k", "€500k", "€750k", "€1M"]
    _, customers = axis_ticks(2_400, 4_600, 5, "active_customers")
    assert customers == ["2,000", "3,000", "4,000", "5,000"]
    _, share = axis_ticks(0.031, 0.087, 5, "abandonment_rate")
    assert share[-1] == "10%"
    assert nice_step(930_000, 5) == 250_000


def test_month_ticks_cover_the_whole_horizon():
    assert month_ticks(1, 36) == [1, 6, 12, 18, 24, 30, 36]
    assert month_ticks(1, 12) == [1, 3, 6, 9, 12]
    assert month_ticks(1, 31)[-1] == 31 and month_ticks(1, 60)[-1] == 60


def test_a_one_off_spend_is_found_and_ordinary_months_are_not():
    rng = np.random.default_rng(7)
    rows = []
    for strategy in ("baseline", "crm", "people"):
        for rep in range(4):
            for month in range(1, 37):
                profit = 22_000 + 3_000 * rng.standard_normal()
                if strategy == "crm" and month == 2:
                    profit -= 110_000  # the CRM licence
                rows.append((strategy, rep, month, profit))
    ts = pd.DataFrame(rows, columns=["strategy", "replication", "period", "profit"])
    found = spikes(ts, "profit")
    assert found[["strategy", "period"]].values.tolist() == [["crm", 2]]
    assert found["profit"].iloc[0] == pytest.approx(-88_000, abs=4_000) and found["departure"].iloc[0] < 0
    assert spikes(ts[ts["strategy"] != "crm"], "profit").empty


def test_whale_curve_is_the_mean_over_replications_with_a_band():
    a, b = whale_curve(np.array([100.0, 50, -20, 10])), whale_curve(np.array([30.0, 30, 30, 30]))
    mean, half = mean_whale([a, a])
    assert np.allclose(half, 0) and mean[-1] == pytest.approx(100)
    mean, half = mean_whale([a, b])
    one, two = (np.interp(GRID, np.r_[0.0, c.customer_share], np.r_[0.0, c.cumulative_profit]) * 100 for c in (a, b))
    assert np.allclose(mean, (one + two) / 2)
    assert mean[50] == pytest.approx((150 / 140 * 100 + 50) / 2)  # half the customers: 150 of 140 and 60 of 120
    assert half.max() > 0
