"""Decision analytics against closed forms: unit normal loss, hand-computed regret, Ishigami, a planted threshold."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.special import ndtr, ndtri
from scipy.stats import qmc
from scipy.stats import t as student_t

from simulator.analysis.stats import proportion_ci
from simulator.decision.value import (
    cvar,
    decision_table,
    evpi,
    evppi,
    first_order_sobol,
    scenario_discovery,
)


def long(values: dict[str, np.ndarray], **extra: dict[str, np.ndarray]) -> pd.DataFrame:
    """The orchestration's layout: one row per (draw, strategy)."""
    n = len(next(iter(values.values())))
    frames = []
    for name, v in values.items():
        frame = pd.DataFrame({"draw": np.arange(n), "strategy": name, "value": v})
        for column, per_strategy in extra.items():
            frame[column] = per_strategy[name]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def unit_normal_loss(z: float) -> float:
    return math.exp(-z * z / 2) / math.sqrt(2 * math.pi) - z * (1 - ndtr(z))


def normal_toy(mu_over_sigma: float, noise: float = 0.0, n: int = 2000, sigma: float = 1000.0):
    """A - B = X ~ Normal(mu, sigma) from exact quantiles, shuffled; U is an irrelevant uniform assumption."""
    rng = np.random.default_rng(7)
    x = mu_over_sigma * sigma + sigma * ndtri((np.arange(n) + 0.5) / n)
    rng.shuffle(x)
    u = rng.uniform(size=n)
    base = 50_000 + 3000 * rng.standard_normal(n)  # what both strategies share in a draw (cancels in the pair)
    a = base + x + noise * sigma * rng.standard_normal(n)
    outcomes = long({"baseline": base, "A": a})
    return outcomes, pd.DataFrame({"X": x, "U": u}), sigma * unit_normal_loss(abs(mu_over_sigma))


@pytest.mark.parametrize("mu", [0.3, 1.0])
def test_evpi_and_evppi_equal_the_unit_normal_loss(mu):
    outcomes, inputs, exact = normal_toy(mu)
    assert evpi(outcomes) == pytest.approx(exact, rel=0.05)
    table = evppi(outcomes, inputs).set_index("parameter")
    assert table.loc["X", "evppi"] == pytest.approx(exact, rel=0.05)
    assert table.loc["X", "rank"] == 1 and table.loc["X", "share_of_evpi"] == pytest.approx(1.0, rel=0.05)
    assert table.loc["U", "evppi"] < 0.05 * exact
    assert 0 <= table.loc["X", "evppi_se"] < 0.05 * exact


@pytest.mark.parametrize("mu", [0.3, 1.0])
def test_evppi_sees_through_replication_noise(mu):
    # noise of half the assumption's sd in the pair: EVPI on the noisy values is inflated, EVPPI of X is not
    outcomes, inputs, exact = normal_toy(mu, noise=0.5)
    table = evppi(outcomes, inputs).set_index("parameter")
    assert evpi(outcomes) > 1.05 * exact
    assert table.loc["X", "evppi"] == pytest.approx(exact, rel=0.10)
    assert table.loc["U", "evppi"] < 0.05 * exact


def test_evppi_of_a_group_by_gaussian_process():
    outcomes, inputs, exact = normal_toy(0.3, noise=0.5, n=800)
    table = evppi(outcomes, inputs, {"both": ["X", "U"]}).set_index("parameter")
    assert table.loc["both", "evppi"] == pytest.approx(exact, rel=0.10)
    assert table.loc["both", "method"] == "gaussian process"
    labelled = evppi(outcomes, inputs, ["U", ("X", "U")], samples=0)
    assert list(labelled["parameter"]) == ["X + U", "U"]


