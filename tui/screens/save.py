"""Save the edited scenario as a new file that extends the original and holds only the changes."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class SaveScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, suggestion: str, changes: int) -> None:
        super().__init__()
        self.suggestion = suggestion
        self.changes = changes

    def compose(self) -> ComposeResult:
        with Vertical(id="save"):
            yield Static(f"Save {self.changes} change{'s' if self.changes != 1 else ''} as a new scenario "
                         "(an extends: of the original)  [dim]enter saves · esc cancels[/]", classes="panel-title")
            yield Input(self.suggestion, id="save-path")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)
