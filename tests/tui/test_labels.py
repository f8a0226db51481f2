"""Issue 15: what a person reads is named by labels, not identifiers (levers panel, causal map), and the Decision
tab's wide table says which of its columns are off screen and scrolls to them."""

from __future__ import annotations

import re

import pytest
from textual.widgets import DataTable, OptionList, Static

from simulator.scenario.levers import levers
from simulator.scenario.loader import load
from tests.helpers import DATA
from tests.tui.conftest import FAST, SHIPPED, printed, run_async, wait_for_finished_run
from tui.app import SpcApp
from tui.format import share
from tui.widgets.causal_map import loop_text, node_details, node_names, relabel
from tui.widgets.levers import LeverPanel, effect_target, labelled
from tui.widgets.scrollcue import ScrollCue, hidden_columns

IDENTIFIER = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b|->")  # snake_case names and 'a->b' links


def _plain(widget) -> str:
    rendered = widget.render()
    return rendered.plain if hasattr(rendered, "plain") else str(rendered)


def test_levers_read_by_labels_and_keep_their_paths():
    loaded = load(SHIPPED)
    raw = levers(loaded.data)
    named = labelled(raw, loaded.scenario)
    assert [lv.path for lv in named] == [lv.path for lv in raw]  # the path (what a file says) is kept
    by_path = {lv.path: lv for lv in named}
    assert by_path["employees.annual_quit_rate"].label == "Quit rate/year"
    assert by_path["employees.headcount"].group == "Staffing"
    training = by_path["initiatives.people_programme.effects.0.add"]
    assert training.label == "+ Training hours"  # the node's label, after its operation: + adds
    assert training.group == "People programme (training, tools, pay) — in Invest in people"
    assert by_path["initiatives.crm_package.effects.0.set"].label == "= CRM software in use"
    for lv in named:
        assert not IDENTIFIER.search(lv.label) and not IDENTIFIER.search(lv.group), (lv.label, lv.group)
    assert labelled(raw, None) == raw  # no scenario: as before


def test_an_effect_on_a_link_reads_cause_to_effect_in_node_labels():
    scenario = load(SHIPPED).scenario
    effect = type("Effect", (), {"lever": None, "link": "employee_satisfaction->service_quality",
                                 "segment": None, "parameter": None})()
    assert effect_target(scenario, effect) == "Employee satisfaction → Service quality"
    effect.link, effect.segment, effect.parameter = None, "high_cost_transactors", "churn_per_month"
    assert effect_target(scenario, effect) == "High-cost transactors: churn per month"


def test_the_causal_map_names_nodes_links_and_loops_by_label():
    from simulator import compile_scenario

    model = compile_scenario(load(SHIPPED).scenario)
    names = node_names(model)
    assert names["employee_satisfaction"] == "Employee satisfaction" and names["nps"] == "Net Promoter Score"
    assert names["active_customers"] == "Active customers"  # an engine series: humanised
    text = node_details(model, "employee_satisfaction").plain
    assert text.startswith("Employee satisfaction\n") and "Service quality" in text
    assert not IDENTIFIER.search(text), IDENTIFIER.search(text)
    loop = next(lp for lp in model.loops if "employee_satisfaction" in lp.nodes)
    assert "→" in loop_text(loop, names) and "_" not in loop_text(loop, names)
    assert relabel("training_hours -> employee_satisfaction", names) == "Training hours → Employee satisfaction"


def test_a_share_is_never_rounded_to_a_bare_0_or_100_percent():
    assert [share(x) for x in (0.0, 0.003, 0.5, 0.996, 1.0, float("nan"))] == ["0%", "<1%", "50%", ">99%", "100%", "-"]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
@run_async
async def test_levers_and_map_show_labels_on_screen(size):
    app = SpcApp(SHIPPED, seed=20261123, **FAST)
    async with app.run_test(size=size) as pilot:
        await wait_for_finished_run(app, pilot)
        for _ in range(100):  # the panels are built a moment after the first result
            if app.query_one(LeverPanel).levers:
                break
            await pilot.pause(0.05)
        panel = app.query_one(LeverPanel)
        listing = panel.query_one(OptionList)
        shown = [printed(listing.get_option_at_index(i).prompt) for i in range(listing.option_count)]
        assert "Staffing" in shown and "+ Training hours  24" in shown  # a group, then a lever and its value
        assert not [t for t in shown if IDENTIFIER.search(t)], shown
        box = panel.input_for("initiatives.people_programme.effects.0.add")
        assert str(box.tooltip) == "initiatives.people_programme.effects.0.add"  # where a person types it: the path
        caption = _plain(panel.query_one("#lever-editing", Static))
        assert caption.startswith("People programme") and caption.endswith(": + Training hours"), caption

        await pilot.press("4")
        await pilot.pause(0.3)
        options = app.causal_map.query_one(OptionList)
        prompts = [str(getattr(options.get_option_at_index(i).prompt, "plain", options.get_option_at_index(i).prompt))
                   for i in range(options.option_count)]
        assert any(p.endswith("Employee satisfaction") for p in prompts)
        assert not [p for p in prompts if IDENTIFIER.search(p)], prompts
        assert {options.get_option_at_index(i).id for i in range(options.option_count)} >= {"employee_satisfaction"}
        detail = _plain(app.causal_map.query_one("#map-detail", Static))
        assert not IDENTIFIER.search(detail), detail


