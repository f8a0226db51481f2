"""`explain` adds up and gets a hand-built chain right; `loops` finds the dominant loop of a known system."""

from __future__ import annotations

import pytest

from simulator.analysis.explain import SUM_TOLERANCE, explain
from simulator.analysis.loops import dominance_timeline, loops_for
from simulator.graph.compiler import compile_file
from tests.scenario_helpers import DATA, run_spc


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
    proc = run_spc("explain", "tests/data/explain_chain.yaml", "--metric", "B", "--month", "4", "--replications", "1")
    assert proc.returncode == 0, proc.stderr
    assert "L → A → B" in proc.stdout and "+6" in proc.stdout
    proc = run_spc("loops", "tests/data/loops_logistic.yaml", "--metric", "adopters", "--replications", "1")
    assert proc.returncode == 0, proc.stderr
    assert "reinforcing" in proc.stdout and "months 17-36" in proc.stdout
    for args in (["explain", "tests/data/explain_chain.yaml", "--metric", "nope"],
                 ["explain", "tests/data/explain_chain.yaml", "--strategy", "baseline"],
                 ["loops", "tests/data/loops_logistic.yaml", "--metric", "adopterz"]):
        proc = run_spc(*args)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, (args, proc.stderr)
