"""No worker process outlives the command that started it.

`workers_end_with_us()` wraps a command that starts worker processes (`spc run`, `spc batch`,
`spc decide`, ...): on SIGTERM or SIGINT it first ends every child process (terminate, then kill
after a grace period), then unwinds the command: SIGINT as KeyboardInterrupt (the command's own Ctrl-C
handling runs: a batch keeps what it stored), SIGTERM as `Terminated` (exit code 143).

The exception raised from a signal handler can be lost: when the signal lands while a garbage-collector
callback runs (Dask's scheduler registers one), Python prints "Exception ignored in ..." and carries on,
now without workers and deaf to further signals. A watchdog thread therefore ends the process itself
if it is still alive `UNWIND_SECONDS` after the signal.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from simulator.errors import Terminated

GRACE_SECONDS = 2.0
UNWIND_SECONDS = 15.0
"""How long the command may take to unwind after SIGTERM / SIGINT before the watchdog exits for it."""
received: list[int] = []
"""Signals this process handled (a library such as DuckDB may turn the exception raised into its own)."""


def terminated() -> bool:
    return signal.SIGTERM in received


def end_children() -> None:
    """Terminate every child process started through multiprocessing (pools, Dask nannies), then kill stragglers."""
    children = multiprocessing.active_children()
    for child in children:
        try:
            child.terminate()
        except (OSError, ValueError):
            pass
    for child in children:
        child.join(GRACE_SECONDS / max(1, len(children)))
        if child.is_alive():
            try:
                child.kill()
                child.join(1.0)
            except (OSError, ValueError):
                pass


def _exit_if_still_running(signum: int) -> None:
    """The watchdog's last resort: the same last line and exit code the command would have given."""
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass
    end_children()
    os.write(2, b"terminated\n" if signum == signal.SIGTERM else b"interrupted\n")
    os._exit(128 + signum)


def start_unwind_watchdog(signum: int) -> None:
    timer = threading.Timer(UNWIND_SECONDS, _exit_if_still_running, args=(signum,))
    timer.daemon = True  # a command that unwinds in time exits without waiting for it
    timer.start()


@contextmanager
def workers_end_with_us() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield
        return
    owner = os.getpid()

    def handler(signum: int, frame: object) -> None:
        if os.getpid() != owner:  # a forked worker inherited this handler: die as the signal says
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        received.append(signum)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        start_unwind_watchdog(signum)
        end_children()
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Terminated(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
