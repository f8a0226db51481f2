"""Property tests: whatever a scenario file says, loading and compiling it either works or raises
ScenarioError (one FILE:LINE:COL problem per line) - never any other exception."""

from __future__ import annotations

import copy
import math
import re
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.errors import ScenarioError
from simulator.graph.compiler import compile_loaded
from simulator.scenario.loader import load
from tests.scenario_helpers import SHIPPED

BASE: dict[str, Any] = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
PROBLEM_LINE = re.compile(r"^.+:\d+:\d+: .+$")


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out: list[tuple] = []
    if isinstance(value, dict):
        for key, child in value.items():
            out.append(prefix + (key,))
            out.extend(_paths(child, prefix + (key,)))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            out.append(prefix + (i,))
            out.extend(_paths(child, prefix + (i,)))
    return out


def _get(data: Any, path: tuple) -> Any:
    for part in path:
        data = data[part]
    return data


PATHS = _paths(BASE)
NUMBER_PATHS = [p for p in PATHS if isinstance(_get(BASE, p), (int, float)) and not isinstance(_get(BASE, p), bool)]
ITEM_PATHS = [p for p in PATHS if isinstance(p[-1], int)]
NODE_NAMES = [n["name"] for n in BASE["network"]["nodes"]]
SEGMENT_NAMES = [s["name"] for s in BASE["segments"]]

REPLACEMENTS = st.sampled_from([
    "text", "", "x" * 200, [], [1, "a"], {}, {"a": 1}, None, math.nan, math.inf, -1, -0.5, 0, 1e300, 10**30, True,
    "service_quality", "mass_retail", "1.5",
])
NEW_NAMES = st.sampled_from([*NODE_NAMES, *SEGMENT_NAMES, "employee_satisfction", "nps", "profit", "new_node",
                             "9bad name", ""])

MUTATION = st.one_of(
    st.tuples(st.just("drop"), st.sampled_from(PATHS)),
    st.tuples(st.just("replace"), st.sampled_from(PATHS), REPLACEMENTS),
    st.tuples(st.just("negate"), st.sampled_from(NUMBER_PATHS)),
    st.tuples(st.just("scale"), st.sampled_from(NUMBER_PATHS), st.sampled_from([0, 0.5, 2, 1e6])),
    st.tuples(st.just("rename_key"), st.sampled_from(PATHS)),
    st.tuples(st.just("delete_item"), st.sampled_from(ITEM_PATHS)),
    st.tuples(st.just("duplicate_item"), st.sampled_from(ITEM_PATHS)),
    st.tuples(st.just("rename_node"), st.integers(0, len(NODE_NAMES) - 1), NEW_NAMES),
    st.tuples(st.just("rename_segment"), st.integers(0, len(SEGMENT_NAMES) - 1), NEW_NAMES),
)


def mutate(data: dict, mutation: tuple) -> None:
    """Apply one mutation in place; a path an earlier mutation removed is skipped."""
    kind, *args = mutation
    try:
        if kind in ("rename_node", "rename_segment"):
            items = data["network"]["nodes"] if kind == "rename_node" else data["segments"]
            index, name = args
            items[index]["name"] = name
            return
        path = args[0]
        parent = _get(data, path[:-1])
        last = path[-1]
        if kind == "drop" or kind == "delete_item":
            del parent[last]
        elif kind == "replace":
            parent[last] = args[1]
        elif kind == "negate":
            parent[last] = -parent[last]
        elif kind == "scale":
            parent[last] = parent[last] * args[1]
        elif kind == "rename_key" and isinstance(parent, dict):
            parent[str(last)[:-1] + "x"] = parent.pop(last)
        elif kind == "duplicate_item":
            parent.insert(last, copy.deepcopy(parent[last]))
    except (KeyError, IndexError, TypeError):
        pass


def test_mutated_scenarios_load_or_raise_scenario_error() -> None:
    outcomes: Counter[str] = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mutant.yaml"

        @settings(max_examples=150, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(st.lists(MUTATION, min_size=1, max_size=3))
        def check(mutations: list[tuple]) -> None:
            data = copy.deepcopy(BASE)
            for mutation in mutations:
                mutate(data, mutation)
            path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
            try:
                model = compile_loaded(load(path))
            except ScenarioError as exc:
                assert exc.problems
                for problem in exc.problems:
                    assert problem.file == str(path) and problem.line >= 1 and problem.col >= 1, problem
                    assert PROBLEM_LINE.match(str(problem)) and "\n" not in str(problem), str(problem)
                outcomes["error"] += 1
            else:
                assert model.order is not None and model.scenario.segments
                outcomes["ok"] += 1

        check()
    assert outcomes["ok"] > 0 and outcomes["error"] > 0, outcomes


YAMLISH = st.text(alphabet=st.sampled_from(list("ab:-[]{},&*!<>|'\"#?%@ \n\t.0129enul") + ["\\", "~"]),
                  max_size=120)


def _loads_or_reports_positions(text: str) -> None:
    """Write `text` as a scenario file: it either compiles or fails with positioned ScenarioError problems."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scenario.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            compile_loaded(load(path))
        except ScenarioError as exc:
            assert exc.problems and all(p.line >= 1 for p in exc.problems)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(YAMLISH)
def test_arbitrary_text_never_crashes_the_loader(text: str) -> None:
    _loads_or_reports_positions(text)


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(list(SHIPPED.read_text(encoding="utf-8").splitlines())), st.integers(0, 60),
       st.sampled_from(["", ":", " ", "-", "[", "}", "&a", "*a", "!!str", "\t"]))
def test_edited_lines_of_the_shipped_file_never_crash(line: str, at: int, insert: str) -> None:
    """Text-level damage (a stray character in one line), not just data-level mutations."""
    text = SHIPPED.read_text(encoding="utf-8")
    at = min(at, len(line))
    damaged = text.replace(line, line[:at] + insert + line[at + 1:], 1)
    _loads_or_reports_positions(damaged)
