"""Decision analytics with hand-computed expectations: scorecard statuses, paired comparison, payback."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.analysis.comparison import comparison_frame, payback_month, replications_to_resolve
from simulator.analysis.scorecard import rollup, scorecard_frame, status, status_over_time
from simulator.analysis.stats import mean_ci
from simulator.scenario.models import KPI
from tests.helpers import compiled, scenario_dict


def kpi(direction: str, target: float = 10.0, amber: float = 2.0, **kw) -> KPI:
    return KPI(name="k", metric="profit", target=target, amber=amber, direction=direction, **kw)


@pytest.mark.parametrize(("value", "expected"), [(10.0, "green"), (10.5, "green"), (9.99, "amber"), (8.0, "amber"),
                                                 (7.99, "red"), (float("nan"), "red")])
def test_status_higher_is_better_at_band_edges(value, expected):
    assert status(value, kpi("higher")) == expected


@pytest.mark.parametrize(("value", "expected"), [(10.0, "green"), (9.0, "green"), (10.01, "amber"), (12.0, "amber"),
                                                 (12.01, "red")])
def test_status_lower_is_better_at_band_edges(value, expected):
    assert status(value, kpi("lower")) == expected


def test_zero_amber_band_has_no_amber():
    assert status(9.999, kpi("higher", amber=0.0)) == "red"


def _ts(values: dict[str, list[list[float]]], metric: str = "profit") -> pd.DataFrame:
    rows = []
    for strategy, reps in values.items():
        for r, series in enumerate(reps):
            for p, v in enumerate(series, start=1):
                rows.append({"strategy": strategy, "replication": r, "period": p, metric: v})
    return pd.DataFrame(rows)


def test_scorecard_values_windows_and_p_green():
    data = scenario_dict("engine_small.yaml")
    data["scorecard"] = {"perspectives": [{"name": "financial", "objectives": [{"name": "o", "kpis": [
        {"name": "last", "metric": "profit", "aggregation": "last", "target": 10, "amber": 2},
        {"name": "mean2", "metric": "profit", "aggregation": "mean", "window_months": 2, "target": 10, "amber": 2, "weight": 3},
        {"name": "sum3", "metric": "profit", "aggregation": "sum", "window_months": 3, "target": 30, "amber": 0}]}]}]}
    scenario = compiled(data).scenario
    ts = _ts({"baseline": [[0, 8, 12], [0, 10, 8]]})
    card = scorecard_frame(ts, scenario).set_index("kpi")
    assert card.at["last", "value"] == pytest.approx(10.0)  # mean of 12 and 8
    assert card.at["last", "p_green"] == 0.5
    assert card.at["mean2", "value"] == pytest.approx(9.5)  # (10 + 9) / 2
    assert card.at["mean2", "status"] == "amber"
    assert card.at["sum3", "value"] == pytest.approx(19.0) and card.at["sum3", "status"] == "red"
    # weighted roll-up: last green (1, w1) + mean2 amber (0.5, w3) + sum3 red (0, w1) = 2.5 / 5
    objective = rollup(card.reset_index(), "objective")
    assert objective["score"].iloc[0] == pytest.approx(0.5) and objective["status"].iloc[0] == "amber"
    over_time = status_over_time(ts, scenario)
    last = over_time[over_time["kpi"] == "last"].set_index("period")
    assert list(last["status"]) == ["red", "amber", "green"]  # means per period: 0, 9, 10
    from simulator.analysis.scorecard import green_from

    when = green_from(over_time).set_index("kpi")["green_from"]
    assert when["last"] == 3 and pd.isna(when["sum3"])


@settings(max_examples=25, deadline=None)
@given(st.randoms(use_true_random=False))
def test_scorecard_does_not_change_when_rows_are_reordered(rnd):
    data = scenario_dict("engine_small.yaml")
    data["scorecard"] = {"perspectives": [{"name": "customer", "objectives": [{"name": "o", "kpis": [
        {"name": "a", "metric": "profit", "aggregation": "last", "target": 5, "amber": 3},
        {"name": "b", "metric": "profit", "aggregation": "mean", "window_months": 2, "target": 5, "direction": "lower"}]}]}]}
    scenario = compiled(data).scenario
    rng = np.random.default_rng(rnd.randint(0, 10**6))
    ts = _ts({"baseline": rng.normal(5, 3, (4, 5)).tolist(), "other": rng.normal(6, 3, (4, 5)).tolist()})
    shuffled = ts.sample(frac=1.0, random_state=rnd.randint(0, 10**6)).reset_index(drop=True)
    pd.testing.assert_frame_equal(scorecard_frame(ts, scenario), scorecard_frame(shuffled, scenario))


def test_payback_on_a_constructed_cash_flow():
    assert payback_month(np.cumsum([-100, 20, 30, 60, 10])) == 4  # cumulative -100,-80,-50,10,20
    assert payback_month(np.cumsum([-10, 20, -20, 5, 10])) == 5  # dips back to -5 in month 4
    assert payback_month(np.cumsum([5, 5])) == 1
    assert payback_month(np.cumsum([-5, 1])) is None


def _comparison_ts(base: np.ndarray, other: np.ndarray) -> pd.DataFrame:
    rows = []
    for name, arr in (("baseline", base), ("s", other)):
        for r, profit in enumerate(arr):
            rows.append({"strategy": name, "replication": r, "period": 1, "profit": profit, "discounted_profit": profit,
                         "initiative_spend": 10.0 if name == "s" else 0.0, "revenue": profit + 100, "costs": 100.0,
                         "customer_satisfaction": 7.0, "nps": 0.0})
    return pd.DataFrame(rows)


def test_paired_ci_is_narrower_than_unpaired():
    rng = np.random.default_rng(1)
    common = rng.normal(1000, 100, 20)  # common random numbers: both strategies share most of the noise
    base, other = common, common + 30 + rng.normal(0, 5, 20)
    cmp = comparison_frame(_comparison_ts(base, other), discount_rate=0.0, period_days=30.4375).iloc[0]
    _, lo_b, hi_b = mean_ci(base)
    _, lo_o, hi_o = mean_ci(other)
    unpaired_half = np.hypot((hi_b - lo_b) / 2, (hi_o - lo_o) / 2)
    paired_half = (cmp["ci_high"] - cmp["ci_low"]) / 2
    assert paired_half < unpaired_half / 5
    assert cmp["delta_npv"] == pytest.approx(np.mean(other - base))
    assert cmp["p_better"] == 1.0 and cmp["distinguishable"]
    assert cmp["p_better_low"] == pytest.approx(0.025 ** (1 / 20)) and cmp["p_better_high"] == 1.0  # 20 of 20
    assert cmp["roi"] == pytest.approx(cmp["delta_npv"] / cmp["spend"])
    assert cmp["spend"] == pytest.approx(10.0)  # one period, discount rate 0


def test_replications_needed_is_never_fewer_than_one_more_than_now():
    # two replications with the same sign: the mean is resolved long before the t quantile of 1 df lets go
    assert replications_to_resolve(np.array([50.0, 10.0])) >= 3


def test_indistinguishable_difference_says_how_many_replications():
    deltas = np.array([5.0, -3.0, 4.0, -1.0, 2.0])
    n = replications_to_resolve(deltas)
    assert n is not None and n > deltas.size
    cmp = comparison_frame(_comparison_ts(np.zeros(5), deltas), 0.0, 30.4375).iloc[0]
    assert not cmp["distinguishable"] and cmp["replications_needed"] == n


def test_perspective_p_green_is_the_share_of_replications_whose_rollup_is_green():
    # issue 11: three equally weighted KPIs, each green in 2 of 3 replications, a different one amber each time.
    # Every replication's roll-up is (1 + 1 + 0.5) / 3 = 0.83: green. The weighted mean of the KPIs' P(green)
    # is 67%; the perspective's P(green) is 100%.
    data = scenario_dict("engine_small.yaml")
    data["scorecard"] = {"perspectives": [{"name": "financial", "objectives": [{"name": "o", "kpis": [
        {"name": metric, "metric": metric, "aggregation": "last", "target": 10, "amber": 5}
        for metric in ("profit", "revenue", "costs")]}]}]}
    scenario = compiled(data).scenario
    green, amber = 12.0, 7.0
    ts = pd.DataFrame([{"strategy": "baseline", "replication": r, "period": 1, "profit": amber if r == 0 else green,
                        "revenue": amber if r == 1 else green, "costs": amber if r == 2 else green} for r in range(3)])
    card = scorecard_frame(ts, scenario)
    assert card["p_green"].tolist() == pytest.approx([2 / 3] * 3)
    assert np.average(card["p_green"], weights=card["weight"]) == pytest.approx(2 / 3)  # the old, wrong answer
    for level in ("perspective", "objective"):
        rolled = rollup(card, level).iloc[0]
        assert rolled["p_green"] == 1.0 and rolled["status"] == "green"
    from simulator.analysis.scorecard import scorecard_document

    assert scorecard_document(card)["baseline"]["perspectives"]["financial"]["p_green"] == 1.0
    # the mirror case: one KPI green in every replication, the other two red: never green, though P(green) avg 33%
    red = 0.0
    ts2 = ts.assign(profit=green, revenue=red, costs=red)
    assert rollup(scorecard_frame(ts2, scenario), "perspective").iloc[0]["p_green"] == 0.0


def test_rollup_p_green_weighs_kpis_per_replication():
    data = scenario_dict("engine_small.yaml")
    data["scorecard"] = {"perspectives": [{"name": "customer", "objectives": [{"name": "o", "kpis": [
        {"name": "heavy", "metric": "profit", "aggregation": "last", "target": 10, "amber": 0, "weight": 3},
        {"name": "light", "metric": "revenue", "aggregation": "last", "target": 10, "amber": 0}]}]}]}
    scenario = compiled(data).scenario
    # replication 0: heavy green, light red -> 3/4 green; replication 1: heavy red, light green -> 1/4 red
    ts = pd.DataFrame([{"strategy": "baseline", "replication": r, "period": 1, "profit": 12.0 if r == 0 else 0.0,
                        "revenue": 0.0 if r == 0 else 12.0} for r in range(2)])
    assert rollup(scorecard_frame(ts, scenario), "perspective").iloc[0]["p_green"] == 0.5
