"""Strategy comparison: paired Δ NPV against baseline with its CI, P(better), ROI, payback, ranking."""

from __future__ import annotations

import pandas as pd
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from tui.format import delta_text, money, percent, signed_money
from tui.snapshot import RunSnapshot

COLUMNS = ("#", "strategy", "Δ NPV [95% CI]", "P(better)", "ROI", "payback", "Δ sat.", "verdict")


def verdict(row: dict) -> Text:
    if row["distinguishable"]:
        return Text("better" if row["delta_npv"] > 0 else "worse", style="green" if row["delta_npv"] > 0 else "red")
    need = row["replications_needed"]
    extra = "" if need is None or pd.isna(need) else f" ~{int(need)} reps"
    return Text("not yet" + extra, style="dim")


class ComparisonView(Vertical):
    """One row per strategy, ranked by Δ NPV; the headline line names the leader and the baseline's NPV."""

    def compose(self) -> ComposeResult:
        yield Static("Waiting for the first complete replication…", id="comparison-headline")
        yield DataTable(id="comparison-table", zebra_stripes=True, cursor_type="row", fixed_columns=2)
        yield Static("Δ NPV: paired difference to baseline with its 95% CI (green/red: the whole interval is above/"
                     "below zero). not yet ~N: replications that would resolve it.", id="comparison-note")

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
        lead = (f"Best: [b]{best['strategy']}[/b] {signed_money(best['delta_npv'])} NPV vs baseline"
                if best["distinguishable"] and best["delta_npv"] > 0 else "No strategy beats baseline yet")
        headline.update(f"{lead} · baseline NPV {money(base_npv)} · over {a.replications} paired replication"
                        f"{'s' if a.replications != 1 else ''}")
        cursor = table.cursor_row
        table.clear()
        for row in cmp.to_dict("records"):
            payback = "never" if row["payback_month"] is None or pd.isna(row["payback_month"]) else f"m{int(row['payback_month'])}"
            table.add_row(
                str(row["rank"]), row["strategy"], delta_text(row["delta_npv"], row["ci_low"], row["ci_high"]),
                percent(row["p_better"]), "-" if pd.isna(row["roi"]) else percent(row["roi"]), payback,
                f"{row['delta_satisfaction']:+.2f}", verdict(row), key=row["strategy"])
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1))
