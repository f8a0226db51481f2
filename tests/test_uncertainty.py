"""Assumptions as distributions: the inline syntax, the loader's extraction, bounds, and the sampler."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from simulator.decision.sampling import draw, inverse, point_values
from simulator.errors import Problem, ScenarioError
from simulator.scenario.loader import load, load_data
from simulator.scenario.paths import get_value
from simulator.scenario.uncertainty import Correlation, Distribution, field_bounds, point_value
from tests.scenario_helpers import DATA, MINIMAL, ROOT, SHIPPED, minimal_data, write_yaml

UNCERTAIN = DATA / "uncertain.yaml"
LINK = "links.training->employee_satisfaction.effect"
LINK2 = "links.employee_satisfaction->service_quality.effect"


def tri(low: float, mode: float, high: float, **kw) -> Distribution:
    return Distribution(dist="triangular", low=low, mode=mode, high=high, **kw)


def variant(tmp_path: Path, old: str, new: str, base: Path = MINIMAL) -> Path:
    """`base` with one line's text replaced; returns the new file."""
    text = base.read_text()
    assert text.count(old) == 1, old
    path = tmp_path / "variant.yaml"
    path.write_text(text.replace(old, new))
    return path


def only_problem(path: Path) -> Problem:
    with pytest.raises(ScenarioError) as info:
        load(path)
    assert len(info.value.problems) == 1, [str(p) for p in info.value.problems]
    return info.value.problems[0]


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


# --- point values ------------------------------------------------------------------------------------------


def test_point_value_is_the_mode_or_the_mean_as_written() -> None:
    assert tri(0.05, 0.10, 0.16).point == 0.10
    assert Distribution(dist="uniform", low=2, high=5).point == 3.5
    assert Distribution(dist="normal", mean=0.08, sd=0.02, low=0.07).point == 0.08  # not the truncated mean
    assert Distribution(dist="lognormal", mean=40000, sd=4000).point == 40000
    assert Distribution(dist="beta", mean=0.02, sd=0.005).point == 0.02
    assert point_value("employees.headcount", Distribution(dist="uniform", low=3, high=6)) == 5  # 4.5, half up
    assert isinstance(point_value("employees.headcount", tri(3, 4, 6)), int)
    assert point_values({LINK: tri(0.2, 0.5, 0.7), "employees.headcount": tri(3, 4, 6)}) == {LINK: 0.5,
                                                                                         "employees.headcount": 4}


def test_inline_distributions_load_as_their_point_values_and_are_recorded_by_path() -> None:
    loaded = load(UNCERTAIN)
    sc = loaded.scenario
    assert sc.metadata.discount_rate == 0.08 and sc.employees.headcount == 4 and sc.employees.annual_salary == 40000
    assert sc.segments[0].basket == 20 and sc.segments[0].churn_per_month == 0.02
    assert sc.network.links[0].effect == 0.5 and sc.network.links[3].delay_days == 14
    assert sc.initiatives[0].effects[0].operation == ("add", 10.0)
    assert set(sc.uncertainty.assumptions) == {
        "metadata.discount_rate", "employees.headcount", "employees.annual_salary", "segments.retail.basket",
        "segments.retail.churn_per_month", LINK, LINK2, "links.mean_wait_minutes->service_quality.delay_days",
        "initiatives.more_training.effects.0.add"}
    assert sc.uncertainty.assumptions[LINK2].source == "[RKQ] +-50%"
    assert sc.uncertainty.draws == 16 and sc.uncertainty.replications == 2 and sc.uncertainty.design == "sobol"
    # the data carries the point values and the distributions; a recorded one points back at its line
    assert get_value(loaded.data, LINK2) == 0.26
    assert loaded.data["uncertainty"]["assumptions"][LINK2]["mode"] == 0.26
    file, line, _ = loaded.position(("uncertainty", "assumptions", LINK2, "high"))
    assert Path(file) == UNCERTAIN and line == line_of(UNCERTAIN, "high: 0.39")


def test_a_scenario_without_distributions_is_unchanged() -> None:
    loaded = load(MINIMAL)
    assert "uncertainty" not in loaded.data and loaded.scenario.uncertainty.assumptions == {}


def test_round_trip_through_as_data_keeps_the_assumptions() -> None:
    sc = load(UNCERTAIN).scenario
    data = json.loads(json.dumps(sc.as_data()))
    assert data["uncertainty"]["assumptions"][LINK] == {"dist": "triangular", "low": 0.25, "mode": 0.5, "high": 0.75}
    again = load_data(data)
    assert again == sc and again.uncertainty.assumptions == sc.uncertainty.assumptions


