"""The Decision tab (key 6, d to start): `spc decide`'s logic for the open scenario, refining as draws land;
and the recommendation heading the comparison."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

from textual.widgets import DataTable, Static

from tests.helpers import DATA
from tests.tui.conftest import FAST, SHIPPED, run_async, wait_for_finished_run
from tui.app import SpcApp

DECIDE_SMALL = str(DATA / "decide_small.yaml")  # 3 uncertain assumptions, 3 strategies, 2 replications
DRAWS = 8


def _worker_processes() -> list[int]:
    """Live processes this test process started to run simulations: forked children, and the children of its
    forkserver (the app's live pool and the decision's executor start workers through it)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    table = {}
    for d in proc.iterdir():
        if d.name.isdigit():
            try:
                state, ppid = (d / "stat").read_text().rsplit(")", 1)[1].split()[:2]
                table[int(d.name)] = (int(ppid), state, (d / "cmdline").read_bytes())
            except (OSError, ValueError):
                continue
    me = os.getpid()
    direct = {pid for pid, (ppid, _, _) in table.items() if ppid == me}
    servers = {pid for pid in direct if b"multiprocessing.forkserver" in table[pid][2]}
    helpers = {pid for pid in direct if b"resource_tracker" in table[pid][2]}
    workers = (direct - servers - helpers) | {pid for pid, (ppid, _, _) in table.items() if ppid in servers}
    return sorted(pid for pid in workers if table[pid][1] != "Z")


def _no_workers_left(timeout: float = 15.0) -> list[int]:
    """Poll until no worker process is left (a closed pool's workers take a moment to exit)."""
    deadline = time.monotonic() + timeout
    while (left := _worker_processes()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _decision_folders() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("spc-decide-*"))


async def _wait(pilot, condition, timeout: float = 120.0, what: str = "") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _count_closes(monkeypatch) -> list[int]:
    """Record every ProcessExecutor.close (the decision's worker processes shut down)."""
    from simulator.batch.executors import ProcessExecutor

    closed: list[int] = []
    original = ProcessExecutor.close

    def close(self) -> None:
        closed.append(self.workers)
        original(self)

    monkeypatch.setattr(ProcessExecutor, "close", close)
    return closed


def _direct_headline(path: str, draws: int) -> str:
    """The same decision computed without the app: plan, run (in this process), read, analyse."""
    from simulator import load
    from simulator.batch.executors import LocalExecutor
    from simulator.decision.analysis import analyse
    from simulator.decision.runner import plan_decision, read_outcomes, run_decision
    from simulator.store import Store

    plan = plan_decision(load(path), draws)
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "direct.duckdb"
        with Store(db) as store:
            totals = run_decision(plan, store, LocalExecutor())
        return analyse(plan, read_outcomes(db, plan, totals.run_ids)).recommendation.headline


@run_async
async def test_decision_tab_runs_spc_decide_live_and_leaves_nothing_behind(monkeypatch):
    folders, closed = _decision_folders(), _count_closes(monkeypatch)
    app = SpcApp(DECIDE_SMALL, replications=2, workers=2, timings=False, decide_draws=DRAWS)
    async with app.run_test(size=(100, 30)) as pilot:
        await _wait(pilot, lambda: app.loaded is not None, what="the scenario")
        await pilot.press("6")
        assert app.tabs.active == "decision"
        ready = str(app.decision_view.query_one("#decision-progress", Static).render())
        assert f"{DRAWS} draws of 3 assumptions × 3 strategies × 2 replications = {DRAWS * 3 * 2} runs" in ready
        await pilot.press("d")
        await _wait(pilot, lambda: app.decisions, what="the decision to finish")
        await pilot.pause(0.1)
        snap = app.decisions[-1]
        assert snap.runs_done == snap.runs == DRAWS * 3 * 2
        assert snap.result is not None and snap.result.draws == DRAWS
        shown = app.decision_view.query_one("#decision-rec", Static).render()
        assert str(shown).startswith(snap.result.recommendation.headline)
        assert app.decision_view.query_one("#decision-table", DataTable).row_count == 3
        assert "Done: 8/8 draws · 48 runs" in str(app.decision_view.query_one("#decision-progress", Static).render())
        assert not app.deciding
    assert snap.result.recommendation.headline == _direct_headline(DECIDE_SMALL, DRAWS)
    assert closed == [2]  # the decision's two worker processes were shut down
    assert _no_workers_left() == []  # and no worker process is left, of the decision or the live pool
    assert _decision_folders() - folders == set()  # and its temporary database removed


@run_async
async def test_cancel_then_quit_mid_decision_closes_its_processes(monkeypatch):
    folders, closed = _decision_folders(), _count_closes(monkeypatch)
    app = SpcApp(DECIDE_SMALL, replications=2, workers=2, timings=False, decide_draws=64)
    async with app.run_test(size=(100, 30)) as pilot:
        await _wait(pilot, lambda: app.loaded is not None, what="the scenario")
        await pilot.press("d")  # from any tab: shows the Decision tab and starts
        assert app.tabs.active == "decision" and app.deciding
        await _wait(pilot, lambda: app.decision_view.state == "running", what="the decision to start")
        await pilot.press("c")  # on the Decision tab: cancels the decision, not the comparison
        await _wait(pilot, lambda: app.decision_view.state == "cancelled", what="the cancellation")
        assert not app.deciding and not app.decisions
        assert "press d to start again" in str(app.decision_view.query_one("#decision-progress", Static).render())
        await pilot.press("d")
        await _wait(pilot, lambda: app.decision_view.state == "running", what="the second decision")
    # the app quit mid-decision: on_unmount stopped it and waited for its worker processes to close
    assert closed == [2, 2]
    assert _no_workers_left() == []
    assert _decision_folders() - folders == set()


@run_async
async def test_scenario_without_uncertain_assumptions_says_how_to_add_ranges():
    app = SpcApp(str(DATA / "engine_small_scored.yaml"), **FAST)
    async with app.run_test(size=(100, 30)) as pilot:
        await _wait(pilot, lambda: app.loaded is not None, what="the scenario")
        await pilot.press("d")
        await pilot.pause(0.1)
        assert app.tabs.active == "decision" and not app.deciding
        text = str(app.decision_view.query_one("#decision-rec", Static).render())
        assert "no uncertain assumptions" in text and "Assumptions as distributions" in text


@run_async
async def test_comparison_heads_with_the_recommendation_at_80x24():
    app = SpcApp(SHIPPED, seed=20261123, **FAST)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_finished_run(app, pilot)
        await pilot.pause(0.2)
        rec = app.snapshot.analysis.recommendation
        text = str(app.comparison.query_one("#comparison-headline", Static).render())
        assert text.startswith(rec.headline)
        assert rec.reasons[0] in text  # the headline and the first reason, whole
        table = app.comparison.query_one("#comparison-table", DataTable)
        assert table.size.height >= table.row_count + 1  # and every strategy's row still shows
