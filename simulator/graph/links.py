"""Link functions, by form name: a registry of plain functions, never `eval`.

Each returns the contribution a source value `x` makes to the target's deviation from its reference.
All forms give 0 when the source sits at its reference, so a network at rest stays at rest.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass

from simulator.scenario.models import Link


@dataclass(frozen=True)
class LinkFunction:
    """A compiled link: `contribution(x, effect)` with the reference values baked in."""

    link_id: str
    form: str
    x_ref: float
    y_ref: float
    scale: float
    xs: tuple[float, ...] = ()
    ys: tuple[float, ...] = ()

    def contribution(self, x: float, effect: float) -> float:
        return FORMS[self.form](self, x, effect)

    @property
    def monotone_sign(self) -> int:
        """+1 if the contribution rises with x for a positive effect, -1 if it falls, 0 if neither."""
        if self.form != "table":
            return 1
        slopes = [b - a for a, b in zip(self.ys, self.ys[1:], strict=False)]
        if all(s >= 0 for s in slopes) and any(s > 0 for s in slopes):
            return 1
        if all(s <= 0 for s in slopes) and any(s < 0 for s in slopes):
            return -1
        return 0


def _linear(f: LinkFunction, x: float, effect: float) -> float:
    return effect * (x - f.x_ref)


def _elasticity(f: LinkFunction, x: float, effect: float) -> float:
    ratio = max(x, 1e-12) / f.x_ref if f.x_ref > 0 else 1.0
    return f.y_ref * (ratio**effect - 1.0)


def _saturating(f: LinkFunction, x: float, effect: float) -> float:
    return effect * math.tanh((x - f.x_ref) / f.scale)


def _interp(xs: tuple[float, ...], ys: tuple[float, ...], x: float) -> float:
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    i = bisect_right(xs, x)
    x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def _table(f: LinkFunction, x: float, effect: float) -> float:
    return effect * (_interp(f.xs, f.ys, x) - _interp(f.xs, f.ys, f.x_ref))


FORMS: dict[str, Callable[[LinkFunction, float, float], float]] = {
    "linear": _linear,
    "elasticity": _elasticity,
    "saturating": _saturating,
    "table": _table,
}


def compile_link(link: Link, x_ref: float, y_ref: float) -> LinkFunction:
    scale = link.scale if link.scale is not None else (abs(x_ref) or 1.0)
    xs = tuple(p[0] for p in link.points or ())
    ys = tuple(p[1] for p in link.points or ())
    return LinkFunction(link.id, link.form, x_ref, y_ref, scale, xs, ys)
