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
MIN_JUDGE_MONTHS = 12
"""Below this many months the debrief says the game is too short to judge: programmes that pay later (training,
loyalty) have barely started, and cuts show their savings before their cost in service and customers."""
CUMULATIVE_METRICS = frozenset({"npv", "cumulative_profit"})
"""Metrics that are sums since month 0 (a KPI taking their last value judges a flow to date)."""


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
    """A replayed game: the experiment's frames and the analysis the scorecard view shows.

    The scorecard judges the KPIs on targets pro-rated to the months played (`targets`, see `prorated_targets`)."""

    decisions: Decisions
    months: int
    timeseries: pd.DataFrame
    scorecard: pd.DataFrame
    comparison: pd.DataFrame
    costs: tuple[TurnCost, ...]
    customers: pd.DataFrame | None = None
    targets: pd.DataFrame | None = None  # kpi, kind, full_target, factor, target


@dataclass(frozen=True)
class Debrief:
    """Your game against the best strategy found (same seed, replications and months), ranked on firm value
    (NPV when the scenario values nothing beyond the horizon), with a plain warning when it cannot be judged."""

    played_npv: float
    baseline_npv: float
    candidates: pd.DataFrame  # candidate, kind, npv, delta_npv, firm_value, delta_firm_value, within_budget; best first
    best: str
    best_npv: float
    rank: int
    ranked_on: str = "npv"
    months: int = 0
    played_value: float = float("nan")  # of the ranking measure
    best_value: float = float("nan")
    resolved: bool = False  # the best's lead over the runner-up within budget: paired 95% CI excludes 0
    warning: str = ""  # why the ranking is not advice ('' when it is)


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


def carried_over(decisions: Decisions, turn: int) -> tuple[list[str], list[str], list[str]]:
    """For turn `turn` (1-based): (initiatives continued from the turn before, started, stopped). An initiative
    ticked in consecutive turns runs on without a new one-off cost, so the player must see what carries over."""
    now = decisions.turns[turn - 1].initiatives if 0 < turn <= len(decisions.turns) else []
    before = decisions.turns[turn - 2].initiatives if 1 < turn <= len(decisions.turns) + 1 else []
    return ([n for n in now if n in before], [n for n in now if n not in before],
            [n for n in before if n not in now])


def kpi_kind(aggregation: str, metric: str) -> str:
    """'flow' when the KPI sums over time (aggregation sum, or the last value of a cumulative metric such as NPV),
    else 'level' (a level or a rate: the last value or a mean)."""
    return "flow" if aggregation == "sum" or (aggregation == "last" and metric in CUMULATIVE_METRICS) else "level"


def prorated_targets(scenario: Scenario, months: int) -> tuple[Scenario, pd.DataFrame]:
    """The scenario with its KPI targets pro-rated to `months` played, and a table of what was done.

    Flows are pro-rated linearly: a cumulative KPI (NPV, cumulative profit) by months / horizon (400,000 over
    36 months is 33,333 after 3), a sum over a `window_months` window by min(months, window) / window (the window
    is only part-filled before then). Levels and rates (last value of a level, means) keep their target: a
    satisfaction of 7.8 or a wait of 1.5 minutes means the same after 3 months as after 36. The amber band scales
    with its target. Linear is a simplification: it ignores discounting and ramp-up inside the horizon."""
    horizon = scenario.metadata.horizon_months
    data = copy.deepcopy(scenario.as_data())
    rows = []
    for persp in data["scorecard"]["perspectives"]:
        for obj in persp["objectives"]:
            for k in obj["kpis"]:
                aggregation, window = k.get("aggregation", "last"), k.get("window_months", 1)
                kind = kpi_kind(aggregation, k["metric"])
                if kind == "flow" and aggregation == "sum":
                    factor = min(months, window) / window
                elif kind == "flow":
                    factor = min(months, horizon) / horizon
                else:
                    factor = 1.0
                rows.append({"kpi": k["name"], "kind": kind, "full_target": k["target"], "factor": factor,
                             "target": k["target"] * factor})
                k["target"], k["amber"] = k["target"] * factor, k.get("amber", 0.0) * factor
    return load_data(data), pd.DataFrame(rows, columns=["kpi", "kind", "full_target", "factor",
                                                                      "target"])


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
    judged, targets = prorated_targets(model.scenario, months)
    return PlayResult(decisions, months, ts, scorecard_frame(ts, judged, result.strategies),
                      comparison_frame(ts, sc.metadata.discount_rate, sc.metadata.period_days, strategies=result.strategies),
                      costs, result.customers, targets)


def candidate_games(scenario: Scenario, decisions: Decisions) -> dict[str, tuple[str, Decisions]]:
    """Simple policies for the debrief: each scenario strategy all game long, and each priced lever pushed
    as far as the budget and its range allow all game long."""
    n = len(decisions.turns)
    out: dict[str, tuple[str, Decisions]] = {}
    from simulator.analysis.units import label_of, sensible

    for strategy in scenario.strategies:
        turns = [Turn(initiatives=list(strategy.initiatives))] * n
        out[f"strategy {label_of(strategy)}"] = ("scenario strategy", decisions.model_copy(update={"turns": turns}))
    levers = {nd.name: nd for nd in scenario.network.nodes if nd.kind == "lever"}
    for name, price in decisions.lever_costs.items():
        node = levers[name]
        room = decisions.budget / (decisions.turn_months * price) if price > 0 else float("inf")
        top = node.reference + room if node.max is None else min(node.max, node.reference + room)
        if top == float("inf") or top <= node.reference:
            continue
        turns = [Turn(levers={name: top})] * n
        out[f"lever {label_of(node)} = {sensible(top)}"] = ("lever policy", decisions.model_copy(update={"turns": turns}))
    return out


