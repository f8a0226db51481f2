"""Customer value: the whale curve per strategy, customer equity and lifetime value per segment."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static
from textual_plotext import PlotextPlot

from simulator.analysis.customer_value import whale_curve
from simulator.report import value_rows
from tui.format import money, percent
from tui.snapshot import RunSnapshot
from tui.widgets.timeseries import colour_of, legend


class CustomerView(Vertical):
    def compose(self) -> ComposeResult:
        yield Static("", id="whale-legend")
        yield PlotextPlot(id="whale-chart")
        yield Static("", id="whale-note")
        yield DataTable(id="value-table", zebra_stripes=True, cursor_type="row")

    def show(self, snap: RunSnapshot) -> None:
        a = snap.analysis
        if a is None or a.customers.empty:
            return
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("Whale curve (replication 0)")
        plt.xlabel("% of customers, most profitable first")
        plt.ylabel("% of profit")
        first_rep = a.customers[a.customers["replication"] == a.customers["replication"].min()]
        whales = {}
        for strategy in a.strategies:
            sub = a.customers[a.customers["strategy"] == strategy]
            whales[strategy] = [whale_curve(g["profit"]) for _, g in sub.groupby("replication")]
            curve = whale_curve(first_rep[first_rep["strategy"] == strategy]["profit"])
            step = max(1, curve.customer_share.size // 200)
            plt.plot((curve.customer_share[::step] * 100).tolist(), (curve.cumulative_profit[::step] * 100).tolist(),
                     color=colour_of(a.strategies, strategy), marker="braille")
        plt.hline(100.0, (128, 128, 128))
        plot.refresh()
        self.query_one("#whale-legend", Static).update(legend(a.strategies))
        head, rows = value_rows(a)
        table = self.query_one(DataTable)
        table.clear(columns=True)
        table.add_columns(*head[:-3], "top 20% earn", "bottom 10% lose")
        for strategy, row in zip(a.strategies, rows, strict=True):  # rows show labels, in strategy order
            curves = whales[strategy]
            top = sum(c.top20_share for c in curves) / len(curves)
            bottom = sum(c.bottom10_loss for c in curves) / len(curves)
            table.add_row(*row[:-3], percent(top), money(bottom))
        self.query_one("#whale-note", Static).update(
            "Customer equity: expected remaining value of the active base at the horizon; LTV: realised profit plus "
            f"expected remaining value per customer (Gupta & Lehmann). Means over {a.replications} replications.")
