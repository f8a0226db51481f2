"""Scenario files in, a validated frozen `Scenario` out, or a `ScenarioError` listing every problem.

Stages: read YAML with positions -> resolve `extends:` (deep merge; lists of named items merge by name;
a distribution is replaced whole) -> inline distributions replaced by their point values and recorded
under `uncertainty.assumptions` -> pydantic validation -> cross-reference checks. Every problem is
reported as FILE:LINE:COL.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from simulator.errors import Problem, ScenarioError, closest
from simulator.ports import WRITTEN_PORTS
from simulator.scenario import uncertainty
from simulator.scenario.models import SEGMENT_PARAMETERS, Scenario
from simulator.scenario.yamlsource import Located, read_located

MAX_EXTENDS_DEPTH = 16


@dataclass(frozen=True)
class LoadedScenario:
    """A valid scenario with where it came from and a content hash of its merged data."""

    scenario: Scenario
    path: Path
    data: dict[str, Any]
    positions: dict[tuple, tuple[str, int, int]]

    @property
    def content_hash(self) -> str:
        return content_hash(self.data)

    def position(self, path: tuple) -> tuple[str, int, int]:
        return locate(self.positions, path, str(self.path))


def content_hash(data: dict[str, Any]) -> str:
    blob = json.dumps({k: v for k, v in data.items() if k != "extends"}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def locate(positions: dict[tuple, tuple[str, int, int]], path: tuple, default_file: str) -> tuple[str, int, int]:
    """Position of the deepest known prefix of `path`."""
    for end in range(len(path), -1, -1):
        if path[:end] in positions:
            return positions[path[:end]]
    return (default_file, 1, 1)


def _merge(base: Located, over: Located) -> Located:
    """Deep merge: mappings by key, lists of named mappings by name, anything else replaced.

    A distribution (a mapping with a `dist` key) is one value: a child's replaces the base's whole, so a
    triangular can become a normal without inheriting the triangular's mode (a child's mapping without
    `dist`, e.g. {high: 0.2}, changes only the fields it names).
    """
    if isinstance(base.value, dict) and isinstance(over.value, dict) and "dist" not in over.value:
        merged = dict(base.value)
        key_pos = dict(base.key_positions)
        for key, child in over.value.items():
            merged[key] = _merge(base.value[key], child) if key in base.value else child
            key_pos[key] = over.key_positions.get(key, (child.file, child.line, child.col))
        return Located(merged, over.file, over.line, over.col, key_pos)
    if isinstance(base.value, list) and isinstance(over.value, list) and _named(base.value) and _named(over.value):
        by_name = {_name_of(item): i for i, item in enumerate(base.value)}
        items = list(base.value)
        for item in over.value:
            name = _name_of(item)
            if name in by_name:
                items[by_name[name]] = _merge(items[by_name[name]], item)
            else:
                items.append(item)
        return Located(items, over.file, over.line, over.col)
    return over


def _named(items: list[Located]) -> bool:
    return bool(items) and all(
        isinstance(i.value, dict) and "name" in i.value and isinstance(i.value["name"].value, str) for i in items
    )


def _name_of(item: Located) -> Any:
    return item.value["name"].value


ALLOWED_BASE_DIRS: list[Path] = []
"""Folders whose files any scenario may extend besides its own folder tree (`--base-dir`; resolved paths)."""

BASE_SUFFIXES = (".yaml", ".yml")


def allow_base_dirs(folders: list[str | Path]) -> None:
    """`--base-dir`: let `extends:` reach these folders too (each must be an existing folder)."""
    from simulator.errors import UsageError

    resolved = []
    for folder in folders:
        try:
            real = Path(folder).resolve(strict=True)
        except (OSError, RuntimeError):
            raise UsageError(f"--base-dir {folder}: no such folder") from None
        if not real.is_dir():
            raise UsageError(f"--base-dir {folder}: not a folder")
        resolved.append(real)
    ALLOWED_BASE_DIRS[:] = resolved


def _roots(path: Path) -> tuple[Path, ...]:
    """Where bases may live: the top file's folder tree, the shipped scenarios, and the --base-dir folders."""
    from simulator import shipped_scenarios

    try:
        own = path.absolute().parent.resolve()
    except (OSError, RuntimeError):
        own = path.absolute().parent
    return (own, shipped_scenarios().resolve(), *ALLOWED_BASE_DIRS)