def test_a_worker_keeps_its_drawn_values() -> None:
    """load_data on data with recorded assumptions validates them and leaves the parameters' numbers alone."""
    data = load(UNCERTAIN).scenario.as_data()
    data["network"]["links"][0]["effect"] = 0.61
    assert load_data(data).network.links[0].effect == 0.61


def test_load_data_extracts_inline_distributions_too() -> None:
    data = minimal_data()
    data["segments"][0]["basket"] = {"dist": "uniform", "low": 10, "high": 30}
    sc = load_data(data)
    assert sc.segments[0].basket == 20 and "segments.retail.basket" in sc.uncertainty.assumptions
    assert data["segments"][0]["basket"]["dist"] == "uniform", "the caller's data is not changed"


def test_the_shipped_scenario_marks_its_uncertain_numbers_with_sources() -> None:
    sc = load(SHIPPED).scenario
    assumptions = sc.uncertainty.assumptions
    assert sum(p.startswith("links.") for p in assumptions) == len(sc.network.links) == 15
    assert "metadata.discount_rate" in assumptions
    for seg in sc.segments:
        for field in ("churn_per_month", "satisfaction_sensitivity", "price_churn_elasticity"):
            assert f"segments.{seg.name}.{field}" in assumptions
    assert all(d.source for d in assumptions.values())
    assert (sc.uncertainty.draws, sc.uncertainty.replications) == (64, 2)


# --- bad distributions -----------------------------------------------------------------------------------

BAD = [
    ("{dist: trianglar, low: 0.01, mode: 0.02, high: 0.03}", "unknown distribution 'trianglar'", "did you mean 'triangular'"),
    ("{dist: triangular, low: 0.03, mode: 0.02, high: 0.04}", "low <= mode <= high", "dist: triangular"),
    ("{dist: triangular, low: 0.01, high: 0.03}", "needs 'mode'", "dist: triangular"),
    ("{dist: triangular, low: 0.01, mode: 0.02, high: 0.03, sd: 0.1}", "'sd' does not apply", ""),
    ("{dist: uniform, low: 0.01, hgih: 0.03}", "unknown key 'hgih'", "did you mean 'high'"),
    ("{dist: uniform, low: 0.03, high: 0.01}", "low <= high", "dist: uniform"),
    ("{dist: normal, mean: 0.02}", "needs 'sd'", "dist: normal"),
    ("{dist: normal, mean: 0.02, sd: 0}", "sd > 0", ""),
    ("{dist: normal, mean: 0.02, sd: 0.01, low: 0.03, high: 0.05}", "outside low/high", ""),
    ("{dist: normal, mean: 0.02, sd: .nan}", "'sd'", ""),
    ("{dist: lognormal, mean: 0.02, sd: 0.01, low: -1}", "low must be >= 0", ""),
    ("{dist: beta, mean: 0.02, sd: 0.2}", "needs sd <", "dist: beta"),
    ("{dist: uniform, low: abc, high: 0.03}", "'low'", ""),
]


@pytest.mark.parametrize(("written", "message", "hint"), BAD)
def test_a_bad_distribution_is_one_problem_at_its_line(tmp_path: Path, written: str, message: str, hint: str) -> None:
    path = variant(tmp_path, "churn_per_month: 0.02", f"churn_per_month: {written}")
    problem = only_problem(path)
    assert (problem.file, problem.line) == (str(path), 13), str(problem)
    assert message in problem.message and "segments.0.churn_per_month" in problem.message, str(problem)
    assert hint in problem.hint, str(problem)


@pytest.mark.parametrize(("old", "new"), [
    ("name: Minimal test scenario", "name: {dist: uniform, low: 1, high: 2}"),
    ("horizon_months: 12", "horizon_months: {dist: uniform, low: 6, high: 18}"),
    ("seed: 1", "seed: {dist: uniform, low: 1, high: 9}"),
    ("target: 100}", "target: {dist: uniform, low: 90, high: 110}}"),
    ("reference: 10, min: 0}", "reference: 10, min: {dist: uniform, low: 0, high: 1}}"),
    ("driver: new_customer", "driver: {dist: uniform, low: 0, high: 1}"),
    ("- {lever: training, add: 10}", "- {dist: uniform, low: 0, high: 1}"),
])
def test_a_distribution_where_no_parameter_applies_is_refused(tmp_path: Path, old: str, new: str) -> None:
    path = variant(tmp_path, old, new)
    problem = only_problem(path)
    assert "a distribution is not allowed here" in problem.message and problem.hint, str(problem)
    assert problem.line == line_of(path, new.split(":")[0].strip("- {"))


