"""The Decision tab: `spc decide` for the open scenario, refining as draws land.

What to do (the recommendation), the figures behind it per strategy (over the draws of the uncertain
assumptions, every strategy on the same random numbers), and which assumption is most worth testing first.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import ScrollableContainer
from textual.widgets import DataTable, Static

from simulator.analysis.units import money, strategy_labels
from simulator.decision.analysis import MEASURE_LABEL, DecisionResult
from tui.decision import DecisionCost, DecisionSnapshot
from tui.format import percent, recommendation_text, share, signed_money
from tui.widgets.scrollcue import ScrollCue, column_widths

EVPPI_ROWS = 8
NO_ASSUMPTIONS = (
    "This scenario has no uncertain assumptions: every number in it is a point value, so a decision over the "
    "assumptions would only repeat the comparison.\n\nTo decide under uncertainty, write the numbers you are unsure "
    "of as distributions in the scenario file, e.g.\n"
    "  effect: {dist: triangular, low: 0.1, mode: 0.2, high: 0.35, source: Harter et al. 2002}\n"
    "(also normal, uniform, lognormal, beta), then open it again (o). See the README, 'Assumptions as "
    "distributions'.")


def _elapsed(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


def strategy_columns(measure: str) -> tuple[str, ...]:
    return ("strategy", f"Δ {MEASURE_LABEL.get(measure, measure)} [95% CI]", "5–95% of draws", "P(best)",
            "P(better)", "regret mean/max", "worst 5%", "P(all green)")


class DecisionView(ScrollableContainer):
    """The recommendation over the draws, a table per strategy and the value-of-information ranking.

    The view scrolls up and down as a whole (arrows, page keys, home/end; the tables take no focus), so the ranking
    below the strategy table is in reach at 80x24; ←/→ scroll the tables sideways a column at a time, and the line
    under each names its columns off screen (the strategy table's eight never fit 80 columns)."""

    def __init__(self, *, timings: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.timings = timings
        self.cost: DecisionCost | None = None
        self.result: DecisionResult | None = None
        self.state = "idle"  # idle | none (no assumptions) | starting | running | done | cancelled | failed

    def compose(self) -> ComposeResult:
        yield Static("", id="decision-progress")
        yield Static("Open a scenario to decide between its strategies.", id="decision-rec")
        table = self._table("decision-table", fixed_columns=1)  # the strategy stays in view
        yield table
        yield ScrollCue(table, id="decision-cue")
        yield Static("", id="decision-voi")
        evppi = self._table("decision-evppi")
        yield evppi
        yield ScrollCue(evppi, id="decision-evppi-cue")
        yield Static("", id="decision-notes")

    @staticmethod
    def _table(name: str, fixed_columns: int = 0) -> DataTable:
        table = DataTable(id=name, zebra_stripes=True, cursor_type="none", show_cursor=False,
                          fixed_columns=fixed_columns)
        table.can_focus = False
        return table

    def on_mount(self) -> None:
        self._tables(False)

    def on_show(self) -> None:
        self.focus()  # the keys scroll this view, not the tab bar

    def _tables(self, shown: bool) -> None:
        for w in self.query(DataTable):
            w.display = shown
        self.query_one("#decision-voi", Static).display = shown
        self._refresh_cues()

    def _refresh_cues(self) -> None:
        """The cues once the tables are laid out (a table shown or filled just now has no width yet)."""
        def refresh() -> None:
            for cue in self.query(ScrollCue):
                cue.refresh_cue()
        self.call_after_refresh(refresh)

    # ---- sideways: the tables, a column at a time ------------------------------------------------------
    def _scroll_tables(self, step: int) -> None:
        for table in self.query(DataTable):
            if not table.display:
                continue
            widths = column_widths(table)
            fixed = sum(widths[:table.fixed_columns])  # the strategy column stays put; the rest scrolls under it
            edges, x = [], 0
            for w in widths[table.fixed_columns:]:
                edges.append(x)
                x += w
            edges.append(max(0, x - (table.scrollable_content_region.width - fixed)))  # the last stop: the right end
            now = round(table.scroll_x)
            stops = [e for e in edges if (e > now if step > 0 else e < now) and e <= edges[-1]]
            if stops:
                table.scroll_to(x=min(stops) if step > 0 else max(stops), animate=False)

    def action_scroll_left(self) -> None:
        self._scroll_tables(-1)

    def action_scroll_right(self) -> None:
        self._scroll_tables(1)

    # ---- states -------------------------------------------------------------------------------------
    def prepare(self, cost: DecisionCost | None, uncertain: bool) -> None:
        """A newly opened scenario: what pressing d would run, or why there is nothing to decide."""
        self.cost, self.result = cost, None
        self._tables(False)
        self.query_one("#decision-notes", Static).update("")
        if not uncertain:
            self.state = "none"
            self.query_one("#decision-rec", Static).update(Text(NO_ASSUMPTIONS))
            self.query_one("#decision-progress", Static).update("")
            return
        self.state = "idle"
        self.query_one("#decision-rec", Static).update(Text(
            "Press d to decide under uncertainty: every strategy is run on every draw of the scenario's uncertain "
            "assumptions (common random numbers), and the figures refine as draws complete.", style="dim"))
        self._progress(Text(f"Ready: {cost.text}." if cost else "", style="bold"))

    def show_run(self, headline: str, reasons: tuple[str, ...], replications: int) -> None:
        """Before a decision: the comparison's recommendation, whole (its replications at the point values)."""
        if self.state != "idle":
            return
        text = Text(f"From the comparison's {replications} replications, assumptions at their point values:\n",
                    style="dim")
        text.append_text(recommendation_text(headline, reasons))
        text.append("\n\nPress d to test it against the assumptions' ranges.", style="dim")
        self.query_one("#decision-rec", Static).update(text)

    def show(self, snap: DecisionSnapshot, state: str) -> None:
        """A snapshot from the background decision: the progress line, and the figures when they changed."""
        if not self.is_attached:
            return
        self.state = state
        if state == "starting":  # a new decision: the last one's figures go (they may be of other lever values)
            self.result = None
            self._tables(False)
            self.query_one("#decision-notes", Static).update("")
        complete = snap.complete_draws
        timing = f" · {_elapsed(snap.elapsed)}" if self.timings else ""
        where = f" on {snap.workers}" if snap.workers and state in ("starting", "running") else ""
        line = {
            "starting": f"Starting: {snap.runs:,} runs{where}…",
            "running": f"Deciding: {complete}/{snap.draws} draws · {snap.runs_done:,}/{snap.runs:,} runs{timing}{where}",
            "done": f"Done: {complete}/{snap.draws} draws · {snap.runs:,} runs{timing}",
            "cancelled": f"Cancelled at {complete}/{snap.draws} draws ({snap.runs_done:,}/{snap.runs:,} runs); "
                         "press d to start again",
            "failed": f"Failed: {snap.error}",
        }[state]
        self._progress(Text(line, style="bold red" if state == "failed" else "bold"))
        if snap.result is not None and snap.result is not self.result:
            self.result = snap.result
            self._render_result(snap.result)
        elif state in ("starting", "running") and self.result is None:
            self.query_one("#decision-rec", Static).update(Text(
                "Waiting for the first two complete draws (every strategy × every replication)…", style="dim"))

    def _progress(self, text: Text) -> None:
        self.query_one("#decision-progress", Static).update(text)

    # ---- the figures ----------------------------------------------------------------------------------
    def _render_result(self, r: DecisionResult) -> None:
        rec = r.recommendation
        cur = getattr(r, "currency", None)
        scenario = getattr(getattr(self.app, "model", None), "scenario", None)
        names = strategy_labels(scenario) if scenario is not None else {}

        def signed(x: float) -> str:
            return signed_money(x, cur, compact=True)

        def format_money(x: float) -> str:
            return money(x, cur)

        self.query_one("#decision-rec", Static).update(recommendation_text(rec.headline, rec.reasons))
        table = self.query_one("#decision-table", DataTable)
        table.clear(columns=True)
        table.add_columns(*strategy_columns(r.measure))
        for row in r.table.sort_values("value_mean", ascending=False, kind="stable").itertuples():
            base = row.strategy == "baseline"
            green = getattr(row, "p_all_green", float("nan"))
            ci = "-" if base else f"{signed(row.delta_mean)} [{signed_money(row.delta_ci_low, compact=True)}, " \
                                  f"{signed_money(row.delta_ci_high, compact=True)}]"
            style = "" if base else "green" if row.delta_ci_low > 0 else "red" if row.delta_ci_high < 0 else ""
            table.add_row(
                Text(("★ " if row.strategy == rec.strategy else "") + names.get(row.strategy, row.strategy),
                     style="bold" if row.strategy == rec.strategy else ""), Text(ci, style=style),
                "-" if base else f"{signed(row.delta_p05)} to {signed(row.delta_p95)}",
                share(row.p_best), "-" if base else share(row.p_better),
                f"{format_money(row.expected_regret)} / {format_money(row.max_regret)}",
                "-" if base else signed(row.cvar05_delta), percent(green), key=row.strategy)
        evppi = self.query_one("#decision-evppi", DataTable)
        evppi.clear(columns=True)
        evppi.add_columns("EVPPI", "share of EVPI", "", "assumption")  # the numbers first: labels run long
        voi = self.query_one("#decision-voi", Static)
        for e in r.evppi.head(EVPPI_ROWS).itertuples():
            noise = not bool(getattr(e, "above_noise", True))
            evppi.add_row(Text(format_money(e.evppi), style="dim" if noise else ""), percent(e.share_of_evpi),
                          Text("noise" if noise else "", style="dim"), e.label)
        if len(r.evppi):
            title = Text(f"Value of information: perfect information on every assumption is worth "
                         f"{format_money(r.evpi)} (EVPI). The assumptions most worth testing first (EVPPI):",
                         style="bold")
            if "noise_floor" in r.evppi.columns:
                title.append(f"\nAn irrelevant assumption scores up to {format_money(r.evppi['noise_floor'].iloc[0])} "
                             f"at {r.draws} draws: values below it are noise.", style="dim")
            voi.update(title)
        table.display = True
        voi.display = evppi.display = bool(len(r.evppi))
        self._refresh_cues()
        measure = MEASURE_LABEL.get(r.measure, r.measure)
        notes = [*r.notes,
                 f"Over {r.draws} complete draws of {len(r.assumptions)} assumptions × {r.replications} replications, "
                 f"{measure} over {r.horizon} months ({r.currency}). Δ: against baseline, mean over the draws with its "
                 "95% CI. P(best): share of draws in which the strategy is best; regret: what it loses against the "
                 "best strategy of each draw; worst 5%: its mean Δ over the worst 5% of draws (CVaR); P(all green): "
                 "replications with every scorecard perspective green."]
        self.query_one("#decision-notes", Static).update(Text("\n".join(notes), style="dim"))
