"""The lever panel: the scenario's levers and every initiative's timing, cost and effects, listed with their
values; one input edits the highlighted lever.

Typing parses the number at once (a bad one is marked and explained, nothing runs); a good one is posted
as `LeverEdited` and the app validates the whole scenario before re-running.
"""

from __future__ import annotations

import dataclasses

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

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
VALUE_WIDTH = 10  # the column of a lever's value in the list
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


class LeverList(OptionList):
    """The levers as one list: a line (two when the name wraps) per lever with its value, group names between.
    One widget instead of a label, an input and a row per lever (~130 widgets), which every layout pass of the
    screen walked: tab switches were ~10 ms faster with it (see bench/README.md, 2026-11-25, fifth session)."""

    def action_select(self) -> None:
        """Enter or a click: edit the highlighted lever, in the key's own handling, so that the digits typed right
        after it go to the input (a message would arrive after them, and they would switch tabs)."""
        option = self.highlighted_option
        panel = self.parent
        if option is not None and isinstance(panel, LeverPanel) and option.id in panel.levers:
            panel.edit(option.id, focus=True)


class LeverEditor(Input):
    """The input that edits the highlighted lever. Enter hands the keys back to the list at once, in the key's own
    handling, so that a ↓ typed right after it moves to the next lever (a message would arrive after that ↓)."""

    async def action_submit(self) -> None:
        await super().action_submit()
        self.app.set_focus(self.parent.query_one(LeverList) if self.parent else None)


def lever_row(label: str, value: str, error: bool) -> Table:
    """A lever's line: its name (wrapping at spaces) and its value, bold red with a mark when it is invalid."""
    row = Table.grid(expand=True, padding=(0, 1, 0, 0))
    row.add_column(ratio=1, style="dim")
    row.add_column(width=VALUE_WIDTH, no_wrap=True, overflow="ellipsis")
    row.add_row(label, Text(f"{value} ✗" if error else value, style="bold red" if error else ""))
    return row


class LeverPanel(Vertical):
    """The levers in a list and one input that edits the highlighted one. Enter (or a click) on a lever moves to
    its input; typing there checks the number at once; enter goes back to the list, esc gives the keys back to
    the app. Option ids are positional because paths hold characters ids cannot."""

    BINDINGS = [Binding("escape", "leave", "Done editing")]  # letters type into the input; esc gives keys back

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.levers: dict[str, Lever] = {}  # option id -> lever
        self.texts: dict[str, str] = {}  # option id -> the text its value shows (what was last typed)
        self.errors: dict[str, str] = {}  # option id -> why its text is not a valid value
        self.labels: dict[str, str] = {}  # option id -> its name as shown
        self.captions: dict[str, str] = {}  # option id -> what the input's caption calls it ('CRM package: Start month')
        self.editing: str | None = None  # the option id the input edits

    def compose(self) -> ComposeResult:
        yield Static("Levers", classes="panel-title")
        yield Static("", id="lever-error")
        yield LeverList(id="lever-list", compact=True)
        yield Static("", id="lever-editing")
        yield LeverEditor(id="lever-editor", classes="lever-input", compact=True)

    def on_mount(self) -> None:
        self._show_list(False)

    def _show_list(self, shown: bool) -> None:
        for ident in ("#lever-list", "#lever-editing", "#lever-editor"):
            self.query_one(ident).display = shown

    def waiting(self, text: str) -> None:
        """A line in place of the levers until `show_levers` lists them (after the first run)."""
        for child in self.query(".lever-wait"):
            child.remove()
        self._show_list(False)
        self.mount(Static(text, classes="lever-wait"), after=self.query_one("#lever-error"))

    def show_levers(self, levers: list[Lever], values: dict[str, float | None], scenario=None) -> None:
        """One line per lever, grouped; with the `scenario`, named by its labels rather than identifiers."""
        for child in self.query(".lever-wait"):
            child.remove()
        self.levers, self.texts, self.errors, self.labels, self.captions = {}, {}, {}, {}, {}
        self.editing = None
        group = None
        options: list[Option | None] = []  # None: a rule between groups
        named = scenario is not None
        for i, lever in enumerate(labelled(levers, scenario)):
            if lever.group != group:
                if group is not None:
                    options.append(None)
                group = lever.group
                options.append(Option(Text(group if named else humanise(group)), disabled=True))
            ident = f"lever-{i}"
            self.levers[ident] = lever
            self.texts[ident] = shown(values.get(lever.path, lever.value))
            # words, so a long name wraps at its spaces instead of being cut ("+ Internal service quality")
            self.labels[ident] = lever.label if named else humanise(lever.label)
            owner = (group if named else humanise(group)).split(" — in ")[0]  # the initiative, not its strategies
            self.captions[ident] = f"{owner}: {self.labels[ident]}"
            options.append(Option(lever_row(self.labels[ident], self.texts[ident], False), id=ident))
        listing = self.query_one(LeverList)
        listing.clear_options()
        listing.add_options(options)
        self.query_one("#lever-error", Static).display = False
        self._show_list(True)
        first = next(iter(self.levers), None)
        if first is not None:
            self.edit(first)

    def edit(self, ident: str, focus: bool = False) -> None:
        """Highlight lever `ident` and put it in the input (its text, its path as the tooltip) without that counting
        as an edit; with `focus`, move the keys to the input (its text selected, so typing replaces it)."""
        self.editing = ident
        listing = self.query_one(LeverList)
        listing.highlighted = listing.get_option_index(ident)  # (already so when the list's own keys chose it)
        box = self.query_one("#lever-editor", Input)
        with box.prevent(Input.Changed):
            box.value = self.texts[ident]
        box.tooltip = self.levers[ident].path
        box.set_class(ident in self.errors, "-invalid")
        self.query_one("#lever-editing", Static).update(Text(self.captions[ident]))  # not markup
        if focus:
            self.app.set_focus(box)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if event.option.id in self.levers and event.option.id != self.editing:
            self.edit(event.option.id)

    def action_leave(self) -> None:
        self.app.set_focus(None)

    def on_input_changed(self, event: Input.Changed) -> None:
        ident = self.editing
        if event.input.id != "lever-editor" or ident is None:
            return
        event.stop()
        lever = self.levers[ident]
        self.texts[ident] = event.value
        try:
            value = parse_value(lever, event.value)
        except UsageError as exc:
            self.mark(lever.path, str(exc))
            return
        self.mark(lever.path, None)
        self.post_message(LeverEdited(lever.path, value, lever.value))

    def _ident(self, path: str) -> str | None:
        return next((ident for ident, lever in self.levers.items() if lever.path == path), None)

    def input_for(self, path: str) -> Input | None:
        """The input, editing the lever at `path` (highlighted in the list), or None if no lever has that path."""
        ident = self._ident(path)
        if ident is None:
            return None
        self.edit(ident)
        return self.query_one("#lever-editor", Input)

    def mark(self, path: str, error: str | None) -> None:
        """Flag a lever as invalid (its value red, the reason under the title) or clear it."""
        ident = self._ident(path)
        if ident is not None:
            if error is None:
                self.errors.pop(ident, None)
            else:
                self.errors[ident] = error
            self.query_one(LeverList).replace_option_prompt(
                ident, lever_row(self.labels[ident], self.texts[ident], error is not None))
            if ident == self.editing:
                self.query_one("#lever-editor", Input).set_class(error is not None, "-invalid")
        box = self.query_one("#lever-error", Static)
        box.update(f"[b red]{error}[/]" if error else "")
        box.display = error is not None
        self.call_after_refresh(self.query_one(LeverList).scroll_to_highlight)  # the reason took lines of the list
