"""Balanced scorecard: the four perspectives, each KPI's status and P(green), strategies side by side."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from simulator.analysis.scorecard import rollup
from simulator.analysis.units import format_value, humanise
from tui.format import status_text
from tui.snapshot import RunSnapshot

PERSPECTIVE_TITLES = {"financial": "Financial", "customer": "Customer", "internal_process": "Internal process",
                      "learning_growth": "Learning & growth"}


def _value(x: float, metric: str = "", currency: str | None = None) -> str:
    """A KPI value in its unit: money by magnitude ('€455.8k'), shares as %, minutes as 'min'."""
    return format_value(x, metric, currency)


class ScorecardView(Vertical):
    def compose(self) -> ComposeResult:
        yield Static("● green  ◐ amber  ○ red · value (P(green): share of replications in which it is green)",
                     id="scorecard-legend")
        yield DataTable(id="scorecard-table", zebra_stripes=True, cursor_type="row", fixed_columns=1)

    def show(self, snap: RunSnapshot) -> None:
        a = snap.analysis
        if a is None or a.scorecard.empty:
            return
        table = self.query_one(DataTable)
        strategies = list(a.strategies)
        table.clear(columns=True)
        table.add_columns("perspective / KPI", "target", *(humanise(s) for s in strategies))
        # plain dicts of the frames' rows (a boolean filter per cell took most of the time on the UI thread)
        card = a.scorecard[["perspective", "kpi", "strategy", "status", "value", "p_green", "direction",
                            "target", "metric"]].to_dict("records")
        cur = a.model.scenario.metadata.currency
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
            table.add_row(Text(PERSPECTIVE_TITLES.get(name, name), style="bold"), "", *cells)
            for kpi, by_strategy in by_kpi.items():
                first = next(iter(by_strategy.values()))
                arrow = "≥" if first["direction"] == "higher" else "≤"
                cells = [status_text(by_strategy[s]["status"],
                                     f"{_value(by_strategy[s]['value'], first['metric'], cur)} "
                                     f"({by_strategy[s]['p_green']:.0%})")
                         if s in by_strategy else "-" for s in strategies]
                table.add_row(f"  {humanise(kpi)}", f"{arrow}{_value(first['target'], first['metric'], cur)}", *cells)
