"""The flight simulator's headless core: turn decisions -> a strategy -> a scorecard and a debrief.

A decisions file (YAML) holds the scenario it was played on (path and hash), the seed, the turn length
in months (a quarter = 3), a budget per turn, optional prices of lever moves, and one entry per turn:
the levers held during the turn (a setting stays until changed) and the scenario initiatives run
during it. `played_strategy` turns that into ordinary initiatives of one strategy named `played`, so
the engine runs a game exactly like any other strategy, on the same random numbers as the baseline.
The TUI calls these functions; `spc play FILE --replay decisions.yaml` replays a saved game.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from simulator.errors import UsageError, closest
from simulator.graph.compiler import compile_scenario
from simulator.scenario.loader import LoadedScenario, load_data
from simulator.scenario.models import Name, Scenario

PLAYED = "played"
Money = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class Turn(BaseModel):
    """One turn: lever settings held from this turn on (until changed) and initiatives run during it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    levers: dict[Name, Annotated[float, Field(allow_inf_nan=False)]] = Field(default_factory=dict)
    initiatives: list[Name] = Field(default_factory=list)


class Decisions(BaseModel):
    """A played game, as saved and replayed."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    scenario: str = Field("", description="Scenario file the game was played on (informative; spc play FILE decides)")
    scenario_hash: str = Field("", description="Content hash of that scenario; a replay on another scenario is refused")
    seed: int = Field(1, ge=0, lt=2**63)
    replications: int = Field(3, gt=0, le=1000)
    turn_months: int = Field(3, gt=0, le=60, description="Months per turn (a quarter = 3)")
    budget: Money = Field(description="Money a turn may commit: lever costs plus initiative costs falling in the turn")
    lever_costs: dict[Name, Money] = Field(default_factory=dict,
                                           description="Monthly cost per unit a lever is held above its reference")
    turns: list[Turn] = Field(default_factory=list)


@dataclass(frozen=True)
class TurnCost:
    turn: int
    levers: float
    initiatives: float

    @property
    def total(self) -> float:
        return self.levers + self.initiatives


@dataclass(frozen=True)
class PlayResult:
    """A replayed game: the experiment's frames and the analysis the scorecard view shows."""

    decisions: Decisions
    months: int
    timeseries: pd.DataFrame
    scorecard: pd.DataFrame
    comparison: pd.DataFrame
    costs: tuple[TurnCost, ...]


@dataclass(frozen=True)
class Debrief:
    """Your game against the best strategy found (same seed, replications and months)."""

    played_npv: float
    baseline_npv: float
    candidates: pd.DataFrame  # candidate, kind, npv, delta_npv, within_budget; best first
    best: str
    best_npv: float
    rank: int


