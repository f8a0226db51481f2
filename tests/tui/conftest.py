"""Shared pieces for the TUI tests: a small, fast configuration of the shipped scenario and a waiter."""

from __future__ import annotations

import asyncio
import functools
import io
import re

from rich.console import Console

from tests.helpers import ROOT

SHIPPED = str(ROOT / "scenarios" / "service_profit_chain.yaml")
FAST = {"replications": 2, "months": 12, "workers": 1, "timings": False}


async def wait_for_finished_run(app, pilot, newer_than: int = 0, timeout: float = 120.0) -> None:
    """Wait until a RunFinished message for a run newer than `newer_than` has been handled."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if any(s.run_id == app.run_id > newer_than for s in app.finished_runs):
            await pilot.pause()
            return
        await pilot.pause(0.05)
    raise AssertionError(f"no RunFinished within {timeout} s (status: {app.snapshot})")


def printed(prompt) -> str:
    """A list line as the terminal shows it (a lever's label and value, 30 columns), runs of spaces cut to two."""
    console = Console(width=30, record=True, color_system=None, file=io.StringIO())
    console.print(prompt)
    return re.sub(r" {2,}", "  ", " ".join(console.export_text().split("\n")).strip())


def run_async(test):
    """Run an async test function with asyncio.run (no pytest plugin needed)."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))

    return wrapper


async def retype(pilot, box, text: str) -> None:
    """Clear an input and type `text`, as a person would (End, backspaces, keys)."""
    box.focus()
    await pilot.press("end", *["backspace"] * len(box.value), *text)


async def wait_for_rerun_after_typing(app, pilot, timeout: float = 120.0) -> None:
    """After a lever edit: let the debounce of the *last* keystroke fire, then wait for that run to finish.

    On a loaded machine a pause between keys can fire the debounce for a partial value first; waiting on
    the run started after the last keystroke makes the test independent of that.
    """
    await pilot.pause(app.debounce + 0.3)
    target = app.run_id
    await wait_for_finished_run(app, pilot, newer_than=target - 1, timeout=timeout)


async def wait_for_error(app, pilot, expected: str) -> None:
    """Wait until the app shows its error panel, then check it names `expected` and the app runs on, empty."""
    from textual.widgets import Static

    for _ in range(100):
        await pilot.pause(0.05)
        if app.query_one("#errors").display:
            break
    text = str(app.query_one("#errors", Static).render())
    assert "Cannot open this scenario" in text and expected in text, text
    assert app.is_running and app.model is None


def lines_of(widget) -> str:
    """What a widget draws, line by line, as plain text."""
    return "\n".join(widget.render_line(y).text for y in range(widget.size.height))


async def show_tab(pilot, tab: str) -> None:
    """Bring a TabbedContent's pane on screen and let two frames pass (the layout, then the repaint)."""
    from textual.widgets import TabbedContent

    pilot.app.query_one(TabbedContent).active = tab
    await pilot.pause()
    await pilot.pause()
