"""Pilot tests: open, edit a lever, wait for RunFinished, check the comparison moved the right way."""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import DataTable, Input, Static, TabbedContent

from simulator.analysis.units import money, strategy_labels
from tests.helpers import DATA
from tests.tui.conftest import (
    FAST,
    SHIPPED,
    printed,
    retype,
    run_async,
    wait_for_error,
    wait_for_finished_run,
    wait_for_rerun_after_typing,
)
from tui.app import TABS, SpcApp
from tui.widgets.levers import LeverList, LeverPanel


def _delta(app: SpcApp, strategy: str) -> float:
    cmp = app.snapshot.analysis.comparison.set_index("strategy")
    return float(cmp.at[strategy, "delta_npv"])


@run_async
async def test_lever_edit_reruns_and_moves_the_comparison_the_expected_way():
    app = SpcApp(SHIPPED, debounce=0.3, **FAST)
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_for_finished_run(app, pilot)
        first_run = app.run_id
        before = _delta(app, "crm_for_acquisition")
        table = app.query_one("#comparison-table", DataTable)
        assert table.row_count == 5  # every strategy against baseline
        # the person's way: focus the CRM package's one-off cost, clear it, type a bigger number
        box = app.query_one(LeverPanel).input_for("initiatives.crm_package.one_off_cost")
        await retype(pilot, box, "300000")
        await wait_for_rerun_after_typing(app, pilot)
        assert app.run_id > first_run
        after = _delta(app, "crm_for_acquisition")
        # same random numbers (same seed), 180k more spent in month 1: Δ NPV falls by about 180k discounted
        assert before - after == pytest.approx(180_000, rel=0.02)
        assert app.changes == {"initiatives.crm_package.one_off_cost": 300000}
        # other strategies do not change: common random numbers and the edit only touches CRM
        assert _delta(app, "invest_in_people") == pytest.approx(app.finished_runs[0].analysis.comparison.set_index(
            "strategy").at["invest_in_people", "delta_npv"], abs=1e-6)


@run_async
async def test_bad_lever_value_is_flagged_and_nothing_runs():
    app = SpcApp(SHIPPED, debounce=0.3, **FAST)
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_for_finished_run(app, pilot)
        run_id = app.run_id
        panel = app.query_one(LeverPanel)
        box = panel.input_for("initiatives.crm_package.start_month")
        await retype(pilot, box, "-3")
        await pilot.pause(0.4)
        assert box.has_class("-invalid")  # the whole scenario was validated: start_month must be >= 0
        assert "greater than or equal to 0" in str(panel.query_one("#lever-error", Static).render())
        await retype(pilot, box, "x")
        await pilot.pause(0.2)
        assert "not a number" in str(panel.query_one("#lever-error", Static).render())
        assert app.run_id == run_id


@run_async
async def test_the_lever_list_chooses_a_lever_and_enter_edits_it_in_the_input():
    """The panel is one list and one input: arrows choose a lever, enter edits it (typing replaces its value), enter
    goes back to the list, and the list shows what was typed, marked when it is not a number."""
    app = SpcApp(SHIPPED, debounce=0.3, **FAST)
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_for_finished_run(app, pilot)
        app.auto_run = False  # edits are checked, nothing re-runs
        panel = app.query_one(LeverPanel)
        listing, box = panel.query_one(LeverList), panel.query_one("#lever-editor", Input)
        listing.focus()
        await pilot.press("down", "down")  # Headcount → Annual salary → Quit rate/year
        assert panel.levers[panel.editing].path == "employees.annual_quit_rate" and box.value == "0.3"
        assert str(box.tooltip) == "employees.annual_quit_rate"
        assert str(panel.query_one("#lever-editing", Static).render()) == "Staffing: Quit rate/year"
        await pilot.press("enter", "0", ".", "2", "5")
        assert app.focused is box and box.value == "0.25"  # the old value was selected: typing replaced it
        quit_rate = panel.editing
        await pilot.press("enter", "down")
        assert app.focused is listing and panel.levers[panel.editing].path == "employees.hiring_lag_days"
        row = printed(listing.get_option(quit_rate).prompt)
        assert row == "Quit rate/year  0.25" and app.changes == {"employees.annual_quit_rate": 0.25}
        await pilot.press("up", "enter", "x")
        assert printed(listing.get_option(quit_rate).prompt) == "Quit rate/year  x ✗" and box.has_class("-invalid")
        assert "not a number" in str(panel.query_one("#lever-error", Static).render())
        assert app.changes == {"employees.annual_quit_rate": 0.25}  # the bad text changed nothing
        await pilot.press("escape")
        assert app.focused is None  # the keys are the app's again
        await pilot.press("2")
        assert app.tabs.active == "scorecard"