def test_decision_table_matches_hand_computation():
    # three strategies on four equally likely draws; draw 2 is a tie between baseline and B
    values = {"baseline": np.array([10.0, 5, 3, 4]), "B": np.array([8.0, 9, 3, 2]), "C": np.array([6.0, 7, 1, 12])}
    green = {"baseline": np.array([1.0, 0, 0, 1]), "B": np.array([0.5, 0.5, 0.5, 0.5]), "C": np.zeros(4)}
    outcomes = long(values, all_green=green).sample(frac=1.0, random_state=1)  # row order must not matter
    table = decision_table(outcomes).set_index("strategy")
    assert list(table.index) == ["baseline", "B", "C"]
    assert table["p_best"].to_dict() == pytest.approx({"baseline": 0.375, "B": 0.375, "C": 0.25})
    assert table["expected_regret"].to_dict() == pytest.approx({"baseline": 3.0, "B": 3.0, "C": 2.0})
    assert table["max_regret"].to_dict() == pytest.approx({"baseline": 8.0, "B": 10.0, "C": 4.0})
    assert table.loc["B", "p_better"] == 0.25 and table.loc["C", "p_better"] == 0.5
    assert math.isnan(table.loc["baseline", "p_better"])
    assert table["delta_mean"].to_dict() == pytest.approx({"baseline": 0.0, "B": 0.0, "C": 1.0})
    assert table["cvar05_delta"].to_dict() == pytest.approx({"baseline": 0.0, "B": -2.0, "C": -4.0})
    assert table["rank"].to_dict() == {"baseline": 2, "B": 2, "C": 1}
    assert table["p_all_green"].to_dict() == pytest.approx({"baseline": 0.5, "B": 0.5, "C": 0.0})
    # 1.5 wins of 4 (a tie): the interval runs from 1 of 4's lower bound to 2 of 4's upper bound
    assert table.loc["B", "p_best_ci_low"] == pytest.approx(proportion_ci(1, 4)[0])
    assert table.loc["B", "p_best_ci_high"] == pytest.approx(proportion_ci(2, 4)[1])
    c = values["C"]
    half = student_t.ppf(0.975, 3) * c.std(ddof=1) / 2
    assert (table.loc["C", "value_ci_low"], table.loc["C", "value_ci_high"]) == pytest.approx((6.5 - half, 6.5 + half))
    assert (table.loc["C", "value_p05"], table.loc["C", "value_p95"]) == pytest.approx(np.quantile(c, [0.05, 0.95]))
    # EVPI = E[max] - max E = 8.5 - 6.5, which is also the smallest expected regret
    assert evpi(outcomes) == pytest.approx(2.0) == table["expected_regret"].min()


def test_decision_table_uses_only_complete_draws_and_needs_the_baseline():
    outcomes = long({"baseline": np.array([1.0, 2, 3]), "A": np.array([2.0, 1, 5])})
    outcomes = outcomes[~((outcomes["strategy"] == "A") & (outcomes["draw"] == 2))]
    table = decision_table(outcomes).set_index("strategy")
    assert table.loc["A", "draws"] == 2 and table.loc["A", "p_best"] == 0.5
    with pytest.raises(ValueError, match="baseline"):
        decision_table(outcomes, baseline="status quo")


def test_cvar_is_the_mean_of_the_worst_tail():
    rng = np.random.default_rng(3)
    assert cvar(rng.permutation(np.arange(1.0, 101.0))) == pytest.approx(3.0)  # worst 5 of 100
    assert cvar(rng.permutation(np.arange(1.0, 31.0))) == pytest.approx((1 + 0.5 * 2) / 1.5)  # 1.5 draws
    assert cvar([7.0, 3.0, 9.0]) == 3.0  # fewer than 20 draws: the worst one
    assert cvar([4.0, 1.0, 3.0, 2.0], alpha=0.5) == pytest.approx(1.5)
    assert math.isnan(cvar([]))


