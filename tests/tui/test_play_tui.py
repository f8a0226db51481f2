"""The flight simulator in the TUI: set levers, commit turns within the budget, save, replay bit for bit."""

from __future__ import annotations

import pandas as pd

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
        await pilot.press("ctrl+s")
        await pilot.pause(0.1)
        shown = app.result.scorecard
    decisions = read_decisions(saved)
    assert decisions.turns[1].initiatives == ["reprice_transactors"]
    again = replay(load(SHIPPED), decisions, workers=1)
    pd.testing.assert_frame_equal(again.scorecard, shown)  # bit for bit: same seed, same decisions
