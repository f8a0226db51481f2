"""The UI process's full garbage collections wait for a quiet moment (tui.heap), and the app puts Python's own
thresholds back when it exits."""

from __future__ import annotations

import gc

from tests.tui.conftest import FAST, SHIPPED, run_async, wait_for_finished_run
from tui.app import SpcApp
from tui.heap import NEVER, OVERDUE, QUIET_FOR, QuietCollector


class Fake:
    """A collector on fakes: seconds since the last key, young collections pending, and what it ran."""

    def __init__(self, since: float, pending: int):
        self.since, self.pending, self.ran = since, pending, []
        self.collector = QuietCollector(lambda: self.since, collect=lambda g: self.ran.append(("collect", g)) or 0,
                                        freeze=lambda: self.ran.append(("freeze",)), pending=lambda: self.pending)


def test_a_full_collection_runs_only_when_due_and_quiet():
    due = gc.get_threshold()[2]
    f = Fake(since=QUIET_FOR + 1, pending=due - 1)
    assert not f.collector.check() and f.ran == []  # not due yet: nothing, however quiet
    f.pending = due
    f.since = QUIET_FOR / 2
    assert not f.collector.check() and f.ran == []  # due, but a key was pressed just now
    f.since = QUIET_FOR
    assert f.collector.check()
    assert f.ran == [("collect", 2), ("freeze",)]  # the full collection, then its survivors frozen
    assert f.collector.collections == 1


def test_a_long_overdue_collection_runs_even_while_keys_keep_coming():
    due = gc.get_threshold()[2]
    f = Fake(since=0.0, pending=OVERDUE * due - 1)
    assert not f.collector.check()
    f.pending = OVERDUE * due
    assert f.collector.check() and f.ran == [("collect", 2), ("freeze",)]


def test_start_stops_pythons_own_full_collections_and_stop_puts_them_back():
    before = gc.get_threshold()
    collector = QuietCollector(lambda: 0.0)
    collector.start()
    try:
        assert gc.get_threshold() == (before[0], before[1], NEVER)
        collector.start()  # twice: what it puts back is still Python's own
        assert collector.due_after == before[2]
    finally:
        collector.stop()
    assert gc.get_threshold() == before
    collector.stop()  # stopping again changes nothing
    assert gc.get_threshold() == before


@run_async
async def test_the_app_defers_full_collections_while_it_runs_and_restores_them_on_exit():
    before = gc.get_threshold()
    app = SpcApp(SHIPPED, **FAST)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_finished_run(app, pilot)
        assert gc.get_threshold() == (before[0], before[1], NEVER)
    assert gc.get_threshold() == before