def test_an_explicit_bound_outside_the_field_is_refused(tmp_path: Path) -> None:
    path = variant(tmp_path, "churn_per_month: 0.02", "churn_per_month: {dist: triangular, low: 0.01, mode: 0.02, high: 1.5}")
    problem = only_problem(path)
    assert problem.line == 13 and "high 1.5 is outside what the field accepts [0, 1]" in problem.message


def test_a_beta_must_fit_the_field(tmp_path: Path) -> None:
    path = variant(tmp_path, "churn_per_month: 0.02", "churn_per_month: {dist: beta, mean: 0.02, sd: 0.01, high: 2}")
    assert "high 2 is outside what the field accepts [0, 1]" in only_problem(path).message
    path = variant(tmp_path, "annual_salary: 40000",
                   "annual_salary: 40000\n  overtime_premium: {dist: beta, mean: 1.5, sd: 0.1, low: 1, high: 2}")
    assert load(path).scenario.employees.overtime_premium == 1.5


def test_a_node_reference_must_stay_within_the_nodes_bounds(tmp_path: Path) -> None:
    path = variant(tmp_path, "reference: 7, min: 0, max: 10}", "reference: {dist: normal, mean: 7, sd: 1}, min: 0, max: 10}")
    problem = only_problem(path)
    assert "outside the node's bounds [0, 10]" in problem.message and problem.line == 25
    path = variant(tmp_path, "reference: 7, min: 0, max: 10}",
                   "reference: {dist: normal, mean: 7, sd: 1, low: 4, high: 10}, min: 0, max: 10}")
    assert load(path).scenario.node("service_quality").reference == 7


def test_a_point_value_the_field_refuses_is_reported_by_validation(tmp_path: Path) -> None:
    path = variant(tmp_path, "basket: 20", "basket: {dist: normal, mean: -5, sd: 1}")
    problem = only_problem(path)
    assert problem.line == 11 and "segments.0.basket" in problem.message and "greater than or equal to 0" in problem.message


# --- correlation groups ---------------------------------------------------------------------------------


def _with_uncertainty(tmp_path: Path, block: str) -> Path:
    text = UNCERTAIN.read_text()
    head = text[: text.index("uncertainty:\n")]
    path = tmp_path / "corr.yaml"
    path.write_text(head + block)
    return path


def test_correlation_groups_are_checked(tmp_path: Path) -> None:
    three = "[links.training->employee_satisfaction.effect, links.employee_satisfaction->service_quality.effect, " \
            "segments.retail.basket]"
    bad = {
        "uncertainty:\n  correlate:\n    - {parameters: [segments.retail.basket, segments.business.basket], rho: 0.5}\n":
            "'segments.business.basket' is not an assumption",
        "uncertainty:\n  correlate:\n    - {parameters: [segments.retail.basket, employees.headcount], rho: 1.0}\n":
            "less than 1",
        f"uncertainty:\n  correlate:\n    - {{parameters: {three}, rho: -0.9}}\n": "not positive definite",
        ("uncertainty:\n  correlate:\n    - {parameters: [segments.retail.basket, employees.headcount], rho: 0.3}\n"
         "    - {parameters: [employees.headcount, segments.retail.basket], rho: 0.4}\n"): "correlated in two groups",
    }
    for block, message in bad.items():
        problem = only_problem(_with_uncertainty(tmp_path, block))
        assert message in problem.message, (block, str(problem))
        assert problem.line > line_of(tmp_path / "corr.yaml", "uncertainty:")


def test_assumptions_written_directly_must_name_parameters(tmp_path: Path) -> None:
    path = _with_uncertainty(tmp_path, "uncertainty:\n  assumptions:\n    segments.retail.baskett: {dist: uniform, low: 1, high: 2}\n")
    problem = only_problem(path)
    assert "no field 'baskett'" in problem.message or "baskett" in problem.message
    assert problem.line == line_of(path, "baskett")
    path = _with_uncertainty(tmp_path, "uncertainty:\n  assumptions:\n    run.seed: {dist: uniform, low: 1, high: 2}\n")
    assert "not a parameter an assumption can vary" in only_problem(path).message


def test_assumptions_written_directly_set_the_point_value_and_cannot_repeat_an_inline_one(tmp_path: Path) -> None:
    path = _with_uncertainty(tmp_path, "uncertainty:\n  assumptions:\n"
                                       "    segments.business.basket: {dist: triangular, low: 60, mode: 70, high: 90}\n")
    sc = load(path).scenario
    assert sc.segments[1].basket == 70 and "segments.business.basket" in sc.uncertainty.assumptions
    assert "segments.retail.basket" in sc.uncertainty.assumptions  # inline ones are recorded beside it
    path = _with_uncertainty(tmp_path, "uncertainty:\n  assumptions:\n"
                                       "    segments.retail.basket: {dist: uniform, low: 10, high: 30}\n")
    assert "also written as a distribution" in only_problem(path).message


