"""Levers: the numbers a decision maker moves in a scenario, edited by path and saved as an override file.

A lever is a path into the scenario data (see `paths.py`) plus what a front end needs to show it. Initiative
effects have no names, so their paths use the effect's position: `initiatives.NAME.effects.0.add`.
Edits are validated as a whole scenario, exactly as a file would be, and saved as an `extends:` file that
holds only what changed, so the original stays the single source of everything else.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from simulator.errors import ScenarioError, UsageError
from simulator.scenario import paths, uncertainty

INITIATIVE_FIELDS = ("start_month", "ramp_months", "duration_months", "one_off_cost", "monthly_cost")
STAFF_FIELDS = ("headcount", "annual_salary", "annual_quit_rate", "hiring_lag_days")


@dataclass(frozen=True)
class Lever:
    path: str
    label: str
    group: str  # "organisation" or the initiative's name
    value: float | None
    integer: bool = False
    optional: bool = False  # may be left empty (null), e.g. duration = until the horizon


def _initiative_strategies(data: dict) -> dict[str, list[str]]:
    used: dict[str, list[str]] = {}
    for strategy in data.get("strategies") or []:
        for name in strategy.get("initiatives") or []:
            used.setdefault(name, []).append(strategy["name"])
    return used


def _effect_label(effect: dict) -> str:
    op = next(o for o in ("set", "add", "scale") if effect.get(o) is not None)
    target = effect.get("lever") or effect.get("link") or f"{effect.get('segment')}.{effect.get('parameter')}"
    return f"{target} {op}"


def levers(data: dict) -> list[Lever]:
    """Staffing, then each initiative's timing, cost and effect sizes (what strategies are made of)."""
    # Lever nodes' reference values are not offered: links respond to a lever's distance from its reference,
    # so moving the reference itself changes nothing. Initiatives move levers; their sizes are below.
    out: list[Lever] = []
    emp = data.get("employees") or {}
    for key in STAFF_FIELDS:
        if key in emp:
            out.append(Lever(f"employees.{key}", key, "organisation", float(emp[key]), integer=key == "headcount"))
    used = _initiative_strategies(data)
    for ini in data.get("initiatives") or []:
        name = ini["name"]
        group = f"{name} ({', '.join(used.get(name, ['no strategy']))})"
        for key in INITIATIVE_FIELDS:
            value = ini.get(key)
            if key in ini or key in ("start_month", "one_off_cost", "monthly_cost"):
                out.append(Lever(f"initiatives.{name}.{key}", key, group, None if value is None else float(value),
                                 optional=key == "duration_months"))
        for i, effect in enumerate(ini.get("effects") or []):
            op = next(o for o in ("set", "add", "scale") if effect.get(o) is not None)
            out.append(Lever(f"initiatives.{name}.effects.{i}.{op}", _effect_label(effect), group, float(effect[op])))
    return out


def _container(data: dict, path: str) -> tuple[Any, Any]:
    return paths._locate(data, path)


def get(data: dict, path: str) -> Any:
    container, key = _container(data, path)
    return container.get(key)


def apply(data: dict, changes: dict[str, float | None]) -> dict:
    """A deep copy of the scenario data with the changes made (validate it with `load_data`)."""
    out = copy.deepcopy(data)
    for path, value in changes.items():
        container, key = _container(out, path)
        if value is None:
            container.pop(key, None)
        else:
            container[key] = int(value) if float(value).is_integer() and path.endswith(".headcount") else value
    return uncertainty.fix_parameters(out, changes)  # a number set by hand is no longer an uncertain assumption


def parse_value(lever: Lever, text: str) -> float | None:
    """What a person typed -> a number (or None for an optional field left empty); bad text is a UsageError."""
    text = text.strip().replace(",", "").replace("_", "")
    if not text:
        if lever.optional:
            return None
        raise UsageError(f"{lever.label}: a number is needed")
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{lever.label}: '{text}' is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise UsageError(f"{lever.label}: must be a finite number")
    if lever.integer:
        if not value.is_integer():
            raise UsageError(f"{lever.label}: must be a whole number")
        return int(value)
    return value


def override_document(base_file: str | Path, save_as: str | Path, base_data: dict,
                      changes: dict[str, float | None]) -> dict:
    """The smallest `extends:` document that turns the base scenario into the edited one.

    Sections and named items merge on load, so only changed fields are written; an initiative with an edited
    effect carries its whole `effects` list, because unnamed lists replace rather than merge.
    """
    edited = apply(base_data, changes)
    doc: dict[str, Any] = {"extends": os.path.relpath(Path(base_file).resolve(), Path(save_as).resolve().parent)}
    for path in changes:
        parts = path.split(".")
        if parts[0] in ("employees", "metadata", "service", "costs"):
            doc.setdefault(parts[0], {})[parts[1]] = get(edited, path)
        elif parts[0] == "nodes":
            nodes = doc.setdefault("network", {}).setdefault("nodes", [])
            node = next((n for n in nodes if n["name"] == parts[1]), None)
            if node is None:
                node = {"name": parts[1]}
                nodes.append(node)
            node[parts[2]] = get(edited, path)
        elif parts[0] == "initiatives":
            items = doc.setdefault("initiatives", [])
            item = next((i for i in items if i["name"] == parts[1]), None)
            if item is None:
                item = {"name": parts[1]}
                items.append(item)
            source = next(i for i in edited["initiatives"] if i["name"] == parts[1])
            if parts[2] == "effects":  # the other effects keep their distributions
                item["effects"] = uncertainty.inline(edited, f"initiatives.{parts[1]}.effects", source["effects"])
            else:
                item[parts[2]] = source.get(parts[2])
        else:
            raise UsageError(f"'{path}' cannot be saved as an override")
    correlate = (base_data.get("uncertainty") or {}).get("correlate")
    kept = (edited.get("uncertainty") or {}).get("correlate")
    if correlate and kept != correlate:  # an edited number left a correlation group
        doc["uncertainty"] = {"correlate": kept}
    return doc


def save_override(base_file: str | Path, save_as: str | Path, base_data: dict,
                  changes: dict[str, float | None]) -> Path:
    """Write the override file atomically and check that it loads back as the edited scenario."""
    from simulator.scenario.loader import load, load_data

    target = Path(save_as)
    if target.resolve() == Path(base_file).resolve():
        raise UsageError("save under a new name: the original scenario stays as it is")
    doc = override_document(base_file, target, base_data, changes)
    text = "# Edited in spc tui: only the changes; everything else comes from the base file.\n" + yaml.safe_dump(
        doc, sort_keys=False, allow_unicode=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    try:
        loaded = load(tmp)
    except ScenarioError:
        tmp.unlink(missing_ok=True)
        raise
    if loaded.scenario.as_data() != load_data(apply(base_data, changes)).as_data():
        tmp.unlink(missing_ok=True)
        raise UsageError("the override did not reproduce the edited scenario; nothing was saved")
    os.replace(tmp, target)
    return target
