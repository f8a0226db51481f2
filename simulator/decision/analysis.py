"""From stored decision runs to what a leader acts on: the decision table, value of information, and one
recommendation with its trade-offs, the same text for the CLI, the terminal UI and the report.

The recommendation rule, stated once: the strategy with the highest expected value of the decision measure
(firm value by default), unless a strategy whose expected value is statistically tied with it (the paired
difference over draws has a 95% interval that includes 0) is better on the scorecard (more draws with every
perspective green) or on risk (a better worst 5% of draws); then that one, and the text says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from simulator.analysis.stats import mean_ci
from simulator.analysis.units import humanise, money, strategy_labels
from simulator.decision import value as v
from simulator.decision.labels import describe
from simulator.decision.runner import DecisionPlan, per_draw

MEASURE_LABEL = {"firm_value": "firm value", "npv": "NPV"}
TOP_SOBOL = 2  # strategies whose Δ gets variance-based sensitivity
MIN_DRAWS_VOI = 32  # fewer draws cannot separate one assumption's signal from the others' (31 in the shipped file)
MIN_DRAWS_SOBOL = 256  # below this, first-order indices of 31 assumptions are mostly estimation noise


@dataclass(frozen=True)
class Recommendation:
    strategy: str
    headline: str
    reasons: tuple[str, ...]  # one sentence each: trade-offs, robustness, what to test first

    @property
    def text(self) -> str:
        return " ".join((self.headline, *self.reasons))


@dataclass(frozen=True)
class DecisionResult:
    scenario: str
    currency: str
    measure: str
    horizon: int
    draws: int  # complete draws analysed
    draws_planned: int
    replications: int
    seed: int
    assumptions: tuple[str, ...]
    labels: dict[str, str]
    table: pd.DataFrame  # value.decision_table at the decision horizon
    evpi: float
    evppi: pd.DataFrame  # parameter, label, evppi, evppi_se, share_of_evpi, rank
    sobol: dict[str, pd.DataFrame]  # strategy -> first-order indices of its Δ vs baseline
    discovery: tuple[v.Rule, ...]  # where the recommended strategy loses to the runner-up
    runner_up: str | None
    horizons: pd.DataFrame  # strategy, horizon, delta_mean, p_best
    recommendation: Recommendation
    notes: tuple[str, ...] = field(default=())


def signed_money(x: float, currency: str | None = None) -> str:
    """'+€797k', '−€14.2k' (money by magnitude with its currency; '-' when missing)."""
    return "-" if x != x else money(x, currency, signed=True)


def analyse(plan: DecisionPlan, outcomes: pd.DataFrame) -> DecisionResult:
    """Every figure of the decision from the stored per-replication outcomes (complete draws only)."""
    sc = plan.loaded.scenario
    measure, horizon = plan.measure, plan.horizons[0]
    if plan.inputs.shape[1] == 0:  # nothing uncertain: one draw, so its replications are what can be compared
        outcomes = outcomes.assign(draw=outcomes["replication"])
    draws = per_draw(outcomes, measure, horizon)
    labels = {p: describe(p, plan.loaded.data) for p in plan.inputs.columns}
    notes: list[str] = []
    if draws.empty:
        raise ValueError("no complete draw to analyse yet")
    table = v.decision_table(draws)
    other = "npv" if measure == "firm_value" else "firm_value"
    if other in outcomes.columns:  # the other money measure beside it: NPV over the horizon, or firm value
        extra = v.decision_table(per_draw(outcomes, other, horizon))
        keep = ["delta_mean", "delta_ci_low", "delta_ci_high", "delta_p05", "delta_p95", "value_mean"]
        table = table.merge(extra[["strategy", *keep]].rename(columns={c: f"{other}_{c}" for c in keep}),
                            on="strategy", how="left")
    n = int(table["draws"].iloc[0])
    inputs = plan.inputs.reindex(sorted(draws["draw"].unique()))
    varying = [c for c in inputs.columns if inputs[c].nunique() > 1]
    total = v.evpi(draws)
    if varying and n >= MIN_DRAWS_VOI:
        evppi = v.evppi(draws, inputs[varying])
        evppi.insert(1, "label", evppi["parameter"].map(labels))
    else:
        evppi = pd.DataFrame(columns=["parameter", "label", "evppi", "evppi_se", "share_of_evpi", "rank", "method"])
        if not varying:
            notes.append("No assumption varies: the figures carry simulation noise only. Write uncertain numbers as "
                         "distributions (see the README, 'Assumptions as distributions').")
        else:
            notes.append(f"{n} complete draws: too few for value of information (it needs at least "
                         f"{MIN_DRAWS_VOI}).")
    ranked = table.sort_values("value_mean", ascending=False, kind="stable")["strategy"].tolist()
    sobol: dict[str, pd.DataFrame] = {}
    if varying and n < MIN_DRAWS_SOBOL:
        notes.append(f"Variance-based sensitivity (first-order Sobol indices) needs at least {MIN_DRAWS_SOBOL} draws; "
                     f"this decision has {n}.")
    if varying and n >= MIN_DRAWS_SOBOL:
        wide = draws.pivot(index="draw", columns="strategy", values="value")
        for s in [s for s in ranked if s != "baseline"][:TOP_SOBOL]:
            delta = (wide[s] - wide["baseline"]).loc[inputs.index]
            if delta.std() > 0:
                sobol[s] = v.first_order_sobol(delta, inputs[varying]).assign(
                    label=lambda d: d["parameter"].map(labels))
    rec, runner_up = recommend(draws, table, evppi, total, outcomes, measure, plan.horizons,
                               plan.inputs.shape[1] > 0, currency=sc.metadata.currency, names=strategy_labels(sc))
    discovery: tuple[v.Rule, ...] = ()
    if runner_up is not None and varying and n >= MIN_DRAWS_VOI:
        discovery = tuple(v.scenario_discovery(draws, inputs[varying], rec.strategy, runner_up))
    return DecisionResult(
        scenario=sc.metadata.name, currency=sc.metadata.currency, measure=measure, horizon=horizon, draws=n,
        draws_planned=plan.draws, replications=plan.replications, seed=plan.seed,
        assumptions=tuple(plan.inputs.columns), labels=labels, table=table, evpi=total, evppi=evppi, sobol=sobol,
        discovery=discovery, runner_up=runner_up, horizons=horizon_table(plan, outcomes), recommendation=rec,
        notes=tuple(notes))


def horizon_table(plan: DecisionPlan, outcomes: pd.DataFrame) -> pd.DataFrame:
    """Per strategy and horizon: expected Δ of the measure vs baseline and P(best) (how the ranking moves)."""
    rows = []
    for h in plan.horizons:
        draws = per_draw(outcomes, plan.measure, h)
        if draws.empty:
            continue
        t = v.decision_table(draws)
        rows += [{"strategy": r.strategy, "horizon": h, "delta_mean": r.delta_mean, "p_best": r.p_best,
                  "value_mean": r.value_mean} for r in t.itertuples()]
    return pd.DataFrame(rows, columns=["strategy", "horizon", "delta_mean", "p_best", "value_mean"])


def _tied(wide: pd.DataFrame, a: str, b: str) -> tuple[bool, float, float, float]:
    """Is a's lead over b resolved? (tied, mean, ci_low, ci_high) of the paired difference over draws."""
    mean, low, high = mean_ci((wide[a] - wide[b]).to_numpy())
    return (not (low > 0)) if low == low else True, mean, low, high


