"""The run line: replications done, what the tables are over, elapsed time, and a progress bar."""

from __future__ import annotations

from textual.app import ComposeResult, RenderResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import ProgressBar

from tui.snapshot import RunSnapshot


class RunLine(Widget):
    """One line of text that repaints without a layout pass (Static.update re-lays out the whole screen,
    which, once per replication, cost more than everything else the app does while a run streams)."""

    text: reactive[str] = reactive("No run yet", layout=False)

    def render(self) -> RenderResult:
        return self.text


class RunStatus(Horizontal):
    def __init__(self, *, timings: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.timings = timings

    def compose(self) -> ComposeResult:
        yield RunLine(id="run-text")
        yield ProgressBar(total=1, show_eta=False, show_percentage=False, id="run-progress")

    def show(self, snap: RunSnapshot, state: str) -> None:
        if not self.is_attached or not self.children:  # a run's last message can arrive while the app shuts down
            return
        reps = f"{snap.complete}/{snap.replications} replications" if snap.analysis else "first replication…"
        timing = f" · {snap.elapsed:.1f} s" if self.timings else ""
        self.query_one(RunLine).text = f"{state}: {snap.done}/{snap.total} runs · {reps}{timing}"
        self.query_one(ProgressBar).update(total=snap.total, progress=snap.done)

    def message(self, text: str) -> None:
        if not self.is_attached or not self.children:
            return
        self.query_one(RunLine).text = text
