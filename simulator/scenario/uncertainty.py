"""Uncertain assumptions: a number in a scenario written as a distribution instead.

    effect: {dist: triangular, low: 0.05, mode: 0.10, high: 0.16, source: "[RKQ] ..."}

Any parameter a path can name (see `paths`) may be written so. The loader replaces each distribution by
its point value (the mode of a triangular, the mean as written of the others), so ordinary runs see a
plain number, and records the distribution under `uncertainty.assumptions` by its path:

    uncertainty:
      assumptions:
        links.employee_satisfaction->service_quality.effect: {dist: triangular, low: 0.05, mode: 0.1, high: 0.16}

That is how the distributions travel with the scenario data to workers, run folders and the results
store; `spc decide` samples them (simulator.decision.sampling). This module imports neither the other
scenario models nor paths at import time (models.py imports it), only inside functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
    model_validator,
)

_Finite = Annotated[float, Field(allow_inf_nan=False, strict=True)]  # strict: `low: yes` is not 1
_CONFIG = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

DistKind = Literal["triangular", "uniform", "normal", "lognormal", "beta"]
DIST_KINDS: tuple[str, ...] = ("triangular", "uniform", "normal", "lognormal", "beta")

REQUIRED: dict[str, tuple[str, ...]] = {
    "triangular": ("low", "mode", "high"),
    "uniform": ("low", "high"),
    "normal": ("mean", "sd"),
    "lognormal": ("mean", "sd"),
    "beta": ("mean", "sd"),
}
OPTIONAL: dict[str, tuple[str, ...]] = {
    "triangular": (), "uniform": (), "normal": ("low", "high"), "lognormal": ("low", "high"), "beta": ("low", "high"),
}
FORMS: dict[str, str] = {
    "triangular": "{dist: triangular, low: L, mode: M, high: H} with L <= M <= H",
    "uniform": "{dist: uniform, low: L, high: H} with L <= H",
    "normal": "{dist: normal, mean: M, sd: S} with S > 0, optionally truncated by low/high",
    "lognormal": "{dist: lognormal, mean: M, sd: S} (of the variable itself) with M > 0, S > 0, optionally low/high",
    "beta": "{dist: beta, mean: M, sd: S} on [0, 1], or on [low, high]; sd below sqrt((M - low) * (high - M))",
}
NUMBERS = ("low", "mode", "high", "mean", "sd")


class Distribution(BaseModel):
    """One uncertain number: its kind, the kind's parameters and where the range comes from.

    The point value (`point`) is what every ordinary run uses: the mode of a triangular, the midpoint of a
    uniform, the mean as written of a normal, lognormal or beta.
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True,
        json_schema_extra={"allOf": [
            {"if": {"properties": {"dist": {"const": kind}}, "required": ["dist"]},
             "then": {"required": ["dist", *REQUIRED[kind]],
                      "not": {"anyOf": [{"required": [k]} for k in NUMBERS
                                        if k not in REQUIRED[kind] + OPTIONAL[kind]]}}}
            for kind in DIST_KINDS
        ]},
    )

    dist: DistKind = Field(description="triangular (low, mode, high), uniform (low, high), normal (mean, sd), "
                                       "lognormal (mean, sd of the variable), beta (mean, sd on [0, 1] or [low, high])")
    low: _Finite | None = Field(None, description="Lowest value (normal, lognormal, beta: a truncation)")
    mode: _Finite | None = Field(None, description="Triangular: the most likely value (the point value)")
    high: _Finite | None = Field(None, description="Highest value (normal, lognormal, beta: a truncation)")
    mean: _Finite | None = Field(None, description="Normal, lognormal, beta: the mean (the point value)")
    sd: _Finite | None = Field(None, description="Normal, lognormal, beta: the standard deviation of the variable")
    source: str = Field("", description="Where the range comes from (a citation, or [A] for this scenario's assumption)")

    @model_validator(mode="after")
    def _parameters(self) -> Distribution:
        kind = self.dist
        given = {k for k in NUMBERS if getattr(self, k) is not None}
        missing = [k for k in REQUIRED[kind] if k not in given]
        if missing:
            raise ValueError(f"a {kind} distribution needs {' and '.join(repr(k) for k in missing)}")
        extra = sorted(given - set(REQUIRED[kind]) - set(OPTIONAL[kind]), key=NUMBERS.index)
        if extra:
            raise ValueError(f"{' and '.join(repr(k) for k in extra)} does not apply to a {kind} distribution")
        lo, hi = self.low, self.high
        if kind == "triangular":
            if not lo <= self.mode <= hi:
                raise ValueError(f"a triangular distribution needs low <= mode <= high (got low {lo}, mode {self.mode}, "
                                 f"high {hi})")
            return self
        if kind == "uniform":
            if lo > hi:
                raise ValueError(f"a uniform distribution needs low <= high (got low {lo}, high {hi})")
            return self
        if self.sd <= 0:
            raise ValueError(f"a {kind} distribution needs sd > 0 (got {self.sd}); for a fixed number write the number")
        if kind == "beta":
            lo = 0.0 if lo is None else lo
            hi = 1.0 if hi is None else hi
        if lo is not None and hi is not None and lo >= hi:
            raise ValueError(f"a {kind} distribution needs low < high (got low {lo}, high {hi})")
        if (lo is not None and self.mean < lo) or (hi is not None and self.mean > hi):
            raise ValueError(f"the mean {self.mean} lies outside low/high [{lo}, {hi}]")
        if kind == "lognormal":
            if self.mean <= 0:
                raise ValueError(f"a lognormal distribution needs mean > 0 (got {self.mean}); use a normal or a "
                                 "triangular for a number that can be zero or negative")
            if lo is not None and lo < 0:
                raise ValueError(f"a lognormal distribution is positive: low must be >= 0 (got {lo})")
        if kind == "beta":
            if not lo < self.mean < hi:
                raise ValueError(f"a beta distribution needs low < mean < high (got mean {self.mean} on [{lo}, {hi}])")
            limit = math.sqrt((self.mean - lo) * (hi - self.mean))
            if self.sd >= limit:
                raise ValueError(f"a beta distribution with mean {self.mean} on [{lo}, {hi}] needs sd < {limit:.4g} "
                                 f"(got {self.sd})")
        return self

    @model_serializer(mode="wrap")
    def _written_fields_only(self, handler: SerializerFunctionWrapHandler) -> dict:
        """Dumped as written: the kind's own fields (no nulls for the others), the source only when given."""
        return {k: v for k, v in handler(self).items() if v is not None and not (k == "source" and v == "")}

    @property
    def point(self) -> float:
        """The value ordinary runs use: the mode (triangular), midpoint (uniform) or the mean as written."""
        if self.dist == "triangular":
            return self.mode
        if self.dist == "uniform":
            return self.low if self.low == self.high else (self.low + self.high) / 2
        return self.mean

    def support(self) -> tuple[float, float]:
        """The smallest interval holding every value (before a field's own bounds truncate it)."""
        if self.dist in ("triangular", "uniform"):
            return self.low, self.high
        if self.dist == "beta":
            return (0.0 if self.low is None else self.low), (1.0 if self.high is None else self.high)
        lo = self.low if self.low is not None else (0.0 if self.dist == "lognormal" else -math.inf)
        return lo, (self.high if self.high is not None else math.inf)


