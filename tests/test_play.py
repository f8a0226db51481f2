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


def _scored_scenario(tmp_path):
    """engine_small with KPIs of every kind: a cumulative flow (NPV), a windowed sum, a mean and a level."""
    from tests.helpers import scenario_dict

    data = scenario_dict(SCENARIO)
    data["scorecard"] = {"perspectives": [{"name": "financial", "objectives": [{"name": "money", "kpis": [
        {"name": "npv_to_date", "metric": "npv", "aggregation": "last", "target": 600_000, "amber": 60_000},
        {"name": "revenue_year", "metric": "revenue", "aggregation": "sum", "window_months": 12, "target": 120_000},
        {"name": "monthly_profit", "metric": "profit", "aggregation": "mean", "window_months": 3, "target": 1000},
        {"name": "customers", "metric": "active_customers", "aggregation": "last", "target": 400}]}]}]}
    data["metadata"]["horizon_months"] = 36
    return load(write_yaml(tmp_path / "scored.yaml", data))


def test_flows_are_judged_on_targets_pro_rated_to_the_months_played_and_levels_on_their_own(tmp_path) -> None:
    from simulator.analysis.scorecard import kpi_values, status
    from simulator.play import prorated_targets

    loaded = _scored_scenario(tmp_path)
    _, table = prorated_targets(loaded.scenario, 3)
    t = table.set_index("kpi")
    assert t.at["npv_to_date", "target"] == pytest.approx(600_000 * 3 / 36) == pytest.approx(50_000)
    assert t.at["revenue_year", "target"] == pytest.approx(120_000 * 3 / 12)  # the 12-month window is a quarter full
    assert t.at["monthly_profit", "factor"] == t.at["customers", "factor"] == 1.0  # a rate and a level
    assert list(t["kind"]) == ["flow", "flow", "level", "level"]
    assert prorated_targets(loaded.scenario, 36)[1]["factor"].tolist() == [1.0, 1.0, 1.0, 1.0]
    assert prorated_targets(loaded.scenario, 24)[1].set_index("kpi").at["revenue_year", "factor"] == 1.0

    decisions = read_decisions(DECISIONS).model_copy(update={"scenario_hash": ""})
    played = replay(loaded, decisions)  # 2 turns of 3 months
    judged, _ = prorated_targets(loaded.scenario, 6)
    kpis = {k.name: k for p in judged.scorecard.perspectives for o in p.objectives for k in o.kpis}
    card = played.scorecard.set_index(["strategy", "kpi"])
    for name in ("npv_to_date", "revenue_year"):
        assert card.at[("played", name), "target"] == pytest.approx(kpis[name].target)
        value = kpi_values(played.timeseries, kpis[name]).loc["played"].mean()
        assert card.at[("played", name), "status"] == status(value, kpis[name])


def test_carried_over_initiatives_are_named_per_turn() -> None:
    from simulator.play import carried_over

    d = read_decisions(DECISIONS).model_copy(update={"turns": [
        Turn(initiatives=["train"]), Turn(initiatives=["train", "cut"]), Turn(initiatives=["cut"])]})
    assert carried_over(d, 1) == ([], ["train"], [])
    assert carried_over(d, 2) == (["train"], ["cut"], [])
    assert carried_over(d, 3) == (["cut"], [], ["train"])


def test_the_debrief_ranks_on_firm_value_and_warns_when_the_game_is_too_short() -> None:
    from simulator.play import MIN_JUDGE_MONTHS, judge_warning

    loaded = load(SCENARIO)
    brief = debrief(loaded, replay(loaded, read_decisions(DECISIONS)))
    assert brief.ranked_on == "firm_value" and brief.months == 6 < MIN_JUDGE_MONTHS
    values = brief.candidates["firm_value"].tolist()
    assert values == sorted(values, reverse=True)
    assert "too short to judge" in brief.warning and "6 months" in brief.warning
    assert judge_warning(12, True, ("a", "b"), 4) == ""
    assert "does not resolve" in judge_warning(36, False, ("a", "b"), 4)
    proc = run_spc("play", str(SCENARIO), "--replay", str(DECISIONS))
    text = " ".join(proc.stdout.split())  # rich wraps long lines
    assert proc.returncode == 0 and "too short to judge" in text and "ranked on firm value" in text, proc.stderr
