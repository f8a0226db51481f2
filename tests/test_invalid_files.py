"""Every file in tests/data/invalid has exactly one defect; `spc validate` reports it as one line
FILE:LINE:COL: message (hint), with exit code 2 and never a traceback.

Each invalid file is tests/data/minimal.yaml with one change, so the expected line is the line of that
change (the files carry no comments: a comment would shift the line numbers this table relies on).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from simulator.scenario.yamlsource import MAX_FILE_BYTES
from tests.scenario_helpers import INVALID, MINIMAL, ROOT, run_spc


@dataclass(frozen=True)
class Case:
    line: int
    contains: tuple[str, ...]
    reported: str | None = None  # the file named in the error when it is not the file validated


CASES: dict[str, Case] = {
    "yaml_syntax_error.yaml": Case(7, ("YAML syntax error", "hint: check indentation")),
    "empty_file.yaml": Case(1, ("file is empty",)),
    "top_level_list.yaml": Case(1, ("top level of a scenario must be a mapping",)),
    "unknown_key.yaml": Case(12, ("unknown key 'handle_minuts'", "did you mean 'handle_minutes'?")),
    "unknown_top_key.yaml": Case(38, ("unknown key 'strategys'", "did you mean 'strategies'?")),
    "wrong_type.yaml": Case(11, ("segments.0.basket", "valid number", "'twenty'")),
    "negative_rate.yaml": Case(13, ("segments.0.churn_per_month", "greater than or equal to 0", "-0.02")),
    "nan_rate.yaml": Case(13, ("segments.0.churn_per_month", "finite number", "NaN")),
    "link_unknown_node.yaml": Case(30, ("unknown node 'service_qualty'", "did you mean 'service_quality'?")),
    "duplicate_node.yaml": Case(26, ("duplicate node name 'service_quality'",)),
    "table_unsorted_points.yaml": Case(30, ("sorted by strictly increasing x",)),
    "table_too_few_points.yaml": Case(30, ("at least two points",)),
    "extends_cycle.yaml": Case(1, ("'extends' cycle", "extends_cycle.yaml -> extends_cycle_b.yaml"),
                               reported="extends_cycle_b.yaml"),
    "extends_cycle_b.yaml": Case(1, ("'extends' cycle", "extends_cycle_b.yaml -> extends_cycle.yaml"),
                                 reported="extends_cycle.yaml"),
    "extends_missing_base.yaml": Case(1, ("base scenario not found: ../minimal_base.yaml",)),
    "extends_bad_child.yaml": Case(6, ("segments.1.basket", "greater than or equal to 0")),
    "algebraic_loop.yaml": Case(31, ("loop with no delay and no stock",
                                     "churn_hazard_factor -> service_quality -> churn_hazard_factor", "delay_days")),
    "alias_bomb.yaml": Case(1, ("alias bomb",)),
    "bad_enum.yaml": Case(31, ("network.links.2.form", "'linear', 'elasticity', 'saturating' or 'table'", "'quadratic'")),
    "unknown_measure_port.yaml": Case(28, ("measure node 'mean_wait_time' is not a port",
                                           "did you mean 'mean_wait_minutes'?")),
    "strategy_unknown_initiative.yaml": Case(40, ("unknown initiative 'more_trainig'", "did you mean 'more_training'?")),
    "kpi_unknown_metric.yaml": Case(47, ("unknown metric 'active_customer'", "did you mean 'active_customers'?")),
    "duplicate_yaml_key.yaml": Case(12, ("duplicate key 'basket'",)),
    "elasticity_negative_reference.yaml": Case(31, ("elasticity needs a positive reference on 'service_quality'",)),
    "lever_as_link_target.yaml": Case(31, ("a lever cannot be the target of a link",)),
    "python_tag.yaml": Case(2, ("YAML tag", "python/object/apply", "not allowed")),
    "min_above_max.yaml": Case(25, ("min 10.0 is above max 0.0",)),
    "effect_two_operations.yaml": Case(37, ("exactly one of 'set', 'add' or 'scale'",)),
    "dist_unknown_kind.yaml": Case(13, ("unknown distribution 'trianglar'", "did you mean 'triangular'?")),
    "dist_mode_outside_range.yaml": Case(29, ("network.links.0.effect", "low <= mode <= high", "hint: write {dist: triangular")),
    "dist_missing_parameter.yaml": Case(11, ("a normal distribution needs 'sd'",)),
    "dist_not_allowed_here.yaml": Case(3, ("metadata.horizon_months: a distribution is not allowed here",)),
    "dist_outside_field_bounds.yaml": Case(13, ("low -0.01 is outside what the field accepts [0, 1]",)),
    "dist_correlate_not_an_assumption.yaml": Case(48, ("'segments.retail.churn_per_month' is not an assumption",)),
}

FIRST_LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<message>.+)$")


def _validate(name: str) -> subprocess.CompletedProcess[str]:
    # the extends_ cases name bases in tests/data, outside their own folder: allowed by --base-dir
    return run_spc("validate", str((INVALID / name).relative_to(ROOT)), "--base-dir", "tests/data")


@pytest.fixture(scope="module")
def results() -> dict[str, subprocess.CompletedProcess[str]]:
    """`spc validate` on every invalid file, a few interpreters at a time (each start costs ~1 s)."""
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        return dict(zip(CASES, pool.map(_validate, CASES), strict=True))


def test_every_invalid_file_has_a_case() -> None:
    on_disk = {p.name for p in INVALID.glob("*.yaml")}
    assert on_disk == set(CASES), f"files without a case: {on_disk - set(CASES)}; cases without a file: {set(CASES) - on_disk}"


def test_each_invalid_file_differs_from_minimal_in_one_place() -> None:
    """Guards the table's line numbers: a file derived from minimal.yaml changes one line or adds one."""
    base = MINIMAL.read_text().splitlines()
    derived = [n for n in CASES if not n.startswith(("extends_", "empty_", "top_level_", "alias_"))]
    for name in derived:
        lines = (INVALID / name).read_text().splitlines()
        changed = [i + 1 for i, (a, b) in enumerate(zip(base, lines, strict=False)) if a != b]
        if len(lines) == len(base):
            assert len(changed) in (1, 2), f"{name}: lines {changed} differ from minimal.yaml"
        else:
            assert len(lines) == len(base) + 1, f"{name}: adds more than one line"
            assert lines[: changed[0] - 1] + lines[changed[0]:] == base, f"{name}: more than one change"