class Correlation(BaseModel):
    """A group of assumptions drawn with the same rank (Spearman) correlation between every pair."""

    model_config = _CONFIG

    parameters: list[str] = Field(min_length=2, description="Assumption paths (each must be an assumption)")
    rho: float = Field(gt=-1, lt=1, allow_inf_nan=False, strict=True, description="Rank correlation between every pair, in (-1, 1)")


class Uncertainty(BaseModel):
    """What `spc decide` varies and how: the assumptions (filled from inline distributions) and the design."""

    model_config = _CONFIG

    draws: int = Field(64, ge=1, le=100_000, strict=True, description="Default number of draws of the assumptions for `spc decide`")
    replications: int = Field(2, ge=1, le=1000, strict=True, description="Default replications per draw and strategy")
    design: Literal["sobol", "lhs"] = Field("sobol", description="Space-filling design: scrambled Sobol or Latin hypercube")
    correlate: list[Correlation] = Field(default_factory=list, description="Gaussian-copula rank correlation groups")
    assumptions: dict[str, Distribution] = Field(
        default_factory=dict,
        description="Distribution of each uncertain parameter by path; the loader fills it from inline distributions",
    )


# --- where a distribution may stand --------------------------------------------------------------------

SECTIONS = ("metadata", "employees", "service", "costs")
_EXCLUDED = {
    "metadata": {"horizon_months", "step_days", "period_days"},  # modelling choices, not assumptions
    "nodes": {"min", "max"},  # bounds of a variable, not a number about the world
    "initiatives": {"start_month", "duration_months"},  # the plan itself: a decision, not an assumption
}
EFFECT_OPERATIONS = ("set", "add", "scale")


