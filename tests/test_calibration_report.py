"""`spc report --history`: the "Calibration to history" section shows the Calibration's own numbers, reuses the
calibration's store (runs already stored are not run again), and refuses bad input in one line.

The small model of tests/test_calibration.py with one strategy added (a report compares strategies), one
fitted parameter and a design of 24 draws x 2 replications, so the whole file takes a few seconds.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
import yaml

from simulator.calibration.history import observation_matrix
from simulator.calibration.labels import metric_heading, metric_label, parameter_label
from simulator.calibration.report_section import (
    parameter_rows,
    run_calibration,
    section_html,
    section_markdown,
    statistics_rows,
)
from simulator.calibration.stats import fit_statistics
from simulator.calibration.synthetic import simulate_history
from simulator.cli import main
from simulator.scenario.loader import load

SMALL = Path(__file__).parent / "data" / "calibrate_small.yaml"
CHURN = "segments.regulars.churn_per_month"
METRICS = ["active_customers", "service_quality"]
BUDGET = "24"


def write_scenario(folder: Path) -> Path:
    """calibrate_small.yaml plus one strategy (a promotion from month 4)."""
    data = yaml.safe_load(SMALL.read_text())
    data["initiatives"] = [{"name": "promo", "start_month": 4, "one_off_cost": 1000,
                            "effects": [{"segment": "regulars", "parameter": "acquisition_per_month", "scale": 1.5}]}]
    data["strategies"] = [{"name": "promo", "initiatives": ["promo"]}]
    path = folder / "shop.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def write_history(loaded, path: Path) -> Path:
    history = simulate_history(loaded, {CHURN: 0.03}, METRICS, 36, seed=5, se={"service_quality": 0.05})
    history.frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("calreport")
    scenario = write_scenario(folder)
    loaded = load(scenario)
    history = write_history(loaded, folder / "history.csv")
    store = folder / "calibration.duckdb"
    result = run_calibration(loaded, history, [CHURN], budget=int(BUDGET), store=store)  # as the CLI: all reused
    return scenario, history, store, result


def _tasks(store: Path) -> int:
    import duckdb

    with duckdb.connect(str(store), read_only=True) as con:
        return con.execute("SELECT count(*) FROM tasks").fetchone()[0]


def test_section_shows_the_calibrations_own_statistics_and_parameters(calibrated):
    _, _, _, result = calibrated
    html = section_html(result)
    md = section_markdown(result)
    # the RMSE shown for the calibrated model is the statistic of its trajectory against the history
    value, _ = observation_matrix(result.setup.history, result.setup.metrics, result.setup.months)
    rows = statistics_rows(result)
    assert len(rows) == 2 * len(METRICS)  # calibrated and written, per metric
    # metrics by their labels (with a unit where one is known: the nodes of this file declare none)
    assert list(result.setup.metrics) == ["active_customers", "service_quality"]
    headings = ["Active customers", "Service quality"]
    assert sorted({r[0] for r in rows}) == headings
    for j, heading in enumerate(headings):
        rmse = fit_statistics(result.trajectories["calibrated"][:, j], value[:, j])["rmse"]
        row = next(r for r in rows if r[0] == heading and r[2] == "calibrated")
        assert float(row[3]) == pytest.approx(rmse, rel=1e-3)
    for row in rows:
        assert "<td>" + "</td><td>".join(row) + "</td>" in html
        assert "| " + " | ".join(row) + " |" in md
    (param,) = parameter_rows(result)
    est = result.estimates.iloc[0]
    assert param[0] == "Regulars: churn per month" and param[6] == f"{est.lo90:.4g}..{est.hi90:.4g}"
    # the raw names only where a person types them: the --fit hint
    assert f"<code>--fit {CHURN}</code>" in html and f"`--fit {CHURN}`" in md
    assert "Calibrated to " in html and "Active customers, Service quality over 36 months" in html
    assert "active_customers" not in html.replace(f"--fit {CHURN}", "")
    assert est.lo90 <= 0.03 <= est.hi90  # the history was made at 0.03
    # the chart is an embedded PNG of the history against the model, in both formats
    png = re.search(r'src="data:image/png;base64,([^"]+)"', html).group(1)
    assert base64.b64decode(png).startswith(b"\x89PNG")
    assert "](data:image/png;base64," in md
    assert ("No identifiability warnings" in html) == (not result.warnings)


def test_spc_report_history_adds_the_section_and_reuses_the_stored_runs(calibrated, tmp_path, capsys):
    scenario, history, store, result = calibrated
    before = _tasks(store)
    out = tmp_path / "report.html"
    code = main(["report", str(scenario), "--out", str(out), "--replications", "2", "--no-tornado",
                 "--history", str(history), "--fit", CHURN, "--budget", BUDGET, "--calibration-store", str(store)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert _tasks(store) == before  # every run was already stored by the first calibration: none run again
    text = out.read_text()
    assert "<h2>Calibration to history</h2>" in text
    assert text.index("Calibration to history") < text.index("<h2>Causal map</h2>")
    # the same seed and runs give the same fit: the report's table is the fixture's
    for row in statistics_rows(result):
        assert "<td>" + "</td><td>".join(row) + "</td>" in text
    md = tmp_path / "report.md"
    assert main(["report", str(scenario), "--out", str(md), "--replications", "2", "--no-tornado", "--history",
                 str(history), "--fit", CHURN, "--budget", BUDGET, "--calibration-store", str(store)]) == 0
    assert "## Calibration to history" in md.read_text()
    capsys.readouterr()


def test_report_calibration_bad_input_is_one_line_exit_2(calibrated, tmp_path, capsys):
    scenario, history, store, _ = calibrated

    def run(*extra: str) -> str:
        code = main(["report", str(scenario), "--out", str(tmp_path / "r.html"), "--no-tornado", *extra])
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1, err
        return err

    assert "no such file" in run("--history", str(tmp_path / "missing.csv"))
    assert "--fit needs --history" in run("--fit", CHURN)
    bad = tmp_path / "bad.csv"
    bad.write_text("month,metric,value\n1,active_customer,400\n")
    assert "bad.csv:2: unknown metric 'active_customer' (did you mean 'active_customers'?)" in run(
        "--history", str(bad))
    assert f"did you mean '{CHURN}'" in run("--history", str(history), "--fit", "segments.regulars.churn_per_mnth")
    assert not (tmp_path / "r.html").exists()


def test_metrics_and_parameter_paths_read_by_their_labels():
    scenario = load(Path(__file__).parents[1] / "scenarios" / "service_profit_chain.yaml").scenario
    # a node: its label and unit; an engine series: humanised, with the unit the report's charts give it
    assert metric_heading(scenario, "employee_satisfaction") == "Employee satisfaction (index 0-100)"
    assert metric_heading(scenario, "nps") == "Net Promoter Score (points)"
    assert metric_heading(scenario, "customer_satisfaction") == "Customer satisfaction (score 0-10)"
    assert metric_heading(scenario, "active_customers") == "Active customers"  # not "(customers)" again
    assert metric_label(scenario, "customers_lost") == "Customers lost"
    assert parameter_label(scenario, "segments.mass_retail.churn_per_month") == "Mass retail: churn per month"
    assert (parameter_label(scenario, "links.employee_satisfaction->service_quality.effect")
            == "Employee satisfaction → Service quality: effect")
    assert parameter_label(scenario, "nodes.service_quality.reference") == "Service quality: reference"
    assert parameter_label(scenario, "employees.headcount") == "Employees: headcount"
    assert (parameter_label(scenario, "initiatives.people_programme.effects.2.scale")
            == "People programme (training, tools, pay): effect on Pay index (scale)")
    assert parameter_label(scenario, "something_unknown") == "something_unknown"
