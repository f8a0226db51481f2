"""Strategy comparison: paired Δ NPV against baseline with its CI, P(better), ROI, payback, ranking."""

from __future__ import annotations

import pandas as pd
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from simulator.analysis.comparison import p_better_text
from tui.format import delta_text, money, percent, signed_money
from tui.snapshot import RunSnapshot

COLUMNS = ("#", "strategy", "Δ NPV [95% CI]", "Δ firm value [95% CI]", "P(better)", "ROI", "payback", "Δ sat.", "verdict")


def verdict(row: dict) -> Text:
    if row["distinguishable"]:
        up = row["delta_decision"] > 0  # the ranked measure: firm value once known, else NPV
        return Text("better" if up else "worse", style="green" if up else "red")
    need = row["replications_needed"]
    extra = "" if need is None or pd.isna(need) else f": ~{int(need)} reps for 80% power"
    return Text("not yet" + extra, style="dim")


def firm_text(row: dict) -> Text:
    """Δ firm value (NPV + continuing value of the base left at the horizon) with its CI; '-' until it is known."""
    if pd.isna(row.get("delta_firm_value", float("nan"))):
        return Text("-", style="dim")
    return delta_text(row["delta_firm_value"], row["firm_ci_low"], row["firm_ci_high"])


def ranking_text(a) -> Text:
    """What the ranking uses, and the one-line warning when NPV and firm value rank the strategies differently."""
    ranked_on = a.comparison.attrs.get("ranked_on", "npv")
    wanted = a.model.scenario.valuation
    if ranked_on == "firm_value":
        text = Text("Ranked on firm value: NPV + the continuing value of the customers left at the horizon.", style="dim")
    elif wanted.method == "continuing" and wanted.rank_on == "firm_value":
        text = Text("Ranked on NPV until the run ends (firm value needs the customer ledger).", style="dim")
    else:
        text = Text("Ranked on NPV over the horizon.", style="dim")
    if a.ranking_note:
        text.append("\n")
        text.append(a.ranking_note, style="bold yellow")
    return text


class ComparisonView(Vertical):
    """One row per strategy, ranked by Δ NPV; the headline line names the leader and the baseline's NPV."""

    def compose(self) -> ComposeResult:
        yield Static("Waiting for the first complete replication…", id="comparison-headline")
        yield DataTable(id="comparison-table", zebra_stripes=True, cursor_type="row", fixed_columns=2)
        yield Static("", id="comparison-ranking")
        yield Static("Δ NPV: paired difference to baseline with its 95% CI (green/red: the whole interval is above/"
                     "below zero). P(better): replications won, with the 95% interval of that share. ~N reps for 80% "
                     "power: replications a paired t test needs to detect the Δ seen so far.", id="comparison-note")

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)

    def show(self, snap: RunSnapshot) -> None:
        table = self.query_one(DataTable)
        headline = self.query_one("#comparison-headline", Static)
        a = snap.analysis
        if a is None or a.comparison.empty:
            return
        cmp = a.comparison
        base = a.summary[(a.summary["strategy"] == "baseline") & (a.summary["metric"] == "npv")]
        base_npv = float(base["mean"].iloc[0]) if len(base) else float("nan")
        best = cmp.iloc[0]
        on_firm = best["decision_measure"] == "firm_value"
        lead = (f"Best: [b]{best['strategy']}[/b] {signed_money(best['delta_decision'])} "
                f"{'firm value' if on_firm else 'NPV'} vs baseline"
                if best["distinguishable"] and best["delta_decision"] > 0 else "No strategy beats baseline yet")
        headline.update(f"{lead} · baseline NPV {money(base_npv)} · over {a.replications} paired replication"
                        f"{'s' if a.replications != 1 else ''}")
        self.query_one("#comparison-ranking", Static).update(ranking_text(a))
        cursor = table.cursor_row
        table.clear()
        for row in cmp.to_dict("records"):
            payback = "never" if row["payback_month"] is None or pd.isna(row["payback_month"]) else f"m{int(row['payback_month'])}"
            table.add_row(
                str(row["rank"]), row["strategy"], delta_text(row["delta_npv"], row["ci_low"], row["ci_high"]),
                firm_text(row),
                p_better_text(row), "-" if pd.isna(row["roi"]) else percent(row["roi"]), payback,
                f"{row['delta_satisfaction']:+.2f}", verdict(row), key=row["strategy"])
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1))