@cache
def _models() -> dict[str, type[BaseModel]]:
    from simulator.scenario import models as m

    return {"metadata": m.Metadata, "employees": m.Employees, "service": m.Service, "costs": m.Costs,
            "segments": m.Segment, "links": m.Link, "nodes": m.Node, "activities": m.Activity,
            "initiatives": m.Initiative, "effects": m.Effect}


def _is_numeric(annotation: Any) -> bool:
    if annotation in (int, float):
        return True
    args = [a for a in getattr(annotation, "__args__", ()) or () if a is not type(None)]
    return bool(args) and all(_is_numeric(getattr(a, "__origin__", a)) for a in args)


@cache
def parameter_fields() -> dict[str, tuple[str, ...]]:
    """Fields that may hold a distribution, by kind of owner (a section, or segments, links, nodes, ...)."""
    out: dict[str, tuple[str, ...]] = {}
    for owner, model in _models().items():
        out[owner] = tuple(name for name, f in model.model_fields.items()
                           if _is_numeric(f.annotation) and name not in _EXCLUDED.get(owner, set()))
    out["effects"] = EFFECT_OPERATIONS
    return out


def owner_and_field(path: str) -> tuple[str, str] | None:
    """(kind of owner, field) of a parameter path if a distribution may stand there, else None."""
    parts = path.split(".")
    fields = parameter_fields()
    if parts[0] == "initiatives" and len(parts) == 5 and parts[2] == "effects" and parts[3].isdigit():
        owner, name = "effects", parts[4]
    elif parts[0] in SECTIONS and len(parts) == 2:
        owner, name = parts
    elif parts[0] in ("segments", "activities", "initiatives") and len(parts) == 3:
        owner, name = parts[0], parts[2]
    elif parts[0] in ("links", "nodes") and len(parts) >= 3:
        owner, name = parts[0], parts[-1]
    else:
        return None
    return (owner, name) if name in fields.get(owner, ()) else None


def path_at(data: dict, loc: tuple) -> str | None:
    """The parameter path of the number at `loc` in scenario data, or None where no parameter applies.

    ("network", "links", 3, "effect") -> "links.a->b.effect"; ("initiatives", 0, "effects", 1, "add") ->
    "initiatives.NAME.effects.1.add". An item without a usable name gives "" (validation reports the name).
    """
    def name_of(items: Any, i: Any, *keys: str) -> str:
        try:
            values = [items[i][k] for k in keys]
        except (KeyError, IndexError, TypeError):
            return ""
        return "->".join(values) if all(isinstance(v, str) and v for v in values) else ""

    fields = parameter_fields()
    n = len(loc)
    if n == 2 and loc[0] in SECTIONS:
        return f"{loc[0]}.{loc[1]}" if loc[1] in fields[loc[0]] else None
    if n == 3 and loc[0] in ("segments", "activities", "initiatives") and isinstance(loc[1], int):
        if loc[2] not in fields[loc[0]]:
            return None
        name = name_of(data.get(loc[0]), loc[1], "name")
        return f"{loc[0]}.{name}.{loc[2]}" if name else ""
    if n == 4 and loc[0] == "network" and loc[1] in ("links", "nodes") and isinstance(loc[2], int):
        owner = loc[1]
        if loc[3] not in fields[owner]:
            return None
        items = (data.get("network") or {}).get(owner)
        name = name_of(items, loc[2], "from", "to") if owner == "links" else name_of(items, loc[2], "name")
        return f"{owner}.{name}.{loc[3]}" if name else ""
    if (n == 5 and loc[0] == "initiatives" and isinstance(loc[1], int) and loc[2] == "effects"
            and isinstance(loc[3], int) and loc[4] in EFFECT_OPERATIONS):
        name = name_of(data.get("initiatives"), loc[1], "name")
        return f"initiatives.{name}.effects.{loc[3]}.{loc[4]}" if name else ""
    return None


