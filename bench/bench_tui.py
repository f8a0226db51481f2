"""TUI speed on the shipped scenario: time to the first replication on screen, time to the full default
comparison (baseline + 5 strategies x 10 replications, all cores), and how long key presses take to be
answered while the run streams in. Headless (Textual's Pilot), so it measures the app, not a terminal.

    python bench/bench_tui.py [--replications 10] [--repeat 3] [--every 1] [--idle N] [--noop N] [--pilot-press]

A key press is "answered" when the app has handled the key event and everything it set off (the tab switch, the
view's redraw: every widget's message queue drained) and the screen has been refreshed after that: the time from
sending the key (as Pilot does) to then. The keys are the tabs' digits, and the drain starts once the key's tab is
the active one (before 2026-11-25 it could start earlier and end with the old tab on screen). Also printed: the
time to the first screen update that shows the tab (what a person sees first; a chart may fill in a frame
later), and with --noop the time a key bound to nothing takes (the measure's own cost, ~20 ms).
`Pilot.press()` itself (`--pilot-press`) also waits, twice, for the whole process to go idle (a 20 ms window
with under 1 ms of CPU, up to 1 s each): while the run's background thread receives results that is rarely the
case, so it measured the background work, not the key (a floor of about 2 s per press).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# textual and the app are imported where they are used: the worker pool's processes (forkserver) import the
# main script again (as __mp_main__), and importing the UI there cost each worker ~0.25 s of CPU (measured on top of
# the preloaded engine) at the start of the run, which `spc tui` (main script: the `spc` entry point) does not pay

SHIPPED = ROOT / "scenarios" / "service_profit_chain.yaml"


def _shows(app, tab: str) -> bool:
    """Whether the screen as laid out now shows `tab`'s pane (it is active and has a place on screen)."""
    from textual.errors import NoWidget

    if app.tabs.active != tab:
        return False
    try:
        return app.tabs.get_pane(tab).region.area > 0
    except NoWidget:
        return False


async def answer(pilot, key: str) -> float:
    """Seconds from sending `key` to the app having handled it and everything it set off (every widget's queue
    drained, twice: the key's own messages, e.g. a tab switch, post more) and a screen refresh after that. For a
    digit, its tab (the app's TABS) must be the active one before the drain starts. `answer.first_frame` keeps,
    for the last call, the seconds to the end of the first screen update that showed that tab.

    The drain alone could end before a tab switch had begun: measured, one press in three then returned with the
    old tab still on screen, at ~20 ms, what a key bound to nothing takes (2026-11-25)."""
    from textual import events

    from tui.app import TABS

    app = pilot.app
    tab = {str(i + 1): name for i, (name, _) in enumerate(TABS)}.get(key)
    if tab == app.tabs.active:  # nothing new to show: timed as any other key
        tab = None
    first: list[float] = []
    display = app._display

    def spy(screen, update) -> None:  # each screen update the user sees, timed at its end
        display(screen, update)
        if not first and (tab is None or _shows(app, tab)):
            first.append(time.perf_counter())

    app._display = spy
    try:
        t = time.perf_counter()
        event = events.Key(key, key if len(key) == 1 else None)
        event.set_sender(app)
        app._driver.send_message(event)  # as Pilot._press_keys, without its waits for an idle process
        while tab is not None and app.tabs.active != tab:
            if time.perf_counter() > t + 30.0:
                raise TimeoutError(f"key {key!r}: its tab did not become active within 30 s")
            await asyncio.sleep(0.001)
        await pilot._wait_for_screen()
        await pilot._wait_for_screen()
        refreshed = asyncio.Event()
        app.call_after_refresh(refreshed.set)
        await refreshed.wait()
        done = time.perf_counter()
    finally:
        del app._display
    answer.first_frame = (first[0] if first else done) - t
    return done - t


answer.first_frame = 0.0


NOOP_KEY = "f12"  # bound to nothing in the app: what is left of its answer time is the measure's own


async def one(replications: int, every: float, pilot_press: bool = False, idle: int = 0,
              noop: int = 0) -> dict[str, float]:
    """One app, one run; `idle` more key presses (every 0.3 s) once the run is done: the views' redraw alone,
    with no run in the background, to tell it from what the run adds; then `noop` presses of a key bound to
    nothing: the floor of `answer()` itself (its two waits on every widget, and a screen refresh)."""
    from tui.app import SpcApp

    app = SpcApp(SHIPPED, replications=replications)
    latencies: list[float] = []
    first_frames: list[float] = []  # the same presses: to the first screen update showing their tab
    async with app.run_test(size=(120, 40)) as pilot:
        keys = "23451"
        i = 0
        while not any(s.run_id == app.run_id for s in app.finished_runs):
            if pilot_press:
                t = time.perf_counter()
                await pilot.press(keys[i % len(keys)])
                latencies.append(time.perf_counter() - t)
            else:
                latencies.append(await answer(pilot, keys[i % len(keys)]))
                first_frames.append(answer.first_frame)
            i += 1
            await pilot.pause(every)
        after: list[float] = []
        if idle:
            await pilot.pause(1.0)
            for j in range(idle):
                after.append(await answer(pilot, keys[(i + j) % len(keys)]))
                await pilot.pause(0.3)
        floor: list[float] = []
        for _ in range(noop):
            floor.append(await answer(pilot, NOOP_KEY))
            await pilot.pause(0.3)
        m = dict(app.measured)
    if floor:
        m["noop_median_ms"] = 1000 * statistics.median(floor)
    if after:
        m["idle_median_ms"] = 1000 * statistics.median(after)
        m["idle_max_ms"] = 1000 * max(after)
    if first_frames:
        m["first_frame_median_ms"] = 1000 * statistics.median(first_frames)
    m["key_median_ms"] = 1000 * statistics.median(latencies)
    m["key_max_ms"] = 1000 * max(latencies)
    m["keys"] = len(latencies)
    return m


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--replications", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--every", type=float, default=1.0, help="seconds between key presses during the run")
    ap.add_argument("--pilot-press", action="store_true",
                    help="time Pilot.press() instead (it also waits for the whole process to go idle)")
    ap.add_argument("--idle", type=int, default=0,
                    help="key presses after the run is done (every 0.3 s): the redraw alone, nothing in the background")
    ap.add_argument("--noop", type=int, default=0,
                    help=f"then presses of a key bound to nothing ({NOOP_KEY}): what answering any key costs the "
                         "measure")
    args = ap.parse_args()
    for k in range(args.repeat):
        m = asyncio.run(one(args.replications, args.every, args.pilot_press, args.idle, args.noop))
        after = (f"; {args.idle} after it: median {m['idle_median_ms']:.0f} ms, max {m['idle_max_ms']:.0f} ms"
                 if args.idle and not args.pilot_press else "")
        if args.noop:
            after += f"; {NOOP_KEY} (bound to nothing): median {m['noop_median_ms']:.0f} ms"
        if "first_frame_median_ms" in m:
            after += f"; the tab first on screen: median {m['first_frame_median_ms']:.0f} ms"
        print(f"run {k + 1}: first replication {m['first_replication_s']:.2f} s, full comparison "
              f"{m['full_comparison_s']:.2f} s; {m['keys']} key presses during the run "
              f"({'Pilot.press' if args.pilot_press else 'answered'}): "
              f"median {m['key_median_ms']:.0f} ms, max {m['key_max_ms']:.0f} ms{after}")


if __name__ == "__main__":
    main()
