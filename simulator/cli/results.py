"""`spc results DB`'s answers: the outcome per run and strategy, and `--compare KEY` (a sweep against its values).

Tables show money by magnitude with the scenario's currency and strategies by their labels; `--format csv` writes
the same figures as plain numbers (one row per run and strategy, or the comparison's wide table)."""

from __future__ import annotations

import sys

import pandas as pd

from simulator.analysis.units import money, sensible

MEASURE = {"npv": "NPV", "firm_value": "firm value"}


def _console():
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=max(console.width, 200))


def _variant_text(variant: dict) -> str:
    return ", ".join(f"{k}={sensible(v) if isinstance(v, float) else v}" for k, v in variant.items()) or "(base)"


def _best_text(label: str, tied: str, labels: dict[str, str]) -> str:
    return label + (f" (tied with {labels.get(tied, tied)})" if tied else "")


def print_outcomes(outcomes: pd.DataFrame, fmt: str = "table", shown: int = 20) -> None:
    """Per run: NPV and firm value of each strategy (mean over replications) and the best strategy."""
    if fmt == "csv":
        frame = outcomes.assign(variant=outcomes["variant"].map(_variant_text))
        frame.to_csv(sys.stdout, index=False)
        return
    from rich.markup import escape
    from rich.table import Table

    console = _console()
    if outcomes.empty:
        console.print("No finished task yet: no outcome to show.")
        return
    runs = list(dict.fromkeys(outcomes["run_id"]))
    if len(runs) > shown:
        console.print(f"(outcomes of the last {shown} runs; all with --format csv)")
        outcomes = outcomes[outcomes["run_id"].isin(runs[-shown:])]
    for scenario, group in outcomes.groupby("scenario", sort=False):
        strategies = list(dict.fromkeys(group["strategy"]))
        labels = dict(zip(group["strategy"], group["label"], strict=True))
        currency = group["currency"].iloc[0]
        firm = group["firm_value"].notna().any()
        table = Table(title=f"{escape(str(scenario))}: outcome per run, mean over replications ({currency}); "
                            + ("each cell: NPV over the horizon / firm value" if firm else "NPV over the horizon"))
        table.caption = ("best: highest expected " + " or ".join(sorted({MEASURE[m] for m in group["ranked_on"]}))
                         + "; tied: its lead over the runner-up is not resolved (95% CI of the paired difference "
                           "over replications includes 0)")
        for col in ("run", "variant", "months", "reps"):
            table.add_column(col, justify="right" if col != "variant" else "left", overflow="fold")
        for s in strategies:
            table.add_column(escape(labels[s]), justify="right")
        table.add_column("best", justify="left")
        for run_id, run in group.groupby("run_id", sort=False):
            by = run.set_index("strategy")
            cells = []
            for s in strategies:
                if s not in by.index:
                    cells.append("-")
                    continue
                r = by.loc[s]
                text = money(r["npv"], currency) + (f" / {money(r['firm_value'], currency)}" if firm else "")
                cells.append(f"[bold]{text}[/bold]" if r["best"] else text)
            best = run[run["best"]].iloc[0]
            table.add_row(str(run_id), escape(_variant_text(best["variant"])), str(best["months"]),
                          str(int(run["replications"].min())), *cells,
                          escape(_best_text(best["label"], best["tied_with"], labels)))
        console.print(table)


def print_compare(frame: pd.DataFrame, outcomes: pd.DataFrame, fmt: str = "table") -> None:
    """A sweep's outcome against the swept values: one row per run, the measure per strategy, the best."""
    if fmt == "csv":
        frame.to_csv(sys.stdout, index=False)
        return
    from rich.markup import escape
    from rich.table import Table

    console = _console()
    if frame.empty:
        console.print("No finished run holds that swept value yet.")
        return
    key, others, measure = frame.attrs["key"], frame.attrs["others"], frame.attrs["measure"]
    labels = dict(zip(outcomes["strategy"], outcomes["label"], strict=False))
    currency = outcomes["currency"].iloc[0]
    strategies = list(dict.fromkeys(outcomes["strategy"]))
    strategies = [s for s in strategies if s in frame.columns]
    table = Table(title=f"{MEASURE[measure]} ({currency}, mean over replications) against {escape(key)}"
                        + (f", with {', '.join(map(escape, others))}" if others else ""))
    for col in (key, *others):
        table.add_column(escape(col), justify="right")
    for s in strategies:
        table.add_column(escape(labels.get(s, s)), justify="right")
    table.add_column("best", justify="left")
    table.add_column("run", justify="right")
    for r in frame.to_dict("records"):
        cells = []
        for s in strategies:
            text = money(r[s], currency)
            cells.append(f"[bold]{text}[/bold]" if s == r["best"] else text)
        keys = ["-" if pd.isna(r[k]) else sensible(r[k]) if isinstance(r[k], float) else str(r[k]) for k in (key, *others)]
        best = "-" if r["best"] is None else _best_text(labels.get(r["best"], r["best"]), r["tied_with"], labels)
        table.add_row(*keys, *cells, escape(best), str(r["run_id"]))
    console.print(table)
    winners = frame["best"].value_counts()
    if len(winners) > 1:
        console.print("The best strategy changes with " + escape(key) + ": " + "; ".join(
            f"{labels.get(s, s)} in {n} run(s)" for s, n in winners.items()) + ".", highlight=False)
    elif len(winners):
        console.print(f"{labels.get(winners.index[0], winners.index[0])} is best in every run of the sweep.",
                      highlight=False)
