"""Balanced scorecard: the four perspectives, each KPI's status and P(green), strategies side by side."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from simulator.analysis.scorecard import rollup
from tui.format import status_text
from tui.snapshot import RunSnapshot

PERSPECTIVE_TITLES = {"financial": "Financial", "customer": "Customer", "internal_process": "Internal process",
                      "learning_growth": "Learning & growth"}


def _value(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:,.2f}"


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
        table.add_columns("perspective / KPI", "target", *strategies)
        card = a.scorecard
        persp = rollup(card, "perspective")
        for name in dict.fromkeys(card["perspective"]):
            cells = []
            for s in strategies:
                r = persp[(persp["strategy"] == s) & (persp["perspective"] == name)]
                cells.append(status_text(r["status"].iloc[0], f"{r['p_green'].iloc[0]:.0%}") if len(r) else "-")
            table.add_row(Text(PERSPECTIVE_TITLES.get(name, name), style="bold"), "", *cells)
            for kpi in dict.fromkeys(card.loc[card["perspective"] == name, "kpi"]):
                sub = card[(card["perspective"] == name) & (card["kpi"] == kpi)].set_index("strategy")
                first = sub.iloc[0]
                arrow = "≥" if first["direction"] == "higher" else "≤"
                cells = [status_text(sub.at[s, "status"], f"{_value(sub.at[s, 'value'])} ({sub.at[s, 'p_green']:.0%})")
                         if s in sub.index else "-" for s in strategies]
                table.add_row(f"  {kpi}", f"{arrow}{_value(first['target'])}", *cells)