ISHIGAMI_S1 = {"x1": 0.3139, "x2": 0.4424, "x3": 0.0}


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def test_first_order_sobol_matches_salib_saltelli_and_the_analytic_indices():
    from SALib.analyze import sobol
    from SALib.sample import sobol as saltelli

    problem = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-math.pi, math.pi]] * 3}
    reference = sobol.analyze(problem, ishigami(x := saltelli.sample(problem, 4096, calc_second_order=False,
                                                                         seed=1)),
                              calc_second_order=False, seed=1)["S1"]
    assert x.shape[0] == 4096 * 5
    design = qmc.scale(qmc.LatinHypercube(d=3, seed=11).random(4096), [-math.pi] * 3, [math.pi] * 3)
    inputs = pd.DataFrame(design, columns=["x1", "x2", "x3"]).assign(fixed=1.0)
    table = first_order_sobol(ishigami(design), inputs).set_index("parameter")
    for i, name in enumerate(problem["names"]):
        assert table.loc[name, "S1"] == pytest.approx(ISHIGAMI_S1[name], abs=0.03)
        assert table.loc[name, "S1"] == pytest.approx(reference[i], abs=0.03)
        assert table.loc[name, "S1_smooth"] == pytest.approx(ISHIGAMI_S1[name], abs=0.03)
        assert 0 < table.loc[name, "S1_conf"] < 0.06
    assert table.loc["fixed", "S1"] == 0.0 and table.loc["fixed", "S1_smooth"] == 0.0
    assert table.loc["x2", "rank"] == 1 and table.loc["x1", "rank"] == 2


def test_first_order_sobol_smooth_estimate_holds_on_a_scrambled_sobol_design():
    design = qmc.scale(qmc.Sobol(d=3, seed=0).random(4096), [-math.pi] * 3, [math.pi] * 3)
    inputs = pd.DataFrame(design, columns=["x1", "x2", "x3"])
    table = first_order_sobol(pd.Series(ishigami(design), index=inputs.index), inputs).set_index("parameter")
    for name, exact in ISHIGAMI_S1.items():
        assert table.loc[name, "S1_smooth"] == pytest.approx(exact, abs=0.03)


def planted(n: int = 1000, flip=lambda x1: x1 < 0.3):
    rng = np.random.default_rng(5)
    inputs = pd.DataFrame(rng.uniform(size=(n, 3)), columns=["links.a->b.effect", "x1", "segments.s.churn"])
    winner = 100 + 5 * inputs["links.a->b.effect"].to_numpy() + rng.normal(0, 1, n)
    rival = winner + np.where(flip(inputs["x1"].to_numpy()), 1.0, -1.0) * rng.uniform(0.1, 3.0, n)
    return long({"baseline": winner - 10, "winner": winner, "rival": rival}), inputs


def test_scenario_discovery_recovers_a_planted_threshold():
    outcomes, inputs = planted()
    rules = scenario_discovery(outcomes, inputs, "winner", "rival")
    assert len(rules) == 1
    (rule,) = rules
    ((name, low, high),) = rule.conditions
    assert name == "x1" and low is None and high == pytest.approx(0.3, abs=0.01)
    assert rule.loss_rate == 1.0 and rule.coverage == 1.0
    assert rule.share_of_draws == pytest.approx((inputs["x1"] < 0.3).mean())
    assert rule.text.startswith("x1 <= 0.3") and "100% of all losses" in str(rule)


def test_scenario_discovery_never_and_always():
    outcomes, inputs = planted(flip=lambda x1: x1 < -1)
    assert scenario_discovery(outcomes, inputs, "winner", "rival") == []
    outcomes, inputs = planted(flip=lambda x1: x1 < 2)
    (rule,) = scenario_discovery(outcomes, inputs, "winner", "rival")
    assert rule.conditions == () and rule.text == "all draws" and rule.loss_rate == 1.0


def test_the_noise_floor_separates_a_real_assumption_from_an_irrelevant_one_at_few_draws():
    # 64 draws with noise: the irrelevant U may score above 0, but not above what a random ordering scores
    outcomes, inputs, exact = normal_toy(0.3, noise=0.5, n=64)
    table = evppi(outcomes, inputs).set_index("parameter")
    assert table.loc["X", "above_noise"] and not table.loc["U", "above_noise"]
    assert 0 < table.loc["X", "noise_floor"] < table.loc["X", "evppi"]
