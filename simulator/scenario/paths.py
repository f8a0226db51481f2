"""Addressing a number inside a scenario by a readable dotted path, for sensitivity runs and sweeps.

    employees.annual_salary            a field of a section
    segments.mass_retail.basket        a field of a named item (segments, initiatives, activities)
    links.training->morale.effect      a link, named `from->to`
    nodes.morale.reference             a node of the network
    initiatives.loyalty.effects.0.add  the size of an initiative's first effect (its set/add/scale)

Paths address the scenario *data* (a dict as loaded from YAML), so a variant is validated like a file.
"""

from __future__ import annotations

import copy
from typing import Any

import annotated_types

from simulator.errors import UsageError, closest
from simulator.scenario.models import SEGMENT_PARAMETERS, Costs, Employees, Link, Metadata, Segment, Service

_MODELS = {"metadata": Metadata, "employees": Employees, "service": Service, "costs": Costs, "segments": Segment,
           "links": Link}

_SECTIONS = ("metadata", "employees", "service", "costs")
_SECTION_SKIP = {"metadata": {"name", "description", "currency", "horizon_months", "step_days", "period_days"}}


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def numeric_parameters(data: dict) -> dict[str, float]:
    """Every number a sensitivity analysis may swing: section fields, segment parameters, link effects."""
    out: dict[str, float] = {}
    for section in _SECTIONS:
        for key, value in (data.get(section) or {}).items():
            if _is_number(value) and key not in _SECTION_SKIP.get(section, set()):
                out[f"{section}.{key}"] = float(value)
    for seg in data.get("segments") or []:
        for key in (*SEGMENT_PARAMETERS, "initial_customers"):
            if _is_number(seg.get(key)):
                out[f"segments.{seg['name']}.{key}"] = float(seg[key])
    for link in (data.get("network") or {}).get("links") or []:
        out[f"links.{link['from']}->{link['to']}.effect"] = float(link.get("effect", 1.0))
    out.update(effect_sizes(data))
    return out


EFFECT_OPERATIONS = ("set", "add", "scale")


def effect_sizes(data: dict) -> dict[str, float]:
    """Every initiative effect's size by path (`initiatives.NAME.effects.I.add`): what an initiative is assumed to do."""
    out: dict[str, float] = {}
    for ini in data.get("initiatives") or []:
        for i, effect in enumerate(ini.get("effects") or []):
            op = next((o for o in EFFECT_OPERATIONS if _is_number(effect.get(o))), None)
            if op is not None:
                out[f"initiatives.{ini['name']}.effects.{i}.{op}"] = float(effect[op])
    return out


def _locate(data: dict, path: str) -> tuple[dict, str]:
    parts = path.split(".")
    if parts[0] == "initiatives" and len(parts) == 5 and parts[2] == "effects":
        item, _ = _locate(data, ".".join(parts[:2]) + ".effects")
        effects = item.get("effects") or []
        index = int(parts[3]) if parts[3].isdigit() else -1
        if not 0 <= index < len(effects):
            raise UsageError(f"'{path}': initiative '{parts[1]}' has no effect {parts[3]} (it has {len(effects)})")
        if parts[4] not in EFFECT_OPERATIONS:
            raise UsageError(f"'{path}': an effect's size is its {', '.join(EFFECT_OPERATIONS)}")
        return effects[index], parts[4]
    if parts[0] in _SECTIONS and len(parts) == 2:
        return data.setdefault(parts[0], {}), parts[1]
    if parts[0] in ("segments", "initiatives", "activities") and len(parts) == 3:
        items = data.get(parts[0]) or []
        for item in items:
            if item.get("name") == parts[1]:
                return item, parts[2]
        raise UsageError(f"'{path}': no {parts[0][:-1]} named '{parts[1]}' "
                         f"({closest(parts[1], [i.get('name', '') for i in items]) or 'check the name'})")
    if parts[0] in ("links", "nodes") and len(parts) >= 3:
        key = parts[-1]
        name = ".".join(parts[1:-1])
        network = data.get("network") or {}
        if parts[0] == "links":
            items = network.get("links") or []
            ids = [f"{x['from']}->{x['to']}" for x in items]
        else:
            items = network.get("nodes") or []
            ids = [x["name"] for x in items]
        if name in ids:
            return items[ids.index(name)], key
        raise UsageError(f"'{path}': unknown {parts[0][:-1]} '{name}' ({closest(name, ids) or 'check the name'})")
    valid = sorted(numeric_parameters(data))
    raise UsageError(f"'{path}' is not a parameter path ({closest(path, valid) or 'e.g. ' + ', '.join(valid[:3])})")


def get_value(data: dict, path: str) -> Any:
    container, key = _locate(data, path)
    if key not in container:
        raise UsageError(f"'{path}': no field '{key}'")
    return container[key]


def with_values(data: dict, values: dict[str, Any]) -> dict:
    """A deep copy of `data` with each path set to its value."""
    out = copy.deepcopy(data)
    for path, value in values.items():
        container, key = _locate(out, path)
        container[key] = value
    return out


def bounds(path: str) -> tuple[float, float, bool]:
    """(lowest, highest, integer?) a path's field accepts, read from the pydantic model's constraints."""
    parts = path.split(".")
    model = _MODELS.get(parts[0])
    field = model.model_fields.get(parts[-1]) if model else None
    lo, hi = -float("inf"), float("inf")
    if field is None:
        return lo, hi, False
    metadata = list(field.metadata)
    for arg in getattr(field.annotation, "__args__", ()) or ():
        metadata += list(getattr(arg, "__metadata__", ()))
    for meta in metadata:
        if isinstance(meta, annotated_types.Ge):
            lo = max(lo, float(meta.ge))
        elif isinstance(meta, annotated_types.Gt):
            lo = max(lo, float(meta.gt) + 1e-9)
        elif isinstance(meta, annotated_types.Le):
            hi = min(hi, float(meta.le))
        elif isinstance(meta, annotated_types.Lt):
            hi = min(hi, float(meta.lt) - 1e-9)
        for inner in getattr(meta, "metadata", ()) or ():
            if isinstance(inner, annotated_types.Ge):
                lo = max(lo, float(inner.ge))
            elif isinstance(inner, annotated_types.Le):
                hi = min(hi, float(inner.le))
    return lo, hi, field.annotation is int


def clip_to_field(path: str, value: float) -> float | int:
    """A swung value kept inside what the field accepts (whole numbers stay whole)."""
    lo, hi, integer = bounds(path)
    value = min(max(value, lo), hi)
    return int(round(value)) if integer else value
