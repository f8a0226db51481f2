"""Calibration: does the fit find parameter values it was given? (simulation-based checks on a small model)

One design (96 draws x 2 replications of tests/data/calibrate_small.yaml, run through the batch
coordinator into a results database) serves every test: the design does not depend on the history.
Histories are made by the model itself at known values, on seeds the design never used, with survey
noise on the service-quality index.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simulator.batch.executors import LocalExecutor
from simulator.calibration.calibrate import calibrate, prepare_setup
from simulator.calibration.design import plan_design, runner
from simulator.calibration.history import read_history
from simulator.calibration.stats import fit_statistics
from simulator.calibration.synthetic import simulate_history
from simulator.cli import main
from simulator.scenario.loader import load
from simulator.store import Store

SCENARIO = Path(__file__).parent / "data" / "calibrate_small.yaml"
METRICS = ["active_customers", "customers_won", "service_quality"]
SE = {"service_quality": 0.05}
BUDGET, REPS = 96, 2
EFFECT, ACQ, CHURN = ("links.morale->service_quality.effect", "segments.regulars.acquisition_per_month",
                      "segments.regulars.churn_per_month")


@pytest.fixture(scope="module")
def design(tmp_path_factory):
    """(loaded, design runs, their series, store path): the shared design."""
    loaded = load(SCENARIO)
    store_path = tmp_path_factory.mktemp("calibration") / "calibration.duckdb"
    setup = prepare_setup(loaded, simulate_history(loaded, {}, METRICS, 36, seed=1), None, replications=REPS)
    runs = plan_design(loaded, setup.params, BUDGET, REPS, setup.seed, setup.months)
    with Store(store_path) as store:
        series = runner(store, LocalExecutor(), METRICS)(runs)
    return loaded, runs, series, store_path


def _setup(loaded, truth: dict, seed: int, fit_until: int | None = None, se=SE):
    history = simulate_history(loaded, truth, METRICS, 36, seed=seed, se=se)
    return prepare_setup(loaded, history, None, replications=REPS, fit_until=fit_until)


def test_coverage_of_90_percent_intervals_over_ten_histories(design):
    """Known values drawn from the priors fall inside the posterior 90% intervals for >= 80% of parameters."""
    from simulator.decision.sampling import draw

    loaded, runs, series, store_path = design
    priors = loaded.scenario.uncertainty.assumptions
    truths = draw(priors, 10, seed=2024, design="lhs")  # a stream apart from the design's draws
    inside, total = 0, 0
    with Store(store_path) as store:
        run = runner(store, LocalExecutor(), METRICS)
        for i, truth in enumerate(truths):
            setup = _setup(loaded, truth, seed=1000 + i)
            result = calibrate(setup, runs, series, "posterior", run, seed=i, steps=600, check=False)
            for row in result.estimates.itertuples():
                total += 1
                inside += row.lo90 <= truth[row.path] <= row.hi90
    assert total == 30
    assert inside / total >= 0.8, f"{inside}/{total} known values inside the 90% intervals"


def test_point_fit_recovers_identifiable_parameters_within_10_percent(design):
    loaded, runs, series, store_path = design
    truth = {EFFECT: 0.03, ACQ: 12.0, CHURN: 0.03}
    setup = _setup(loaded, truth, seed=991)
    with Store(store_path) as store:
        result = calibrate(setup, runs, series, "point", runner(store, LocalExecutor(), METRICS), seed=1,
                           check=False)
    assert not result.warnings  # all three are identifiable from this history
    for row in result.estimates.itertuples():
        assert abs(row.mean - truth[row.path]) <= 0.1 * truth[row.path], row
    assert result.extra_runs > 0  # refined with real runs at the optimum


def test_out_of_sample_forecast_beats_the_uncalibrated_prior(design):
    """Fitted on months 1-24, the calibrated model forecasts months 25-36 better on every fitted metric."""
    loaded, runs, series, store_path = design
    truth = {EFFECT: 0.06, ACQ: 13.0, CHURN: 0.02}
    setup = _setup(loaded, truth, seed=4242, fit_until=24)
    with Store(store_path) as store:
        result = calibrate(setup, runs, series, "posterior", runner(store, LocalExecutor(), METRICS), seed=3,
                           steps=600)
    holdout = result.statistics[result.statistics["sample"] == "holdout"].set_index(["metric", "model"])["rmse"]
    for metric in METRICS:
        assert holdout[metric, "calibrated"] < holdout[metric, "written"], (metric, holdout[metric].to_dict())


def test_calibrating_to_the_scenarios_own_output_moves_parameters_less_than_their_sd(design):
    loaded, runs, series, store_path = design
    history = simulate_history(loaded, {}, METRICS, 36, seed=loaded.scenario.run.seed, se=SE)
    setup = prepare_setup(loaded, history, None, replications=REPS)
    with Store(store_path) as store:
        result = calibrate(setup, runs, series, "posterior", runner(store, LocalExecutor(), METRICS), seed=5,
                           steps=600, check=False)
    for row in result.estimates.itertuples():
        assert abs(row.mean - row.value) < row.sd, row


def test_one_design_serves_many_histories(design):
    """The design's runs never depend on the history: planning it again gives the same runs."""
    loaded, runs, _, _ = design
    setup = _setup(loaded, {ACQ: 14.0}, seed=77)
    again = plan_design(loaded, setup.params, BUDGET, REPS, setup.seed, setup.months)
    assert [s.variant for s in again.specs] == [s.variant for s in runs.specs]


