"""The scenario loader: YAML with positions, `extends:` merging, validation and cross-checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from simulator.errors import Problem, ScenarioError
from simulator.scenario.loader import LoadedScenario, content_hash, load, load_data
from simulator.scenario.paths import get_value, with_values
from simulator.scenario.yamlsource import read_located
from tests.scenario_helpers import DATA, INVALID, MINIMAL, SHIPPED, minimal_data, write_yaml


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(ScenarioError) as info:
        load(path)
    assert info.value.problems, "a ScenarioError must carry at least one problem"
    return info.value.problems


def line_of(path: Path, text: str) -> int:
    """1-based line of the first line of `path` containing `text`."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")


# --- valid files ---------------------------------------------------------------------------------------


def test_shipped_scenario_loads() -> None:
    raw = yaml.safe_load(SHIPPED.read_text())
    loaded = load(SHIPPED)
    assert isinstance(loaded, LoadedScenario)
    sc = loaded.scenario
    assert sc.metadata.name == raw["metadata"]["name"]
    assert [s.name for s in sc.segments] == [s["name"] for s in raw["segments"]]
    assert [n.name for n in sc.network.nodes] == [n["name"] for n in raw["network"]["nodes"]]
    assert [lk.id for lk in sc.network.links] == [f"{lk['from']}->{lk['to']}" for lk in raw["network"]["links"]]
    assert sc.strategy_names() == ["baseline"] + [s["name"] for s in raw["strategies"]]
    assert sc.node("employee_satisfaction").kind == "stock"
    assert len(loaded.content_hash) == 16 and loaded.content_hash == load(SHIPPED).content_hash
    # the data is the file with each distribution replaced by its point value, recorded by path
    recorded = loaded.data["uncertainty"]["assumptions"]
    assert recorded and all(get_value(raw, path) == dist for path, dist in recorded.items())
    points = {path: sc.uncertainty.assumptions[path].point for path in recorded}
    assert {k: v for k, v in loaded.data.items() if k != "uncertainty"} == {
        k: v for k, v in with_values(raw, points).items() if k != "uncertainty"}
    file, line, col = loaded.position(("segments", 1, "basket"))
    assert Path(file) == SHIPPED and SHIPPED.read_text().splitlines()[line - 1][col - 1:].startswith("basket:")


def test_minimal_scenario_loads_with_defaults() -> None:
    sc = load(MINIMAL).scenario
    assert sc.metadata.period_days == 30.4375 and sc.metadata.currency == "EUR"
    assert sc.segments[1].handle_minutes == 10.0  # default
    assert sc.service.satisfaction_reference == 7.0  # whole section defaulted
    assert sc.run.seed == 1


def test_scenario_is_frozen() -> None:
    sc = load(MINIMAL).scenario
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises its own ValidationError subclass
        sc.metadata.name = "changed"  # type: ignore[misc]


def test_load_data_validates_in_memory() -> None:
    assert load_data(minimal_data()).metadata.name == "Minimal test scenario"
    data = minimal_data()
    data["segments"][0]["churn_per_month"] = -1
    with pytest.raises(ScenarioError) as info:
        load_data(data, name="sweep")
    (problem,) = info.value.problems
    assert (problem.file, problem.line) == ("sweep", 1) and "churn_per_month" in problem.message


# --- extends -----------------------------------------------------------------------------------------


def test_extends_deep_merges_mappings_and_named_lists() -> None:
    base = load(MINIMAL)
    child = load(DATA / "extends_child.yaml")
    sc, bsc = child.scenario, base.scenario
    # mappings merge by key: the child changes one metadata field and keeps the others
    assert sc.metadata.name == "Child of the minimal scenario"
    assert sc.metadata.horizon_months == bsc.metadata.horizon_months == 12
    assert sc.run.seed == 7 and sc.run.replications == bsc.run.replications == 2
    # segments merge by name: one field of 'business' overridden, the rest kept, order kept
    assert [s.name for s in sc.segments] == ["retail", "business"]
    business = sc.segments[1]
    assert business.basket == 95 and business.initial_customers == 20
    assert sc.segments[0] == bsc.segments[0]
    # nodes merge by name: service_quality gets a new max but keeps min and reference; a new node is appended
    assert [n.name for n in sc.network.nodes] == [n.name for n in bsc.network.nodes] + ["loyalty"]
    quality = sc.node("service_quality")
    assert (quality.max, quality.min, quality.reference) == (9, 0, 7)
    # untouched sections come from the base unchanged
    assert sc.network.links == bsc.network.links
    assert sc.initiatives == bsc.initiatives and sc.scorecard == bsc.scorecard
    # extends is not part of the content hash, but the merged content is
    assert child.content_hash != base.content_hash
    assert "extends" not in child.data or child.data["extends"] == "minimal.yaml"


def test_extends_positions_point_into_the_file_that_wrote_the_value() -> None:
    child_path = DATA / "extends_child.yaml"
    child = load(child_path)
    file, line, _ = child.position(("segments", 1, "basket"))
    assert (Path(file).resolve(), line) == (child_path.resolve(), line_of(child_path, "basket: 95"))
    file, line, _ = child.position(("segments", 0, "basket"))
    assert (Path(file).resolve(), line) == (MINIMAL.resolve(), line_of(MINIMAL, "basket: 20"))


