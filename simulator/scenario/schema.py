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


def json_schema() -> dict:
    schema = Scenario.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Service-profit-chain scenario"
    defs = schema["$defs"]
    for owner, fields in parameter_fields().items():
        props = defs[_DEFS[owner]]["properties"]
        for name in fields:
            props[name] = _or_distribution(props[name])
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
