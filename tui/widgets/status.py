"""The run line: replications done, what the tables are over, elapsed time, and a progress bar."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import ProgressBar, Static

from tui.snapshot import RunSnapshot


class RunStatus(Horizontal):
    def __init__(self, *, timings: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.timings = timings

    def compose(self) -> ComposeResult:
        yield Static("No run yet", id="run-text")
        yield ProgressBar(total=1, show_eta=False, show_percentage=False, id="run-progress")

    def show(self, snap: RunSnapshot, state: str) -> None:
        reps = f"{snap.complete}/{snap.replications} replications" if snap.analysis else "first replication…"
        timing = f" · {snap.elapsed:.1f} s" if self.timings else ""
        self.query_one("#run-text", Static).update(f"{state}: {snap.done}/{snap.total} runs · {reps}{timing}")
        bar = self.query_one(ProgressBar)
        bar.update(total=snap.total, progress=snap.done)

    def message(self, text: str) -> None:
        self.query_one("#run-text", Static).update(text)