def test_theil_shares_sum_to_one_and_decompose_the_mse():
    rng = np.random.default_rng(0)
    actual = 100 + np.cumsum(rng.normal(size=36))
    simulated = 0.8 * actual + 25 + rng.normal(size=36)
    st = fit_statistics(simulated, actual)
    assert st["um"] + st["us"] + st["uc"] == pytest.approx(1.0, abs=1e-12)
    mse = np.mean((simulated - actual) ** 2)
    assert st["rmse"] ** 2 == pytest.approx(mse)
    assert st["um"] * mse == pytest.approx((simulated.mean() - actual.mean()) ** 2)
    assert st["r2"] == pytest.approx(np.corrcoef(simulated, actual)[0, 1] ** 2)
    perfect = fit_statistics(actual, actual)
    assert perfect["rmse"] == 0 and perfect["mape"] == 0 and perfect["r2"] == pytest.approx(1.0)
    biased = fit_statistics(actual + 3.0, actual)  # a pure offset is all bias
    assert biased["um"] == pytest.approx(1.0) and biased["mape"] > 0


def test_history_problems_are_one_line_with_row_and_hint(tmp_path, capsys):
    def run(text: str) -> str:
        path = tmp_path / "h.csv"
        path.write_text(text)
        code = main(["calibrate", str(SCENARIO), "--history", str(path), "--store", str(tmp_path / "s.duckdb")])
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1, err
        return err

    assert "h.csv:3: unknown metric 'active_customer' (did you mean 'active_customers'?)" in run(
        "month,metric,value\n1,active_customers,400\n2,active_customer,401\n")
    assert "h.csv:2: value is not a number (got 'lots')" in run("month,metric,value\n1,nps,lots\n")
    assert "month 40 is after the runs' last month 36" in run("month,metric,value\n40,nps,3\n")
    assert "given twice" in run("month,metric,value\n1,nps,3\n1,nps,4\n")
    assert "unknown column 'valeu'" in run("month,metric,valeu\n1,nps,3\n")
    assert "n gives a standard error for nps and shares" in run("month,metric,value,n\n1,active_customers,3,40\n")


def test_history_gaps_are_allowed_and_stated(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("month,metric,value,n\n1,nps,-10,400\n2,nps,-12,400\n5,nps,-8,400\n")
    history = read_history(path, ["nps", "active_customers"], 36)
    assert history.gaps() == {"nps": [3, 4]}
    assert "2 month(s) missing (3-4)" in history.describe()[0]
    se = history.frame["se"].iloc[0]
    assert se == pytest.approx(np.sqrt((1e4 - 100) / 400))  # an NPS answer is +-100 or 0


def test_spc_calibrate_writes_a_file_decide_can_sample(design, tmp_path, capsys):
    """The command line end to end: the design is resumed from the store, the fitted file loads."""
    loaded, runs, series, store_path = design
    history = simulate_history(loaded, {ACQ: 12.0}, METRICS, 36, seed=31, se=SE)
    csv = tmp_path / "history.csv"
    history.frame.to_csv(csv, index=False)
    out = SCENARIO.parent / "_calibrated_by_test.yaml"
    try:
        code = main(["calibrate", str(SCENARIO), "--history", str(csv), "--budget", str(BUDGET), "--replications",
                     str(REPS), "--executor", "local", "--store", str(store_path), "--method", "point", "--out",
                     str(out), "--plot", str(tmp_path / "fit.svg")])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        assert f"{BUDGET * REPS:,} runs; {BUDGET * REPS:,} already stored, 0 to run" in captured.err
        assert "fit to the history" in captured.out and "U^M" in captured.out
        # people read labels; the raw paths only as --fit options to type (the link's '>' quoted for a shell)
        assert "Regulars: acquisition per month" in captured.out and "Customers won" in captured.out
        assert f"--fit {ACQ}" in captured.out and f"--fit '{EFFECT}'" in captured.out
        assert captured.out.count(ACQ) == 1 and "customers_won" not in captured.out
        fitted = load(out)
        assumption = fitted.scenario.uncertainty.assumptions[ACQ]
        assert assumption.dist == "normal" and abs(assumption.mean - 12.0) < 1.2
        assert (tmp_path / "fit.svg").read_text().lstrip().startswith("<?xml")
    finally:
        out.unlink(missing_ok=True)