# --- field bounds ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bounds:
    """What a field accepts: [lo, hi] (an open end excludes the bound itself) and whether it is a whole number."""

    lo: float = -math.inf
    hi: float = math.inf
    lo_open: bool = False
    hi_open: bool = False
    integer: bool = False

    def clip(self, value: float) -> float | int:
        lo = math.nextafter(self.lo, math.inf) if self.lo_open else self.lo
        hi = math.nextafter(self.hi, -math.inf) if self.hi_open else self.hi
        value = min(max(value, lo), hi)
        if self.integer:
            whole = math.floor(value + 0.5)  # half up, as people round
            return int(whole if lo <= whole <= hi else (math.ceil(lo) if whole < lo else math.floor(hi)))
        return value

    def below(self, value: float) -> bool:
        return value < self.lo

    def above(self, value: float) -> bool:
        return value > self.hi

    def text(self) -> str:
        left = "(" if self.lo_open else "["
        right = ")" if self.hi_open else "]"
        return f"{left}{_num(self.lo)}, {_num(self.hi)}{right}"

    @property
    def bounded(self) -> bool:
        return math.isfinite(self.lo) or math.isfinite(self.hi)


def _num(x: float) -> str:
    return "-inf" if x == -math.inf else "inf" if x == math.inf else f"{x:g}"


@cache
def field_bounds(path: str) -> Bounds:
    """The bounds a parameter path's field accepts, read from the pydantic model's constraints (as paths.bounds)."""
    import annotated_types as at

    where = owner_and_field(path)
    if where is None:
        return Bounds()
    owner, name = where
    field = _models()[owner].model_fields.get(name)
    if field is None:
        return Bounds()
    metadata = list(field.metadata)
    for arg in getattr(field.annotation, "__args__", ()) or ():
        metadata += list(getattr(arg, "__metadata__", ()))
    lo, hi, lo_open, hi_open = -math.inf, math.inf, False, False
    for meta in metadata:
        for c in (meta, *(getattr(meta, "metadata", ()) or ())):
            if isinstance(c, at.Ge) and float(c.ge) >= lo:
                lo, lo_open = float(c.ge), False
            elif isinstance(c, at.Gt) and float(c.gt) >= lo:
                lo, lo_open = float(c.gt), True
            elif isinstance(c, at.Le) and float(c.le) <= hi:
                hi, hi_open = float(c.le), False
            elif isinstance(c, at.Lt) and float(c.lt) <= hi:
                hi, hi_open = float(c.lt), True
    return Bounds(lo, hi, lo_open, hi_open, field.annotation is int)


def point_value(path: str, dist: Distribution) -> float | int:
    """The number an ordinary run uses for `path` (whole-number fields get a whole number)."""
    value = dist.point
    return int(math.floor(value + 0.5)) if field_bounds(path).integer else value


# --- extraction (the loader's step between merging and validation) --------------------------------------

Report = Callable[[tuple, str, str], None]
"""report(location in the data, message, hint): how extraction hands a problem to the loader."""


