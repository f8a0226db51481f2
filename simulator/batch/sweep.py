"""Sweep designs over scenario parameters: a grid (cartesian product) and a Latin hypercube.

Keys are the parameter paths of `simulator.scenario.paths` (`employees.headcount`,
`segments.NAME.basket`, `links.a->b.effect`, `nodes.NAME.reference`, `initiatives.NAME.monthly_cost`),
so a sweep names a number exactly as `spc sensitivity --only` does. A variant is a plain dict
{path: value}; its canonical JSON is part of a task's key in the results database.
"""

from __future__ import annotations

import itertools
import json
import math
import types
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator.errors import UsageError, closest
from simulator.limits import MAX_SAMPLES, MAX_VARIANTS
from simulator.scenario import models as m
from simulator.scenario.paths import bounds

Variant = dict[str, float | int]

LHS_STREAM = 0x4C4853  # "LHS": keeps the design's draws apart from every engine stream of the same seed

_SECTION_MODELS = {"metadata": m.Metadata, "employees": m.Employees, "service": m.Service, "costs": m.Costs}
_NAMED_MODELS = {"segments": m.Segment, "initiatives": m.Initiative, "activities": m.Activity}
_METADATA_SKIP = {"horizon_months", "step_days", "period_days"}  # the calendar, not a parameter


@dataclass(frozen=True)
class Design:
    """What to vary: grid axes (path -> values) and an optional Latin hypercube over ranges."""

    grid: tuple[tuple[str, tuple[float, ...]], ...] = ()
    ranges: tuple[tuple[str, float, float], ...] = ()
    samples: int = 0

    @property
    def keys(self) -> list[str]:
        return [k for k, _ in self.grid] + [k for k, _, _ in self.ranges]


def _is_numeric_annotation(annotation: Any) -> bool:
    if annotation in (int, float):
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _is_numeric_annotation(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_is_numeric_annotation(a) for a in typing.get_args(annotation) if a is not type(None))
    return False


def _numeric_fields(model: type) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items() if _is_numeric_annotation(f.annotation)]


def sweep_keys(data: dict) -> list[str]:
    """Every parameter path a sweep may vary in this scenario (fields left at their default included)."""
    keys = [f"{section}.{f}" for section, model in _SECTION_MODELS.items() for f in _numeric_fields(model)
            if not (section == "metadata" and f in _METADATA_SKIP)]
    for section, model in _NAMED_MODELS.items():
        fields = _numeric_fields(model)
        keys += [f"{section}.{item['name']}.{f}" for item in data.get(section) or [] for f in fields]
    network = data.get("network") or {}
    keys += [f"nodes.{n['name']}.{f}" for n in network.get("nodes") or [] for f in _numeric_fields(m.Node)]
    keys += [f"links.{x['from']}->{x['to']}.{f}" for x in network.get("links") or []
             for f in ("effect", "delay_days", "scale")]
    return keys


def _nearby(key: str, valid: Sequence[str], limit: int = 5) -> str:
    """A hint: the closest key, and valid keys that share the longest dotted prefix with it."""
    hint = closest(key, valid)
    parts = key.split(".")
    for depth in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:depth]) + "."
        near = [v for v in valid if v.startswith(prefix)]
        if near:
            near.sort(key=lambda v: v != hint[len("did you mean '"):-2])
            listed = ", ".join(near[:limit]) + (", ..." if len(near) > limit else "")
            return f"{hint} (valid keys near it: {listed})" if hint else f"valid keys near it: {listed}"
    sections = ", ".join(sorted({v.split('.')[0] for v in valid}))
    return f"{hint} (keys start with {sections})" if hint else f"keys start with {sections}"


def check_key(key: str, data: dict, source: str, option: str) -> None:
    """A usage error (one line, with the valid keys near it) unless `key` names a number in `data`."""
    valid = sweep_keys(data)
    if key not in valid:
        raise UsageError(f"{option} {key}: not a parameter of {source}; {_nearby(key, valid)}")


def is_integer(key: str) -> bool:
    return bounds(key)[2]


def _number(key: str, text: str, option: str) -> float | int:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{option} {key}: '{text}' is not a number") from None
    if not math.isfinite(value):
        raise UsageError(f"{option} {key}: '{text}' is not a finite number")
    if is_integer(key):
        if value != int(value):
            raise UsageError(f"{option} {key}: takes whole numbers, got '{text}'")
        return int(value)
    return value


def _split_key(text: str, option: str, example: str) -> tuple[str, str]:
    key, sep, rest = text.partition("=")
    if not sep or not key.strip() or not rest.strip():
        raise UsageError(f"{option}: expected {example}, got '{text}'")
    return key.strip(), rest.strip()