# --- extends --------------------------------------------------------------------------------------------


def test_a_child_replaces_a_distribution_whole(tmp_path: Path) -> None:
    base = tmp_path / "base.yaml"
    base.write_text(UNCERTAIN.read_text())
    child = write_yaml(tmp_path / "child.yaml", {
        "extends": "base.yaml",
        "segments": [{"name": "retail", "basket": {"dist": "normal", "mean": 21, "sd": 1},
                      "churn_per_month": 0.03}],
        "uncertainty": {"assumptions": {LINK: {"dist": "uniform", "low": 0.4, "high": 0.8}}},
    })
    sc = load(child).scenario  # a range given by path in a child wins over the base's inline one
    assert sc.uncertainty.assumptions[LINK] == Distribution(dist="uniform", low=0.4, high=0.8)
    assert sc.network.links[0].effect == pytest.approx(0.6)
    child = write_yaml(tmp_path / "child.yaml", {
        "extends": "base.yaml",
        "segments": [{"name": "retail", "basket": {"dist": "normal", "mean": 21, "sd": 1}, "churn_per_month": 0.03}],
    })
    sc = load(child).scenario
    assumptions = sc.uncertainty.assumptions
    assert assumptions["segments.retail.basket"] == Distribution(dist="normal", mean=21, sd=1)  # no low/high inherited
    assert sc.segments[0].basket == 21
    assert "segments.retail.churn_per_month" not in assumptions and sc.segments[0].churn_per_month == 0.03
    assert LINK in assumptions and len(sc.uncertainty.correlate) == 1
    child = write_yaml(tmp_path / "child.yaml", {"extends": "base.yaml", "segments": [
        {"name": "retail", "basket": {"high": 21}}]})  # no `dist`: changes that field only
    assert load(child).scenario.uncertainty.assumptions["segments.retail.basket"] == Distribution(
        dist="uniform", low=18, high=21)


# --- the sampler ----------------------------------------------------------------------------------------


def test_draws_are_deterministic_by_seed_and_independent_of_order() -> None:
    assumptions = dict(load(UNCERTAIN).scenario.uncertainty.assumptions)
    a = draw(assumptions, 50, seed=7)
    assert a == draw(assumptions, 50, seed=7)
    assert a != draw(assumptions, 50, seed=8)
    shuffled = list(assumptions.items())
    random.Random(1).shuffle(shuffled)
    assert draw(dict(shuffled), 50, seed=7) == a
    lhs = draw(assumptions, 50, seed=7, design="lhs")
    assert lhs == draw(assumptions, 50, seed=7, design="lhs") and lhs != a
    assert draw({}, 3, seed=1) == [{}, {}, {}]


def test_every_draw_is_a_valid_scenario() -> None:
    from simulator.scenario.paths import with_values

    loaded = load(UNCERTAIN)
    unc = loaded.scenario.uncertainty
    for values in draw(unc.assumptions, 32, seed=3, correlate=unc.correlate):
        sc = load_data(with_values(loaded.data, values))
        assert isinstance(sc.employees.headcount, int) and 3 <= sc.employees.headcount <= 6


MARGINALS = [
    (tri(0.05, 0.10, 0.16), stats.triang(5 / 11, loc=0.05, scale=0.11)),
    (Distribution(dist="uniform", low=2, high=5), stats.uniform(2, 3)),
    (Distribution(dist="normal", mean=3, sd=2), stats.norm(3, 2)),
    (Distribution(dist="normal", mean=3, sd=2, low=1, high=4), stats.truncnorm(-1, 0.5, loc=3, scale=2)),
    (Distribution(dist="lognormal", mean=10, sd=5), stats.lognorm(s=np.sqrt(np.log(1.25)), scale=10 / np.sqrt(1.25))),
    (Distribution(dist="beta", mean=0.3, sd=0.1), stats.beta(6, 14)),
    (Distribution(dist="beta", mean=3, sd=1, low=0, high=10), stats.beta(6, 14, loc=0, scale=10)),
]


@pytest.mark.parametrize(("dist", "reference"), MARGINALS, ids=[d.dist + str(i) for i, (d, _) in enumerate(MARGINALS)])
def test_marginals_match_their_distributions(dist: Distribution, reference) -> None:
    values = np.array([row["x"] for row in draw({"x": dist}, 4096, seed=11)])
    result = stats.kstest(values, reference.cdf)
    assert result.statistic < 0.01, result  # a Sobol design fills the quantiles far better than random draws
    assert abs(values.mean() - reference.mean()) < 0.01 * reference.std() + 1e-12


