"""Messages the app's background work posts, named as facts that have happened (harlequin's convention)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from simulator import CompiledModel, LoadedScenario, Problem
from tui.decision import DecisionSnapshot
from tui.snapshot import RunSnapshot


@dataclass
class ScenarioOpened(Message):
    loaded: LoadedScenario
    model: CompiledModel


@dataclass
class ScenarioFailed(Message):
    path: str
    problems: list[Problem]


@dataclass
class ReplicationFinished(Message):
    """One (strategy, replication) run came back; the snapshot holds everything received so far."""

    snapshot: RunSnapshot


@dataclass
class RunFinished(Message):
    snapshot: RunSnapshot


@dataclass
class RunCancelled(Message):
    snapshot: RunSnapshot


@dataclass
class RunFailed(Message):
    run_id: int
    error: str


@dataclass
class LeverEdited(Message):
    """A lever's text parsed as a number (or None for an optional field left empty)."""

    path: str
    value: float | None
    original: float | None  # the value in the opened file, so an edit back to it is no change


@dataclass
class DecisionStarted(Message):
    """The decision's worker processes are up and its runs registered; nothing analysed yet."""

    snapshot: DecisionSnapshot


@dataclass
class DecisionRefined(Message):
    """More draws landed; the snapshot holds the decision over the complete draws so far (or None)."""

    snapshot: DecisionSnapshot


@dataclass
class DecisionFinished(Message):
    snapshot: DecisionSnapshot


@dataclass
class DecisionCancelled(Message):
    snapshot: DecisionSnapshot


@dataclass
class DecisionFailed(Message):
    decision_id: int
    error: str
