"""The JSON Schema of scenario files, generated from the pydantic models (committed as scenarios/schema.json).

The schema describes the file as written, before the loader extracts distributions: every number that
may be an uncertain assumption accepts either a number or a Distribution mapping there.
"""

from __future__ import annotations

import json

from simulator.scenario.models import Scenario
from simulator.scenario.uncertainty import parameter_fields

_DEFS = {"metadata": "Metadata", "employees": "Employees", "service": "Service", "costs": "Costs",
         "segments": "Segment", "links": "Link", "nodes": "Node", "activities": "Activity",
         "initiatives": "Initiative", "effects": "Effect"}
_KEEP = ("default", "description", "title")


def _or_distribution(prop: dict) -> dict:
    """`prop` (a number's schema) widened to anyOf [the number, a Distribution]; annotations stay on top."""
    top = {k: prop[k] for k in _KEEP if k in prop}
    alternatives = prop["anyOf"] if "anyOf" in prop else [{k: v for k, v in prop.items() if k not in _KEEP}]
    return {**top, "anyOf": [*alternatives, {"$ref": "#/$defs/Distribution"}]}


NAN = {"description": "NaN (.nan): not a number a scenario accepts; only NaN is at least 1e308 and at most -1e308",
       "type": "number", "minimum": 1e308, "maximum": -1e308}
EFFECT_RULES = [
    {"oneOf": [{"required": ["lever"]}, {"required": ["link"]}, {"required": ["segment"]}],
     "description": "exactly one target: lever, link or segment"},
    {"oneOf": [{"required": ["set"]}, {"required": ["add"]}, {"required": ["scale"]}],
     "description": "exactly one operation: set, add or scale"},
]


def _not_nan(node: object) -> None:
    """Every number refuses NaN: `.nan` satisfies minimum and maximum, so it needs a rule of its own."""
    if isinstance(node, dict):
        for value in node.values():
            _not_nan(value)
        if node.get("type") == "number" and "not" not in node:
            node["not"] = {"$ref": "#/$defs/NaN"}
    elif isinstance(node, list):
        for value in node:
            _not_nan(value)


def _partial(node: object, names: set[str], top: bool = True) -> object:
    """A copy for `extends:` children: no `required` at the top of the model, references to partial models."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "required" and top:
                continue
            if key == "$ref" and isinstance(value, str) and value.removeprefix("#/$defs/") in names:
                out[key] = "#/$defs/Partial" + value.removeprefix("#/$defs/")
            else:
                out[key] = _partial(value, names, top=False)
        return out
    if isinstance(node, list):
        return [_partial(value, names, top=False) for value in node]
    return node


def json_schema() -> dict:
    """The file schema: a whole scenario, or (when `extends` is present) a partial one whose keys are all
    optional, unknown keys still errors and every type, bound and enum still checked."""
    full = Scenario.model_json_schema(by_alias=True)
    defs = full.pop("$defs")
    for owner, fields in parameter_fields().items():
        props = defs[_DEFS[owner]]["properties"]
        for name in fields:
            props[name] = _or_distribution(props[name])
    defs["Effect"]["allOf"] = EFFECT_RULES
    defs["Effect"]["dependentRequired"] = {"segment": ["parameter"], "parameter": ["segment"]}
    defs["Scenario"] = full
    models = set(defs) - {"Effect"}  # a child's effects list replaces the base's whole: each effect is complete
    for name in sorted(models):
        defs[f"Partial{name}"] = _partial(defs[name], models)
    defs["PartialScenario"]["description"] = "A scenario that extends another: every key is optional."
    _not_nan(defs)
    defs["NaN"] = dict(NAN)  # added after the walk: the rule itself is a number schema without a 'not'
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Service-profit-chain scenario",
        "description": full.get("description", ""),
        "type": "object",
        "if": {"required": ["extends"]},
        "then": {"$ref": "#/$defs/PartialScenario"},
        "else": {"$ref": "#/$defs/Scenario"},
        "$defs": defs,
    }


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
