"""`spc decide`'s tables on a terminal (rich): the recommendation first, then the figures behind it."""

from __future__ import annotations

from simulator.analysis.units import humanise, money
from simulator.cli.run import print_recommendation
from simulator.decision.analysis import MEASURE_LABEL, DecisionResult, signed_money

ROWS = 10


def print_decision(result: DecisionResult, console=None, names: dict[str, str] | None = None) -> None:
    """The decision's tables: money with the scenario's currency, strategies by their `names` (labels)."""
    from rich.console import Console
    from rich.table import Table

    if console is None:
        console = Console()
        if not console.is_terminal:
            console = Console(width=max(console.width, 140))
    measure = MEASURE_LABEL.get(result.measure, result.measure)
    rec = result.recommendation
    currency = result.currency

    def format_money(x: float) -> str:
        return money(x, currency)

    def _signed(x: float) -> str:
        return signed_money(x, currency)

    def label(strategy: str) -> str:
        return (names or {}).get(strategy) or humanise(strategy)

    t = Table(title=f"{result.scenario}: {measure} over {result.horizon} months against baseline, {result.draws} draws "
                    f"of {len(result.assumptions)} assumptions x {result.replications} replications ({result.currency})")
    other = "npv" if result.measure == "firm_value" else "firm_value"
    for col in ("strategy", f"Δ {measure} [95% CI]", "5%-95% of draws", f"Δ {MEASURE_LABEL[other]}", "P(best)",
                "P(better)", "regret mean/max", "worst 5%", "P(all green)"):
        t.add_column(col, justify="left" if col == "strategy" else "right")
    order = result.table.sort_values("value_mean", ascending=False, kind="stable")
    for r in order.itertuples():
        base = r.strategy == "baseline"
        t.add_row(
            ("[bold]" + label(r.strategy) + "[/bold]") if r.strategy == rec.strategy else label(r.strategy),
            "-" if base else f"{_signed(r.delta_mean)} [{_signed(r.delta_ci_low)}, {_signed(r.delta_ci_high)}]",
            "-" if base else f"{_signed(r.delta_p05)} to {_signed(r.delta_p95)}",
            "-" if base or not hasattr(r, f"{other}_delta_mean") else _signed(getattr(r, f"{other}_delta_mean")),
            f"{r.p_best:.0%}", "-" if base else f"{r.p_better:.0%}",
            f"{format_money(r.expected_regret)} / {format_money(r.max_regret)}",
            "-" if base else _signed(r.cvar05_delta),
            f"{r.p_all_green:.0%}" if hasattr(r, "p_all_green") and r.p_all_green == r.p_all_green else "-")
    console.print(t)

    if len(result.evppi):
        e = Table(title=f"Value of information: perfect information on every assumption is worth "
                        f"{format_money(result.evpi)} (EVPI); per assumption (EVPPI)")
        floor = float(result.evppi["noise_floor"].iloc[0])
        e.caption = (f"An irrelevant assumption scores up to {format_money(floor)} at {result.draws} draws (95% of "
                     "random orderings): values below it are noise.")
        for col in ("assumption", "parameter path", "EVPPI", "± se", "share of EVPI", ""):
            e.add_column(col, justify="left" if col in ("assumption", "parameter path", "") else "right")
        for r in result.evppi.head(ROWS).itertuples():
            e.add_row(r.label, r.parameter, format_money(r.evppi),
                      format_money(r.evppi_se) if r.evppi_se == r.evppi_se else "-", f"{r.share_of_evpi:.0%}",
                      "" if r.above_noise else "noise")
        console.print(e)
    for strategy, s1 in result.sobol.items():
        s = Table(title=f"What drives Δ {measure} of {label(strategy)} (first-order Sobol indices: share of its variance "
                        "over the draws)")
        for col in ("assumption", "S1 (spline)", "S1 (SALib RBD-FAST)", "± conf"):
            s.add_column(col, justify="left" if col == "assumption" else "right")
        for r in s1.sort_values("S1_smooth", ascending=False).head(ROWS // 2).itertuples():
            s.add_row(r.label, f"{r.S1_smooth:.2f}", f"{r.S1:.2f}", f"{r.S1_conf:.2f}")
        console.print(s)
    if result.runner_up is not None and result.discovery:
        console.print(f"[bold]Where {label(rec.strategy)} loses to {label(result.runner_up)}[/bold] (a shallow decision tree on the draws):")
        for rule in result.discovery:
            console.print(f"  when {rule.text}: loses in {rule.loss_rate:.0%} of those draws ({rule.share_of_draws:.0%} of "
                          f"all draws, {rule.coverage:.0%} of its losses)")
    elif result.runner_up is not None and len(result.evppi):
        console.print(f"{label(rec.strategy)} never loses to {label(result.runner_up)} in a region of the assumptions the draws can "
                      "isolate.")
    if result.horizons["horizon"].nunique() > 1:
        h = Table(title=f"Δ {measure} against baseline and P(best) by horizon")
        h.add_column("strategy")
        horizons = sorted(result.horizons["horizon"].unique())
        for m in horizons:
            h.add_column(f"{m} months", justify="right")
        for strategy, group in result.horizons.groupby("strategy", sort=False):
            cells = []
            for m in horizons:
                row = group[group["horizon"] == m]
                cells.append("-" if row.empty else f"{_signed(row['delta_mean'].iloc[0])} · {row['p_best'].iloc[0]:.0%}")
            h.add_row(label(strategy), *cells)
        console.print(h)
    for note in result.notes:
        console.print(f"note: {note}")
    print_recommendation(console, rec)  # after the tables, as `spc run` does
