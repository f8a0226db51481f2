"""A tab shown for the first time, or with new data, is drawn once and right: the time series' legend and spike note
take their lines before its charts are drawn (tui/widgets/timeseries.py), charts out of date build nothing until they
are drawn (CachedPlot.hold), and a Static that keeps its number of lines is not laid out again (update_fitted)."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import Static, TabbedContent, TabPane

from tests.tui.conftest import FAST, SHIPPED, lines_of, run_async, wait_for_finished_run
from tui.app import SpcApp
from tui.widgets.cached import CachedPlot, update_fitted


class Builds:
    """Counts the charts each CachedPlot builds (plotext runs), per widget id."""

    def __init__(self, monkeypatch) -> None:
        self.counts: dict[str, int] = {}
        original = CachedPlot.__mro__[1].render  # PlotextPlot.render: what CachedPlot caches

        def render(plot):
            self.counts[plot.id] = self.counts.get(plot.id, 0) + 1
            return original(plot)

        monkeypatch.setattr(CachedPlot.__mro__[1], "render", render)


class Tabs(App[None]):
    CSS = "#note { height: auto; }"

    def compose(self) -> ComposeResult:
        with TabbedContent(id="tabs"):
            with TabPane("A", id="a"):
                yield Static("one line", id="note")
                yield CachedPlot(id="plot")
            with TabPane("B", id="b"):
                yield Static("elsewhere")


@run_async
async def test_update_fitted_lays_out_only_when_the_number_of_lines_changes():
    app = Tabs()
    async with app.run_test(size=(40, 20)) as pilot:
        await pilot.pause()
        note, plot = app.query_one("#note", Static), app.query_one(CachedPlot)
        assert note.size.height == 1
        assert not update_fitted(note, "one line")  # the same: nothing
        assert not update_fitted(note, Text("another line"))  # as many lines: no layout
        assert not note._layout_required
        await pilot.pause()
        assert "another line" in lines_of(note)
        top = plot.region.y
        assert update_fitted(note, "a longer text that takes two lines at forty")  # two lines: laid out
        await pilot.pause()
        assert note.size.height == 2 and plot.region.y == top + 1
        app.query_one(TabbedContent).active = "b"
        await pilot.pause()
        assert update_fitted(note, "hidden")  # no width to measure it by: laid out
        app.query_one(TabbedContent).active = "a"
        await pilot.pause()
        assert note.size.height == 1 and "hidden" in lines_of(note)


@run_async
async def test_a_held_chart_builds_nothing_until_redrawn(monkeypatch):
    builds = Builds(monkeypatch)
    app = Tabs()
    async with app.run_test(size=(60, 24)) as pilot:
        plot = app.query_one(CachedPlot)
        plot.plt.title("old figure")
        plot.redraw()
        await pilot.pause()
        assert "old figure" in lines_of(plot)
        builds.counts.clear()
        plot.hold()
        plot.refresh()
        await pilot.pause()
        assert "old figure" in lines_of(plot) and not builds.counts  # built at this size: shown as it was
        await pilot.resize_terminal(70, 24)
        await pilot.pause()
        assert "old figure" not in lines_of(plot) and not builds.counts  # a new size: blank, not built
        plot.release()  # up to date after all: built at its size
        await pilot.pause()
        assert "old figure" in lines_of(plot) and builds.counts["plot"] == 1
        plot.hold()
        await pilot.resize_terminal(60, 24)
        plot.plt.clear_figure()
        plot.plt.title("new figure")
        plot.redraw()  # drawn: held no more
        await pilot.pause()
        assert not plot.held and "new figure" in lines_of(plot) and builds.counts["plot"] == 2


def _charts(app: SpcApp) -> list[CachedPlot]:
    return list(app.timeseries.query(CachedPlot))


@run_async
async def test_the_time_series_first_shown_is_drawn_once_at_its_final_heights(monkeypatch):
    builds = Builds(monkeypatch)
    app = SpcApp(SHIPPED, **FAST)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_finished_run(app, pilot)
        # the lever panel is built just after the run ends (its width settles the views'): on a loaded machine a
        # press before that drew the series at the old size and then at the new one (CI, once in many runs)
        for _ in range(200):
            if app._panels_pending is None:
                break
            await pilot.pause(0.05)
        await pilot.pause()
        await pilot.pause()
        shows = []
        show = type(app.timeseries).show

        def counted(view, *args, **kwargs):
            before = view._drawn
            show(view, *args, **kwargs)
            if view._drawn is not before:
                shows.append(view._drawn)

        monkeypatch.setattr(type(app.timeseries), "show", counted)
        builds.counts.clear()
        await pilot.press("3")
        await pilot.pause(0.3)
        view, charts = app.timeseries, _charts(app)
        legend = app.query_one("#timeseries-legend", Static)
        assert legend.size.height >= 2  # the legend names every strategy (more than a line at this width)
        assert len(shows) == 1  # drawn once...
        assert view._drawn[0] is app.snapshot and view._drawn[-1] == tuple(p.size.height for p in charts)
        assert all(builds.counts.get(p.id) == 1 for p in charts), builds.counts  # ...and each chart built once
        assert all(not p.held for p in charts)
        assert "Cumulative profit" in lines_of(charts[0]) and "Headcount" in lines_of(charts[-1])
        await pilot.press("1")
        await pilot.pause(0.2)
        await pilot.press("3")  # shown again: the heights are the ones it was drawn at, so nothing is redrawn
        await pilot.pause(0.3)
        assert len(shows) == 1 and all(builds.counts.get(p.id) == 1 for p in charts)
        assert "Cumulative profit" in lines_of(charts[0])


@run_async
async def test_the_time_series_shows_the_data_that_came_while_it_was_hidden(monkeypatch):
    builds = Builds(monkeypatch)
    app = SpcApp(SHIPPED, **FAST)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_finished_run(app, pilot)
        await pilot.press("3")
        await pilot.pause(0.3)
        view, charts = app.timeseries, _charts(app)
        first = view._drawn
        await pilot.press("1")
        await pilot.pause(0.2)
        run = app.run_id
        app.months = 10  # a shorter horizon: the x axis ends elsewhere
        await pilot.press("r")
        await wait_for_finished_run(app, pilot, newer_than=run)
        assert all(p.held for p in charts)  # out of date while hidden
        builds.counts.clear()
        await pilot.press("3")
        await pilot.pause(0.3)
        assert view._drawn is not first and view._drawn[0] is app.snapshot
        assert view._drawn[-1] == tuple(p.size.height for p in charts)
        assert all(not p.held and builds.counts.get(p.id) == 1 for p in charts), builds.counts
        text = lines_of(charts[0])
        assert "Cumulative profit" in text and " 10" in text.splitlines()[-1]  # the new last month on the x axis
        assert " 12" not in text.splitlines()[-1]


@run_async
async def test_a_draw_asked_for_while_the_time_series_is_hidden_is_made_when_it_is_shown(monkeypatch):
    builds = Builds(monkeypatch)
    app = SpcApp(SHIPPED, **FAST)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_finished_run(app, pilot)
        view, charts = app.timeseries, _charts(app)
        view.show(app.snapshot, app.live.strategies)  # hidden: no heights to draw at
        await pilot.pause(0.3)
        assert view._drawn is None and all(p.held for p in charts) and not builds.counts
        await pilot.press("3")
        await pilot.pause(0.3)
        assert view._drawn[0] is app.snapshot and view._drawn[-1] == tuple(p.size.height for p in charts)
        assert all(not p.held and builds.counts.get(p.id) == 1 for p in charts), builds.counts
        assert "Cumulative profit" in lines_of(charts[0])
