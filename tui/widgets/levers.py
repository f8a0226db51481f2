"""The lever panel: the scenario's levers and every initiative's timing, cost and effects, edited in place.

Typing parses the number at once (a bad one is marked and explained, nothing runs); a good one is posted
as `LeverEdited` and the app validates the whole scenario before re-running.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Input, Label, Static

from simulator.analysis.units import humanise
from simulator.errors import UsageError
from simulator.scenario.levers import Lever, parse_value
from tui.messages import LeverEdited


def shown(value: float | None) -> str:
    if value is None:
        return ""
    return f"{int(value)}" if float(value).is_integer() else f"{value:g}"


class LeverPanel(VerticalScroll):
    """Inputs grouped by owner; ids are positional because paths hold characters ids cannot."""

    BINDINGS = [Binding("escape", "leave", "Done editing")]  # letters type into inputs; esc gives keys back

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.levers: dict[str, Lever] = {}

    def compose(self) -> ComposeResult:
        yield Static("Levers", classes="panel-title")
        yield Static("", id="lever-error")

    def show_levers(self, levers: list[Lever], values: dict[str, float | None]) -> None:
        for child in list(self.children)[2:]:
            child.remove()
        self.levers = {}
        group = None
        widgets = []
        for i, lever in enumerate(levers):
            if lever.group != group:
                group = lever.group
                widgets.append(Label(humanise(group), classes="lever-group"))
            value = values.get(lever.path, lever.value)
            ident = f"lever-{i}"
            self.levers[ident] = lever
            # humanised, so a long name wraps at its spaces instead of being cut ("annual quit rate")
            widgets.append(Horizontal(Label(humanise(lever.label), classes="lever-label"),
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
