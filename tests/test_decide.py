"""`spc decide`: draws x strategies on common random numbers through the batch store, and the recommendation."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulator.analysis.comparison import comparison_frame
from simulator.batch.executors import LocalExecutor
from simulator.decision.analysis import analyse, recommend
from simulator.decision.runner import plan_decision, read_outcomes, run_decision
from simulator.decision.value import decision_table
from simulator.experiment import run_experiment
from simulator.graph.compiler import compile_scenario
from simulator.scenario.loader import load
from simulator.store import Store
from tests.scenario_helpers import run_spc

DATA = Path(__file__).parent / "data"


def _decide(file: Path, store: Path, **kw):
    plan = plan_decision(load(file), **kw)
    with Store(store) as st:
        totals = run_decision(plan, st, LocalExecutor())
    return plan, totals, read_outcomes(store, plan, totals.run_ids)


def test_collapsed_distributions_give_spc_runs_delta(tmp_path: Path) -> None:
    """Every distribution collapsed to its point: decide's expected Δ NPV is `spc run`'s paired Δ on the same seeds."""
    loaded = load(DATA / "decide_collapsed.yaml")
    plan, _, outcomes = _decide(DATA / "decide_collapsed.yaml", tmp_path / "d.duckdb", measure="npv")
    assert plan.draws == 4 and plan.inputs["links.training->morale.effect"].eq(2.0).all()
    result = analyse(plan, outcomes)
    sc = loaded.scenario
    exp = run_experiment(compile_scenario(sc), sc.strategy_names(), 3, sc.run.seed, sc.metadata.horizon_months)
    cmp = comparison_frame(exp.timeseries, sc.metadata.discount_rate, sc.metadata.period_days).set_index("strategy")
    table = result.table.set_index("strategy")
    for strategy in ("training", "cuts"):
        assert table.at[strategy, "delta_mean"] == pytest.approx(cmp.at[strategy, "delta_npv"], rel=1e-12)
        # every draw is the same run: no spread, and P(best) is all or nothing
        assert table.at[strategy, "delta_p05"] == pytest.approx(table.at[strategy, "delta_p95"])
    assert result.evpi == pytest.approx(0.0, abs=1e-6)


def test_draws_share_random_numbers_and_stored_firm_value_matches_the_valuation(tmp_path: Path) -> None:
    plan, totals, outcomes = _decide(DATA / "decide_small.yaml", tmp_path / "d.duckdb", draws=8)
    assert totals.tasks == 8 * 3 * 2 and len(outcomes) == totals.tasks
    assert plan.inputs.shape == (8, 3) and plan.inputs.nunique().min() == 8
    # a draw's stored firm value is the ordinary run's firm value for that variant
    from simulator.analysis.valuation import continuing_values
    from simulator.scenario.loader import load_data

    spec = plan.specs[3]
    sc = load_data(spec.data())
    exp = run_experiment(compile_scenario(sc), plan.strategies, 2, plan.seed, spec.months)
    values = continuing_values(exp.timeseries, exp.customers, sc).reset_index()
    mine = outcomes[outcomes["draw"] == 3].merge(values, on=["strategy", "replication"], suffixes=("", "_run"))
    assert len(mine) == 6
    np.testing.assert_allclose(mine["firm_value"], mine["firm_value_run"], rtol=1e-12)
    assert set(outcomes["all_green"].unique()) <= {0.0, 1.0}
    assert {"green_financial", "green_learning_growth"} <= set(outcomes.columns)


@pytest.fixture(scope="module")
def decided(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """A store that one `spc decide --json` filled, and that command: the two tests below run decide on it again."""
    store = tmp_path_factory.mktemp("decide") / "d.duckdb"
    return store, run_spc("decide", str(DATA / "decide_small.yaml"), "--draws", "32", "--store", str(store), "--json",
                          "--executor", "local")


def test_rerun_resumes_and_gives_the_same_decision(decided) -> None:
    store, first = decided
    assert first.returncode == 0, first.stderr
    again = run_spc("decide", str(DATA / "decide_small.yaml"), "--draws", "32", "--store", str(store), "--json",
                    "--executor", "local")
    assert again.returncode == 0, again.stderr
    a, b = json.loads(first.stdout), json.loads(again.stdout)
    a.pop("seconds"), b.pop("seconds")
    assert a == b
    assert a["recommendation"]["strategy"] in ("baseline", "training", "cuts")
    assert a["draws"] == 32 and len(a["evppi"]) == 3
    assert a["recommendation"]["headline"]


def test_human_output_ends_with_the_decision(decided) -> None:
    """Without --json, on the same store (its runs are stored, so this reads them): the tables, then the decision."""
    store, first = decided
    assert first.returncode == 0, first.stderr
    proc = run_spc("decide", str(DATA / "decide_small.yaml"), "--draws", "32", "--store", str(store),
                   "--executor", "local")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.index("P(best)") < out.index("Value of information") < out.index("Decision")


def test_bad_arguments_are_one_line(tmp_path: Path) -> None:
    proc = run_spc("decide", str(DATA / "decide_small.yaml"), "--strategies", "trainnig", "--store",
                   str(tmp_path / "d.duckdb"))
    assert proc.returncode == 2 and "training" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_spc("decide", str(DATA / "decide_small.yaml"), "--draws", "0")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


def _draws(values: dict[str, list[float]], greens: dict[str, float] | None = None) -> pd.DataFrame:
    rows = []
    for s, vals in values.items():
        for d, x in enumerate(vals):
            rows.append({"draw": d, "strategy": s, "value": x, "all_green": (greens or {}).get(s, 1.0),
                         "green_customer": (greens or {}).get(s, 1.0)})
    return pd.DataFrame(rows)


def test_recommendation_takes_the_highest_expected_value_when_it_is_resolved() -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(0, 10, 20)
    draws = _draws({"baseline": list(base), "a": list(base + 100), "b": list(base + 50)}, {"a": 0.0})
    outcomes = draws.assign(horizon=36, npv=draws["value"], firm_value=draws["value"], replication=0)
    rec, runner_up = recommend(draws, decision_table(draws), pd.DataFrame(columns=["evppi"]), 0.0, outcomes,
                               "firm_value", (36,))
    assert rec.strategy == "a" and runner_up == "b"
    assert "+100" in rec.headline
    labelled, _ = recommend(draws, decision_table(draws), pd.DataFrame(columns=["evppi"]), 0.0, outcomes,
                            "firm_value", (36,), currency="EUR", names={"a": "Option A", "b": "Option B"})
    assert labelled.headline.startswith("Recommended: Option A: +€100 expected firm value") and labelled.strategy == "a"
    assert any("customer perspective is green in none of the draws" in r for r in rec.reasons)
    assert not any("not resolved" in r for r in rec.reasons)


def test_a_tie_on_value_goes_to_the_better_scorecard() -> None:
    rng = np.random.default_rng(2)
    base = rng.normal(0, 10, 20)
    noise = rng.normal(0, 30, 20)
    draws = _draws({"baseline": list(base), "a": list(base + 52 + noise), "b": list(base + 50)}, {"a": 0.2, "b": 0.9})
    outcomes = draws.assign(horizon=36, npv=draws["value"], firm_value=draws["value"], replication=0)
    table = decision_table(draws)
    assert table.set_index("strategy").at["a", "value_mean"] > table.set_index("strategy").at["b", "value_mean"]
    rec, runner_up = recommend(draws, table, pd.DataFrame(columns=["evppi"]), 0.0, outcomes, "firm_value", (36,))
    assert rec.strategy == "b" and runner_up == "a"
    assert "the scorecard" in rec.reasons[0] and "do not resolve" in rec.reasons[0]


def test_baseline_is_recommended_when_nothing_beats_it() -> None:
    base = np.linspace(0, 100, 20)
    draws = _draws({"baseline": list(base), "a": list(base - 30)})
    outcomes = draws.assign(horizon=36, npv=draws["value"], firm_value=draws["value"], replication=0)
    rec, _ = recommend(draws, decision_table(draws), pd.DataFrame(columns=["evppi"]), 0.0, outcomes,
                       "firm_value", (36,))
    assert rec.strategy == "baseline" and rec.headline.startswith("Keep the current course")


@pytest.mark.parametrize("outputs", ["full", "decision"])
def test_stored_summaries_do_not_depend_on_how_tasks_are_chunked(outputs: str) -> None:
    """A run's summary row is bit-identical whether its chunk held one task or many (executors and timing
    chunk differently), so the same seed stores the same database on every executor."""
    from simulator.batch.worker import Part, run_part

    loaded = load(DATA / "decide_small.yaml")
    data = {k: v for k, v in loaded.data.items() if k != "extends"}
    tasks = tuple((s, r) for r in range(2) for s in loaded.scenario.strategy_names())
    together = run_part(Part(1, "h", data, 3, 6, tasks, outputs)).summaries
    apart = pd.concat([run_part(Part(1, "h", data, 3, 6, (t,), outputs)).summaries for t in tasks], ignore_index=True)
    pd.testing.assert_frame_equal(together, apart, check_exact=True)


def test_a_file_without_assumptions_compares_replications_and_does_not_overclaim(tmp_path: Path) -> None:
    plan, _, outcomes = _decide(DATA / "engine_small.yaml", tmp_path / "d.duckdb")
    assert plan.draws == 1
    result = analyse(plan, outcomes)
    assert result.draws == plan.replications == 2  # the replications are what is compared
    assert any("No assumption varies" in n for n in result.notes)
    rec = result.recommendation
    if rec.strategy != "baseline":
        assert rec.headline.startswith("Leaning to") or result.table.set_index("strategy").at[
            rec.strategy, "delta_ci_low"] > 0


def test_horizons_show_how_the_ranking_moves(tmp_path: Path) -> None:
    plan, totals, outcomes = _decide(DATA / "decide_small.yaml", tmp_path / "d.duckdb", draws=4, horizons=(6, 12))
    assert len(plan.specs) == 8 and sorted(outcomes["horizon"].unique()) == [6, 12]
    result = analyse(plan, outcomes)
    assert result.horizon == 6 and set(result.horizons["horizon"]) == {6, 12}
    # month 12 is its own run on the same seeds: NPV at 12 is not NPV at 6
    h = result.horizons.set_index(["strategy", "horizon"])
    assert h.loc[("training", 6), "value_mean"] != h.loc[("training", 12), "value_mean"]
