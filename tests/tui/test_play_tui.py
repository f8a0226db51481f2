"""The flight simulator in the TUI: set levers, commit turns within the budget, save, replay bit for bit."""

from __future__ import annotations

import pandas as pd
import pytest

from simulator import load
from simulator.play import read_decisions, replay
from tests.tui.conftest import SHIPPED, retype, run_async
from tui.play import PlayApp


async def _idle(app, pilot) -> None:
    for _ in range(1200):
        await pilot.pause(0.05)
        if not app.busy:
            return
    raise AssertionError("scoring did not finish")


@run_async
async def test_two_turns_saved_and_replayed_give_the_same_scorecard(tmp_path):
    saved = tmp_path / "decisions.yaml"
    app = PlayApp(SHIPPED, save_to=saved, replications=2, budget=20_000)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause(0.2)
        await retype(pilot, app.lever_inputs["training_hours"], "40")
        await pilot.press("ctrl+n")
        await _idle(app, pilot)
        assert len(app.decisions.turns) == 1 and app.result is not None
        # over budget: a headcount target of 20 costs 10 x 3,500 x 3 months > 20,000; the turn is refused
        await retype(pilot, app.lever_inputs["headcount_target"], "20")
        assert "over the budget" in str(app.turn_cost.render())
        await pilot.press("ctrl+n")
        await pilot.pause(0.1)
        assert len(app.decisions.turns) == 1
        await retype(pilot, app.lever_inputs["headcount_target"], "10")
        app.initiatives.select("reprice_transactors")
        await pilot.press("ctrl+n")
        await _idle(app, pilot)
        assert len(app.decisions.turns) == 2
        # the tick stays on for turn 3: the panel says it carries over, and the history says it started in turn 2
        label = app.names["reprice_transactors"]
        assert f"carried over [x] {label}" in str(app.carried.render())
        assert f"{label} (new)" in str(app.history.get_row_at(1)[-1])
        app.initiatives.deselect("reprice_transactors")
        await pilot.pause(0.05)
        assert f"stops [ ] {label}" in str(app.carried.render())
        app.initiatives.select("reprice_transactors")
        # pro-rated: after 6 of 36 months the NPV target is 6/36 of the full one, levels keep theirs
        targets = app.result.targets.set_index("kpi")
        assert targets.at["npv_of_profit", "target"] == pytest.approx(750_000 * 6 / 36)
        assert targets.at["satisfaction", "factor"] == 1.0
        await pilot.press("ctrl+s")
        await pilot.pause(0.1)
        shown = app.result.scorecard
    decisions = read_decisions(saved)
    assert decisions.turns[1].initiatives == ["reprice_transactors"]
    again = replay(load(SHIPPED), decisions, workers=1)
    pd.testing.assert_frame_equal(again.scorecard, shown)  # bit for bit: same seed, same decisions


@run_async
async def test_ticked_and_unticked_initiatives_differ_in_glyph_not_only_colour():
    app = PlayApp(SHIPPED, replications=1)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause(0.2)
        options = [app.initiatives.get_option_at_index(i).value for i in range(app.initiatives.option_count)]
        app.initiatives.select(options[0])
        await pilot.pause(0.05)
        lines = [app.initiatives.render_line(y).text for y in range(2)]
        assert lines[0].startswith("[x] ") and lines[1].startswith("[ ] "), lines
        assert app.names[options[0]][:20] in lines[0] and options[0] not in lines[0]  # the label, not the name
        assert "▐X▌" not in "".join(lines)