def parse_sweep(text: str) -> tuple[str, tuple[float, ...]]:
    """`KEY=v1,v2,...` -> (key, values) with duplicates refused."""
    key, rest = _split_key(text, "--sweep", "KEY=v1,v2,... (e.g. employees.headcount=8,10,12)")
    values = tuple(_number(key, v.strip(), "--sweep") for v in rest.split(","))
    if len(set(values)) != len(values):
        raise UsageError(f"--sweep {key}: a value is repeated in '{rest}'")
    return key, values


def parse_range(text: str) -> tuple[str, float, float]:
    """`KEY=lo:hi` with lo < hi."""
    key, rest = _split_key(text, "--range", "KEY=lo:hi (e.g. employees.annual_salary=30000:40000)")
    lo_text, sep, hi_text = rest.partition(":")
    if not sep:
        raise UsageError(f"--range {key}: expected lo:hi, got '{rest}'")
    lo, hi = _number(key, lo_text.strip(), "--range"), _number(key, hi_text.strip(), "--range")
    if not lo < hi:
        raise UsageError(f"--range {key}: the low end must be below the high end, got '{rest}'")
    return key, float(lo), float(hi)


def parse_sample(text: str) -> int:
    """`lhs:N` -> N (the only sampler so far)."""
    kind, sep, n = text.partition(":")
    if kind.strip().lower() != "lhs" or not sep:
        raise UsageError(f"--sample: expected lhs:N (a Latin hypercube of N points), got '{text}'")
    try:
        count = int(n)
    except ValueError:
        raise UsageError(f"--sample: N in lhs:N must be a whole number, got '{n}'") from None
    if not 1 <= count <= MAX_SAMPLES:
        raise UsageError(f"--sample: N in lhs:N is 1 to {MAX_SAMPLES:,}, got {count:,}")
    return count


def make_design(sweeps: Sequence[str], ranges: Sequence[str], sample: str | None) -> Design:
    grid = tuple(parse_sweep(s) for s in sweeps)
    rng = tuple(parse_range(r) for r in ranges)
    if rng and sample is None:
        raise UsageError("--range needs --sample lhs:N (how many points to draw over the ranges)")
    if sample is not None and not rng:
        raise UsageError("--sample needs at least one --range KEY=lo:hi")
    design = Design(grid, rng, parse_sample(sample) if sample else 0)
    seen: set[str] = set()
    for key in design.keys:
        if key in seen:
            raise UsageError(f"{key} is given twice (each key goes in one --sweep or one --range)")
        seen.add(key)
    if count(design) > MAX_VARIANTS:
        raise UsageError(f"the sweep makes {count(design):,} variants of each file, more than {MAX_VARIANTS:,}; "
                         "use fewer values or samples")
    return design


def latin_hypercube(n: int, dims: int, seed: int) -> np.ndarray:
    """n points in [0, 1)^dims, one in each of n equal strata of every axis; seeded, so deterministic."""
    rng = np.random.default_rng(np.random.SeedSequence((seed, LHS_STREAM)))
    strata = np.argsort(rng.random((n, dims)), axis=0)
    return (strata + rng.random((n, dims))) / n


def lhs_points(ranges: Sequence[tuple[str, float, float]], n: int, seed: int) -> list[Variant]:
    """Latin hypercube over the ranges; whole-number fields take stratified whole values in [lo, hi]."""
    unit = latin_hypercube(n, len(ranges), seed)
    points: list[Variant] = []
    for row in unit:
        point: Variant = {}
        for (key, lo, hi), u in zip(ranges, row, strict=True):
            if is_integer(key):
                point[key] = int(min(hi, math.floor(lo + u * (hi - lo + 1))))
            else:
                point[key] = float(lo + u * (hi - lo))
        points.append(point)
    return points


def variants(design: Design, seed: int) -> Iterator[Variant]:
    """The grid's cartesian product (first key slowest), each crossed with every LHS point."""
    keys = [k for k, _ in design.grid]
    samples = lhs_points(design.ranges, design.samples, seed) if design.samples else [{}]
    for combo in itertools.product(*(values for _, values in design.grid)):
        for point in samples:
            yield {**dict(zip(keys, combo, strict=True)), **point}


def count(design: Design) -> int:
    return math.prod(len(v) for _, v in design.grid) * (design.samples or 1)


def variant_key(variant: Variant) -> str:
    """Canonical JSON of a variant: the same values always give the same text (a database key)."""
    return json.dumps(dict(sorted(variant.items())), separators=(",", ":"))


def variant_label(variant: Variant) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in variant.items()) or "(base)"