def inline_distributions(value: Any, loc: tuple = ()) -> Iterator[tuple[tuple, dict]]:
    """Every mapping with a `dist` key, by location, outside uncertainty.assumptions."""
    if isinstance(value, dict):
        if "dist" in value:
            yield loc, value
            return
        for key, child in value.items():
            if loc == ("uncertainty",) and key == "assumptions":
                continue
            yield from inline_distributions(child, loc + (key,))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from inline_distributions(child, loc + (i,))


def validate_distribution(raw: Any, loc: tuple, report: Report) -> Distribution | None:
    """A Distribution, or None after reporting each problem (with a hint showing the kind's form)."""
    where = ".".join(str(p) for p in loc) or "(top level)"
    if not isinstance(raw, dict):
        report(loc, f"{where}: a distribution is a mapping (got {type(raw).__name__})",
               "for example {dist: triangular, low: 0.05, mode: 0.1, high: 0.16}")
        return None
    try:
        return Distribution.model_validate(raw)
    except ValidationError as exc:
        kind = raw.get("dist")
        form = FORMS.get(kind) if isinstance(kind, str) else None
        hint = f"write {form}" if form else "dist is one of: " + ", ".join(DIST_KINDS)
        for err in exc.errors():
            sub = tuple(err["loc"])
            if err["type"] == "literal_error" and sub == ("dist",):
                from simulator.errors import closest

                report(loc + sub, f"{where}: unknown distribution '{kind}'", closest(str(kind), DIST_KINDS) or hint)
            elif err["type"] == "extra_forbidden":
                from simulator.errors import closest

                allowed = ("dist", *(REQUIRED.get(kind, NUMBERS)), *(OPTIONAL.get(kind, ())), "source")
                report(loc + sub, f"{where}: unknown key '{sub[-1]}' in a distribution",
                       closest(str(sub[-1]), allowed) or hint)
            else:
                msg = err["msg"].removeprefix("Value error, ")
                field = f" '{sub[-1]}'" if sub else ""
                got = err.get("input")
                shown = f" (got {got!r})" if sub and not isinstance(got, (dict, list)) else ""
                report(loc + sub, f"{where}:{field} {msg[0].lower() + msg[1:]}{shown}", hint)
        return None


def extract(data: dict, report: Report, apply_recorded: bool,
            file_of: Callable[[tuple], str] | None = None) -> tuple[dict, dict[str, tuple]]:
    """Replace every inline distribution in `data` (in place) by its point value and record it under
    uncertainty.assumptions; returns (data, {path: location the distribution was written at}).

    `apply_recorded`: also set each parameter named in a written `uncertainty.assumptions` to its point
    value (a file: ordinary runs use the point value; not for a worker's data, which holds drawn values).
    A distribution written in `uncertainty.assumptions` wins over an inline one at the same parameter
    written in another file (a child changing its base's range by path); in the same file
    (`file_of(location)` equal) the two are an error.
    """
    from simulator.errors import UsageError
    from simulator.scenario.paths import with_values

    unc = data.get("uncertainty")
    written = unc.get("assumptions") if isinstance(unc, dict) else None
    written = written if isinstance(written, dict) else {}
    found: dict[str, dict] = {}
    where: dict[str, tuple] = {}
    for loc, raw in list(inline_distributions(data, ())):
        path = path_at(data, loc)
        if path is None:
            dotted = ".".join(str(p) for p in loc)
            report(loc, f"{dotted}: a distribution is not allowed here",
                   "distributions go on numbers a path can name: section fields, segment, link, node, activity and "
                   "initiative numbers and initiative effect sizes, not names, bounds, horizons, seeds or targets")
            continue
        dist = validate_distribution(raw, loc, report)
        if dist is None:
            continue
        direct = ("uncertainty", "assumptions", path)
        if path and path in written and (file_of is None or file_of(direct) == file_of(loc)):
            report(direct, f"uncertainty.assumptions: '{path}' is also written as a distribution at the parameter",
                   "write each distribution once")
            continue
        _set(data, loc, _as_written(point_value(path, dist) if path else dist.point, raw, dist))
        if path in written:
            continue  # overridden by the one written by path in a child file
        if path and path in found:
            continue  # a duplicate (e.g. two links a->b): reported by the cross-check
        if path:
            found[path] = raw
            where[path] = loc
    if apply_recorded:
        for path, raw in written.items():
            loc = ("uncertainty", "assumptions", path)
            dist = validate_distribution(raw, loc, report)
            if dist is None or owner_and_field(path) is None:
                continue
            try:
                updated = with_values(data, {path: point_value(path, dist)})
            except (UsageError, KeyError, TypeError, AttributeError, IndexError, ValueError):
                continue  # an unknown path: reported by the cross-check, with its position
            data.clear()
            data.update(updated)
    if found:
        section = data.setdefault("uncertainty", {})
        if isinstance(section, dict) and isinstance(section.setdefault("assumptions", {}), dict):
            section["assumptions"] = {**found, **section["assumptions"]}
    return data, where


