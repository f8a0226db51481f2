"""Scenario files: pydantic models, the YAML loader with positions, `extends:` merging, JSON Schema."""
