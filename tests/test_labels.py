"""Every shipped scenario names its parts for people (labels, KPI units), and labels are presentation only."""

from __future__ import annotations

import pandas as pd
import pytest

from simulator.experiment import run_experiment
from simulator.graph.compiler import compile_scenario
from simulator.scenario.loader import load, load_data
from tests.helpers import DATA, ROOT, scenario_dict

SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_part_has_a_label_and_every_kpi_a_unit(path) -> None:
    sc = load(path).scenario
    kpis = [k for p in sc.scorecard.perspectives for o in p.objectives for k in o.kpis]
    for kind, items in (("segment", sc.segments), ("node", sc.network.nodes), ("initiative", sc.initiatives),
                        ("strategy", sc.strategies), ("KPI", kpis)):
        unlabelled = [i.name for i in items if not i.label]
        assert not unlabelled, f"{path.name}: {kind}s without a label: {unlabelled}"
    assert not [k.name for k in kpis if not k.unit], f"{path.name}: KPIs without a unit"


def test_labels_change_no_result() -> None:
    data = scenario_dict(DATA / "engine_small.yaml")
    labelled = scenario_dict(DATA / "engine_small.yaml")
    for part in ("segments", "initiatives", "strategies"):
        for item in labelled[part]:
            item["label"] = f"The {item['name']} one"
    for node in labelled["network"]["nodes"]:
        node["label"] = node["name"].upper()
    a, b = (run_experiment(compile_scenario(load_data(d)), replications=2, seed=3, months=3, workers=1)
            for d in (data, labelled))
    pd.testing.assert_frame_equal(a.timeseries, b.timeseries, check_exact=True)
    pd.testing.assert_frame_equal(a.customers, b.customers, check_exact=True)
