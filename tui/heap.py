"""The UI process's garbage collector: its full collections at quiet moments, not in the middle of a key press.

The app freezes what is alive after its panels are built and after each run (`SpcApp._settle_heap`), but what
a session adds later (render caches: each Textual Strip carries seven small caches, ~35,000 of them after a few
tab switches) is walked by every full collection: 20–45 ms of the UI thread each (measured: 84,000 tracked
objects, 34 ms), automatically every few key presses, and one landing in a key press made that press the slowest.
Python starts a full collection after ten collections of the middle generation (once enough survivors have piled
up); in the UI process it waits instead for a quiet moment (no key for `QUIET_FOR` seconds), then freezes the
survivors, so the next one walks only what came after. The younger generations are collected as before. Cycles
among frozen objects are freed when the next run ends (`_settle_heap` unfreezes and collects everything).
"""

from __future__ import annotations

import gc
from collections.abc import Callable

QUIET_FOR = 1.0  # seconds without a key press before a full collection may run
CHECK_EVERY = 0.5  # seconds between checks
NEVER = 1 << 30  # a full-collection threshold Python never reaches
OVERDUE = 10  # a full collection runs even without a quiet moment once this many times due (keys held down)


class QuietCollector:
    """Full collections only from `check()`, when the user has not pressed a key for QUIET_FOR seconds (or when
    OVERDUE times as many middle-generation collections as Python's own threshold have piled up). `start()` and
    `stop()` set Python's thresholds and put them back (the tests run many apps in one process)."""

    def __init__(self, since_input: Callable[[], float], collect: Callable[[int], int] = gc.collect,
                 freeze: Callable[[], None] = gc.freeze, pending: Callable[[], int] = lambda: gc.get_count()[2]):
        self.since_input = since_input
        self._collect, self._freeze, self._pending = collect, freeze, pending
        self._saved: tuple[int, ...] | None = None
        self.collections = 0  # full collections run by check()

    @property
    def due_after(self) -> int:
        """Middle-generation (1) collections after which Python would have run a full one."""
        return self._saved[2] if self._saved is not None else gc.get_threshold()[2]

    def start(self) -> None:
        if self._saved is None:
            self._saved = gc.get_threshold()
            gc.set_threshold(self._saved[0], self._saved[1], NEVER)

    def stop(self) -> None:
        if self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None

    def check(self) -> bool:
        """Run a full collection if one is due and the moment is quiet (or it is long overdue). Returns whether
        it ran."""
        pending = self._pending()
        if pending < self.due_after:
            return False
        if self.since_input() < QUIET_FOR and pending < OVERDUE * self.due_after:
            return False
        self._collect(2)
        self._freeze()
        self.collections += 1
        return True