def recommend(draws: pd.DataFrame, table: pd.DataFrame, evppi: pd.DataFrame, total_evpi: float,
              outcomes: pd.DataFrame, measure_column: str, horizons: tuple[int, ...],
              uncertain: bool = True, currency: str | None = None,
              names: dict[str, str] | None = None) -> tuple[Recommendation, str | None]:
    """The recommendation (see the module docstring for the rule) and the runner-up it is compared with.

    `draws`: per (draw, strategy) `value` and greens; `outcomes`: per replication, with `horizon` and the measure
    columns (for other horizons and the NPV cross-check); `uncertain`: whether the draws vary assumptions (else
    they are replications at the point values, and the text says so). The text shows money with `currency`
    ('+€797k') and strategies by their `names` (labels; default: humanised names)."""

    def _signed(x: float) -> str:
        return signed_money(x, currency)

    def format_money(x: float) -> str:
        return money(x, currency)

    def label(strategy: str) -> str:
        return (names or {}).get(strategy) or humanise(strategy)

    measure = MEASURE_LABEL.get(measure_column, measure_column)
    months = horizons[0]
    unit = "draws" if uncertain else "replications"
    t = table.set_index("strategy")
    wide = draws.pivot(index="draw", columns="strategy", values="value").dropna()
    ranked = t.sort_values("value_mean", ascending=False, kind="stable").index.tolist()
    top = ranked[0]
    green = "p_all_green" in t.columns
    candidates = [top] + [s for s in ranked[1:] if len(wide) > 1 and _tied(wide, top, s)[0]]
    choice = max(candidates, key=lambda s: (round(float(t.at[s, "p_all_green"]), 2) if green else 0.0,
                                           float(t.at[s, "cvar05_delta"]), float(t.at[s, "value_mean"])))
    others = [s for s in ranked if s != choice]
    runner_up = others[0] if others else None
    row = t.loc[choice]
    reasons: list[str] = []
    if choice == "baseline":
        best_other = next((s for s in ranked if s != "baseline"), None)
        headline = (f"Keep the current course (baseline): no strategy raises expected {measure} over {months} months"
                    + (f"; the best, {label(best_other)}, changes it by {_signed(t.at[best_other, 'delta_mean'])} "
                       f"[{_signed(t.at[best_other, 'delta_ci_low'])}, {_signed(t.at[best_other, 'delta_ci_high'])}]."
                       if best_other else "."))
    else:
        resolved = len(wide) > 1 and row["delta_ci_low"] > 0
        verb = "Recommended" if resolved else "Leaning to"  # an unresolved gain is not a recommendation
        headline = (f"{verb}: {label(choice)}: {_signed(row['delta_mean'])} expected {measure} over {months} months "
                    f"against baseline [{_signed(row['delta_ci_low'])}, {_signed(row['delta_ci_high'])}], better than "
                    f"baseline in {row['p_better']:.0%} of {unit}.")
    if choice != "baseline" and not resolved:
        reasons.append(f"Its gain over baseline is not resolved: the 95% interval includes 0 at {len(wide)} {unit}.")
    if choice != top:
        _, diff, low, high = _tied(wide, top, choice)
        why = "the scorecard" if green and t.at[choice, "p_all_green"] > t.at[top, "p_all_green"] + 0.005 else \
            f"the worst 5% of {unit}"
        reasons.append(f"{label(top)} has the higher expected {measure} ({_signed(diff)} [{_signed(low)}, "
                       f"{_signed(high)}]), a difference the {unit} do not resolve, and {label(choice)} is better on "
                       f"{why}.")
    reasons.append(f"It is the best strategy in {row['p_best']:.0%} of {unit}; expected regret "
                   f"{format_money(row['expected_regret'])}, at most {format_money(row['max_regret'])}; in the worst "
                   f"5% of {unit} its {measure} is {_signed(row['cvar05_delta'])} against baseline.")
    reasons += _scorecard_reasons(choice, draws, unit)
    reasons += _horizon_reasons(horizons, measure_column, outcomes, choice, currency, label)
    if measure_column == "firm_value" and "npv" in outcomes.columns:
        npv_draws = per_draw(outcomes, "npv", months) if "horizon" in outcomes.columns else pd.DataFrame()
        if not npv_draws.empty:
            npv_best = npv_draws.groupby("strategy")["value"].mean().idxmax()
            if npv_best != choice:
                reasons.append(f"On NPV over the {months} months alone {label(npv_best)} ranks first: {label(choice)} "
                               "leads on the "
                               "value of the customers it leaves at the horizon.")
    clear = evppi[evppi["above_noise"].astype(bool)] if "above_noise" in evppi.columns else evppi
    if len(clear) and total_evpi > 0 and float(clear["evppi"].iloc[0]) > 0:
        first = clear.iloc[0]
        reasons.append(f"Test first: {first['label']} (`{first['parameter']}`): knowing it would be worth up to "
                       f"{format_money(first['evppi'])} ({first['share_of_evpi']:.0%} of the "
                       f"{format_money(total_evpi)} that perfect information on every assumption is worth).")
    elif len(evppi) and uncertain:
        floor = float(evppi["noise_floor"].iloc[0]) if "noise_floor" in evppi.columns else 0.0
        reasons.append(f"No single assumption stands out: none has a value of information above what an irrelevant "
                       f"one scores at {len(wide)} draws ({format_money(floor)}); resolving them all is worth "
                       f"{format_money(total_evpi)}. More draws (--draws) would sharpen this.")
    elif not uncertain:
        reasons.append("The assumptions are held at their point values, so the spread is simulation noise only; "
                       "`spc decide` tests the recommendation against the ranges of the uncertain ones.")
    return Recommendation(choice, headline, tuple(reasons)), runner_up


