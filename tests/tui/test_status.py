"""The run line: its figures say what they measure, it never claims a result the comparison does not show, and
it fits whole at 80 columns (issue 15)."""

from __future__ import annotations

import re

import pandas as pd
from rich.text import Text

from tests.tui.conftest import SHIPPED, retype, run_async, wait_for_finished_run, wait_for_rerun_after_typing
from tui.app import SpcApp
from tui.snapshot import RunSnapshot
from tui.widgets.comparison import WAITING
from tui.widgets.levers import LeverPanel
from tui.widgets.status import RunLine, status_variants

TIMED = {"replications": 2, "months": 12, "workers": 1, "timings": True}


def _record(app: SpcApp) -> list[tuple[str, bool]]:
    """Every line the status is given, with whether the comparison showed a recommendation at that moment."""
    seen: list[tuple[str, bool]] = []
    show = app.status.show

    def recording(snap, state, first=None):
        show(snap, state, first)
        seen.append((app.query_one(RunLine).text, app.comparison.recommendation is not None))

    app.status.show = recording
    return seen


def _visible(app: SpcApp) -> str:
    """The run line as painted: the characters of its one row of cells."""
    line = app.query_one(RunLine)
    return "".join(seg.text for seg in line.render_line(0)).rstrip()


@run_async
async def test_a_rerun_after_a_lever_edit_counts_its_own_seconds_and_claims_nothing_the_comparison_lacks():
    app = SpcApp(SHIPPED, debounce=0.3, **TIMED)
    async with app.run_test(size=(130, 40)) as pilot:
        seen = _record(app)
        await wait_for_finished_run(app, pilot)
        first = app.query_one(RunLine).text
        assert first.startswith("Done: 12/12 runs · 2/2 replications in ")
        assert re.search(r"first recommendation \d+\.\d s after opening", first)
        assert app.comparison.recommendation is not None
        app.opened_at -= 1000.0  # as if the app had been open for a quarter of an hour before the edit
        box = app.query_one(LeverPanel).input_for("initiatives.crm_package.one_off_cost")
        await retype(pilot, box, "300000")
        await wait_for_rerun_after_typing(app, pilot)
        line = app.query_one(RunLine).text
        rerun = app.finished_runs[-1]
        assert rerun.run_id == app.run_id > app.first_run_id
        # the seconds are the re-run's own (its snapshot's elapsed), not the ~1000 s since opening
        assert line == f"Done: 12/12 runs · 2/2 replications in {rerun.elapsed:.1f} s"
        assert rerun.elapsed < 100
    assert seen
    for text, recommended in seen:  # no line mentions a recommendation the comparison did not show then
        assert recommended or "recommendation" not in text, text


@run_async
async def test_with_one_replication_the_line_says_done_while_the_comparison_still_waits_and_claims_no_result():
    app = SpcApp(SHIPPED, **{**TIMED, "replications": 1})
    async with app.run_test(size=(130, 40)) as pilot:
        seen = _record(app)
        await wait_for_finished_run(app, pilot)
        assert app.comparison.recommendation is None  # the recommendation needs two replications of everything
        assert WAITING in str(app.comparison.query_one("#comparison-headline").render())
        line = app.query_one(RunLine).text
        assert line.startswith("Done: 6/6 runs · 1/1 replications in ")
    assert all("recommendation" not in text and "result" not in text for text, _ in seen)


@run_async
async def test_the_run_line_fits_whole_at_80_and_at_120_columns():
    for size in ((80, 24), (120, 40)):
        app = SpcApp(SHIPPED, **TIMED)
        async with app.run_test(size=size) as pilot:
            await wait_for_finished_run(app, pilot)
            await pilot.pause()
            line = app.query_one(RunLine)
            shown = _visible(app)
            assert shown == line.shown  # painted whole: not cut, not ellipsised
            assert "…" not in shown and Text(shown).cell_len <= line.size.width
            assert shown.startswith("Done: ") and re.search(r"in \d+\.\d s", shown)  # the state and run time first
            assert "recommendation " in shown and shown.endswith("s after opening")
            # the most detailed form that fits: shortened only as much as the width needs
            assert shown == next(v for v in line.variants if Text(v).cell_len <= line.size.width)


def _snap(elapsed: float, done: int = 60, complete: int = 10) -> RunSnapshot:
    return RunSnapshot(1, done, 60, 10, complete, elapsed, pd.DataFrame(), analysis=object())  # type: ignore[arg-type]


def test_every_form_leads_with_the_state_and_the_narrowest_that_fits_keeps_the_replications_and_run_time():
    for state, took in (("Done", "in 1234.5 s"), ("Cancelled", "after 1234.5 s"), ("Running", "1234.5 s elapsed")):
        forms = status_variants(_snap(1234.5, done=30, complete=5), state, True, 99.9)
        assert all(f.startswith(state) for f in forms)
        assert [len(f) for f in forms] == sorted((len(f) for f in forms), reverse=True)  # most detailed first
        fits = next(f for f in forms if len(f) <= 66)  # what 80 columns leave the text beside the progress bar
        assert "5/10" in fits and took in fits, fits
    assert status_variants(_snap(3.0), "Done", timings=False)[0] == "Done: 60/60 runs · 10/10 replications"
