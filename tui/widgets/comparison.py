"""Strategy comparison: what to do first (the recommendation), then paired Δ NPV against baseline with its CI,
P(better), ROI, payback, ranking."""

from __future__ import annotations

import pandas as pd
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from simulator.analysis.comparison import p_better_text
from simulator.analysis.units import strategy_labels
from tui.format import change_text, currency_of, delta_text, money, percent, recommendation_text
from tui.snapshot import RunSnapshot
from tui.widgets.scrollcue import ScrollCue

# What decides first, so that at 80 columns rank, strategy, Δ NPV with its interval, P(better) and the verdict
# are on screen; the rest is to the right (the cue below the table names it; ←/→ scroll).
COLUMNS = ("#", "strategy", "Δ NPV [95% CI]", "P(better)", "verdict", "Δ firm value [95% CI]", "ROI", "payback",
           "Δ sat.", "reps for 80% power")
PINNED_COLUMN = "Δ NPV pinned → now"


def verdict(row: dict) -> Text:
    """better / worse than baseline on the ranked measure, or 'not yet' while the interval spans zero."""
    if row["distinguishable"]:
        up = row["delta_decision"] > 0  # the ranked measure: firm value once known, else NPV
        return Text("better" if up else "worse", style="green" if up else "red")
    return Text("not yet", style="dim")


def power_text(row: dict) -> str:
    """'~N': paired replications a t test needs to tell the Δ seen so far from zero four times in five."""
    need = row["replications_needed"]
    return "-" if row["distinguishable"] or need is None or pd.isna(need) else f"~{int(need)}"


def firm_text(row: dict, currency: str | None = None) -> Text:
    """Δ firm value (NPV + continuing value of the base left at the horizon) with its CI; '-' until it is known."""
    if pd.isna(row.get("delta_firm_value", float("nan"))):
        return Text("-", style="dim")
    return delta_text(row["delta_firm_value"], row["firm_ci_low"], row["firm_ci_high"], currency)


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
        "P(better): replications won, with the 95% interval of that share. not yet: the interval spans zero; "
        "reps for 80% power: replications a paired t test needs to detect the Δ seen so far. p pins these results.")
WAITING = "Waiting for the first complete replications: the recommendation needs two of every strategy…"


def wrapped_lines(text: Text | str, width: int, console) -> int:
    """How many lines `text` takes at `width` columns."""
    text = Text(text) if isinstance(text, str) else text
    return sum(len(Text(part).wrap(console, width)) or 1 for part in text.plain.split("\n")) if width > 0 else 0


