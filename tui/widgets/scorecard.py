"""Balanced scorecard: the four perspectives, each KPI's status and P(green), strategies side by side.

The recommended strategy comes first (★), then baseline, then the others in rank order, so that at 80 columns
the two that matter are on screen; the cue under the table names the strategies to the right (←/→ scroll)."""

from __future__ import annotations

import textwrap

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from simulator.analysis.scorecard import rollup
from simulator.analysis.units import format_value, humanise, strategy_labels
from tui.format import currency_of, status_text
from tui.snapshot import RunSnapshot
from tui.widgets.cached import SteadyTable
from tui.widgets.scrollcue import ScrollCue

PERSPECTIVE_TITLES = {"financial": "Financial", "customer": "Customer", "internal_process": "Internal process",
                      "learning_growth": "Learning & growth"}


def _value(x: float, metric: str = "", currency: str | None = None, unit: str = "") -> str:
    """A KPI value in its unit: money by magnitude ('€455.8k'), shares as %, minutes as 'min'."""
    return format_value(x, metric, currency, unit)


HEADER_WIDTH = 16  # strategy labels wrap onto up to three header lines past this: the cells are ~16 wide
LEGEND = "● green  ◐ amber  ○ red · value (P(green): share of replications in which it is green) · ★ recommended"


def kpi_names(scenario) -> dict[str, tuple[str, str]]:
    """Per KPI: (label, unit) as the scenario declares them, else the humanised name and no unit."""
    out = {}
    for persp in scenario.scorecard.perspectives:
        for obj in persp.objectives:
            for k in obj.kpis:
                out[k.name] = (getattr(k, "label", "") or humanise(k.name), getattr(k, "unit", "") or "")
    return out


def column_order(a) -> list[str]:
    """Recommended first, baseline next, the rest by rank (the comparison's order), unranked ones last."""
    strategies = list(a.strategies)
    ranked = [s for s in a.comparison["strategy"]] if not a.comparison.empty else []
    first = [a.recommendation.strategy] if a.recommendation is not None else ranked[:1]
    order = [*first, "baseline", *ranked, *strategies]
    return [s for i, s in enumerate(order) if s in strategies and s not in order[:i]]


def change_mark(now: float, before: float | None, metric: str, currency: str | None, unit: str) -> str:
    """' ▲€12k' / ' ▼3%': the change against the pinned run in the KPI's unit; '' when unchanged or unknown."""
    if before is None or before != before or now != now:
        return ""
    diff = now - before
    if abs(diff) <= 1e-9 * max(1.0, abs(before)):
        return ""
    text = format_value(abs(diff), metric, currency, unit)
    return f" {'▲' if diff > 0 else '▼'}{text}"


class ScorecardView(Vertical):
    pinned = None  # the Analysis pinned with p (its scorecard computed): cells show the change against it

    def compose(self) -> ComposeResult:
        yield Static(LEGEND, id="scorecard-legend")
        table = SteadyTable(id="scorecard-table", zebra_stripes=True, cursor_type="row", fixed_columns=1)
        yield table
        yield ScrollCue(table, noun="strategy", plural="strategies", id="scorecard-cue")

    def pin(self, analysis) -> None:
        self.pinned = analysis if analysis is not None and not analysis.scorecard.empty else None
        legend = LEGEND + (" · ▲▼ change against the pinned run (p unpins)" if self.pinned is not None else "")
        self.query_one("#scorecard-legend", Static).update(legend)

    def show(self, snap: RunSnapshot) -> None:
        a = snap.analysis
        if a is None or a.scorecard.empty:
            return
        table = self.query_one(DataTable)
        strategies = column_order(a)
        names = strategy_labels(a.model.scenario)
        labels = kpi_names(a.model.scenario)
        recommended = strategies[0] if a.recommendation is not None or not a.comparison.empty else None
        before = {}
        if self.pinned is not None:
            before = {(r["kpi"], r["strategy"]): r["value"] for r in
                      self.pinned.scorecard[["kpi", "strategy", "value"]].to_dict("records")}
        table.clear(columns=True)
        headers = [textwrap.wrap(f"★ {names.get(s, s)}" if s == recommended else names.get(s, s), HEADER_WIDTH)
                   for s in strategies]
        headers = [h[:2] + [" ".join(h[2:])] if len(h) > 3 else h for h in headers]
        table.header_height = max(len(h) for h in headers)
        # the KPI's target sits beside its name (a column of its own cost 80 columns a strategy)
        table.add_columns("perspective / KPI  target",
                          *(Text("\n".join(h), style="bold" if s == recommended else "")
                            for s, h in zip(strategies, headers, strict=True)))
        # plain dicts of the frames' rows (a boolean filter per cell took most of the time on the UI thread)
        card = a.scorecard[["perspective", "kpi", "strategy", "status", "value", "p_green", "direction",
                            "target", "metric"]].to_dict("records")
        cur = currency_of(a)
        persp = {}
        for r in rollup(a.scorecard, "perspective").to_dict("records"):
            persp.setdefault((r["strategy"], r["perspective"]), r)  # the first row of each, as .iloc[0]
        kpis: dict[str, dict[str, dict[str, dict]]] = {}  # perspective -> kpi -> strategy -> row, in card order
        for r in card:
            kpis.setdefault(r["perspective"], {}).setdefault(r["kpi"], {}).setdefault(r["strategy"], r)
        for name, by_kpi in kpis.items():
            cells = []
            for s in strategies:
                r = persp.get((s, name))
                cells.append(status_text(r["status"], f"{r['p_green']:.0%}") if r is not None else "-")
            table.add_row(Text(PERSPECTIVE_TITLES.get(name, name), style="bold"), *cells)
            for kpi, by_strategy in by_kpi.items():
                first = next(iter(by_strategy.values()))
                arrow = "≥" if first["direction"] == "higher" else "≤"
                label, unit = labels.get(kpi, (humanise(kpi), ""))
                cells = []
                for s in strategies:
                    r = by_strategy.get(s)
                    if r is None:
                        cells.append("-")
                        continue
                    mark = change_mark(r["value"], before.get((kpi, s)), first["metric"], cur, unit) if before else ""
                    cells.append(status_text(r["status"], f"{_value(r['value'], first['metric'], cur, unit)} "
                                                          f"({r['p_green']:.0%}){mark}"))
                target = Text(f"{arrow}{_value(first['target'], first['metric'], cur, unit)}", style="dim")
                table.add_row(Text(f"  {label}  ").append_text(target), *cells)
        self.query_one(ScrollCue).refresh_cue()

    def on_resize(self) -> None:
        self.query_one(ScrollCue).refresh_cue()
