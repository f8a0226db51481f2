"""`spc results DB`: the outcome per run and strategy agrees with a fresh run of the variant, the best strategy is
the highest mean (tied when the replications cannot separate it), and `--compare KEY` tabulates a sweep."""

from __future__ import annotations

import pytest

from simulator.analysis.valuation import continuing_values
from simulator.batch.coordinator import run_batch
from simulator.batch.executors import LocalExecutor
from simulator.batch.plan import build_plan
from simulator.batch.sweep import make_design
from simulator.errors import UsageError
from simulator.experiment import run_experiment
from simulator.outcomes import compare, run_outcomes, swept_keys
from simulator.store import Store, load_run
from tests.helpers import DATA
from tests.scenario_helpers import run_spc

SMALL = DATA / "engine_small.yaml"
KEY = "employees.headcount"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("outcomes") / "r.duckdb"
    specs = build_plan([str(SMALL)], make_design([f"{KEY}=3,5"], [], None), 3, 7, 4, None)
    with Store(path) as s:
        run_batch(s, specs, LocalExecutor())
    return path


def test_outcomes_match_a_fresh_run_of_each_variant(store):
    out = run_outcomes(store)
    assert len(out) == 2 * 3 and set(out["run_id"]) == {1, 2}
    for run_id in (1, 2):
        run = load_run(store, run_id)
        fresh = run_experiment(run.model(), replications=3, seed=7, months=4, workers=1)
        values = continuing_values(fresh.timeseries, fresh.customers, run.scenario())
        mine = out[out["run_id"] == run_id].set_index("strategy")
        for strategy, group in values.groupby(level="strategy"):
            assert mine.at[strategy, "npv"] == pytest.approx(group["npv"].mean(), rel=1e-12)
            assert mine.at[strategy, "firm_value"] == pytest.approx(group["firm_value"].mean(), rel=1e-12)
        best = mine["firm_value"].idxmax()  # engine_small ranks on firm value (the default)
        assert mine["best"].sum() == 1 and mine.at[best, "best"] and mine.at[best, "ranked_on"] == "firm_value"
        assert mine.loc[best, "currency"] == "EUR" and mine.at[best, "replications"] == 3


def test_one_replication_never_claims_a_resolved_best(tmp_path):
    path = tmp_path / "one.duckdb"
    with Store(path) as s:
        run_batch(s, build_plan([str(SMALL)], make_design([], [], None), 1, 7, 3, None), LocalExecutor())
    out = run_outcomes(path)
    best = out[out["best"]].iloc[0]
    assert best["tied_with"] != "" and (out["replications"] == 1).all()


def test_compare_tabulates_the_sweep_against_its_values(store):
    keys = swept_keys(store)
    assert keys == [KEY]
    out = run_outcomes(store)
    table = compare(out, KEY, keys)
    assert table[KEY].tolist() == [3, 5] and table.attrs["measure"] == "firm_value"
    for row in table.to_dict("records"):
        mine = out[out["run_id"] == row["run_id"]].set_index("strategy")
        assert row["best"] == mine["firm_value"].idxmax()
        assert row["baseline"] == mine.at["baseline", "firm_value"]
    by_npv = compare(out, KEY, keys, "npv")
    assert by_npv["cuts"].tolist() == out[out["strategy"] == "cuts"]["npv"].tolist()
    with pytest.raises(UsageError, match=r"'employees.headcout' was not swept .*did you mean 'employees.headcount'"):
        compare(out, "employees.headcout", keys)


def test_results_cli_shows_currency_and_bad_keys_are_one_line(store):
    proc = run_spc("results", str(store), "--compare", KEY)
    assert proc.returncode == 0, proc.stderr
    assert "€" in proc.stdout and "against employees.headcount" in proc.stdout and "best" in proc.stdout
    listing = run_spc("results", str(store))
    assert listing.returncode == 0 and "outcome per run" in listing.stdout and "NPV over the horizon / firm value" \
        in listing.stdout
    bad = run_spc("results", str(store), "--compare", "segments.nope.basket")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr
    assert "swept: employees.headcount" in bad.stderr
