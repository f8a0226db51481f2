"""The JSON Schema of scenario files, generated from the pydantic models (committed as scenarios/schema.json)."""

from __future__ import annotations

import json

from simulator.scenario.models import Scenario


def json_schema() -> dict:
    schema = Scenario.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Service-profit-chain scenario"
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
