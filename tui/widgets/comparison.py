"""Strategy comparison: what to do first (the recommendation), then paired Δ NPV against baseline with its CI,
P(better), ROI, payback, ranking."""

from __future__ import annotations

import pandas as pd
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from simulator.analysis.comparison import p_better_text
from tui.format import delta_text, money, percent, recommendation_text
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


def ranking_text(a, context: str = "") -> Text:
    """What the ranking uses, and the one-line warning when NPV and firm value rank the strategies differently."""
    ranked_on = a.comparison.attrs.get("ranked_on", "npv")
    wanted = a.model.scenario.valuation
    if ranked_on == "firm_value":
        text = Text("Ranked on firm value: NPV + the continuing value of the customers left at the horizon.", style="dim")
    elif wanted.method == "continuing" and wanted.rank_on == "firm_value":
        text = Text("Ranked on NPV until the run ends (firm value needs the customer ledger).", style="dim")
    else:
        text = Text("Ranked on NPV over the horizon.", style="dim")
    if context:
        text = Text(context + " ", style="dim") + text
    if a.ranking_note:
        text.append("\n")
        text.append(a.ranking_note, style="bold yellow")
    return text


NOTE = ("Δ NPV: paired difference to baseline with its 95% CI (green/red: the whole interval is above/below zero). "
        "P(better): replications won, with the 95% interval of that share. ~N reps for 80% power: replications a "
        "paired t test needs to detect the Δ seen so far.")
WAITING = "Waiting for the first complete replications: the recommendation needs two of every strategy…"


def wrapped_lines(text: Text | str, width: int, console) -> int:
    """How many lines `text` takes at `width` columns."""
    text = Text(text) if isinstance(text, str) else text
    return sum(len(Text(part).wrap(console, width)) or 1 for part in text.plain.split("\n")) if width > 0 else 0


class ComparisonView(Vertical):
    """First what to do (the recommendation over the replications so far), then one row per strategy, ranked."""

    recommendation = None  # the Recommendation shown (None: waiting for two complete replications)
    ranking = Text("")  # the line below the table: what the ranking is over and on

    def compose(self) -> ComposeResult:
        yield Static(WAITING, id="comparison-headline")
        yield DataTable(id="comparison-table", zebra_stripes=True, cursor_type="row", fixed_columns=2)
        yield Static("", id="comparison-ranking")
        yield Static(NOTE, id="comparison-note")

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)

    def show(self, snap: RunSnapshot) -> None:
        table = self.query_one(DataTable)
        a = snap.analysis
        if a is None or a.comparison.empty:
            return
        cmp = a.comparison
        base = a.summary[(a.summary["strategy"] == "baseline") & (a.summary["metric"] == "npv")]
        base_npv = float(base["mean"].iloc[0]) if len(base) else float("nan")
        self.recommendation = a.recommendation
        context = (f"Over {a.replications} paired replication{'s' if a.replications != 1 else ''}; baseline NPV "
                   f"{money(base_npv)}.")
        self.ranking = ranking_text(a, context)
        self.query_one("#comparison-ranking", Static).update(self.ranking)
        cursor = table.cursor_row
        table.clear(columns=True)  # widths from these rows: kept columns only ever widen, by earlier partial rows
        table.add_columns(*COLUMNS)
        for row in cmp.to_dict("records"):
            payback = "never" if row["payback_month"] is None or pd.isna(row["payback_month"]) else f"m{int(row['payback_month'])}"
            table.add_row(
                str(row["rank"]), row["strategy"], delta_text(row["delta_npv"], row["ci_low"], row["ci_high"]),
                firm_text(row),
                p_better_text(row), "-" if pd.isna(row["roi"]) else percent(row["roi"]), payback,
                f"{row['delta_satisfaction']:+.2f}", verdict(row), key=row["strategy"])
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1))
        self.fit_headline()

    def on_resize(self) -> None:
        self.fit_headline()

    def fit_headline(self) -> None:
        """The recommendation above the table: its headline and first reason always, further reasons while the
        table's rows and the ranking line still fit, and the legend below only when there is room left."""
        headline = self.query_one("#comparison-headline", Static)
        note = self.query_one("#comparison-note", Static)
        rec = self.recommendation
        width, height = self.size.width, self.size.height
        if rec is None:
            headline.update(Text(WAITING, style="dim"))
            return
        if width <= 0:  # not laid out yet (another tab is shown): everything, fitted when shown
            headline.update(recommendation_text(rec.headline, rec.reasons))
            return
        console = self.app.console
        table = self.query_one(DataTable)
        fixed = table.row_count + 2 + wrapped_lines(self.ranking, width, console)  # rows, header, scrollbar; ranking
        room = height - fixed - 1  # 1: the margin below the recommendation
        used = wrapped_lines(rec.headline, width, console)
        reasons: list[str] = []
        for i, reason in enumerate(rec.reasons):
            lines = wrapped_lines(reason, width, console)
            more_line = 1 if i + 1 < len(rec.reasons) else 0  # the "+N more" line if the rest is left out
            if i > 0 and used + lines + more_line > room:
                break
            reasons.append(reason)
            used += lines
        more = len(rec.reasons) - len(reasons)
        headline.update(recommendation_text(rec.headline, reasons, more))
        used += 1 if more else 0
        note.display = room - used >= wrapped_lines(NOTE, width, console)