@run_async
async def test_broken_file_shows_its_errors_and_the_app_keeps_working():
    app = SpcApp(str(DATA / "invalid" / "link_unknown_node.yaml"), **FAST)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_error(app, pilot, "link_unknown_node.yaml:")
        headline = app.query_one("#comparison-headline", Static)
        errors = str(app.query_one("#errors", Static).render())
        # nothing was loaded before: no "previous scenario", and no run to wait for
        assert "no scenario is open yet" in errors and "previous scenario" not in errors
        assert "No scenario is open" in str(headline.render())
        app.open_scenario(SHIPPED)  # a good file after a bad one opens and runs
        await wait_for_finished_run(app, pilot)
        assert not app.query_one("#errors").display
        assert app.snapshot.analysis is not None
        assert "No scenario is open" not in str(headline.render())


@run_async
async def test_cancel_stops_the_run_and_keys_switch_views():
    app = SpcApp(SHIPPED, replications=20, months=36, workers=1, timings=False)
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(200):
            await pilot.pause(0.05)
            if app.snapshot is not None:
                break
        await pilot.press("c")
        status = app.query_one("#run-text")
        for _ in range(600):  # the run in flight finishes first (under a second, more on a loaded machine)
            await pilot.pause(0.05)
            if "Cancelled" in status.text:
                break
        assert app.live.cancelled
        assert app.snapshot.done < app.snapshot.total
        assert "Cancelled" in app.query_one("#run-text").text
        for key, tab in zip("23451", ("scorecard", "timeseries", "causal", "customers", "comparison"), strict=True):
            await pilot.press(key)
            assert app.query_one(TabbedContent).active == tab


@run_async
async def test_save_writes_an_extends_file_that_validates(tmp_path):
    from simulator import load

    app = SpcApp(SHIPPED, debounce=0.3, **FAST)
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_for_finished_run(app, pilot)
        box = app.query_one(LeverPanel).input_for("initiatives.people_programme.start_month")
        await retype(pilot, box, "6")
        await wait_for_rerun_after_typing(app, pilot)
        target = tmp_path / "edited.yaml"
        app.action_save()
        await pilot.pause()
        field = app.screen.query_one("#save-path", Input)
        field.value = str(target)
        await pilot.press("enter")
        await pilot.pause()
    text = target.read_text()
    assert "extends:" in text and "start_month: 6" in text and "monthly_cost" not in text
    edited = load(target).scenario
    assert next(i for i in edited.initiatives if i.name == "people_programme").start_month == 6
    assert len(edited.strategies) == 5


@run_async
async def test_browser_lists_the_shipped_scenarios_and_opens_one():
    app = SpcApp(None, **FAST)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.2)
        from textual.widgets import OptionList

        options = app.screen.query_one("#browser-list", OptionList)
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert any(i.endswith("service_profit_chain.yaml") for i in ids)
        options.highlighted = next(i for i, x in enumerate(ids) if x.endswith("service_profit_chain.yaml"))
        await pilot.press("enter")
        await wait_for_finished_run(app, pilot)
        assert app.model.scenario.metadata.name


@run_async
async def test_every_action_is_in_the_command_palette():
    app = SpcApp(SHIPPED, **FAST)
    async with app.run_test(size=(100, 30)) as pilot:
        commands = list(app.get_system_commands(app.screen))
        titles = {c.title for c in commands}
        callbacks = {getattr(c.callback, "__name__", "") for c in commands}
        for binding in app.BINDINGS:
            action = binding.action.split("(")[0]
            if action == "show_tab":
                continue
            assert f"action_{action}" in callbacks or (action == "quit" and "Quit" in titles), action
        assert {f"Show {label[2:]}" for _, label in TABS} <= titles
        await pilot.press("t")
        assert app.theme == "textual-light"
        await pilot.press("t")
        assert app.theme == "textual-dark"
        await asyncio.sleep(0)


@run_async
async def test_results_keep_arriving_under_a_modal_screen():
    """Help or the browser open while replications stream in: the views still update (found by hand)."""
    app = SpcApp(SHIPPED, **FAST)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("question_mark")
        await wait_for_finished_run(app, pilot)
        await pilot.press("escape")
        await pilot.pause()
        assert app.comparison.query_one(DataTable).row_count == 5


