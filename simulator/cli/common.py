"""What several `spc` commands share: the parser class, argument types, the exit code for bad input, entry-point
plugins and the Ctrl-C test. Command modules import these from here, never from each other's modules or from
`simulator.cli` itself, so the command modules form no import circle (tests/test_contracts.py checks it).

Cheap to import: only the standard library and `simulator.errors` at module level (`spc --help` stays fast)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from simulator.errors import UsageError

EXIT_BAD_INPUT = 2


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument as one line with exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


def plugins(group: str) -> dict[str, Callable]:
    """Callables other installed packages offer under an entry point group (name -> loaded object)."""
    from importlib.metadata import entry_points

    return {ep.name: ep.load() for ep in entry_points(group=group)}


def existing_file(value: str) -> Path:
    path = Path(value)
    if not path.exists():
        raise UsageError(f"no such file: {value}")
    return path


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{value}'") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {number}")
    return number


def seed_arg(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{value}'") from None
    if not 0 <= number < 2**63:
        raise argparse.ArgumentTypeError("a seed is a whole number from 0 to 2**63-1")
    return number


def horizons_arg(value: str) -> list[int]:
    from simulator.limits import MAX_MONTHS

    out: list[int] = []
    for part in (x.strip() for x in value.split(",")):
        try:
            number = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers of months, got '{part}'") from None
        if not 1 <= number <= MAX_MONTHS:
            raise argparse.ArgumentTypeError(f"a horizon is 1 to {MAX_MONTHS} months, got {number}")
        if number not in out:
            out.append(number)
    return out


def interrupted(exc: BaseException) -> bool:
    """Ctrl-C, whether Python or DuckDB (a query cut short by it: 'Query interrupted') saw it first."""
    import signal

    from simulator.processes import received

    if isinstance(exc, KeyboardInterrupt) or signal.SIGINT in received:  # a library may wrap it in its own error
        return True
    from simulator.store import _interrupted

    return _interrupted(exc)
