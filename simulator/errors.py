"""Errors a user can act on: each problem names a file, a line, a column and, where it helps, a hint."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One problem in one file, printed as `FILE:LINE:COL: message (hint)`."""

    file: str
    line: int
    col: int
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.file}:{self.line}:{self.col}: {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text


class ScenarioError(Exception):
    """A scenario that cannot be used; carries every problem found, one line each."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class UsageError(Exception):
    """Bad command-line input (not a scenario problem): one line, exit code 2."""


def closest(name: str, candidates: Iterable[str]) -> str:
    """A 'did you mean' hint, or '' when nothing is close."""
    match = difflib.get_close_matches(str(name), sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean '{match[0]}'?" if match else ""


class Terminated(BaseException):
    """SIGTERM arrived: the command's worker processes are ended and it exits with 128 + 15."""

    def __init__(self, signum: int = 15):
        self.signum = signum
        super().__init__(f"terminated by signal {signum}")
