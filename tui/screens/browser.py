"""Scenario browser: every scenario under `scenarios/` (and paths given), with its description and validity."""

from __future__ import annotations

from pathlib import Path

import yaml
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option


def describe(path: Path) -> str:
    """The file's own description (first line), read without validating: the browser must never fail."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")[:200_000])
        meta = (data or {}).get("metadata") or {}
        text = str(meta.get("description") or meta.get("name") or "")
        if not text and data.get("extends"):
            text = f"extends {data['extends']}"
        return " ".join(text.split())[:160]
    except Exception as exc:  # a broken file still gets listed; opening it shows the real errors
        return f"(unreadable: {type(exc).__name__})"


def scenario_files(folders: list[Path]) -> list[Path]:
    seen: dict[Path, None] = {}
    for folder in folders:
        if folder.is_file():
            seen[folder] = None
        elif folder.is_dir():
            for p in sorted(folder.glob("*.y*ml")):
                seen[p] = None
    return list(seen)


class ScenarioBrowser(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Close")]

    def __init__(self, folders: list[Path]) -> None:
        super().__init__()
        self.folders = folders

    def compose(self) -> ComposeResult:
        with Vertical(id="browser"):
            yield Static("Open a scenario  [dim](enter opens · esc closes)[/]", classes="panel-title")
            yield OptionList(id="browser-list")
            yield Input(placeholder="…or type a path and press enter", id="browser-path")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        for path in scenario_files(self.folders):
            options.add_option(Option(f"[b]{path.name}[/b]  [dim]{path.parent}[/]\n  {describe(path)}", id=str(path)))
        if options.option_count:
            options.highlighted = 0
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.dismiss(event.value.strip())