def _inside(path: Path, roots: tuple[Path, ...]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def _base_problem(path: Path, extends: Located, message: str, hint: str = "") -> ScenarioError:
    return ScenarioError([Problem(str(path), extends.line, extends.col, message, hint)])


def _base_path(path: Path, extends: Located, roots: tuple[Path, ...]) -> Path:
    """The resolved base file, refused before it is read unless it is a regular .yaml file inside `roots`."""
    import errno

    value = extends.value
    if not value.lower().endswith(BASE_SUFFIXES):
        raise _base_problem(path, extends, f"'extends' must name a .yaml file, got '{value}'",
                            "for example extends: service_profit_chain.yaml")
    candidate = path.parent / value
    try:
        where = candidate.resolve()  # symlinks followed as far as they exist: where it would be read
    except (OSError, RuntimeError):
        where = None  # a symlink loop: reported below
    if where is not None and not _inside(where, roots):  # refused before even asking whether it exists
        raise _base_problem(path, extends, f"'extends: {value}' is outside the scenario's folder {roots[0]}; not read",
                            "a base must be in the scenario's folder tree or the shipped scenarios; "
                            "allow another folder with --base-dir")
    try:
        base = candidate.resolve(strict=True)
    except RuntimeError:  # Python 3.11-3.12 report a symlink loop so
        raise _base_problem(path, extends, f"'extends: {value}' is a symlink loop") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _base_problem(path, extends, f"'extends: {value}' is a symlink loop") from None
        if isinstance(exc, FileNotFoundError):
            raise _base_problem(path, extends, f"base scenario not found: {value}",
                                f"the path is relative to {path.parent}") from None
        raise _base_problem(path, extends, f"'extends: {value}': cannot read it ({exc.strerror or exc})") from None
    if not _inside(base, roots):
        raise _base_problem(path, extends, f"'extends: {value}' is outside the scenario's folder {roots[0]}; not read",
                            "a base must be in the scenario's folder tree or the shipped scenarios; "
                            "allow another folder with --base-dir")
    if not base.is_file():
        raise _base_problem(path, extends, f"'extends: {value}' is not a regular file; not read")
    return base


def _resolve(path: Path, chain: tuple[Path, ...], roots: tuple[Path, ...] | None = None) -> Located:
    roots = roots or _roots(path)
    tree = read_located(path)
    extends = tree.value.get("extends")
    if extends is None:
        return tree
    if not isinstance(extends.value, str) or not extends.value:
        raise ScenarioError([Problem(str(path), extends.line, extends.col, "'extends' must be a file path",
                                     "for example extends: service_profit_chain.yaml")])
    if "\0" in extends.value:
        raise ScenarioError([Problem(str(path), extends.line, extends.col, "'extends' path contains a NUL character")])
    here = _real(path)
    base_path = _base_path(path, extends, roots)
    if base_path in chain or base_path == here:
        cycle = " -> ".join(p.name for p in (*chain, here, base_path))
        raise ScenarioError([Problem(str(path), extends.line, extends.col, f"'extends' cycle: {cycle}",
                                     "a scenario cannot extend itself, directly or through others")])
    if len(chain) >= MAX_EXTENDS_DEPTH:
        raise ScenarioError([Problem(str(path), extends.line, extends.col, "'extends' chain is too deep")])
    base = _resolve(base_path, (*chain, here), roots)
    return _merge(base, tree)


def _real(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # read_located has read it, so this is not expected
        return path.absolute()


def load(path: str | Path) -> LoadedScenario:
    """Load, merge, validate and cross-check one scenario file."""
    path = Path(path)
    tree = _resolve(path, ())
    data = tree.plain()
    positions = tree.positions()
    data = _extract(data, positions, str(path), apply_recorded=True)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_validation_problems(exc, positions, str(path))) from None
    problems = cross_check(scenario, positions, str(path))
    if problems:
        raise ScenarioError(problems)
    return LoadedScenario(scenario, path, data, positions)


def load_data(data: dict[str, Any], name: str = "<scenario>") -> Scenario:
    """Validate an in-memory scenario (used by sweeps and the TUI); errors carry no line numbers.

    Inline distributions are extracted as from a file (into a copy); a recorded `uncertainty.assumptions`
    is validated but its parameters keep their numbers (a worker's data holds a draw's values).
    """
    if _has_inline_distribution(data):
        data = _extract(copy.deepcopy(data), {}, name, apply_recorded=False)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_validation_problems(exc, {}, name)) from None
    problems = cross_check(scenario, {}, name)
    if problems:
        raise ScenarioError(problems)
    return scenario


def _has_inline_distribution(value: Any) -> bool:
    return next(uncertainty.inline_distributions(value, ()), None) is not None