def test_extends_chain_merges_nested_named_lists() -> None:
    sc = load(DATA / "extends_grandchild.yaml").scenario
    assert sc.metadata.horizon_months == 24  # grandchild
    assert sc.metadata.name == "Child of the minimal scenario"  # child
    assert sc.run.seed == 7 and sc.node("loyalty") is not None  # child
    assert sc.segments[0].basket == 20  # base
    (persp,) = sc.scorecard.perspectives
    (objective,) = persp.objectives
    assert [(k.name, k.target) for k in objective.kpis] == [("customer_base", 150), ("quality", 7.5)]


def test_extends_replaces_lists_without_names(tmp_path: Path) -> None:
    """Links have no `name`, so a child's `links:` replaces the base's list (as the loader documents)."""
    write_yaml(tmp_path / "base.yaml", minimal_data())
    (tmp_path / "child.yaml").write_text("extends: base.yaml\nnetwork:\n  links:\n"
                                         "    - {from: training, to: employee_satisfaction, effect: 2}\n")
    sc = load(tmp_path / "child.yaml").scenario
    assert [(link.id, link.effect) for link in sc.network.links] == [("training->employee_satisfaction", 2)]
    assert len(sc.network.nodes) == 5


def test_extends_error_in_base_names_the_base_file(tmp_path: Path) -> None:
    data = minimal_data()
    data["segments"][1]["basket"] = "lots"
    write_yaml(tmp_path / "base.yaml", data)
    (tmp_path / "child.yaml").write_text("extends: base.yaml\nmetadata:\n  name: child\n")
    (problem,) = problems_of(tmp_path / "child.yaml")
    assert Path(problem.file).resolve() == (tmp_path / "base.yaml").resolve()
    assert problem.line == line_of(tmp_path / "base.yaml", "basket: lots")


def test_extends_cycle_and_self_reference(tmp_path: Path) -> None:
    (tmp_path / "self.yaml").write_text("extends: self.yaml\nmetadata: {name: x}\n")
    (problem,) = problems_of(tmp_path / "self.yaml")
    assert "'extends' cycle" in problem.message and problem.line == 1
    (problem,) = problems_of(INVALID / "extends_cycle.yaml")
    assert "extends_cycle.yaml -> extends_cycle_b.yaml -> extends_cycle.yaml" in problem.message


def test_extends_with_bad_values(tmp_path: Path) -> None:
    for value, expected in (("[a, b]", "'extends' must be a file path"), ('""', "'extends' must be a file path"),
                            ('"a\\0b"', "NUL"), ("nowhere.yaml", "base scenario not found"),
                            (".", "must name a .yaml file"), ("sub.yaml/", "must name a .yaml file")):
        (tmp_path / "child.yaml").write_text(f"extends: {value}\nmetadata: {{name: x}}\n")
        (problem,) = problems_of(tmp_path / "child.yaml")
        assert expected in problem.message and (problem.line, problem.col) == (1, 10), (value, problem)


def test_extends_with_a_non_string_name_is_a_scenario_error(tmp_path: Path) -> None:
    """A list or mapping as a `name` must not crash the merge by name (it used to raise TypeError)."""
    data = minimal_data()
    data["segments"][0]["name"] = ["retail"]
    write_yaml(tmp_path / "base.yaml", data)
    (tmp_path / "child.yaml").write_text("extends: base.yaml\nsegments:\n  - {name: business, basket: 5}\n")
    problems = problems_of(tmp_path / "child.yaml")
    assert all(p.line >= 1 for p in problems)
    (tmp_path / "child.yaml").write_text("extends: base.yaml\nsegments:\n  - {name: {a: 1}, basket: 5}\n")
    problems_of(tmp_path / "child.yaml")


def test_extends_is_relative_to_the_child(tmp_path: Path) -> None:
    """sub/child.yaml's `../base.yaml` is tmp/base.yaml: inside the folder tree of the file loaded (top.yaml)."""
    (tmp_path / "sub").mkdir()
    write_yaml(tmp_path / "base.yaml", minimal_data())
    (tmp_path / "sub" / "child.yaml").write_text("extends: ../base.yaml\nrun: {seed: 3}\n")
    (tmp_path / "top.yaml").write_text("extends: sub/child.yaml\n")
    assert load(tmp_path / "top.yaml").scenario.run.seed == 3


# --- problems, positions and hints ---------------------------------------------------------------------


def test_misspelled_node_gets_did_you_mean() -> None:
    (problem,) = problems_of(INVALID / "link_unknown_node.yaml")
    assert problem.hint == "did you mean 'service_quality'?"
    assert problem.line == 30 and problem.col == line_of_col(INVALID / "link_unknown_node.yaml", 30, "to:")


def line_of_col(path: Path, line: int, text: str) -> int:
    return path.read_text().splitlines()[line - 1].index(text) + 1