def _as_written(value: float | int, raw: dict, dist: Distribution) -> float | int:
    """The point value as the file wrote it (4 stays 4, not 4.0), so the data equals the plain-number file's."""
    written = raw.get({"triangular": "mode", "uniform": "low"}.get(dist.dist, "mean"))
    return written if type(written) in (int, float) and written == value else value


def _set(data: Any, loc: tuple, value: Any) -> None:
    for part in loc[:-1]:
        data = data[part]
    data[loc[-1]] = value


# --- editing: a number set by hand is no longer uncertain -----------------------------------------------


def fix_parameters(data: dict, fixed: Iterable[str]) -> dict:
    """`data` (changed in place) with the given paths made plain numbers: their recorded distributions
    dropped, and dropped from correlation groups (a group left with one parameter goes). As a child file
    that writes a plain number over a base's distribution."""
    unc = data.get("uncertainty")
    if not isinstance(unc, dict) or not isinstance(unc.get("assumptions"), dict):
        return data
    gone = {p for p in fixed if p in unc["assumptions"]}
    for path in gone:
        del unc["assumptions"][path]
    if gone and isinstance(unc.get("correlate"), list):
        unc["correlate"] = pruned_correlate(unc["correlate"], gone)
    return data


def pruned_correlate(groups: list, gone: set[str]) -> list:
    out = []
    for group in groups:
        kept = [p for p in group["parameters"] if p not in gone]
        if len(kept) >= 2:
            out.append({**group, "parameters": kept})
    return out


def inline(data: dict, item_path: str, value: Any) -> Any:
    """`value` (data found at `item_path`, e.g. an initiative's effects list) with each number that has a
    recorded distribution written as that distribution again: how an override file keeps them."""
    recorded = (data.get("uncertainty") or {}).get("assumptions") or {}

    def walk(v: Any, path: str) -> Any:
        if path in recorded:
            return dict(recorded[path])
        if isinstance(v, dict):
            return {k: walk(x, f"{path}.{k}") for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x, f"{path}.{i}") for i, x in enumerate(v)]
        return v

    return walk(value, item_path)


# --- cross-checks on a validated scenario --------------------------------------------------------------


