"""`spc run` end to end, and the shipped scenario's strategies moving the way the literature expects."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pandas as pd
import pytest

from simulator.experiment import run_experiment
from simulator.graph.compiler import compile_file
from tests.helpers import DATA, ROOT

SHIPPED = ROOT / "scenarios" / "service_profit_chain.yaml"
SMALL = DATA / "engine_small.yaml"


def spc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simulator.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def shipped_runs() -> pd.DataFrame:
    model = compile_file(SHIPPED)
    return run_experiment(model, replications=4, workers=2).timeseries


def _late_minus_base(ts: pd.DataFrame, strategy: str, metric: str, months: range) -> pd.Series:
    """Paired differences (strategy - baseline) per replication of a metric's mean over the given months."""
    window = ts[ts["period"].isin(list(months))]
    means = window.groupby(["strategy", "replication"])[metric].mean()
    return means[strategy] - means["baseline"]


def test_headcount_cuts_lower_service_and_loyalty(shipped_runs):
    late = range(13, 37)
    assert (_late_minus_base(shipped_runs, "headcount_cuts", "service_quality", late) < 0).all()
    assert (_late_minus_base(shipped_runs, "headcount_cuts", "customer_satisfaction", late) < 0).all()
    assert (_late_minus_base(shipped_runs, "headcount_cuts", "active_customers", range(36, 37)) < 0).all()
    assert (_late_minus_base(shipped_runs, "headcount_cuts", "mean_wait_minutes", late) > 0).all()


def test_investing_in_people_raises_them_after_a_delay(shipped_runs):
    first = _late_minus_base(shipped_runs, "invest_in_people", "service_quality", range(1, 2))
    assert (first.abs() < 1e-9).all()  # the programme starts in month 1 (day 30): nothing has moved yet
    late = range(13, 37)
    assert (_late_minus_base(shipped_runs, "invest_in_people", "employee_satisfaction", late) > 0).all()
    assert (_late_minus_base(shipped_runs, "invest_in_people", "service_quality", late) > 0).all()
    assert (_late_minus_base(shipped_runs, "invest_in_people", "customer_satisfaction", late) > 0).all()
    assert (_late_minus_base(shipped_runs, "invest_in_people", "employee_turnover", late) < 0).mean() >= 0.75


def test_spc_run_prints_every_strategy():
    result = spc("run", str(SMALL), "--replications", "2", "--months", "2")
    assert result.returncode == 0, result.stderr
    for name in ("baseline", "training", "cuts", "NPV of profit", "±"):
        assert name in result.stdout
    assert "€" in result.stdout and any(w in result.stdout for w in ("Recommended", "Leaning", "Keep the current"))
    assert not re.search(r"(?<![€\d.,])\d+(\.\d+)?k\b", result.stdout)  # no money without its currency


def test_spc_run_json_and_out(tmp_path):
    out = tmp_path / "run"
    result = spc("run", str(SMALL), "--replications", "2", "--months", "3", "--seed", "5", "--json", "--out", str(out),
                 "--strategies", "cuts")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["seed"] == 5 and doc["replications"] == 2 and doc["scenario"]["name"] == "Engine test shop"
    assert set(doc["strategies"]) == {"baseline", "cuts"}
    npv = doc["strategies"]["cuts"]["npv"]
    assert npv["ci_low"] <= npv["mean"] <= npv["ci_high"]
    for name in ("timeseries.parquet", "customers.parquet", "summary.csv", "run.json"):
        assert (out / name).exists()
    ts = pd.read_parquet(out / "timeseries.parquet")
    assert len(ts) == 2 * 2 * 3 and {"strategy", "replication", "period", "profit", "morale"} <= set(ts.columns)
    assert json.loads((out / "run.json").read_text())["scenario"]["hash"] == doc["scenario"]["hash"]


def test_same_seed_same_json():
    a = spc("run", str(SMALL), "--replications", "2", "--months", "2", "--json", "--workers", "1")
    b = spc("run", str(SMALL), "--replications", "2", "--months", "2", "--json", "--workers", "2")
    assert a.returncode == b.returncode == 0
    assert json.loads(a.stdout)["strategies"] == json.loads(b.stdout)["strategies"]


@pytest.mark.parametrize("args", [
    ["--replications", "0"], ["--replications", "many"], ["--seed", "-1"], ["--strategies", "trainin"],
    ["--months", "x"],
])
def test_bad_arguments_give_one_line_and_exit_2(args):
    result = spc("run", str(SMALL), *args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_file_is_exit_2():
    result = spc("run", "no/such/file.yaml")
    assert result.returncode == 2 and "no such file" in result.stderr and "Traceback" not in result.stderr


def test_unknown_strategy_suggests_the_closest():
    result = spc("run", str(SMALL), "--strategies", "trainin")
    assert "did you mean 'training'" in result.stderr