def _extract(data: dict, positions: dict, file: str, apply_recorded: bool) -> dict:
    """Inline distributions -> point values + uncertainty.assumptions; positions follow each to its new path."""
    problems: list[Problem] = []

    def report(loc: tuple, message: str, hint: str) -> None:
        f, line, col = locate(positions, loc, file)
        problems.append(Problem(f, line, col, message, hint))

    def file_of(loc: tuple) -> str:
        return locate(positions, loc, file)[0]

    data, moved = uncertainty.extract(data, report, apply_recorded, file_of if positions else None)
    if problems:
        raise ScenarioError(problems)
    for path, loc in moved.items():
        for key, pos in list(positions.items()):
            if key[: len(loc)] == loc:
                positions[("uncertainty", "assumptions", path) + key[len(loc):]] = pos
    return data


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The pydantic model that owns the mapping at `loc` (for 'did you mean' on unknown keys)."""
    model: Any = Scenario
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        if field is None:
            field = next((f for f in model.model_fields.values() if f.alias == part), None) if hasattr(model, "model_fields") else None
        if field is None:
            return None
        annotation = field.annotation
        model = _inner_model(annotation)
        if model is None:
            return None
    return model


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _field_names(model: type[BaseModel]) -> list[str]:
    return [f.alias or n for n, f in model.model_fields.items()]


def _validation_problems(exc: ValidationError, positions: dict, file: str) -> list[Problem]:
    problems: list[Problem] = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith(("function-", "tuple["))))
        f, line, col = locate(positions, loc, file)
        where = ".".join(str(p) for p in loc) or "(top level)"
        kind = err["type"]
        hint = ""
        if kind == "extra_forbidden":
            key = loc[-1] if loc else "?"
            owner = _model_at(loc[:-1])
            hint = closest(str(key), _field_names(owner)) if owner else ""
            if not hint and owner:
                hint = "allowed keys: " + ", ".join(_field_names(owner))
            message = f"unknown key '{key}' in {'.'.join(str(p) for p in loc[:-1]) or 'the top level'}"
        elif kind == "missing":
            message = f"missing required key '{loc[-1]}'" + (f" in {'.'.join(str(p) for p in loc[:-1])}" if len(loc) > 1 else "")
        else:
            got = err.get("input")
            shown = repr(got) if not isinstance(got, (dict, list)) else type(got).__name__
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            msg = err["msg"].removeprefix("Value error, ")
            # a check on a whole mapping (min above max, an effect's operations) says what is wrong itself: "(got
            # dict)" would add nothing
            whole = kind in {"value_error", "assertion_error"} and isinstance(got, (dict, list))
            message = f"{where}: {msg}" if whole else f"{where}: {msg} (got {shown})"
            if kind in {"int_parsing", "int_type", "int_from_float"}:
                hint = "write a whole number, without a decimal point, e.g. 1200"
            elif kind in {"float_parsing", "float_type"}:
                hint = "write a plain number, e.g. 0.25"
            elif kind == "finite_number":
                hint = "NaN and infinity are not allowed"
            elif kind in {"greater_than_equal", "greater_than"}:
                hint = "rates, counts and costs cannot be negative"
        problems.append(Problem(f, line, col, message, hint))
    return problems


def _check_effect_result(scenario: Scenario, initiative: str, eff, loc: tuple, add) -> None:
    """A segment effect must leave its parameter inside what the field accepts (scale 1e12 on acquisitions
    would validate and then ask for terabytes)."""
    import math

    from simulator.scenario.paths import bounds

    segment = next(s for s in scenario.segments if s.name == eff.segment)
    before = getattr(segment, str(eff.parameter))
    if before is None:
        return
    op, size = eff.operation
    after = size if op == "set" else before + size if op == "add" else before * size
    lo, hi, _ = bounds(f"segments.{eff.segment}.{eff.parameter}")
    if not (math.isfinite(after) and lo <= after <= hi):
        add(loc + (op,), f"initiative '{initiative}': {op} {size:g} makes {eff.segment}.{eff.parameter} {after:g}, "
                         f"outside what the field accepts [{lo:g}, {hi:g}]", "use a smaller effect")


def cross_check(scenario: Scenario, positions: dict, file: str) -> list[Problem]:
    """References between parts of the file: nodes, links, levers, segments, initiatives, KPIs."""
    problems: list[Problem] = []

    def add(path: tuple, message: str, hint: str = "") -> None:
        f, line, col = locate(positions, path, file)
        problems.append(Problem(f, line, col, message, hint))

    nodes = scenario.network.nodes
    names: dict[str, int] = {}
    for i, node in enumerate(nodes):
        if node.name in names:
            add(("network", "nodes", i, "name"), f"duplicate node name '{node.name}'",
                f"first defined as node {names[node.name] + 1}; rename one of them")
        else:
            names[node.name] = i
        if node.kind == "measure" and node.name not in WRITTEN_PORTS:
            add(("network", "nodes", i, "name"), f"measure node '{node.name}' is not a port the engine writes",
                closest(node.name, WRITTEN_PORTS) or "written ports: " + ", ".join(WRITTEN_PORTS))
        if node.kind in ("lever", "auxiliary", "stock"):
            lo, hi = node.min, node.max
            start = node.initial if node.initial is not None else node.reference
            if (lo is not None and start < lo) or (hi is not None and start > hi):
                add(("network", "nodes", i, "reference"), f"node '{node.name}' starts at {start}, outside its bounds [{lo}, {hi}]")
    seen_links: dict[str, int] = {}
    for i, link in enumerate(scenario.network.links):
        for end, key in ((link.source, "from"), (link.target, "to")):
            if end not in names:
                add(("network", "links", i, key), f"link {link.id}: unknown node '{end}'",
                    closest(end, names) or "declare it under network.nodes")
        target = scenario.node(link.target)
        if target is not None and target.kind in ("lever", "measure"):
            add(("network", "links", i, "to"), f"link {link.id}: a {target.kind} cannot be the target of a link",
                "levers are set by initiatives; measures are written by the engine")
        if link.id in seen_links:
            add(("network", "links", i), f"duplicate link {link.id}", "merge the two effects into one link")
        seen_links[link.id] = i
        if link.form == "elasticity":
            source = scenario.node(link.source)
            if source is not None and source.reference <= 0:
                add(("network", "links", i, "form"), f"link {link.id}: elasticity needs a positive reference on '{link.source}'",
                    "use form 'linear' for a source whose reference is 0 or negative")
            if target is not None and target.reference <= 0:
                add(("network", "links", i, "form"), f"link {link.id}: elasticity needs a positive reference on '{link.target}'",
                    "use form 'linear' for a target whose reference is 0 or negative")
    levers = [n.name for n in nodes if n.kind == "lever"]
    segments = [s.name for s in scenario.segments]
    for i, ini in enumerate(scenario.initiatives):
        for j, eff in enumerate(ini.effects):
            base = ("initiatives", i, "effects", j)
            if eff.lever is not None and eff.lever not in levers:
                add(base + ("lever",), f"initiative '{ini.name}': '{eff.lever}' is not a lever",
                    closest(eff.lever, levers) or "declare a node of kind lever")
            if eff.link is not None and eff.link not in seen_links:
                add(base + ("link",), f"initiative '{ini.name}': unknown link '{eff.link}'",
                    closest(eff.link, seen_links) or "links are written 'from->to'")
            if eff.segment is not None:
                if eff.segment not in segments:
                    add(base + ("segment",), f"initiative '{ini.name}': unknown segment '{eff.segment}'",
                        closest(eff.segment, segments))
                if eff.parameter not in SEGMENT_PARAMETERS:
                    add(base + ("parameter",), f"initiative '{ini.name}': '{eff.parameter}' is not a segment parameter",
                        closest(str(eff.parameter), SEGMENT_PARAMETERS) or "one of: " + ", ".join(SEGMENT_PARAMETERS))
                elif eff.segment in segments:
                    _check_effect_result(scenario, ini.name, eff, base, add)
    initiative_names = [i.name for i in scenario.initiatives]
    for i, strategy in enumerate(scenario.strategies):
        if strategy.name == "baseline" and strategy.initiatives:
            add(("strategies", i, "name"), "'baseline' is reserved for the run with no initiative",
                "give this strategy another name")
        for j, name in enumerate(strategy.initiatives):
            if name not in initiative_names:
                add(("strategies", i, "initiatives", j), f"strategy '{strategy.name}': unknown initiative '{name}'",
                    closest(name, initiative_names))
    for i, act in enumerate(scenario.activities):
        for j, seg in enumerate(act.segments or []):
            if seg not in segments:
                add(("activities", i, "segments", j), f"activity '{act.name}': unknown segment '{seg}'", closest(seg, segments))
    from simulator.results import metric_names  # late import: results knows the output columns

    metrics = metric_names(scenario)
    for p, persp in enumerate(scenario.scorecard.perspectives):
        for o, obj in enumerate(persp.objectives):
            for k, kpi in enumerate(obj.kpis):
                if kpi.metric not in metrics:
                    add(("scorecard", "perspectives", p, "objectives", o, "kpis", k, "metric"),
                        f"KPI '{kpi.name}': unknown metric '{kpi.metric}'", closest(kpi.metric, metrics) or "see the README's metric list")
    if scenario.metadata.step_days > scenario.metadata.period_days:
        add(("metadata", "step_days"), "step_days is longer than a reporting period", "use a step of at most period_days")
    uncertainty.check(scenario, add)
    return problems