def test_lognormal_moments_are_those_of_the_variable() -> None:
    values = np.array([row["x"] for row in draw({"x": Distribution(dist="lognormal", mean=10, sd=5)}, 4096, seed=2)])
    assert values.mean() == pytest.approx(10, rel=0.01) and values.std() == pytest.approx(5, rel=0.03)


@pytest.mark.parametrize(("rho", "design"), [(0.5, "sobol"), (-0.8, "sobol"), (0.3, "lhs")])
def test_correlation_groups_reach_their_rank_correlation(rho: float, design: str) -> None:
    assumptions = {"a": tri(0, 1, 3), "b": Distribution(dist="lognormal", mean=2, sd=1), "c": tri(0, 1, 2)}
    rows = draw(assumptions, 4096, seed=5, design=design, correlate=[Correlation(parameters=["a", "b"], rho=rho)])
    a, b, c = (np.array([r[k] for r in rows]) for k in "abc")
    assert stats.spearmanr(a, b).statistic == pytest.approx(rho, abs=0.03)
    assert abs(stats.spearmanr(a, c).statistic) < 0.03
    as_mapping = draw(assumptions, 64, seed=5, design=design, correlate=[{"parameters": ["a", "b"], "rho": rho}])
    assert as_mapping == rows[:64] or design == "lhs"  # Sobol's first 64 points are the same sequence


def test_samples_respect_the_fields_bounds() -> None:
    wide = {"segments.retail.churn_per_month": Distribution(dist="normal", mean=0.02, sd=0.5),
            "employees.headcount": Distribution(dist="normal", mean=4, sd=3),
            "segments.retail.handle_minutes": Distribution(dist="normal", mean=1, sd=5)}
    rows = draw(wide, 2048, seed=1)
    churn = [r["segments.retail.churn_per_month"] for r in rows]
    heads = [r["employees.headcount"] for r in rows]
    handle = [r["segments.retail.handle_minutes"] for r in rows]
    assert 0 <= min(churn) and max(churn) <= 1 and max(churn) > 0.5  # truncated, not piled up at the bounds
    assert all(isinstance(h, int) and 1 <= h <= 100_000 for h in heads)
    assert min(handle) > 0
    assert field_bounds("segments.retail.churn_per_month").text() == "[0, 1]"
    assert field_bounds("employees.headcount").integer and field_bounds("segments.retail.handle_minutes").lo_open


@pytest.mark.parametrize("dist", [Distribution(dist="uniform", low=0.3, high=0.3), tri(0.3, 0.3, 0.3)])
def test_a_distribution_collapsed_to_a_point_gives_exactly_the_point(dist: Distribution) -> None:
    assert dist.point == 0.3
    assert {r["x"] for r in draw({"x": dist, "y": tri(0, 1, 2)}, 100, seed=4)} == {0.3}
    assert inverse(dist, np.array([0.0, 0.5, 1.0])) == [0.3, 0.3, 0.3]


def test_a_run_never_imports_scipy_stats() -> None:
    code = (
        "import sys\n"
        "from simulator.cli import main\n"
        "code = main(['run', 'tests/data/uncertain.yaml', '--replications', '1', '--workers', '1', '--months', '2'])\n"
        "assert code == 0, code\n"
        "assert 'scipy.stats' not in sys.modules, 'spc run imported scipy.stats'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_an_edited_number_is_saved_as_a_plain_number_and_the_rest_keep_their_distributions(tmp_path: Path) -> None:
    """The TUI's override file: an edited number is fixed (its distribution and correlations go); the other
    effects of an edited initiative keep theirs; the file loads back as the edited scenario."""
    from simulator.scenario.levers import save_override

    loaded = load(SHIPPED)
    before = loaded.scenario.uncertainty
    scale = "initiatives.reprice_transactors.effects.1.scale"
    saved = save_override(loaded.path, tmp_path / "edited.yaml", loaded.data,
                          {scale: 0.6, "initiatives.people_programme.effects.0.add": 30, "metadata.discount_rate": 0.1})
    after = load(saved).scenario
    assert set(before.assumptions) - set(after.uncertainty.assumptions) == {scale, "metadata.discount_rate"}
    assert after.uncertainty.correlate == [] and before.correlate
    assert after.metadata.discount_rate == 0.1 and after.initiatives[0].effects[0].operation == ("add", 30.0)
    assert "initiatives.people_programme.effects.1.add" in after.uncertainty.assumptions