@pytest.mark.parametrize("name", list(CASES))
def test_invalid_file_is_reported_at_its_line(name: str, results: dict) -> None:
    case = CASES[name]
    proc = results[name]
    given = str((INVALID / name).relative_to(ROOT))
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    assert proc.returncode == 2, f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    assert proc.stderr.strip(), "no message on stderr"
    first = proc.stderr.splitlines()[0]
    match = FIRST_LINE.match(first)
    assert match, f"not FILE:LINE:COL: message: {first!r}"
    if case.reported is None:
        assert first.startswith(f"{given}:{case.line}:"), first
    else:
        assert Path(ROOT, match["file"]).resolve() == (INVALID / case.reported).resolve(), first
        assert int(match["line"]) == case.line, first
    for part in case.contains:
        assert part in first, f"{part!r} not in {first!r}"
    assert proc.stdout == "", "an invalid file must not print an ok summary"


def test_every_problem_line_has_a_position(results: dict) -> None:
    for name, proc in results.items():
        for line in proc.stderr.splitlines():
            assert FIRST_LINE.match(line), f"{name}: {line!r}"


@pytest.mark.parametrize("name", ["min_above_max.yaml", "table_too_few_points.yaml", "table_unsorted_points.yaml",
                                  "effect_two_operations.yaml"])
def test_a_check_on_a_whole_mapping_does_not_end_in_got_dict(name: str, results: dict) -> None:
    """"min 10 is above max 0 (got dict)": the type of the mapping the check read tells the reader nothing."""
    (line,) = results[name].stderr.splitlines()
    assert "(got " not in line, line


def test_alias_bomb_is_refused_fast() -> None:
    start = time.perf_counter()
    proc = _validate("alias_bomb.yaml")
    elapsed = time.perf_counter() - start
    assert proc.returncode == 2 and "alias bomb" in proc.stderr, proc.stderr
    assert elapsed < 2.0, f"alias bomb took {elapsed:.2f} s"


def test_alias_bomb_is_refused_fast_in_process() -> None:
    """The same refusal without the interpreter's start-up time."""
    from simulator.errors import ScenarioError
    from simulator.scenario.yamlsource import read_located

    start = time.perf_counter()
    with pytest.raises(ScenarioError, match="alias bomb"):
        read_located(INVALID / "alias_bomb.yaml")
    assert time.perf_counter() - start < 0.5


def test_oversized_file_is_refused_fast(tmp_path: Path) -> None:
    big = tmp_path / "huge.yaml"
    line = "# " + "x" * 1022 + "\n"
    with big.open("w") as fh:
        fh.write(MINIMAL.read_text())
        for _ in range(5 * 1024 * 1024 // len(line) + 2):  # just over 5 MiB, whatever the constant says
            fh.write(line)
    assert big.stat().st_size > 5 * 1024 * 1024 >= MAX_FILE_BYTES
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "simulator.cli", "validate", str(big)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"{big}:1:1: "), proc.stderr
    assert "MiB limit" in proc.stderr and "Traceback" not in proc.stderr
    assert elapsed < 2.0, f"refusing a {big.stat().st_size} byte file took {elapsed:.2f} s"


@pytest.mark.parametrize("depth", [250, 5000])
def test_deeply_nested_yaml_is_a_scenario_error(tmp_path: Path, depth: int) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("metadata: " + "[" * depth + "]" * depth + "\n")
    proc = subprocess.run([sys.executable, "-m", "simulator.cli", "validate", str(deep)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"{deep}:1:1: YAML is nested too deeply"), proc.stderr
    assert "Traceback" not in proc.stderr


def test_several_files_report_each_and_exit_2() -> None:
    good = str(MINIMAL.relative_to(ROOT))
    bad = str((INVALID / "negative_rate.yaml").relative_to(ROOT))
    proc = run_spc("validate", good, bad)
    assert proc.returncode == 2
    assert proc.stdout.startswith(f"{good}: ok:")
    assert proc.stderr.startswith(f"{bad}:13:")


def test_missing_file_is_bad_input() -> None:
    proc = run_spc("validate", "tests/data/no_such_file.yaml")
    assert proc.returncode == 2
    assert proc.stderr.startswith("tests/data/no_such_file.yaml:1:1: cannot read file")
