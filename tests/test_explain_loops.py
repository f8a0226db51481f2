"""`explain` adds up and gets a hand-built chain right; `loops` finds the dominant loop of a known system."""

from __future__ import annotations

import pytest

from simulator.analysis.explain import SUM_TOLERANCE, explain
from simulator.analysis.loops import dominance_timeline, loops_for
from simulator.graph.compiler import compile_file
from tests.scenario_helpers import DATA, SHIPPED, run_spc


def test_explain_three_node_chain_known_answers() -> None:
    model = compile_file(DATA / "explain_chain.yaml")
    ex = explain(model, "B", "push_L", month=4, replications=2, workers=1)
    assert ex.total == pytest.approx(7.0, abs=1e-12)
    by_path = dict(zip(ex.paths["path"], ex.paths["contribution"], strict=True))
    assert by_path == pytest.approx({"L → A → B": 6.0, "L → B": 1.0}, abs=1e-12)
    assert ex.residual == 0.0
    carried = dict(zip(ex.links["link"], ex.links["contribution"], strict=True))
    assert carried == pytest.approx({"L->A": 6.0, "A->B": 6.0, "L->B": 1.0}, abs=1e-12)
    assert list(ex.trace["node"]) == ["L", "A", "B"] and set(ex.trace["month"]) == {2}
    assert explain(model, "B", "push_L", month=1, replications=1, workers=1).total == 0.0


def test_explain_contributions_sum_to_the_total_through_the_engine() -> None:
    model = compile_file(DATA / "engine_small.yaml")
    for metric, month in (("profit", None), ("profit", 5), ("npv", None), ("active_customers", 6)):
        ex = explain(model, metric, "training", month=month, replications=2, workers=1)
        assert ex.paths["contribution"].sum() == pytest.approx(ex.total, rel=SUM_TOLERANCE, abs=1e-9)
        assert set(ex.paths["kind"]) <= {"lever", "own", "residual", "loop", "small"}


def test_loops_reinforcing_then_balancing() -> None:
    """Logistic adoption: word of mouth (R) dominates until adopters pass K/2 (month 15.3), crowding (B) after."""
    model = compile_file(DATA / "loops_logistic.yaml")
    frame = loops_for(model, "adopters", replications=1, workers=1)
    assert set(frame.columns) >= {"period", "loop", "polarity", "score", "dominant"}
    assert (frame.groupby("period")["dominant"].sum() == 1).all()
    dominant = frame[frame["dominant"]].set_index("period")["polarity"]
    assert (dominant.loc[2:14] == "reinforcing").all() and (dominant.loc[18:] == "balancing").all()
    timeline = dominance_timeline(frame)
    assert list(timeline["polarity"]) == ["reinforcing", "balancing"]
    assert 15 <= timeline["first"].iloc[1] <= 18


def test_explain_and_loops_cli() -> None:
    proc = run_spc("explain", "tests/data/explain_chain.yaml", "--method", "paths", "--metric", "B", "--month", "4",
                   "--replications", "1")
    assert proc.returncode == 0, proc.stderr
    assert "L → A → B" in proc.stdout and "+6" in proc.stdout
    proc = run_spc("loops", "tests/data/loops_logistic.yaml", "--metric", "adopters", "--replications", "1")
    assert proc.returncode == 0, proc.stderr
    assert "reinforcing" in proc.stdout and "B1 (balancing) dominates months 17-36" in proc.stdout
    for args in (["explain", "tests/data/explain_chain.yaml", "--metric", "nope"],
                 ["explain", "tests/data/explain_chain.yaml", "--strategy", "baseline"],
                 ["loops", "tests/data/loops_logistic.yaml", "--metric", "adopterz"]):
        proc = run_spc(*args)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, (args, proc.stderr)


def _phases(frame) -> list[tuple]:
    from simulator.analysis.loops import dominance_phases

    return [tuple(r) for r in dominance_phases(frame)[["first", "last", "loop_id", "polarity"]].itertuples(index=False)]


def test_loop_phases_identical_across_seeds_on_the_logistic_model() -> None:
    """Loop gains on the mean trajectory: R then B, switching within a month of the theoretical 15.3."""
    model = compile_file(DATA / "loops_logistic.yaml")
    logistic = [_phases(loops_for(model, "adopters", seed=seed, replications=1, workers=1)) for seed in (1, 2, 3)]
    assert logistic[0] == logistic[1] == logistic[2]
    (r_first, r_last, r_id, r_pol), (b_first, b_last, b_id, b_pol) = logistic[0]
    assert (r_pol, b_pol) == ("reinforcing", "balancing") and b_last == 36
    assert abs((b_first - 1) - 15.3) <= 1.0  # period p is months p-1..p: the switch is at b_first-1


@pytest.mark.slow
def test_loop_phases_identical_across_seeds_on_the_shipped_scenario() -> None:
    """Baseline and headcount_cuts, on active_customers and profit: the same phases for seeds 1, 2 and 3 (mean of
    24 replications; engine link gains from counterfactual runs on 8 of them, common random numbers)."""
    from simulator.analysis.loop_gains import engine_links_needing_gains, measure_gains
    from simulator.analysis.loops import loop_dominance
    from simulator.experiment import run_experiment

    model = compile_file(SHIPPED)
    months = 24
    for strategy in ("baseline", "headcount_cuts"):
        seen: dict[str, list] = {"active_customers": [], "profit": []}
        for seed in (1, 2, 3):
            ts = run_experiment(model, [strategy], replications=24, seed=seed, months=months, workers=2).timeseries
            gains = measure_gains(model, strategy, seed, months, 8, 2, engine_links_needing_gains(model))
            for metric, phases in seen.items():
                phases.append(_phases(loop_dominance(model, ts, metric, strategy, gains=gains)))
        for metric, phases in seen.items():
            assert phases[0] == phases[1] == phases[2], (strategy, metric, phases)
            assert all(last - first + 1 >= 3 for first, last, *_ in phases[0])
            assert any(pol in ("reinforcing", "balancing") for *_, pol in phases[0])  # not "no dominant loop" only


def test_phases_merge_flickers() -> None:
    import pandas as pd

    from simulator.analysis.loops import dominance_phases, phases_sentence

    rows = []
    pattern = ["R1"] * 6 + ["B1"] + ["R1"] * 5 + ["B1"] * 8  # a one-month flicker at month 8
    for period, winner in enumerate(pattern, start=2):
        for lid, pol in (("R1", "reinforcing"), ("B1", "balancing")):
            share = 0.7 if lid == winner else 0.3
            rows.append({"period": period, "loop_id": lid, "loop": lid, "polarity": pol, "score": share,
                         "raw_score": share, "dominant": lid == winner, "moving": True})
    phases = dominance_phases(pd.DataFrame(rows))
    assert list(phases["loop_id"]) == ["R1", "B1"] and list(phases["first"]) == [2, 14]
    assert phases_sentence(phases) == "R1 (reinforcing) dominates months 2-13, then B1 (balancing) dominates months 14-21"