def check(scenario: Any, add: Callable[[tuple, str, str], None]) -> None:
    """Assumptions name parameters that exist, fit their fields' bounds; correlation groups are consistent."""
    from simulator.errors import UsageError, closest
    from simulator.scenario.paths import get_value

    unc: Uncertainty = scenario.uncertainty
    if not unc.assumptions and not unc.correlate:
        return
    data = scenario.as_data()
    for path, dist in unc.assumptions.items():
        loc = ("uncertainty", "assumptions", path)
        if owner_and_field(path) is None:
            add(loc, f"uncertainty.assumptions: '{path}' is not a parameter an assumption can vary",
                "a path like links.FROM->TO.effect, segments.NAME.churn_per_month or initiatives.NAME.effects.0.add")
            continue
        try:
            get_value(data, path)
        except UsageError as exc:
            add(loc, f"uncertainty.assumptions: {exc}", "")
            continue
        except (KeyError, TypeError, AttributeError, IndexError, ValueError):
            add(loc, f"uncertainty.assumptions: '{path}' is not a parameter of this scenario", "")
            continue
        bounds = field_bounds(path)
        lo, hi = dist.support()
        implicit = dist.dist == "beta" and (dist.low is None or dist.high is None)
        kept = dist.dist in ("normal", "lognormal")  # unbounded ends are truncated at the field's bounds
        low_bad = bounds.below(lo) and not (kept and dist.low is None)
        high_bad = bounds.above(hi) and not (kept and dist.high is None)
        if low_bad or high_bad:
            end = "low" if low_bad else "high"
            value = lo if low_bad else hi
            add(loc + ((end,) if not implicit else ()),
                f"{path}: the distribution's {end} {value:g} is outside what the field accepts {bounds.text()}",
                "give low/high within the field's bounds" if implicit else f"move {end} inside {bounds.text()}")
            continue
        owner, name = owner_and_field(path)
        if owner == "nodes" and name in ("reference", "initial"):
            node = scenario.node(".".join(path.split(".")[1:-1]))
            nlo = -math.inf if node is None or node.min is None else node.min
            nhi = math.inf if node is None or node.max is None else node.max
            if lo < nlo or hi > nhi:
                add(loc, f"{path}: the distribution reaches [{_num(lo)}, {_num(hi)}], outside the node's bounds "
                         f"[{_num(nlo)}, {_num(nhi)}]", "give low/high within the node's min and max")
    paths = list(unc.assumptions)
    pairs: dict[frozenset, int] = {}
    for i, group in enumerate(unc.correlate):
        loc = ("uncertainty", "correlate", i)
        for j, p in enumerate(group.parameters):
            if p not in unc.assumptions:
                try:
                    get_value(data, p)
                    hint = "only a parameter written as a distribution can be correlated; this one is a number"
                except (UsageError, KeyError, TypeError, AttributeError, IndexError, ValueError):
                    hint = closest(p, paths) or "correlate only parameters written as distributions"
                add(loc + ("parameters", j), f"uncertainty.correlate: '{p}' is not an assumption", hint)
        if len(set(group.parameters)) != len(group.parameters):
            add(loc + ("parameters",), "uncertainty.correlate: a parameter is listed twice in one group", "")
        for a in group.parameters:
            for b in group.parameters:
                if a < b:
                    key = frozenset((a, b))
                    if key in pairs and pairs[key] != i:
                        add(loc, f"uncertainty.correlate: {a} and {b} are correlated in two groups",
                            "give each pair one rho")
                    pairs.setdefault(key, i)
    if unc.correlate and not _positive_definite(unc):
        add(("uncertainty", "correlate"), "uncertainty.correlate: the correlations are inconsistent "
            "(their matrix is not positive definite)", "lower the rhos, or a negative rho in a group of three or more")


def correlation_matrix(order: list[str], correlate: Any) -> Any:
    """The normal-score (Pearson) correlation matrix over `order` giving each group its rank correlation rho:
    for a Gaussian copula, Spearman's rho = (6/pi) asin(r/2), so r = 2 sin(pi rho / 6)."""
    import numpy as np

    index = {p: i for i, p in enumerate(order)}
    matrix = np.eye(len(order))
    for group in correlate:
        params = group["parameters"] if isinstance(group, dict) else group.parameters
        rho = group["rho"] if isinstance(group, dict) else group.rho
        r = 2 * math.sin(math.pi * float(rho) / 6)
        for a in params:
            for b in params:
                if a != b and a in index and b in index:
                    matrix[index[a], index[b]] = r
    return matrix


def _positive_definite(unc: Uncertainty) -> bool:
    import numpy as np

    order = sorted({p for g in unc.correlate for p in g.parameters})
    try:
        np.linalg.cholesky(correlation_matrix(order, unc.correlate))
    except np.linalg.LinAlgError:
        return False
    return True