def test_misspelled_nested_key_gets_did_you_mean() -> None:
    (problem,) = problems_of(INVALID / "unknown_key.yaml")
    assert problem.hint == "did you mean 'handle_minutes'?"
    assert (problem.line, problem.col) == (12, 5)


def test_misspelled_top_level_key_gets_did_you_mean(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text(MINIMAL.read_text().replace("segments:", "segmnets:"))
    problems = problems_of(path)
    typo = [p for p in problems if "unknown key 'segmnets'" in p.message]
    assert typo and typo[0].hint == "did you mean 'segments'?" and typo[0].line == line_of(path, "segmnets:")
    assert any("missing required key 'segments'" in p.message for p in problems)


def test_unknown_key_far_from_any_field_lists_the_allowed_keys(tmp_path: Path) -> None:
    path = tmp_path / "odd.yaml"
    path.write_text(MINIMAL.read_text().replace("  seed: 1", "  seed: 1\n  zzzzzz: 3"))
    (problem,) = problems_of(path)
    assert "unknown key 'zzzzzz' in run" in problem.message
    assert problem.hint == "allowed keys: replications, seed"


def test_nan_is_an_error_with_a_position() -> None:
    (problem,) = problems_of(INVALID / "nan_rate.yaml")
    assert (problem.line, problem.col) == (13, 5)
    assert "finite number" in problem.message and "NaN" in problem.hint


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_non_finite_numbers_are_refused_everywhere(tmp_path: Path, value: str) -> None:
    path = tmp_path / "nan.yaml"
    path.write_text(MINIMAL.read_text().replace("effect: 0.26}", f"effect: {value}}}"))
    (problem,) = problems_of(path)
    assert problem.line == line_of(path, f"effect: {value}") and "finite" in problem.message


@pytest.mark.parametrize(("old", "new", "hint"), [
    ("initial_customers: 100", "initial_customers: 100.5", "whole number"),
    ("basket: 20", "basket: twenty", "plain number, e.g. 0.25"),
])
def test_a_number_of_the_wrong_kind_gets_the_hint_for_its_kind(tmp_path: Path, old: str, new: str, hint: str) -> None:
    """A count written with a decimal point is told to drop it, not shown a decimal example."""
    path = tmp_path / "kind.yaml"
    path.write_text(MINIMAL.read_text().replace(old, new, 1))
    (problem,) = problems_of(path)
    assert problem.line == line_of(path, new) and hint in problem.hint


def test_all_problems_are_reported_not_just_the_first(tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    text = MINIMAL.read_text().replace("basket: 20", "basket: -20").replace("seed: 1", "seed: x")
    path.write_text(text)
    lines = sorted(p.line for p in problems_of(path))
    assert lines == [line_of(path, "basket: -20"), line_of(path, "seed: x")]


def test_long_bad_values_are_shortened_in_messages(tmp_path: Path) -> None:
    path = tmp_path / "long.yaml"
    path.write_text(MINIMAL.read_text().replace("basket: 20", "basket: " + "x" * 10_000))
    (problem,) = problems_of(path)
    assert len(str(problem)) < 300 and problem.line == 11


def test_duplicate_key_is_reported_at_the_second_key() -> None:
    (problem,) = problems_of(INVALID / "duplicate_yaml_key.yaml")
    assert (problem.line, problem.col, problem.message) == (12, 5, "duplicate key 'basket'")


@pytest.mark.parametrize("text", ["metadata: !!set {a, b}\n", "metadata: !!omap [{a: 1}]\n",
                                  "metadata: !!python/object:os.system {}\n", "a: !!python/name:os.system x\n"])
def test_yaml_tags_that_build_objects_are_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "tag.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        read_located(path)
    (problem,) = info.value.problems
    assert problem.line == 1 and ("tag" in problem.message or "constructor" in problem.message)


def test_merge_keys_work_and_keep_positions(tmp_path: Path) -> None:
    path = tmp_path / "merge.yaml"
    path.write_text(MINIMAL.read_text().replace(
        "  - name: business\n    initial_customers: 20\n    basket: 80\n",
        "  - &biz\n    name: business\n    initial_customers: 20\n    basket: 80\n"
        "  - <<: *biz\n    name: business_two\n    basket: 85\n"))
    sc = load(path).scenario
    assert [(s.name, s.initial_customers, s.basket) for s in sc.segments[1:]] == [
        ("business", 20, 80), ("business_two", 20, 85)]


def test_read_located_positions() -> None:
    tree = read_located(MINIMAL)
    assert tree.plain() == yaml.safe_load(MINIMAL.read_text())
    positions = tree.positions()
    assert positions[("metadata",)][1:] == (1, 1)
    assert positions[("segments", 1)][1:] == (14, 5)
    assert positions[("network", "links", 1, "to")][1:] == (30, line_of_col(MINIMAL, 30, "to:"))


def test_content_hash_ignores_extends_and_key_order() -> None:
    data = minimal_data()
    reordered = dict(reversed(list(data.items())))
    assert content_hash(data) == content_hash(reordered) == content_hash({**data, "extends": "x.yaml"})
    data["run"]["seed"] = 2
    assert content_hash(data) != content_hash(minimal_data())
