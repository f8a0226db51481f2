"""The analysis of one experiment (`analyse`): summary, scorecard, comparison against baseline, valuation and the
recommendation, computed once and shared by every front end (the CLI's tables and JSON, the report, the terminal UI).

Presentation-free: the report (`simulator.report`), the CLI (`simulator.cli`) and the UI format an `Analysis`;
nothing here imports them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from simulator.analysis.units import humanise, strategy_labels
from simulator.decision.analysis import Recommendation
from simulator.graph.compiler import CompiledModel

if TYPE_CHECKING:
    from simulator.analysis.attribution import Attribution
    from simulator.calibration.calibrate import Calibration


@dataclass(frozen=True)
class Analysis:
    model: CompiledModel
    timeseries: pd.DataFrame
    customers: pd.DataFrame
    summary: pd.DataFrame
    scorecard: pd.DataFrame
    comparison: pd.DataFrame
    strategies: tuple[str, ...]
    replications: int
    seed: int
    months: int
    scenario_hash: str
    version: str
    tornado: pd.DataFrame | None = None
    valuation: pd.DataFrame | None = None  # per (strategy, replication): npv, continuing_value, firm_value, ...
    ranking_note: str | None = None  # "Rankings disagree: ..." when NPV and firm value rank strategies differently
    recommendation: Recommendation | None = None  # what to do: the same text in the CLI, the terminal UI and here
    # a Shapley attribution already computed (`spc explain`): the strategy map draws its links as wide as their
    # group's |Shapley value| when it is for the strategy the map shows. Only `spc report --explain` runs one: it
    # costs replications x (1 + 2^groups) extra runs (~100+ on the shipped scenario), more than the report's own.
    attribution: Attribution | None = None
    portfolio: dict | None = None  # `spc report --transactions`: customer_data.report_section's data (its section)
    calibration: Calibration | None = None  # `spc report --history`: calibration.report_section draws its section


TORNADO_REPLICATIONS = 4  # one replication left the chart dominated by noise once paths diverge


def analyse(model: CompiledModel, scenario_hash: str, timeseries: pd.DataFrame, customers: pd.DataFrame, strategies,
            replications: int, seed: int, months: int, scorecard: bool = True) -> Analysis:
    """Summary, scorecard and comparison of an experiment, computed once for the tables, JSON and report.

    `scorecard=False` leaves the scorecard empty: a live view refreshing a table that is not on screen."""
    from simulator import __version__
    from simulator.analysis.comparison import comparison_frame, ranking_disagreement
    from simulator.analysis.scorecard import scorecard_frame
    from simulator.analysis.summary import summary_frame
    from simulator.analysis.valuation import continuing_values
    from simulator.decision.analysis import runs_recommendation

    sc = model.scenario
    values = continuing_values(timeseries, customers, sc)
    cmp = comparison_frame(timeseries, sc.metadata.discount_rate, sc.metadata.period_days, strategies=strategies,
                           firm_values=None if sc.valuation.method == "none" else values["firm_value"],
                           rank_on=sc.valuation.rank_on)
    return Analysis(
        model=model, timeseries=timeseries, customers=customers,
        summary=summary_frame(timeseries, strategies),
        scorecard=scorecard_frame(timeseries, sc, strategies) if scorecard else pd.DataFrame(),
        comparison=cmp,
        strategies=tuple(strategies), replications=replications, seed=seed, months=months, scenario_hash=scenario_hash,
        version=__version__, valuation=values,
        # the note names strategies as people read them (labels), so it is built on a relabelled copy
        ranking_note=None if sc.valuation.method == "none" or cmp.empty else ranking_disagreement(
            cmp.assign(strategy=cmp["strategy"].map(lambda s: strategy_labels(sc).get(s) or humanise(s))), months),
        recommendation=runs_recommendation(timeseries, customers, sc, values=values))


def with_tornado(inp: Analysis, workers: int | None = None) -> Analysis:
    """The analysis plus a tornado of baseline NPV over every link effect (the report's 'what drives NPV')."""
    from dataclasses import replace

    from simulator.analysis.sensitivity import tornado
    from simulator.experiment import default_workers

    links = [f"links.{link.source}->{link.target}.effect" for link in inp.model.scenario.network.links]
    if not links:
        return inp
    torn = tornado(inp.model.scenario.as_data(), "baseline", "npv", 0.2, replications=TORNADO_REPLICATIONS,
                   seed=inp.seed, months=inp.months, workers=workers or default_workers(2 * len(links)), parameters=links)
    return replace(inp, tornado=torn)