class ComparisonView(Vertical):
    """First what to do (the recommendation over the replications so far), then one row per strategy, ranked."""

    recommendation = None  # the Recommendation shown (None: waiting for two complete replications)
    ranking = Text("")  # the line below the table: what the ranking is over and on
    pinned = None  # the Analysis pinned with p: Δ NPV is shown before → after against it
    pinned_label = ""  # what the pinned run was, e.g. "run 2 (no edits)"

    def compose(self) -> ComposeResult:
        yield Static(WAITING, id="comparison-headline")
        table = DataTable(id="comparison-table", zebra_stripes=True, cursor_type="row", fixed_columns=2)
        yield table
        yield ScrollCue(table, id="comparison-cue")
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
        cur = currency_of(a)
        names = strategy_labels(a.model.scenario)
        base = a.summary[(a.summary["strategy"] == "baseline") & (a.summary["metric"] == "npv")]
        base_npv = float(base["mean"].iloc[0]) if len(base) else float("nan")
        self.recommendation = a.recommendation
        recommended = a.recommendation.strategy if a.recommendation is not None else None
        context = (f"Over {a.replications} paired replication{'s' if a.replications != 1 else ''}; baseline NPV "
                   f"{money(base_npv, cur)}.")
        self.ranking = ranking_text(a, context)
        pinned = self.pinned_deltas()
        if pinned is not None:
            self.ranking = self.ranking + Text("\n") + self.pinned_summary(a, base_npv, names)
        self._last = snap
        self.query_one("#comparison-ranking", Static).update(self.ranking)
        cursor = table.cursor_row
        label_width = self.label_width(cmp, names, recommended, cur)
        table.clear(columns=True)  # widths from these rows: kept columns only ever widen, by earlier partial rows
        table.add_columns(*COLUMNS[:5], *((PINNED_COLUMN,) if pinned is not None else ()), *COLUMNS[5:])
        for row in cmp.to_dict("records"):
            payback = "never" if row["payback_month"] is None or pd.isna(row["payback_month"]) else f"m{int(row['payback_month'])}"
            name = names.get(row["strategy"], row["strategy"])
            label = Text(f"★ {name}", style="bold") if row["strategy"] == recommended else Text(name)
            label.truncate(label_width, overflow="ellipsis")
            change = (change_text(pinned.get(row["strategy"]), row["delta_npv"], cur),) if pinned is not None else ()
            table.add_row(
                str(row["rank"]), label, delta_text(row["delta_npv"], row["ci_low"], row["ci_high"], cur),
                p_better_text(row), verdict(row), *change, firm_text(row, cur),
                "-" if pd.isna(row["roi"]) else percent(row["roi"]), payback,
                f"{row['delta_satisfaction']:+.2f}", power_text(row), key=row["strategy"])
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1))
        self.fit_headline()

    def label_width(self, cmp: pd.DataFrame, names: dict[str, str], recommended: str | None,
                    currency: str | None) -> int:
        """The strategy column's width: whole labels when they fit, else what leaves rank, Δ NPV, P(better) and
        the verdict on screen (long labels end in '…'; the full label is in the recommendation above)."""
        rows = cmp.to_dict("records")
        natural = max([len("strategy"), *(len(names.get(r["strategy"], r["strategy"])) + 2 * (r["strategy"] == recommended)
                                          for r in rows)])
        width = self.size.width
        if width <= 0:
            return natural
        delta = max([len(COLUMNS[2]), *(delta_text(r["delta_npv"], r["ci_low"], r["ci_high"], currency).cell_len
                                        for r in rows)])
        better = max([len(COLUMNS[3]), *(len(p_better_text(r)) for r in rows)])
        others = len(str(len(rows))) + delta + better + len("not yet") + 2 * 5  # cells plus their padding
        return max(12, min(natural, width - others - 2))  # 2: the vertical scrollbar, when the rows overflow

    def on_resize(self) -> None:
        if getattr(self, "_last", None) is not None and self.size.width != getattr(self, "_shown_width", 0):
            self._shown_width = self.size.width
            self.show(self._last)  # the strategy column's width follows the view's
        self.fit_headline()

    def pinned_summary(self, a, base_npv: float, names: dict[str, str]) -> Text:
        """One line: what the pinned run was, baseline NPV then and now, and the recommendation then and now."""
        p, cur = self.pinned, currency_of(a)
        base = p.summary[(p.summary["strategy"] == "baseline") & (p.summary["metric"] == "npv")]
        then = float(base["mean"].iloc[0]) if len(base) else float("nan")
        text = Text(f"Pinned {self.pinned_label} → now: baseline NPV ", style="dim")
        text.append_text(change_text(then, base_npv, cur, signed=False))
        was = p.recommendation.strategy if p.recommendation is not None else None
        now = a.recommendation.strategy if a.recommendation is not None else None
        if was != now and was is not None and now is not None:
            text.append(f"; recommended {names.get(now, now)}, was {names.get(was, was)}", style="bold yellow")
        text.append(f"; per strategy: column '{PINNED_COLUMN}' (p unpins)", style="dim")
        return text

    def pin(self, analysis, label: str) -> None:
        """Compare against `analysis` from now on (None: stop comparing)."""
        self.pinned, self.pinned_label = analysis, label

    def pinned_deltas(self) -> dict[str, float] | None:
        """Per strategy: Δ NPV in the pinned run (None when nothing is pinned)."""
        a = self.pinned
        if a is None or a.comparison.empty:
            return None
        return {str(r["strategy"]): float(r["delta_npv"]) for r in a.comparison.to_dict("records")}

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
        cue = self.query_one(ScrollCue)
        cue.refresh_cue()
        fixed = (table.row_count + 1 + wrapped_lines(self.ranking, width, console)  # rows, header; ranking
                 + (1 if cue.display else 0))  # the cue stands in for the horizontal scrollbar (none: app.tcss)
        room = height - fixed - 1  # 1: the margin below the recommendation
        used = wrapped_lines(rec.headline, width, console)
        reasons: list[str] = []
        for i, reason in enumerate(rec.reasons):
            lines = wrapped_lines(reason, width, console)
            more_line = 1 if i + 1 < len(rec.reasons) else 0  # the "+N more" line if the rest is left out
            if used + lines + more_line > room:  # the table comes first: even the first reason gives way
                break
            reasons.append(reason)
            used += lines
        more = len(rec.reasons) - len(reasons)
        headline.update(recommendation_text(rec.headline, reasons, more))
        used += 1 if more else 0
        note.display = room - used >= wrapped_lines(NOTE, width, console)