def read_decisions(path: str | Path) -> Decisions:
    """Load a decisions file; a bad file is a one-line UsageError."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"no such decisions file: {path}" if not path.exists() else f"{path}: not a regular file")
    if path.stat().st_size > 5 * 2**20:
        raise UsageError(f"{path}: over 5 MiB, too large for a decisions file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text at byte {exc.start} (a decisions file is YAML text; "
                         "re-save it as UTF-8)") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the decisions file ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise UsageError(f"{path}{where}: not valid YAML") from None
    try:
        return Decisions.model_validate(data if isinstance(data, dict) else {})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise UsageError(f"{path}: {loc}: {err['msg']}") from None


def write_decisions(decisions: Decisions, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(decisions.model_dump(mode="json"), sort_keys=False), encoding="utf-8")


def new_decisions(loaded: LoadedScenario, budget: float, turn_months: int = 3, seed: int | None = None,
                  replications: int = 3, lever_costs: dict[str, float] | None = None) -> Decisions:
    """An empty game on a scenario (what the TUI starts from)."""
    sc = loaded.scenario
    return Decisions(scenario=str(loaded.path), scenario_hash=loaded.content_hash,
                     seed=sc.run.seed if seed is None else seed, replications=replications, turn_months=turn_months,
                     budget=budget, lever_costs=lever_costs or {}, turns=[])


def default_lever_costs(scenario: Scenario) -> dict[str, float]:
    """Monthly price of one unit of each lever above its reference, read off the scenario's own initiatives.

    An initiative that moves levers costs its monthly cost; it is split evenly over its lever effects and
    divided by how far each effect moves its lever. A lever no initiative moves gets no price, except the
    headcount target, which costs a frontline salary per FTE. The cheapest reading of each lever wins.
    """
    refs = {n.name: n.reference for n in scenario.network.nodes if n.kind == "lever"}
    prices: dict[str, float] = {}
    for ini in scenario.initiatives:
        moves = []
        for effect in ini.effects:
            if effect.lever in refs:
                op, value = effect.operation
                ref = refs[effect.lever]
                target = value if op == "set" else ref + value if op == "add" else ref * value
                if target > ref:
                    moves.append((effect.lever, target - ref))
        for name, step in moves:
            if ini.monthly_cost > 0:
                price = ini.monthly_cost / len(moves) / step
                prices[name] = min(prices.get(name, price), price)
    if "headcount_target" in refs:
        prices.setdefault("headcount_target", scenario.employees.annual_salary / 12)
    return prices


def lever_settings(scenario: Scenario, decisions: Decisions) -> list[dict[str, float]]:
    """The lever values held in each turn (settings carry over until changed)."""
    current = {n.name: n.reference for n in scenario.network.nodes if n.kind == "lever"}
    out = []
    for turn in decisions.turns:
        current = {**current, **turn.levers}
        out.append(dict(current))
    return out


def _spans(decisions: Decisions) -> list[tuple[str, int, int]]:
    """(initiative, first turn, last turn) for each run of consecutive turns that keep an initiative on."""
    spans: list[tuple[str, int, int]] = []
    open_: dict[str, int] = {}
    for i, turn in enumerate([*decisions.turns, Turn()]):
        for name in list(open_):
            if name not in turn.initiatives:
                spans.append((name, open_.pop(name), i - 1))
        for name in turn.initiatives:
            open_.setdefault(name, i)
    return sorted(spans, key=lambda s: (s[1], s[0]))


def check(scenario: Scenario, decisions: Decisions, horizon: int | None = None,
          enforce_budget: bool = True) -> tuple[TurnCost, ...]:
    """Validate a game against its scenario and budget; returns the cost of each turn or raises UsageError."""
    levers = {n.name: n for n in scenario.network.nodes if n.kind == "lever"}
    initiatives = {i.name: i for i in scenario.initiatives}
    months = len(decisions.turns) * decisions.turn_months
    if horizon is not None and months > horizon:
        raise UsageError(f"{len(decisions.turns)} turns of {decisions.turn_months} months run past the horizon of {horizon} months")
    for name in decisions.lever_costs:
        if name not in levers:
            raise UsageError(f"lever_costs: '{name}' is not a lever ({closest(name, levers) or 'levers: ' + ', '.join(levers)})")
    for i, turn in enumerate(decisions.turns, 1):
        for name, value in turn.levers.items():
            node = levers.get(name)
            if node is None:
                raise UsageError(f"turn {i}: '{name}' is not a lever ({closest(name, levers) or 'levers: ' + ', '.join(levers)})")
            if (node.min is not None and value < node.min) or (node.max is not None and value > node.max):
                raise UsageError(f"turn {i}: lever {name} = {value:g} is outside its range [{node.min}, {node.max}]")
        for name in turn.initiatives:
            if name not in initiatives:
                raise UsageError(f"turn {i}: unknown initiative '{name}' ({closest(name, initiatives) or 'see spc validate'})")
    settings = lever_settings(scenario, decisions)
    m = decisions.turn_months
    costs = []
    spans = _spans(decisions)
    for i, held in enumerate(settings):
        lever_cost = m * sum(max(0.0, held[n] - levers[n].reference) * price for n, price in decisions.lever_costs.items())
        ini_cost = 0.0
        for name, first, last in spans:
            if first <= i <= last:
                ini = initiatives[name]
                ini_cost += ini.monthly_cost * m + (ini.one_off_cost if i == first else 0.0)
        costs.append(TurnCost(i + 1, lever_cost, ini_cost))
    currency = scenario.metadata.currency
    for c in costs:
        if enforce_budget and c.total > decisions.budget + 1e-9:
            raise UsageError(f"turn {c.turn} commits {c.total:,.0f} {currency}, over the budget of {decisions.budget:,.0f} "
                             f"per turn (levers {c.levers:,.0f}, initiatives {c.initiatives:,.0f})")
    return tuple(costs)


def played_strategy(scenario: Scenario, decisions: Decisions) -> dict:
    """Scenario data with the game added as initiatives of one strategy named `played`."""
    check(scenario, decisions, enforce_budget=False)
    data = copy.deepcopy(scenario.as_data())
    m = decisions.turn_months
    levers = {n.name: n for n in scenario.network.nodes if n.kind == "lever"}
    new_inis, names = [], []
    for i, held in enumerate(lever_settings(scenario, decisions)):
        moved = {n: v for n, v in held.items() if v != levers[n].reference}
        if not moved:
            continue
        cost = sum(max(0.0, moved.get(n, levers[n].reference) - levers[n].reference) * p
                   for n, p in decisions.lever_costs.items())
        name = f"{PLAYED}_turn{i + 1}_levers"
        new_inis.append({"name": name, "description": f"Turn {i + 1}: lever settings", "monthly_cost": cost,
                         "start_month": i * m, "duration_months": m,
                         "effects": [{"lever": n, "set": v} for n, v in sorted(moved.items())]})
        names.append(name)
    by_name = {i["name"]: i for i in data["initiatives"]}
    for ini_name, first, last in _spans(decisions):
        base = copy.deepcopy(by_name[ini_name])
        base.update(name=f"{PLAYED}_turn{first + 1}_{ini_name}", start_month=first * m,
                    duration_months=(last - first + 1) * m)
        new_inis.append(base)
        names.append(base["name"])
    data["initiatives"] = data["initiatives"] + new_inis
    data["strategies"] = [s for s in data["strategies"] if s["name"] != PLAYED] + [
        {"name": PLAYED, "description": "The decisions played", "initiatives": names}]
    return data


def replay(loaded: LoadedScenario, decisions: Decisions, upto_turn: int | None = None, workers: int | None = 1,
           enforce_budget: bool = True) -> PlayResult:
    """Run baseline and the game (its first `upto_turn` turns) and score it; same decisions -> identical frames."""
    from simulator.analysis.comparison import comparison_frame
    from simulator.analysis.scorecard import scorecard_frame
    from simulator.experiment import run_experiment

    sc = loaded.scenario
    if decisions.scenario_hash and decisions.scenario_hash != loaded.content_hash:
        raise UsageError(f"the decisions were played on scenario {decisions.scenario_hash}, not on {loaded.path} "
                         f"({loaded.content_hash}); replay them on the scenario they were made for")
    if not decisions.turns:
        raise UsageError("the decisions file has no turns")
    if upto_turn is not None:
        decisions = decisions.model_copy(update={"turns": decisions.turns[:upto_turn]})
    costs = check(sc, decisions, sc.metadata.horizon_months, enforce_budget)
    model = compile_scenario(load_data(played_strategy(sc, decisions)))
    months = len(decisions.turns) * decisions.turn_months
    result = run_experiment(model, [PLAYED], replications=decisions.replications, seed=decisions.seed, months=months,
                            workers=workers)
    ts = result.timeseries
    return PlayResult(decisions, months, ts, scorecard_frame(ts, model.scenario, result.strategies),
                      comparison_frame(ts, sc.metadata.discount_rate, sc.metadata.period_days, strategies=result.strategies),
                      costs)


def candidate_games(scenario: Scenario, decisions: Decisions) -> dict[str, tuple[str, Decisions]]:
    """Simple policies for the debrief: each scenario strategy all game long, and each priced lever pushed
    as far as the budget and its range allow all game long."""
    n = len(decisions.turns)
    out: dict[str, tuple[str, Decisions]] = {}
    for strategy in scenario.strategies:
        turns = [Turn(initiatives=list(strategy.initiatives))] * n
        out[f"strategy {strategy.name}"] = ("scenario strategy", decisions.model_copy(update={"turns": turns}))
    levers = {nd.name: nd for nd in scenario.network.nodes if nd.kind == "lever"}
    for name, price in decisions.lever_costs.items():
        node = levers[name]
        room = decisions.budget / (decisions.turn_months * price) if price > 0 else float("inf")
        top = node.reference + room if node.max is None else min(node.max, node.reference + room)
        if top == float("inf") or top <= node.reference:
            continue
        turns = [Turn(levers={name: top})] * n
        from simulator.analysis.units import humanise, sensible

        out[f"lever {humanise(name)} = {sensible(top)}"] = ("lever policy", decisions.model_copy(update={"turns": turns}))
    return out


def debrief(loaded: LoadedScenario, played: PlayResult, workers: int | None = 1) -> Debrief:
    """Compare the game's NPV with the scenario's strategies and simple lever policies (best NPV wins)."""
    sc = loaded.scenario
    npv = _npv_by_strategy(played.timeseries)
    rows = [{"candidate": "your game", "kind": "played", "npv": npv[PLAYED], "within_budget": True}]
    for label, (kind, game) in candidate_games(sc, played.decisions).items():
        try:
            check(sc, game)
            within = True
        except UsageError:
            within = False
        res = replay(loaded, game, workers=workers, enforce_budget=False)
        rows.append({"candidate": label, "kind": kind, "npv": _npv_by_strategy(res.timeseries)[PLAYED],
                     "within_budget": within})
    df = pd.DataFrame(rows)
    df["delta_npv"] = df["npv"] - npv["baseline"]
    df = df.sort_values("npv", ascending=False, kind="stable").reset_index(drop=True)
    fair = df[df["within_budget"]]
    best = fair.iloc[0]
    rank = int(fair.index.get_loc(fair.index[fair["candidate"] == "your game"][0])) + 1
    return Debrief(float(npv[PLAYED]), float(npv["baseline"]), df, str(best["candidate"]), float(best["npv"]), rank)


def _npv_by_strategy(ts: pd.DataFrame) -> pd.Series:
    last = ts.sort_values("period").groupby(["strategy", "replication"])["npv"].last()
    return last.groupby(level="strategy").mean()


def play_document(played: PlayResult, brief: Debrief | None, currency: str) -> dict:
    from simulator.analysis.comparison import comparison_document
    from simulator.analysis.scorecard import scorecard_document

    doc = {
        "seed": played.decisions.seed, "replications": played.decisions.replications, "months": played.months,
        "currency": currency, "turns": [{"turn": c.turn, "levers": c.levers, "initiatives": c.initiatives,
                                         "total": c.total} for c in played.costs],
        "scorecard": scorecard_document(played.scorecard), "comparison": comparison_document(played.comparison),
    }
    if brief is not None:
        doc["debrief"] = {"played_npv": brief.played_npv, "baseline_npv": brief.baseline_npv, "best": brief.best,
                          "best_npv": brief.best_npv, "rank": brief.rank,
                          "candidates": brief.candidates.to_dict("records")}
    return doc


__all__ = ["Debrief", "Decisions", "PlayResult", "Turn", "TurnCost", "candidate_games", "check", "debrief",
           "lever_settings", "new_decisions", "play_document", "played_strategy", "read_decisions", "replay",
           "write_decisions"]