def debrief(loaded: LoadedScenario, played: PlayResult, workers: int | None = 1) -> Debrief:
    """Compare the game with the scenario's strategies and simple lever policies, ranked on firm value (NPV over
    the months played + the continuing value of the customers left; NPV when the scenario values nothing beyond
    the horizon). Every candidate replays the same seed, so the per-replication values are paired.

    The ranking is not advice when the game is too short (under MIN_JUDGE_MONTHS) or when the best candidate's
    lead over the runner-up is not resolved; `warning` then says so in plain words."""
    sc = loaded.scenario
    measure = "npv" if sc.valuation.method == "none" else "firm_value"
    games = {"your game": ("played", None, played)}
    for label, (kind, game) in candidate_games(sc, played.decisions).items():
        games[label] = (kind, game, replay(loaded, game, workers=workers, enforce_budget=False))
    per_rep: dict[str, pd.DataFrame] = {}
    rows = []
    for label, (kind, game, res) in games.items():
        values = _values(res, sc)
        per_rep[label] = values
        within = True
        if game is not None:
            try:
                check(sc, game)
            except UsageError:
                within = False
        mean = values.groupby(level="strategy").mean()
        rows.append({"candidate": label, "kind": kind, "npv": mean.at[PLAYED, "npv"],
                     "firm_value": mean.at[PLAYED, "firm_value"], "within_budget": within})
    base = per_rep["your game"].groupby(level="strategy").mean().loc["baseline"]
    df = pd.DataFrame(rows)
    df["delta_npv"] = df["npv"] - base["npv"]
    df["delta_firm_value"] = df["firm_value"] - base["firm_value"]
    df = df.sort_values(measure, ascending=False, kind="stable").reset_index(drop=True)
    df = df[["candidate", "kind", "firm_value", "delta_firm_value", "npv", "delta_npv", "within_budget"]]
    fair = df[df["within_budget"]]
    best = fair.iloc[0]
    rank = int(fair.index.get_loc(fair.index[fair["candidate"] == "your game"][0])) + 1
    resolved, lead = _lead(per_rep, fair["candidate"].tolist(), measure)
    return Debrief(float(df.loc[df["candidate"] == "your game", "npv"].iloc[0]), float(base["npv"]), df,
                   str(best["candidate"]), float(best["npv"]), rank, ranked_on=measure, months=played.months,
                   played_value=float(df.loc[df["candidate"] == "your game", measure].iloc[0]),
                   best_value=float(best[measure]), resolved=resolved,
                   warning=judge_warning(played.months, resolved, lead, played.decisions.replications))


def _values(res: PlayResult, scenario: Scenario) -> pd.DataFrame:
    """Per (strategy, replication): NPV and firm value of a replayed game."""
    from simulator.analysis.valuation import continuing_values

    return continuing_values(res.timeseries, res.customers, scenario)[["npv", "firm_value"]]


def _lead(per_rep: dict[str, pd.DataFrame], order: list[str], measure: str) -> tuple[bool, tuple[str, str] | None]:
    """Is the best candidate's lead over the runner-up resolved? (the paired 95% CI over replications excludes 0)"""
    from simulator.analysis.stats import mean_ci

    if len(order) < 2:
        return True, None
    a, b = (per_rep[c].xs(PLAYED, level="strategy")[measure].to_numpy() for c in order[:2])
    _, low, _ = mean_ci(a - b)
    return bool(len(a) > 1 and low > 0), (order[0], order[1])


def judge_warning(months: int, resolved: bool, lead: tuple[str, str] | None, replications: int) -> str:
    """'' when the ranking can be read as advice, else why not, in plain words."""
    out = []
    if months < MIN_JUDGE_MONTHS:
        out.append(f"After only {months} months the game is too short to judge: programmes that pay later (training, "
                   "service, loyalty) have barely started, and cuts show their savings before their cost in service "
                   f"and customers arrives. Play at least {MIN_JUDGE_MONTHS} months before reading the ranking as "
                   "advice.")
    if not resolved and lead is not None:
        out.append(f"The ranking does not resolve: the lead of {lead[0]} over {lead[1]} is within the noise of "
                   f"{replications} replication{'s' if replications != 1 else ''} (the 95% interval of the paired "
                   "difference includes 0).")
    return " ".join(out)


def play_document(played: PlayResult, brief: Debrief | None, currency: str) -> dict:
    from simulator.analysis.comparison import comparison_document
    from simulator.analysis.scorecard import scorecard_document

    doc = {
        "seed": played.decisions.seed, "replications": played.decisions.replications, "months": played.months,
        "currency": currency, "turns": [{"turn": c.turn, "levers": c.levers, "initiatives": c.initiatives,
                                         "total": c.total} for c in played.costs],
        "scorecard": scorecard_document(played.scorecard), "comparison": comparison_document(played.comparison),
        "targets": [] if played.targets is None else played.targets.to_dict("records"),
    }
    if brief is not None:
        doc["debrief"] = {"played_npv": brief.played_npv, "baseline_npv": brief.baseline_npv, "best": brief.best,
                          "best_npv": brief.best_npv, "rank": brief.rank, "ranked_on": brief.ranked_on,
                          "played_value": brief.played_value, "best_value": brief.best_value,
                          "resolved": brief.resolved, "warning": brief.warning,
                          "candidates": brief.candidates.to_dict("records")}
    return doc


__all__ = ["Debrief", "Decisions", "PlayResult", "Turn", "TurnCost", "candidate_games", "carried_over", "check",
           "debrief", "judge_warning", "kpi_kind", "lever_settings", "new_decisions", "play_document", "played_strategy",
           "prorated_targets", "read_decisions", "replay", "write_decisions"]
