"""Hypothesis: whatever bytes a scenario file holds, the loader answers with its own error or a scenario;
whatever number a numeric field holds, the scenario is refused with a line per problem, or it validates and
one month of it runs with finite money. Few examples, no deadline, derandomized: the same cases every run."""

from __future__ import annotations

import copy
import math
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator import limits
from simulator.engine.model import run_once
from simulator.errors import ScenarioError
from simulator.graph.compiler import compile_scenario
from simulator.scenario.loader import load, load_data
from simulator.scenario.uncertainty import parameter_fields
from tests.scenario_helpers import DATA, SHIPPED

SETTINGS = dict(deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SHIPPED_BYTES = SHIPPED.read_bytes()
CONTROL = st.sampled_from([bytes([c]) for c in (*range(0, 32), 127, 0x85, 0xA0)] + [b"\xc3", b"\xff\xfe", b"\xef\xbb\xbf"])


def _load_bytes(raw: bytes) -> None:
    """`raw` as a scenario file: a LoadedScenario or a ScenarioError of one-line problems, nothing else."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scenario.yaml"
        path.write_bytes(raw)
        try:
            load(path)
        except ScenarioError as exc:
            assert exc.problems and all(p.line >= 1 and p.col >= 1 and "\n" not in str(p) for p in exc.problems)


@settings(max_examples=80, **SETTINGS)
@given(st.lists(st.one_of(st.binary(max_size=40), CONTROL), max_size=8).map(b"".join))
def test_arbitrary_bytes_give_the_loaders_own_error(raw: bytes) -> None:
    _load_bytes(raw)


@settings(max_examples=60, **SETTINGS)
@given(st.lists(st.tuples(st.integers(0, len(SHIPPED_BYTES)), st.integers(0, 3),
                          st.one_of(CONTROL, st.binary(min_size=1, max_size=4))), min_size=1, max_size=3))
def test_byte_edits_of_the_shipped_file_give_the_loaders_own_error(edits: list[tuple[int, int, bytes]]) -> None:
    raw = bytearray(SHIPPED_BYTES)
    for at, cut, insert in edits:
        raw[at:at + cut] = insert
    _load_bytes(bytes(raw))


# ---- numbers -------------------------------------------------------------------------------------------

BASE: dict[str, Any] = yaml.safe_load((DATA / "engine_small.yaml").read_text(encoding="utf-8"))
BASE.pop("extends", None)
_OWNERS = {"metadata": ("metadata",), "employees": ("employees",), "service": ("service",), "costs": ("costs",),
           "segments": ("segments", 0), "links": ("network", "links", 0), "nodes": ("network", "nodes", 2),
           "activities": ("activities", 0), "initiatives": ("initiatives", 0),
           "effects": ("initiatives", 0, "effects", 0)}
NUMERIC_PATHS = sorted({prefix + (name,) for owner, names in parameter_fields().items()
                        for prefix in [_OWNERS[owner]] for name in names}
                       | {("metadata", "horizon_months"), ("run", "replications"), ("run", "seed"),
                          ("segments", 1, "initial_customers"), ("employees", "headcount")}, key=str)
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-10, max_value=10),
    st.floats(min_value=0, max_value=1),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=0, max_value=1000),
    st.integers(min_value=1, max_value=30),
    st.booleans(),
    st.sampled_from(["yes", "1e3", "", "NaN"]),
)
MONEY = ("revenue", "costs", "profit", "npv", "cumulative_profit")
QUICK_SECONDS = 1.0  # a month estimated longer than this is checked through the preflight estimate only


def _set(data: dict, path: tuple, value: Any) -> None:
    target = data
    for part in path[:-1]:
        target = target.setdefault(part, {}) if isinstance(target, dict) else target[part]
    if path[-1] in ("set", "add", "scale"):
        for op in ("set", "add", "scale"):
            target.pop(op, None)  # one operation per effect: replace the written one
    target[path[-1]] = value


def _check_numbers(changes: list[tuple[tuple, Any]]) -> str:
    data = copy.deepcopy(BASE)
    for path, value in changes:
        _set(data, path, value)
    try:
        scenario = load_data(data, "variant")
    except ScenarioError as exc:
        assert exc.problems and all("\n" not in str(p) for p in exc.problems)
        return "refused"
    seconds, memory, week = limits.run_cost(scenario, 1)
    assert math.isfinite(seconds) and math.isfinite(memory + week)
    if seconds > QUICK_SECONDS:
        return "estimated"  # would run; too slow for a unit test (spc states the estimate, refuses it beyond a day)
    model = compile_scenario(scenario)
    for strategy in scenario.strategy_names()[:2]:
        out = run_once(model, strategy, 0, scenario.run.seed, 1)
        for metric in MONEY:
            assert all(math.isfinite(x) for x in out.periods[metric]), (strategy, metric, out.periods[metric])
    return "ran"


def test_any_number_validates_and_runs_a_month_or_is_refused_with_a_line() -> None:
    outcomes: Counter[str] = Counter()

    @settings(max_examples=120, **SETTINGS)
    @given(st.lists(st.tuples(st.sampled_from(NUMERIC_PATHS), NUMBERS), min_size=1, max_size=3))
    def check(changes: list[tuple[tuple, Any]]) -> None:
        outcomes[_check_numbers(changes)] += 1

    check()
    assert outcomes["ran"] >= 10 and outcomes["refused"] >= 20, outcomes
