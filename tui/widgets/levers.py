"""The lever panel: the scenario's levers and every initiative's timing, cost and effects, edited in place.

Typing parses the number at once (a bad one is marked and explained, nothing runs); a good one is posted
as `LeverEdited` and the app validates the whole scenario before re-running.
"""

from __future__ import annotations

import dataclasses

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Input, Label, Static

from simulator.analysis.units import humanise, label_of, names_of
from simulator.errors import UsageError
from simulator.scenario.levers import Lever, parse_value
from tui.messages import LeverEdited


def shown(value: float | None) -> str:
    if value is None:
        return ""
    return f"{int(value)}" if float(value).is_integer() else f"{value:g}"


# short, so that most fit the panel's label column on one line (money is in the scenario's currency)
STAFF = {"headcount": "Headcount (FTE)", "annual_salary": "Annual salary", "annual_quit_rate": "Quit rate/year",
         "hiring_lag_days": "Hiring lag (d)"}
TIMING = {"start_month": "Start month", "ramp_months": "Ramp (months)", "duration_months": "Duration (months)",
          "one_off_cost": "One-off cost", "monthly_cost": "Monthly cost"}
# the operation first, so that it never wraps onto a line of its own: '+ Training hours  24' adds 24 hours
OPERATION = {"add": "+ {target}", "scale": "× {target}", "set": "= {target}"}  # + adds, × scales, = sets it to


def effect_target(scenario, effect) -> str:
    """What an initiative's effect acts on, as people read it: a lever's label ('Training hours'), a link as
    'cause → effect' in node labels, a segment parameter as 'Segment: parameter'."""
    if effect.lever is not None:
        node = scenario.node(effect.lever)
        return label_of(node) if node is not None else humanise(effect.lever)
    if effect.link is not None:
        ends = [scenario.node(n.strip()) for n in effect.link.split("->")]
        return " → ".join(label_of(node) if node is not None else humanise(n)
                          for node, n in zip(ends, effect.link.split("->"), strict=True))
    segments = names_of(scenario.segments)
    return f"{segments.get(effect.segment, humanise(effect.segment))}: {humanise(effect.parameter)}"


def labelled(levers: list[Lever], scenario) -> list[Lever]:
    """The levers with the names people read (labels of nodes, links, segments, initiatives and strategies) instead
    of identifiers; each keeps its path, which is what a file says (the input's tooltip). An effect's label starts
    with its operation: + (adds), × (scales), = (sets it to)."""
    if scenario is None:
        return levers
    initiatives = {i.name: i for i in scenario.initiatives}
    strategies = names_of(scenario.strategies)
    used: dict[str, list[str]] = {}
    for strategy in scenario.strategies:
        for name in strategy.initiatives:
            used.setdefault(name, []).append(strategies[strategy.name])
    out = []
    for lever in levers:
        parts = lever.path.split(".")
        label, group = lever.label, lever.group
        if parts[0] == "employees":
            label, group = STAFF.get(parts[1], humanise(parts[1])), "Staffing"
        elif parts[0] == "initiatives" and parts[1] in initiatives:
            ini = initiatives[parts[1]]
            group = f"{label_of(ini)} — in {', '.join(used.get(ini.name, ['no strategy']))}"
            if parts[2] == "effects":
                label = OPERATION[parts[4]].format(target=effect_target(scenario, ini.effects[int(parts[3])]))
            else:
                label = TIMING.get(parts[2], humanise(parts[2]))
        out.append(dataclasses.replace(lever, label=label, group=group))
    return out


class LeverPanel(VerticalScroll):
    """Inputs grouped by owner; ids are positional because paths hold characters ids cannot."""

    BINDINGS = [Binding("escape", "leave", "Done editing")]  # letters type into inputs; esc gives keys back

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.levers: dict[str, Lever] = {}

    def compose(self) -> ComposeResult:
        yield Static("Levers", classes="panel-title")
        yield Static("", id="lever-error")

    def waiting(self, text: str) -> None:
        """A line in place of the inputs until `show_levers` builds them (after the first run)."""
        for child in list(self.children)[2:]:
            child.remove()
        self.mount(Static(text, classes="lever-wait"))

    def show_levers(self, levers: list[Lever], values: dict[str, float | None], scenario=None) -> None:
        """One input per lever, grouped; with the `scenario`, named by its labels rather than identifiers."""
        for child in list(self.children)[2:]:
            child.remove()
        self.levers = {}
        group = None
        widgets = []
        named = scenario is not None
        for i, lever in enumerate(labelled(levers, scenario)):
            if lever.group != group:
                group = lever.group
                widgets.append(Label(group if named else humanise(group), classes="lever-group"))
            value = values.get(lever.path, lever.value)
            ident = f"lever-{i}"
            self.levers[ident] = lever
            # words, so a long name wraps at its spaces instead of being cut ("+ Internal service quality")
            widgets.append(Horizontal(Label(lever.label if named else humanise(lever.label), classes="lever-label"),
                                      Input(shown(value), id=ident, classes="lever-input", tooltip=lever.path,
                                            compact=True),
                                      classes="lever-row"))
        self.mount_all(widgets)
        self.query_one("#lever-error", Static).display = False

    def action_leave(self) -> None:
        self.app.set_focus(None)

    def on_input_changed(self, event: Input.Changed) -> None:
        lever = self.levers.get(event.input.id or "")
        if lever is None:
            return
        event.stop()
        try:
            value = parse_value(lever, event.value)
        except UsageError as exc:
            self.mark(lever.path, str(exc))
            return
        self.mark(lever.path, None)
        self.post_message(LeverEdited(lever.path, value, lever.value))

    def input_for(self, path: str) -> Input | None:
        for ident, lever in self.levers.items():
            if lever.path == path:
                return self.query_one(f"#{ident}", Input)
        return None

    def mark(self, path: str, error: str | None) -> None:
        """Flag a lever as invalid (with the reason under the title) or clear it."""
        box = self.input_for(path)
        if box is not None:
            box.set_class(error is not None, "-invalid")
        box = self.query_one("#lever-error", Static)
        box.update(f"[b red]{error}[/]" if error else "")
        box.display = error is not None