@run_async
async def test_the_decision_table_names_its_columns_off_screen_and_scrolls_to_them():
    app = SpcApp(DATA / "decide_small.yaml", replications=2, workers=1, timings=False, decide_draws=8)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_finished_run(app, pilot)
        await pilot.press("d")
        for _ in range(2400):
            if app.decisions:
                break
            await pilot.pause(0.05)
        await pilot.pause(0.5)
        view = app.decision_view
        table = view.query_one("#decision-table", DataTable)
        cue = view.query_one("#decision-cue", ScrollCue)
        left, right = hidden_columns(table)
        assert right and not left and cue.display and cue.right == right
        assert "more columns" in _plain(cue) and "P(all green)" in right
        rec = app.decisions[-1].result.recommendation.strategy
        assert table.get_row(rec)[0].plain.startswith("★ ")
        for _ in range(12):  # → a column at a time, to the end; the strategy column stays (fixed)
            await pilot.press("right")
        await pilot.pause(0.2)
        assert table.scroll_x > 0 and table.fixed_columns == 1
        left, right = hidden_columns(table)
        assert left and not right and "columns left" in _plain(cue)
        for _ in range(12):
            await pilot.press("left")
        await pilot.pause(0.2)
        assert table.scroll_x == 0 and not hidden_columns(table)[0]


@run_async
async def test_the_panels_wait_for_the_first_run_unless_the_causal_map_is_asked_for():
    """Issue 12: building the levers panel and the causal map (two hundred widgets) competed with the first run for
    the two cores, so they are built when it ends; the panel says so meanwhile, and showing the causal map builds it
    at once."""
    app = SpcApp(SHIPPED, **{**FAST, "replications": 40, "months": 36})
    async with app.run_test(size=(120, 40)) as pilot:
        while app.snapshot is None:
            await pilot.pause(0.05)
        panel = app.query_one(LeverPanel)
        assert not panel.levers and "appear when this run ends" in " ".join(
            _plain(w) for w in panel.query(Static) if "lever-wait" in w.classes)
        assert app.causal_map.query_one(OptionList).option_count == 0
        await pilot.press("4")
        await pilot.pause()
        assert app.causal_map.query_one(OptionList).option_count > 0  # asked for: drawn now
        assert not panel.levers  # the levers still wait
        app.live.cancel()
        await pilot.pause(0.5)
        await pilot.pause()
        assert panel.levers and not panel.query(".lever-wait")  # the run ended: the levers are there


@run_async
async def test_the_customer_tab_computes_its_figures_off_the_ui_thread():
    """Issue 12: showing the Customers tab ran ~0.2 s of pandas (whale curves, customer equity, LTV) in the key
    press; the figures are now computed in a thread and drawn when ready, once per customer ledger."""
    import threading

    import tui.widgets.customers as customers

    computed_on: list[str] = []
    original = customers.customer_figures

    def spy(a):
        computed_on.append(threading.current_thread().name)
        return original(a)

    customers.customer_figures = spy
    try:
        app = SpcApp(SHIPPED, **FAST)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for_finished_run(app, pilot)
            await pilot.press("5")
            await app.workers.wait_for_complete()
            await pilot.pause()
            table = app.customer_view.query_one("#value-table", DataTable)
            assert table.row_count == len(app.snapshot.analysis.strategies)
            first = [str(c) for c in table.get_row_at(0)]
            assert first[0] == "baseline" or not IDENTIFIER.search(first[0])
            assert computed_on and threading.main_thread().name not in computed_on
            await pilot.press("1")
            await pilot.press("5")  # the same ledger: drawn again from the figures, not recomputed
            await app.workers.wait_for_complete()
            assert len(computed_on) == 1
    finally:
        customers.customer_figures = original
