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
from tui.format import change_text, currency_of, delta_text, money, percent, recommendation_text, signed_money
from tui.snapshot import RunSnapshot
from tui.widgets.cached import SteadyTable, update_static
from tui.widgets.scrollcue import ScrollCue

# What decides first, so that at 80 columns rank, strategy, the Δ the verdict judges (firm value once the run
# has valued the customers left at the horizon, else NPV) with its interval, P(better) and the verdict are on
# screen, and with a pinned run its change too; the rest is to the right (the cue below names it; ←/→ scroll).
# The Δ column, P(better) and the verdict are on one measure, so "better" never stands beside a negative Δ.
MEASURE_NAME = {"npv": "NPV", "firm_value": "firm value"}


def delta_header(measure: str) -> str:
    return f"Δ {MEASURE_NAME.get(measure, measure)} [95% CI]"


def columns(measure: str = "npv", pinned: str | None = None) -> tuple[str, ...]:
    """The headers: the deciding five, the pinned change (when a run is pinned), then the other measure and the rest."""
    other = "firm_value" if measure == "npv" else "npv"
    return ("#", "strategy", delta_header(measure), "P(better)", "verdict", *((pinned,) if pinned else ()),
            delta_header(other), "ROI", "payback", "Δ sat.", "reps for 80% power")


COLUMNS = columns()


def pinned_column(measure: str = "npv", compact: bool = False) -> str:
    """The pinned change's header: in full 'Δ NPV pinned → now' (before → after (change)); at narrow widths
    'vs pinned' (the change alone)."""
    return "vs pinned" if compact else f"Δ {MEASURE_NAME.get(measure, measure)} pinned → now"


PINNED_COLUMN = pinned_column()
MIN_LABEL = 12  # the strategy column never narrower ('★ Reprice u…'; the whole label is in the recommendation)
GOOD_LABEL = 16  # a pinned layout drops detail (the full pinned cell, then P(better)'s interval) before this


def verdict(row: dict) -> Text:
    """better / worse than baseline on the decision measure (the Δ column beside it), or 'not yet' while its
    interval spans zero."""
    if row["distinguishable"]:
        up = row["delta_decision"] > 0  # the ranked measure: firm value once known, else NPV
        return Text("better" if up else "worse", style="green" if up else "red")
    return Text("not yet", style="dim")


def power_text(row: dict) -> str:
    """'~N': paired replications a t test needs to tell the Δ seen so far from zero four times in five."""
    need = row["replications_needed"]
    return "-" if row["distinguishable"] or need is None or pd.isna(need) else f"~{int(need)}"


def decision_measure(cmp: pd.DataFrame) -> str:
    """What the verdict, P(better) and the ranking judge: 'firm_value' once every firm value is known, else 'npv'."""
    if cmp.empty or "decision_measure" not in cmp:
        return "npv"
    return str(cmp["decision_measure"].iloc[0])


def npv_text(row: dict, currency: str | None = None) -> Text:
    """Δ NPV with its CI."""
    return delta_text(row["delta_npv"], row["ci_low"], row["ci_high"], currency)


def measure_text(row: dict, measure: str, currency: str | None = None) -> Text:
    """Δ on `measure` ('npv' or 'firm_value') with its CI."""
    return firm_text(row, currency) if measure == "firm_value" else npv_text(row, currency)


def p_better_count(row: dict) -> str:
    """P(better) without its interval ('7/10'), for a pinned layout at narrow widths."""
    return p_better_text(row).split(" ")[0]


def change_only(before: float | None, after: float | None, currency: str | None = None) -> Text:
    """The change against a pinned run alone ('−€17.8k', 'same'), for narrow widths."""
    if before is None or after is None or before != before or after != after:
        return Text("-", style="dim")
    diff = after - before
    if abs(diff) < 0.5:
        return Text("same", style="dim")
    return Text(signed_money(diff, currency, compact=True), style="green" if diff > 0 else "red")


