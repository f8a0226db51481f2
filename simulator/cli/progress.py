"""Progress bars the long-running `spc` commands share (rich, imported only when a bar is shown on a terminal)."""

from __future__ import annotations

import sys


class progress_bar:
    """A rich progress bar (tasks done, rate, ETA) on a terminal; nothing otherwise."""

    def __init__(self, total: int):
        self.total = total
        self.bar = None

    def __enter__(self):
        if not sys.stderr.isatty() or self.total <= 0:
            return lambda n: None
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class Rate(ProgressColumn):
            def render(self, task) -> Text:
                return Text(f"{task.speed:.1f} tasks/s" if task.speed else "- tasks/s")

        self.bar = Progress(TextColumn("batch"), BarColumn(), MofNCompleteColumn(), TextColumn("tasks"), Rate(),
                            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                            console=Console(stderr=True), transient=True)
        self.bar.__enter__()
        job = self.bar.add_task("batch", total=self.total)
        return lambda n: self.bar.update(job, advance=n)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


class task_progress:
    """A rich progress bar on a terminal; silent otherwise."""

    def __init__(self, quiet: bool):
        self.quiet = quiet or not sys.stderr.isatty()
        self.bar = None

    def __enter__(self):
        if not self.quiet:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                transient=True)
            self.bar.__enter__()
        return self.report

    def report(self, label: str):
        if self.bar is None:
            return None
        task = self.bar.add_task(label, total=None)
        return lambda done, total: self.bar.update(task, completed=done, total=total)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)
        return False
