"""The background side of a run: stream results from `simulator.live`, post snapshots to the app.

It runs in a Textual thread worker, so the event loop only ever receives finished snapshots. Analysis is
throttled (it costs ~0.15 s for a full comparison), and the customer ledger, the largest frame, is only
rebuilt every few seconds and at the end.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

import pandas as pd

from simulator.analysis.run_analysis import Analysis, analyse
from simulator.live import Collected, LiveRun
from tui.snapshot import RunSnapshot

ANALYSIS_EVERY = 2.0  # seconds between refreshes of the tables while a run streams in
FIRST_ANALYSIS_REPS = 2  # the first table waits for two complete replications: the recommendation needs two
QUIET_AFTER_INPUT = 0.25  # seconds after a key press before this thread's heavy work (analysis, frames) resumes
MAX_DEFER = 0.5  # the longest it waits for a quiet moment (keys held down must not stop the tables for good)
PARTIAL_EVERY = 1.0  # seconds between restacks of all runs received (the time series charts)
LEDGER_EVERY = 1e9  # the customer ledger (whale curve), the largest frame, is built once at the end


def after_input(since_input: Callable[[], float], quiet: float = QUIET_AFTER_INPUT, limit: float = MAX_DEFER) -> None:
    """Sleep until `since_input()` (seconds since the last key press) reaches `quiet`, for at most `limit` seconds.

    This thread shares the GIL with the UI thread: while it builds frames and analyses (pandas, ~0.1 s at a
    time) a key's handling and redraw get only every other 5 ms slice, so a 60 ms redraw took 120 ms or more.
    Holding the heavy work back for a moment after a key gives the UI the interpreter to itself; the worker
    processes keep simulating meanwhile (their tasks are already queued), only the tables wait."""
    deadline = time.perf_counter() + limit
    while since_input() < quiet and time.perf_counter() < deadline:
        time.sleep(0.01)


def stream(run: LiveRun, run_id: int, post: Callable[[str, RunSnapshot], None],
           wants_partial: Callable[[], bool] = lambda: True, wants_scorecard: Callable[[], bool] = lambda: True,
           since_input: Callable[[], float] = lambda: 1e9) -> None:
    """Iterate the run to its end or cancellation; `post(kind, snapshot)` with kind replication|finished|cancelled.

    `wants_partial()` says whether anything on screen shows runs of incomplete replications (the charts);
    restacking them is skipped otherwise, because on two cores every bit of work here slows the workers.
    `since_input()`: seconds since the user last pressed a key; heavy work waits for a quiet moment (after_input).
    """
    start = time.perf_counter()
    # Everything alive now (the app, the scenario, libraries: some 300,000 objects) stays alive through the run:
    # out of the collector's way, a full collection no longer walks it (it took ~170 ms of the UI thread's time,
    # a few times a run). Objects freed later are still freed; only cycles among them wait.
    gc.freeze()
    collected = Collected(run.strategies)
    total = len(run.tasks)
    first: float | None = None
    last_analysis = last_ledger = -1e9
    analysis: Analysis | None = None
    customers = pd.DataFrame()
    analysed_reps = 0
    partial, last_partial = pd.DataFrame(), -1e9
    for task, out in run.results():
        collected.add(task, out)
        now = time.perf_counter()
        if first is None:
            first = now - start
        done = collected.done == total
        complete = len(collected.complete_replications())
        if done or (complete > analysed_reps and complete >= FIRST_ANALYSIS_REPS
                    and now - last_analysis >= ANALYSIS_EVERY):
            if not done:
                after_input(since_input)
            want_ledger = done or now - last_ledger >= LEDGER_EVERY
            ts, ledger, reps = collected.frames(customers=want_ledger)
            if ledger is not None:
                customers, last_ledger = ledger, now
            analysis = analyse(run.model, run.scenario_key, ts, customers, run.strategies, reps, run.seed, run.months,
                               scorecard=done or wants_scorecard())
            analysed_reps, last_analysis = reps, time.perf_counter()
        if done or (wants_partial() and (partial.empty or now - last_partial >= PARTIAL_EVERY)):
            if not done:
                after_input(since_input)
            partial, last_partial = collected.partial_timeseries(), now
        snap = RunSnapshot(run_id, collected.done, total, run.replications, analysed_reps,
                           time.perf_counter() - start, partial, analysis, first)
        post("finished" if done else "replication", snap)
    if collected.done < total:
        post("cancelled", RunSnapshot(run_id, collected.done, total, run.replications, analysed_reps,
                                      time.perf_counter() - start, collected.partial_timeseries(), analysis, first))