def pinned_value(row: dict, measure: str) -> float:
    """A strategy's Δ on `measure`, as a pinned run and the current one are compared."""
    value = row.get("delta_firm_value" if measure == "firm_value" else "delta_npv", float("nan"))
    return float("nan") if value is None or pd.isna(value) else float(value)


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


NOTE = ("Δ: paired difference to baseline with its 95% CI (green/red: the whole interval is above/below zero); the "
        "verdict and P(better) judge the measure of the first Δ column. P(better): replications won, with the 95% "
        "interval of that share. not yet: the interval spans zero; reps for 80% power: replications a paired t test "
        "needs to detect the Δ seen so far. p pins these results.")
WAITING = "Waiting for the first complete replications: the recommendation needs two of every strategy…"
NO_SCENARIO = "No scenario is open: press o to open one."


def wrapped_lines(text: Text | str, width: int, console) -> int:
    """How many lines `text` takes at `width` columns."""
    text = Text(text) if isinstance(text, str) else text
    return sum(len(Text(part).wrap(console, width)) or 1 for part in text.plain.split("\n")) if width > 0 else 0


class ComparisonView(Vertical):
    """First what to do (the recommendation over the replications so far), then one row per strategy, ranked."""

    recommendation = None  # the Recommendation shown (None: waiting for two complete replications)
    idle = WAITING  # the headline while there is no recommendation: a run under way, or no scenario open
    ranking = Text("")  # the line below the table: what the ranking is over and on
    pinned = None  # the Analysis pinned with p: Δ NPV is shown before → after against it
    pinned_label = ""  # what the pinned run was, e.g. "run 2 (no edits)"

    def compose(self) -> ComposeResult:
        yield Static(self.idle, id="comparison-headline")
        table = SteadyTable(id="comparison-table", zebra_stripes=True, cursor_type="row", fixed_columns=2)
        yield table
        yield ScrollCue(table, id="comparison-cue")
        yield Static("", id="comparison-ranking")
        yield Static(NOTE, id="comparison-note")

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)

    def set_idle(self, text: str) -> None:
        """What the headline says until there is a recommendation (a scenario that failed to open runs nothing:
        "waiting" would wait for ever)."""
        self.idle = text
        if self.recommendation is None and self.is_mounted:
            update_static(self.query_one("#comparison-headline", Static), Text(text, style="dim"))

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
        measure = decision_measure(cmp)
        other = "firm_value" if measure == "npv" else "npv"
        context = (f"Over {a.replications} paired replication{'s' if a.replications != 1 else ''}; baseline NPV "
                   f"{money(base_npv, cur)}.")
        self.ranking = ranking_text(a, context)
        pinned = self.pinned_deltas(measure)
        rows = cmp.to_dict("records")
        label_width, full_pin, full_p = self.column_plan(rows, names, recommended, cur, measure, pinned)
        header = pinned_column(measure, compact=not full_pin) if pinned is not None else None
        if pinned is not None:
            self.ranking = self.ranking + Text("\n") + self.pinned_summary(a, base_npv, names, header)
        self._last = snap
        self.query_one("#comparison-ranking", Static).update(self.ranking)
        cursor = table.cursor_row
        table.clear(columns=True)  # widths from these rows: kept columns only ever widen, by earlier partial rows
        table.add_columns(*columns(measure, header))
        for row in rows:
            payback = "never" if row["payback_month"] is None or pd.isna(row["payback_month"]) else f"m{int(row['payback_month'])}"
            name = names.get(row["strategy"], row["strategy"])
            label = Text(f"★ {name}", style="bold") if row["strategy"] == recommended else Text(name)
            label.truncate(label_width, overflow="ellipsis")
            change = ()
            if pinned is not None:
                now = pinned_value(row, measure)
                change = ((change_text if full_pin else change_only)(pinned.get(row["strategy"]), now, cur),)
            table.add_row(
                str(row["rank"]), label, measure_text(row, measure, cur),
                p_better_text(row) if full_p else p_better_count(row), verdict(row), *change,
                measure_text(row, other, cur),
                "-" if pd.isna(row["roi"]) else percent(row["roi"]), payback,
                f"{row['delta_satisfaction']:+.2f}", power_text(row), key=row["strategy"])
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1))
        self.fit_headline()

    def column_plan(self, rows: list[dict], names: dict[str, str], recommended: str | None, currency: str | None,
               measure: str, pinned: dict[str, float] | None) -> tuple[int, bool, bool]:
        """(the strategy column's width, the pinned change in full, P(better) with its interval).

        Whole labels when they fit, else what leaves rank, the Δ the verdict judges, P(better) and the verdict on
        screen (long labels end in '…'; the full label is in the recommendation above). With a pinned run its
        change is on screen too: in full ('+€116k → +€98.2k (−€17.8k)') when there is room, else the change alone
        under 'vs pinned', and at the narrowest P(better) gives up its interval ('10/10') before the label does."""
        natural = max([len("strategy"), *(len(names.get(r["strategy"], r["strategy"])) + 2 * (r["strategy"] == recommended)
                                          for r in rows)])
        width = self.size.width
        if width <= 0:
            return natural, True, True

        def widest(header: str, cells) -> int:
            return max([len(header), *(Text(c).cell_len if isinstance(c, str) else c.cell_len for c in cells)]) + 2

        fixed = (len(str(len(rows))) + 2 + widest(delta_header(measure), (measure_text(r, measure, currency) for r in rows))
                 + len("not yet") + 2)
        p_full = widest("P(better)", (p_better_text(r) for r in rows))
        p_short = widest("P(better)", (p_better_count(r) for r in rows))
        if pinned is None:
            layouts = [(True, True, 0)]
        else:
            now = {r["strategy"]: pinned_value(r, measure) for r in rows}
            full = widest(pinned_column(measure), (change_text(pinned.get(s), v, currency) for s, v in now.items()))
            short = widest(pinned_column(measure, True), (change_only(pinned.get(s), v, currency) for s, v in now.items()))
            layouts = [(True, True, full), (False, True, short), (False, False, short)]
        room = 0
        for full_pin, full_p, pin_width in layouts:
            # 2: the label's padding; 2 more: the vertical scrollbar, when the rows overflow
            room = width - fixed - (p_full if full_p else p_short) - pin_width - 2 - 2
            if room >= min(natural, GOOD_LABEL):
                return min(natural, room), full_pin, full_p
        return max(MIN_LABEL, min(natural, room)), full_pin, full_p

    def on_resize(self) -> None:
        if getattr(self, "_last", None) is not None and self.size.width != getattr(self, "_shown_width", 0):
            self._shown_width = self.size.width
            self.show(self._last)  # the strategy column's width follows the view's
        self.fit_headline()

    def pinned_summary(self, a, base_npv: float, names: dict[str, str], column: str) -> Text:
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
        text.append(f"; per strategy: column '{column}' (p unpins)", style="dim")
        return text

    def pin(self, analysis, label: str) -> None:
        """Compare against `analysis` from now on (None: stop comparing)."""
        self.pinned, self.pinned_label = analysis, label

    def pinned_deltas(self, measure: str = "npv") -> dict[str, float] | None:
        """Per strategy: its Δ on `measure` in the pinned run (None when nothing is pinned)."""
        a = self.pinned
        if a is None or a.comparison.empty:
            return None
        return {str(r["strategy"]): pinned_value(r, measure) for r in a.comparison.to_dict("records")}

    def fit_headline(self) -> None:
        """The recommendation above the table: its headline and first reason always, further reasons while the
        table's rows and the ranking line still fit, and the legend below only when there is room left."""
        headline = self.query_one("#comparison-headline", Static)
        note = self.query_one("#comparison-note", Static)
        rec = self.recommendation
        width, height = self.size.width, self.size.height
        if rec is None:
            update_static(headline, Text(self.idle, style="dim"))
            return
        if width <= 0:  # not laid out yet (another tab is shown): everything, fitted when shown
            update_static(headline, recommendation_text(rec.headline, rec.reasons))
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
        update_static(headline, recommendation_text(rec.headline, reasons, more))
        used += 1 if more else 0
        note.display = room - used >= wrapped_lines(NOTE, width, console)
