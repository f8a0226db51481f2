"""A tab switch repaints only what changed (tui/widgets/cached.py: SteadyOptionList, CachedPlot.release); what it
shows is what a full redraw would show."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import OptionList, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

from tests.tui.conftest import FAST, SHIPPED, lines_of, run_async, show_tab, wait_for_finished_run
from tui.app import SpcApp
from tui.widgets.cached import CachedPlot, SteadyOptionList


class Tabs(App[None]):
    CSS = "#options { width: 24; }"

    def compose(self) -> ComposeResult:
        with TabbedContent(id="tabs"):
            with TabPane("A", id="a"):
                yield SteadyOptionList(Option("first node", id="first"), Option("second node", id="second"),
                                       id="options")
            with TabPane("B", id="b"):
                yield Static("elsewhere")


@run_async
async def test_an_option_list_shows_its_options_after_tab_switches_changes_and_resizes():
    app = Tabs()
    async with app.run_test(size=(60, 20)) as pilot:
        options = app.query_one(SteadyOptionList)
        await pilot.pause()
        before = lines_of(options)
        assert "first node" in before
        await show_tab(pilot, "b")
        await show_tab(pilot, "a")  # the same width: its rendered options are kept...
        assert lines_of(options) == before and options._option_render_cache
        await show_tab(pilot, "b")
        options.clear_options()  # ...unless they change
        options.add_options([Option("third node", id="third")])
        await show_tab(pilot, "a")
        assert "third node" in lines_of(options) and "first node" not in lines_of(options)
        options.styles.width = 8  # narrower: wrapped again at the new width
        await pilot.pause()
        await pilot.pause()
        narrow = lines_of(options)
        assert "node" in narrow and "third node" not in narrow
        options._clear_caches()  # rendered from scratch: the same
        assert lines_of(options) == narrow


def _on_screen(app, widget) -> str:
    """The characters on screen in `widget`'s region (what the compositor shows, from the widgets' caches)."""
    region = widget.region
    rows = app.screen._compositor.render_strips()[region.y:region.bottom]
    return "\n".join(strip.crop(region.x, region.right).text for strip in rows)


async def _redrawn(pilot, widget) -> str:
    """The same, after every widget in it has been told to render again from scratch."""
    for child in widget.walk_children(with_self=True):
        if isinstance(child, OptionList):
            child._clear_caches()
        child.refresh()
    await pilot.pause()
    await pilot.pause()
    return _on_screen(pilot.app, widget)


@run_async
async def test_each_tab_shown_again_draws_what_a_full_redraw_draws_and_the_causal_map_follows_a_new_model():
    app = SpcApp(SHIPPED, **FAST)
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_for_finished_run(app, pilot)
        views = {"1": app.comparison, "2": app.scorecard, "3": app.timeseries, "4": app.causal_map,
                 "5": app.customer_view}
        drawn = {}
        for key in "1234512345":  # the first round draws each view; the second one keeps what it drew
            await pilot.press(key)
            await pilot.pause(0.3)
            shown = _on_screen(app, views[key])
            assert shown.strip(), app.tabs.active
            if key in drawn:
                assert shown == drawn[key], f"{app.tabs.active} shows something else when shown again"
                assert shown == await _redrawn(pilot, views[key]), f"{app.tabs.active} is not what it would draw"
            drawn[key] = shown
            if key == "3":  # the charts on screen are drawn, not held blank
                assert not any(chart.held or chart._blank for chart in app.timeseries.query(CachedPlot))
        nodes = app.causal_map.query_one(OptionList)
        assert isinstance(nodes, SteadyOptionList)
        await pilot.press("1")
        await pilot.pause(0.3)
        from simulator import compile_loaded, load

        other = compile_loaded(load(str(SHIPPED).replace("service_profit_chain", "zero_defections")))
        app._show_causal_map(other)  # another model while the causal map is hidden
        await pilot.press("4")
        await pilot.pause(0.3)
        shown = _on_screen(app, app.causal_map)
        assert shown != drawn["4"] and shown == await _redrawn(pilot, app.causal_map)
        assert str(nodes.get_option_at_index(0).prompt).split(" loops")[0] in shown  # the new model's loop count
