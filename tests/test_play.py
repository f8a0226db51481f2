"""The flight simulator's core: replays are bit-identical, budgets are enforced with one line."""

from __future__ import annotations

import pandas as pd
import pytest

from simulator.errors import UsageError
from simulator.play import Turn, debrief, read_decisions, replay
from simulator.scenario.loader import load
from tests.scenario_helpers import DATA, run_spc, write_yaml

SCENARIO = DATA / "engine_small.yaml"
DECISIONS = DATA / "play_decisions.yaml"


def test_replay_is_bit_identical() -> None:
    loaded = load(SCENARIO)
    decisions = read_decisions(DECISIONS)
    first, second = replay(loaded, decisions), replay(loaded, decisions)
    pd.testing.assert_frame_equal(first.scorecard, second.scorecard, check_exact=True)
    pd.testing.assert_frame_equal(first.timeseries, second.timeseries, check_exact=True)
    assert first.scorecard.equals(second.scorecard) and first.comparison.equals(second.comparison)
    assert [c.total for c in first.costs] == [3 * 200 * 3, 3 * 200 * 5 + 1000]
    brief = debrief(loaded, first)
    assert "your game" in set(brief.candidates["candidate"]) and brief.rank >= 1


def test_budget_overrun_is_a_usage_error(tmp_path) -> None:
    loaded = load(SCENARIO)
    decisions = read_decisions(DECISIONS)
    greedy = decisions.model_copy(update={"turns": [Turn(levers={"training": 50})]})
    with pytest.raises(UsageError, match=r"turn 1 commits 30,000 .* over the budget of 5,000"):
        replay(loaded, greedy)
    path = write_yaml(tmp_path / "greedy.yaml", greedy.model_dump(mode="json"))
    proc = run_spc("play", str(SCENARIO), "--replay", str(path), "--no-debrief")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "over the budget" in proc.stderr and "Traceback" not in proc.stderr


def test_play_cli_replays_and_falls_back_without_tui() -> None:
    proc = run_spc("play", str(SCENARIO), "--replay", str(DECISIONS), "--json")
    assert proc.returncode == 0, proc.stderr
    assert '"debrief"' in proc.stdout and '"played"' in proc.stdout
    import importlib.util

    if importlib.util.find_spec("tui.play") is None:
        proc = run_spc("play", str(SCENARIO))
        assert proc.returncode == 2 and proc.stderr.strip() == "interactive play needs the TUI; use --replay"
