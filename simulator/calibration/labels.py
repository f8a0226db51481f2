"""Names a person reads for what a calibration fits and compares: metrics and parameter paths.

A metric of the history is a column of the engine's monthly series: a node of the scenario (its `label` and
`unit`, or the humanised name) or an engine series ('active_customers' -> 'Active customers', in customers).
A parameter path reads by its owner's label and the field: 'segments.mass_retail.churn_per_month' -> 'Mass
retail: churn per month', 'links.employee_satisfaction->service_quality.effect' -> 'Employee satisfaction →
Service quality: effect'. The raw names stay where a person types them (`--fit PATH`, the history file).
"""

from __future__ import annotations

import shlex

from simulator.analysis.units import humanise, label_of, unit_title

FIT_HINT = "The same parameters as --fit options (spc calibrate, spc report --history):"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _by_name(items) -> dict:
    return {item.name: item for item in items or ()}


def metric_label(scenario, metric: str) -> str:
    """'Employee satisfaction', 'Net Promoter Score', 'Active customers'."""
    node = _by_name(scenario.network.nodes).get(metric)
    return _capital(label_of(node) if node is not None else humanise(metric))


def metric_unit(scenario, metric: str) -> str:
    """The metric's unit: the node's own, else the engine series' ('customers', 'score 0-10', the currency)."""
    node = _by_name(scenario.network.nodes).get(metric)
    if node is not None and node.unit:
        return node.unit
    return unit_title(metric, scenario.metadata.currency)


def metric_heading(scenario, metric: str) -> str:
    """'Employee satisfaction (index 0-100)': the label with its unit, for a column of values or a chart."""
    label, unit = metric_label(scenario, metric), metric_unit(scenario, metric)
    return f"{label} ({unit})" if unit and unit.lower() not in label.lower() else label


def parameter_label(scenario, path: str) -> str:
    """A parameter path as a person reads it: the owner's label, then the field (the path when it is unknown)."""
    parts = str(path).split(".")
    field = humanise(parts[-1])
    if parts[0] == "links" and len(parts) >= 3 and "->" in parts[1]:
        nodes = _by_name(scenario.network.nodes)
        ends = [label_of(nodes[n]) if n in nodes else humanise(n) for n in parts[1].split("->", 1)]
        return f"{_capital(ends[0])} → {ends[1]}: {field}"
    owners = {"segments": scenario.segments, "activities": getattr(scenario, "activities", ()),
              "initiatives": scenario.initiatives, "nodes": scenario.network.nodes}
    if parts[0] in owners and len(parts) >= 3:
        item = _by_name(owners[parts[0]]).get(parts[1])
        owner = _capital(label_of(item) if item is not None else humanise(parts[1]))
        if parts[0] == "initiatives" and len(parts) == 5 and parts[2] == "effects" and parts[3].isdigit():
            return f"{owner}: {_effect_target(scenario, item, int(parts[3]))} ({field})"
        return f"{owner}: {field}"
    if len(parts) == 2:
        return f"{_capital(humanise(parts[0]))}: {field}"
    return str(path)


def _effect_target(scenario, initiative, i: int) -> str:
    """What an initiative's i-th effect moves: 'effect on Pay index', 'effect on Mass retail: churn per month'."""
    effects = getattr(initiative, "effects", None) or []
    if not 0 <= i < len(effects):
        return f"effect {i + 1}"
    e = effects[i]
    if e.lever:
        return f"effect on {metric_label(scenario, e.lever)}"
    if e.link:
        return f"effect on {parameter_label(scenario, f'links.{e.link}.effect').rsplit(':', 1)[0]}"
    return f"effect on {parameter_label(scenario, f'segments.{e.segment}.{e.parameter}')}"


def fit_options(paths) -> list[str]:
    """Parameter paths as `--fit` options, quoted for a shell ('links.a->b.effect' holds a '>')."""
    return [f"--fit {shlex.quote(p)}" for p in paths]