@run_async
async def test_causal_map_explains_the_selected_node_along_its_paths():
    app = SpcApp(SHIPPED, **FAST)
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_for_finished_run(app, pilot)
        await pilot.press("4")
        from textual.widgets import OptionList

        nodes = app.causal_map.query_one(OptionList)
        index = next(i for i in range(nodes.option_count) if nodes.get_option_at_index(i).id == "employee_satisfaction")
        nodes.highlighted = index
        explain = app.causal_map.query_one("#map-explain", Static)
        for _ in range(400):
            await pilot.pause(0.05)
            if "Why Employee satisfaction moved" in str(explain.render()):
                break
        text = str(explain.render())
        label = strategy_labels(app.model.scenario)[app.highlight]  # labels, not identifiers
        assert f"under {label}" in text and "How the shock travelled" in text
        assert "employee_satisfaction" not in text and "->" not in text
        assert "→" in text  # at least one causal path


@run_async
async def test_a_stored_batch_run_opens_in_the_views(tmp_path):
    from tests.test_cli_run import spc

    db = tmp_path / "results.duckdb"
    made = spc("batch", str(DATA / "engine_small.yaml"), "--replications", "2", "--months", "6", "--store", str(db),
               "--executor", "local")
    assert made.returncode == 0, made.stderr
    app = SpcApp(None, store=db, stored_run=1, **FAST)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.comparison.query_one(DataTable)
        for _ in range(600):  # up to 30 s (a busy machine once took longer than 10 s), until the table is filled
            await pilot.pause(0.05)
            if app.snapshot is not None and table.row_count:
                break
        assert "stored run 1" in app.sub_title
        assert app.comparison.query_one(DataTable).row_count == 2  # training and cuts against baseline
        assert app.snapshot.analysis.replications == 2


@run_async
async def test_worker_pool_starts_inside_the_app_and_runs_the_comparison():
    """Textual swaps stderr for an object without a descriptor; the pool must still start (found by bench)."""
    app = SpcApp(SHIPPED, replications=2, months=6, workers=2, timings=False)
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(600):
            await pilot.pause(0.05)
            if app.pool.ready or app.pool.failed:
                break
        assert app.pool.ready and not app.pool.failed, app.pool._failed
        await wait_for_finished_run(app, pilot)
        assert app.snapshot.analysis.replications == 2


@run_async
async def test_causal_map_shows_the_shapley_ranking_of_the_highlighted_strategy():
    from textual.widgets import OptionList

    from simulator.analysis.attribution import attribute

    app = SpcApp(DATA / "engine_small.yaml", replications=2, months=6, workers=1, timings=False)
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_for_finished_run(app, pilot)
        await pilot.press("4")
        app.causal_map.query_one(OptionList).focus()
        strategy = app.highlight
        box = app.causal_map.query_one("#map-shapley", Static)
        assert "press e" in str(box.render())
        await pilot.press("e")
        for _ in range(600):
            await pilot.pause(0.05)
            if "Why NPV moved" in str(box.render()):
                break
        text = str(box.render())
        label = strategy_labels(app.model.scenario)[strategy]
        assert f"under {label} (Shapley" in text and "95% CI" in text and "share" in text
        att = attribute(app.model, strategy, "npv", replications=2, months=6, workers=1)
        lines = text.splitlines()
        ranked = sorted(att.groups, key=lambda g: -abs(g.value))
        rows = [next(i for i, line in enumerate(lines) if line.strip().startswith(g.name)) for g in ranked]
        assert rows == sorted(rows)  # largest |value| first
        for g in ranked:
            line = lines[rows[ranked.index(g)]]
            m = [money(x, app.model.scenario.metadata.currency, signed=True, compact=True) for x in (g.value, g.low, g.high)]
            assert m[0] in line and f"[{m[1]}, {m[2]}]" in line  # money with its currency ('+€5.72k')
        assert app.causal_map.attributions[strategy].groups[0].value == pytest.approx(att.groups[0].value)


@run_async
async def test_after_a_tab_switch_the_arrows_move_the_view_on_screen():
    """A switch leaves nothing focused when the focus was in the tab it hides; the first arrow then focuses the view
    on screen and moves its cursor (it did nothing before)."""
    app = SpcApp(SHIPPED, **FAST)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_finished_run(app, pilot)
        for key, ident in (("2", "#scorecard-table"), ("5", "#value-table"), ("1", "#comparison-table")):
            await pilot.press(key)
            await pilot.pause()
            assert app.focused is None  # the switch itself moves no focus (a focused table redraws: slower)
            table = app.query_one(ident, DataTable)
            before = table.cursor_row
            await pilot.press("down")
            await pilot.pause()
            assert app.focused is table and table.cursor_row == before + 1, (key, before, table.cursor_row)
        await pilot.press("l")  # a letter the app binds still goes to the app, not to the focused table
        await pilot.pause()
        assert not app.lever_panel.display
