"""The run line: replications done, what the tables are over, the run's own time, and a progress bar."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import ProgressBar

from tui.snapshot import RunSnapshot


def _reps(snap: RunSnapshot) -> tuple[str, str]:
    """What the tables are over, long and short: complete replications, or that the first is still running."""
    if snap.analysis is None:
        return "first replication…", "1st rep…"
    return f"{snap.complete}/{snap.replications} replications", f"{snap.complete}/{snap.replications} reps"


def status_variants(snap: RunSnapshot, state: str, timings: bool = True,
                    first_recommendation: float | None = None) -> tuple[str, ...]:
    """The run line from most to least detailed, each led by what matters most (state, replications, run time).

    Every figure says what it measures: the run's own time (since this run started, so a re-run after a lever
    edit counts from the edit, not from opening the app), and, for the first run after opening only, when the
    comparison first showed a recommendation (None: it has not, so nothing is claimed)."""
    reps, short = _reps(snap)
    runs = f"{snap.done}/{snap.total} runs"
    if not timings or snap.elapsed <= 0:  # tests and snapshots; a stored run (read, not run here)
        return f"{state}: {runs} · {reps}", f"{state}: {short}"
    took = {"Done": f" in {snap.elapsed:.1f} s", "Cancelled": f" after {snap.elapsed:.1f} s"}.get(
        state, f" · {snap.elapsed:.1f} s elapsed")
    tail = short_tail = ""
    if first_recommendation is not None:
        tail = f" · first recommendation {first_recommendation:.1f} s after opening"
        short_tail = f" · recommendation {first_recommendation:.1f} s after opening"
    return (f"{state}: {runs} · {reps}{took}{tail}", f"{state}: {reps}{took}{short_tail}",
            f"{state}: {short}{took}{short_tail}", f"{state}: {short}{took}", f"{state} {short} {snap.elapsed:.0f} s")


class RunLine(Widget):
    """One line of text that repaints without a layout pass (Static.update re-lays out the whole screen,
    which, once per replication, cost more than everything else the app does while a run streams).

    It holds the line at several lengths and shows the longest that fits its width whole (80 columns leave
    it ~66), so the line is shortened, never cut mid-word."""

    variants: reactive[tuple[str, ...]] = reactive(("No run yet",), layout=False)

    @property
    def text(self) -> str:
        """The most detailed form of the line (what is shown when there is room)."""
        return self.variants[0]

    @text.setter
    def text(self, value: str) -> None:
        self.variants = (value,)

    @property
    def shown(self) -> str:
        """The form that fits the current width (the last, ellipsised, when none does)."""
        width = self.size.width
        if width <= 0:
            return self.variants[0]
        return next((v for v in self.variants if Text(v).cell_len <= width), self.variants[-1])

    def render(self) -> RenderResult:
        return Text(self.shown, no_wrap=True, overflow="ellipsis")


class RunStatus(Horizontal):
    def __init__(self, *, timings: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.timings = timings

    def compose(self) -> ComposeResult:
        yield RunLine(id="run-text")
        yield ProgressBar(total=1, show_eta=False, show_percentage=False, id="run-progress")

    def show(self, snap: RunSnapshot, state: str, first_recommendation: float | None = None) -> None:
        """`first_recommendation`: seconds from opening to the comparison's first recommendation, given for the
        first run after opening only."""
        if not self.is_attached or not self.children:  # a run's last message can arrive while the app shuts down
            return
        self.query_one(RunLine).variants = status_variants(snap, state, self.timings, first_recommendation)
        self.query_one(ProgressBar).update(total=snap.total, progress=snap.done)

    def message(self, text: str) -> None:
        if not self.is_attached or not self.children:
            return
        self.query_one(RunLine).text = text
