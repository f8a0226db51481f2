"""What the views keep between tab switches (tui/widgets/cached.py) is never stale: whatever changed while a tab
was hidden is what it shows when it comes back."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import Static, TabbedContent, TabPane
from textual.widgets._footer import FooterKey

from simulator.analysis.units import humanise
from tests.tui.conftest import FAST, SHIPPED, lines_of, run_async, show_tab, wait_for_finished_run
from tui.app import SpcApp
from tui.widgets.cached import CachedPlot, SteadyTable, update_static


class TwoTabs(App[None]):
    def compose(self) -> ComposeResult:
        with TabbedContent(id="tabs"):
            with TabPane("A", id="a"):
                yield SteadyTable(id="table")
                yield CachedPlot(id="plot")
            with TabPane("B", id="b"):
                yield Static("elsewhere")


@run_async
async def test_a_table_changed_while_its_tab_was_hidden_shows_the_change():
    app = TwoTabs()
    async with app.run_test(size=(80, 30)) as pilot:
        table = app.query_one(SteadyTable)
        table.add_columns("strategy", "value")
        table.add_row("alpha", "old-value", key="alpha")
        await pilot.pause()
        assert "old-value" in lines_of(table)
        await show_tab(pilot, "b")
        await show_tab(pilot, "a")  # the same size again: the rendered cells are kept...
        assert "old-value" in lines_of(table)
        await show_tab(pilot, "b")
        table.update_cell("alpha", table.ordered_columns[1].key, "new-value")  # ...unless a cell changes
        await show_tab(pilot, "a")
        assert "new-value" in lines_of(table) and "old-value" not in lines_of(table)
        await show_tab(pilot, "b")
        table.clear()
        table.add_row("beta", "rebuilt")
        await show_tab(pilot, "a")
        assert "rebuilt" in lines_of(table) and "alpha" not in lines_of(table)


@run_async
async def test_a_chart_redrawn_while_its_tab_was_hidden_shows_the_new_figure():
    app = TwoTabs()
    async with app.run_test(size=(80, 30)) as pilot:
        plot = app.query_one(CachedPlot)
        plot.plt.title("first figure")
        plot.plt.plot([1, 2, 3], [1, 4, 9])
        plot.redraw()
        await pilot.pause()
        assert "first figure" in lines_of(plot)
        await show_tab(pilot, "b")
        plot.plt.clear_data()
        plot.plt.clear_figure()
        plot.plt.title("second figure")
        plot.plt.plot([1, 2, 3], [9, 4, 1])
        plot.redraw()
        await show_tab(pilot, "a")
        assert "second figure" in lines_of(plot) and "first figure" not in lines_of(plot)
        before = lines_of(plot)
        app.theme = "textual-light" if app.theme != "textual-light" else "textual-dark"  # the theme is in the key
        await pilot.pause()
        assert plot.render() is not None and "second figure" in lines_of(plot)
        assert before == lines_of(plot)  # same characters, other colours


@run_async
async def test_update_static_skips_only_what_draws_the_same():
    app = TwoTabs()
    async with app.run_test(size=(80, 30)) as pilot:
        static = app.query_one(Static)
        update_static(static, Text("note", style="dim"))
        first = static.content
        update_static(static, Text("note", style="dim"))
        assert static.content is first  # the same text and style: not updated
        update_static(static, Text("note"))  # the same characters in another style: updated
        assert static.content is not first and static.content.style == ""
        update_static(static, "note")
        assert static.content == "note"
        await pilot.pause()


def _legend(app: SpcApp) -> str:
    return app.query_one("#timeseries-legend", Static).content.plain


def _label(app: SpcApp, strategy: str) -> str:
    """The strategy as the legend names it (starred when highlighted)."""
    return next((getattr(s, "label", "") or humanise(s.name)) for s in app.model.scenario.strategies if s.name == strategy)


async def _switch(pilot, *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
    await pilot.pause(0.3)


@run_async
async def test_the_time_series_shown_again_shows_what_changed_while_it_was_hidden():
    app = SpcApp(SHIPPED, **FAST)
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_for_finished_run(app, pilot)
        await _switch(pilot, "3")
        await _switch(pilot, "1", "3")  # (the first draw is re-fitted once the legend has its height)
        view = app.timeseries
        first = app.highlight
        assert f"{_label(app, first)}*" in _legend(app)
        drawn = view._drawn
        await _switch(pilot, "1", "3")  # nothing changed: nothing redrawn
        assert view._drawn is drawn
        await _switch(pilot, "1", "h")  # another strategy's band, chosen while the charts are hidden
        assert app.highlight != first
        await _switch(pilot, "3")
        assert view._drawn is not drawn and view._drawn[4] == app.highlight
        assert f"{_label(app, app.highlight)}*" in _legend(app) and f"{_label(app, first)}*" not in _legend(app)
        await _switch(pilot, "1")
        run = app.run_id
        await pilot.press("r")  # new results while the charts are hidden
        await wait_for_finished_run(app, pilot, newer_than=run)
        await _switch(pilot, "3")
        assert view._drawn[0] is app.snapshot


def _footer_keys(app: SpcApp) -> set[str]:
    return {key.key for key in app.screen.query(FooterKey)}


@run_async
async def test_the_footer_follows_the_keys_of_the_focused_view():
    app = SpcApp(SHIPPED, **FAST)
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_for_finished_run(app, pilot)
        await pilot.press("4")
        app.causal_map.query_one("#map-nodes").focus()  # the map's own key: e (Shapley)
        await pilot.pause(0.2)
        assert "e" in _footer_keys(app)
        await pilot.press("1")
        app.comparison.query_one(SteadyTable).focus()
        await pilot.pause(0.2)
        assert "e" not in _footer_keys(app) and {"q", "r"} <= _footer_keys(app)
        await pilot.press("4")
        app.causal_map.query_one("#map-nodes").focus()
        await pilot.pause(0.2)
        assert "e" in _footer_keys(app)
