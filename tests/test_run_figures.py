"""A run's figures (firm value, KPIs, perspective greens, headline figures) come from its own rows alone: the same to
the last bit from its `RunOutput` (a worker of `spc decide`, a counterfactual run), from its own frames, and from
frames shared with other runs (`spc run`, the report); and they are the figures pandas' grouped sums gave."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from simulator import compile_file
from simulator.analysis.runs import last, mean, run_rows, total
from simulator.analysis.scorecard import kpi_values, perspective_greens, run_greens, run_kpi
from simulator.analysis.summary import decision_summaries, output_row, per_replication, run_figures
from simulator.analysis.valuation import VALUATION_COLUMNS, continuing_values, output_values
from simulator.engine.model import run_once
from simulator.experiment import ledger_frame, timeseries_frame
from tests.helpers import ROOT

KEYS = ["strategy", "replication"]


@pytest.fixture(scope="module")
def shipped():
    """The shipped scenario's strategies x 2 replications, and their frames."""
    model = compile_file(ROOT / "scenarios" / "service_profit_chain.yaml")
    outs = [run_once(model, s, r, 5) for s in model.scenario.strategy_names() for r in range(2)]
    return model.scenario, outs, timeseries_frame(outs), ledger_frame(outs)


def test_a_runs_figures_are_the_same_from_its_output_its_frames_and_frames_shared_with_other_runs(shipped):
    sc, outs, ts, ledger = shipped
    values = continuing_values(ts, ledger, sc)
    greens = perspective_greens(ts, sc).set_index(KEYS)
    figures = per_replication(ts).set_index(KEYS)
    kpis = [kpi for p in sc.scorecard.perspectives for o in p.objectives for kpi in o.kpis]
    per_kpi = {kpi.name: kpi_values(ts, kpi) for kpi in kpis}
    assert len(values) == len(greens) == len(figures) == len(outs) == 12
    for out in outs:
        key = (out.strategy, out.replication)
        own_ts, own_ledger = timeseries_frame([out]), ledger_frame([out])
        direct = output_values(out, sc)
        assert values.loc[key].tolist() == continuing_values(own_ts, own_ledger, sc).iloc[0].tolist() == [
            direct[c] for c in VALUATION_COLUMNS]
        assert greens.loc[key].to_dict() == run_greens(out.periods, sc)
        assert figures.loc[key].to_dict() == run_figures(out.periods)
        for kpi in kpis:
            assert per_kpi[kpi.name].loc[key] == run_kpi(out.periods, kpi) == kpi_values(own_ts, kpi).iloc[0]
    assert values["firm_value"].notna().all() and 0 < greens["all_green"].sum() < 12  # a mix: the test can tell


def test_a_workers_decision_row_is_decision_summaries_of_the_runs_frames(shipped):
    sc, outs, _, _ = shipped
    for out in outs[::4]:
        ts = timeseries_frame([out])
        summary = per_replication(ts)
        pd.testing.assert_frame_equal(pd.DataFrame([output_row(out)]), summary, check_exact=True)
        pd.testing.assert_frame_equal(pd.DataFrame([output_row(out, sc)]),
                                      decision_summaries(ts, ledger_frame([out]), sc, summary), check_exact=True)


def test_the_figures_are_pandas_grouped_figures_of_the_same_rows(shipped):
    """An independent computation (pandas' grouped sums, means and last values: the implementation before
    2026-11-25) agrees to 1e-12: a wrong column, window or order would not."""
    sc, _, ts, ledger = shipped
    g = ts.sort_values("period", kind="stable").groupby(KEYS, sort=True)
    expected = pd.DataFrame({
        "npv": g["npv"].last(), "cumulative_revenue": g["revenue"].sum(), "active_customers": g["active_customers"].last(),
        "employee_turnover": g["employee_quits"].sum() / g["headcount"].mean() * (12.0 / g["period"].count()),
        "customer_satisfaction": g["customer_satisfaction"].mean()})
    got = per_replication(ts).set_index(KEYS).sort_index()
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)
    values = continuing_values(ts, ledger, sc).sort_index()
    np.testing.assert_allclose(values["npv"], g["discounted_profit"].sum(), rtol=1e-12)
    np.testing.assert_allclose(values["active_customers"], g["active_customers"].last(), rtol=0)
    for kpi in [k for p in sc.scorecard.perspectives for o in p.objectives for k in o.kpis]:
        window = ts[ts["period"] > ts.groupby(KEYS)["period"].transform("max") - kpi.window_months]
        grouped = window.sort_values("period", kind="stable").groupby(KEYS, sort=True)[kpi.metric]
        want = {"last": grouped.last, "mean": grouped.mean, "sum": grouped.sum}[kpi.aggregation]()
        np.testing.assert_allclose(kpi_values(ts, kpi), want, rtol=1e-12, err_msg=kpi.name)


def test_sums_are_correctly_rounded_and_skip_nan():
    assert total(np.array([1e16, 1.0, -1e16])) == 1.0  # a plain left-to-right or pairwise sum gives 0.0
    assert total(np.array([np.nan, 2.0, 3.0])) == 5.0 and total(np.array([np.nan])) == 0.0  # as pandas' sum
    assert mean(np.array([np.nan, 2.0, 4.0])) == 3.0 and math.isnan(mean(np.array([np.nan])))
    assert last(np.array([1.0, 2.0, np.nan])) == 2.0 and math.isnan(last(np.array([np.nan, np.nan])))


def test_runs_are_split_in_order_of_first_appearance_with_their_rows_in_frame_order():
    frame = pd.DataFrame({"strategy": ["b", "a", "b", "a", "b"], "replication": [0, 1, 0, 1, 1]})
    rows = run_rows(frame)
    assert list(rows) == [("b", 0), ("a", 1), ("b", 1)]
    assert [r.tolist() for r in rows.values()] == [[0, 2], [1, 3], [4]]
    assert run_rows(frame.iloc[:0]) == {}


def test_a_run_missing_from_a_shared_ledger_has_no_continuing_value_and_without_a_ledger_it_is_unknown(shipped):
    sc, outs, ts, ledger = shipped
    first = (outs[0].strategy, outs[0].replication)
    values = continuing_values(ts, ledger[(ledger["strategy"] == first[0]) & (ledger["replication"] == first[1])], sc)
    others = values.drop(index=first)
    assert (others["continuing_value"] == 0).all() and (others["firm_value"] == others["npv"]).all()
    assert values.loc[first].tolist() == continuing_values(ts, ledger, sc).loc[first].tolist()
    assert continuing_values(ts, None, sc)["firm_value"].isna().all()