def _scorecard_reasons(strategy: str, draws: pd.DataFrame, unit: str) -> list[str]:
    sub = draws[draws["strategy"] == strategy]
    out = []
    for col in [c for c in draws.columns if c.startswith("green_")]:
        share = float(sub[col].mean())
        if share < 0.5:
            name = col.removeprefix("green_").replace("_", " ")
            out.append(f"Trade-off: its {name} perspective is green in only {share:.0%} of {unit}." if share > 0 else
                       f"Trade-off: its {name} perspective is green in none of the {unit}.")
    return out


def _horizon_reasons(horizons: tuple[int, ...], measure: str, outcomes: pd.DataFrame, strategy: str,
                     currency: str | None = None, label=humanise) -> list[str]:
    out = []
    for h in horizons[1:]:
        d = per_draw(outcomes, measure, h)
        if d.empty:
            continue
        means = d.groupby("strategy")["value"].mean()
        best = means.idxmax()
        if best != strategy:
            gap = means[best] - means.get(strategy, math.nan)
            out.append(f"Over {h} months it loses to {label(best)} by {money(gap, currency)} in expectation.")
    return out


def decision_document(result: DecisionResult) -> dict:
    """JSON-ready: everything `spc decide` prints, numbers as numbers."""
    def records(df: pd.DataFrame) -> list[dict]:
        return [{k: (None if isinstance(x, float) and not np.isfinite(x) else x) for k, x in r.items()}
                for r in df.to_dict(orient="records")]

    return {
        "scenario": result.scenario, "currency": result.currency, "measure": result.measure,
        "horizon_months": result.horizon, "draws": result.draws, "draws_planned": result.draws_planned,
        "replications": result.replications, "seed": result.seed, "assumptions": list(result.assumptions),
        "recommendation": {"strategy": result.recommendation.strategy, "headline": result.recommendation.headline,
                           "reasons": list(result.recommendation.reasons)},
        "strategies": records(result.table), "evpi": result.evpi,
        "evppi": records(result.evppi.drop(columns=["method"], errors="ignore")),
        "sobol": {s: records(df) for s, df in result.sobol.items()},
        "runner_up": result.runner_up,
        "discovery": [{"rule": r.text, "loss_rate": r.loss_rate, "coverage": r.coverage,
                       "share_of_draws": r.share_of_draws} for r in result.discovery],
        "horizons": records(result.horizons), "notes": list(result.notes),
    }


def runs_recommendation(ts: pd.DataFrame, ledger: pd.DataFrame, scenario, measure: str | None = None,
                        values: pd.DataFrame | None = None) -> Recommendation | None:
    """The same rule on an ordinary run (`spc run`, the terminal UI, the report): its replications are the draws
    (common random numbers, assumptions at their point values). None until every strategy has two replications.
    `values`: the runs' `continuing_values`, when the caller has them."""
    from simulator.analysis.summary import decision_summaries, per_replication

    if ts.empty or ts["strategy"].nunique() < 2:
        return None
    summaries = decision_summaries(ts, ledger, scenario, per_replication(ts), values)
    measure = measure or scenario.valuation.rank_on
    if measure == "firm_value" and not np.isfinite(summaries["firm_value"].to_numpy(dtype=float)).all():
        measure = "npv"  # no ledger yet (a live view): rank on NPV until firm values are known
    horizon = int(ts["period"].max())
    outcomes = summaries.assign(horizon=horizon, draw=summaries["replication"])
    draws = per_draw(outcomes, measure, horizon)
    if draws["draw"].nunique() < 2 or "baseline" not in set(draws["strategy"]):
        return None
    table = v.decision_table(draws)
    empty = pd.DataFrame(columns=["parameter", "label", "evppi", "share_of_evpi"])
    rec, _ = recommend(draws, table, empty, 0.0, outcomes, measure, (horizon,), uncertain=False,
                       currency=scenario.metadata.currency, names=strategy_labels(scenario))
    return rec
