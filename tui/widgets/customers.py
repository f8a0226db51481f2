"""Customer value: the whale curve per strategy, customer equity and lifetime value per segment.

The whale curve is the mean over replications, each replication's curve read on a common grid of customer
shares (as the report's chart draws it, `simulator.report_charts.whale_chart`); the highlighted strategy (h)
shows its 95% band. One replication's curve would show that replication's luck."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from simulator.analysis.customer_value import WhaleCurve, whale_curve
from simulator.analysis.stats import t975
from simulator.analysis.units import strategy_labels
from simulator.report import value_rows
from tui.format import currency_of, money, percent
from tui.snapshot import RunSnapshot
from tui.widgets.cached import CachedPlot, SteadyTable
from tui.widgets.scrollcue import ScrollCue
from tui.widgets.timeseries import axis, colour_of, dim, legend, marker_of, plot_rows, tick_count

GRID = np.linspace(0.0, 1.0, 101)  # customer shares the replications' curves are read at


def mean_whale(curves: list[WhaleCurve]) -> tuple[np.ndarray, np.ndarray]:
    """(mean, 95% CI half-width) in % of profit over `GRID`, across replications' whale curves."""
    ys = np.array([np.interp(GRID, np.r_[0.0, c.customer_share], np.r_[0.0, c.cumulative_profit])
                   for c in curves]) * 100
    mean = ys.mean(axis=0)
    half = (t975(len(ys) - 1) * ys.std(axis=0, ddof=1) / np.sqrt(len(ys)) if len(ys) > 1
            else np.zeros_like(mean))
    return mean, half


@dataclass(frozen=True)
class CustomerFigures:
    """What the view draws, computed from the analysis's customer ledger off the UI thread."""

    whales: dict[str, list[WhaleCurve]]  # per strategy, one curve per replication
    means: dict[str, tuple[np.ndarray, np.ndarray]]  # per strategy with curves: mean_whale of them
    values: tuple[list[str], list[list[str]]]  # value_rows: customer equity and LTV per segment


def customer_figures(a) -> CustomerFigures:
    whales = {}
    for strategy in a.strategies:
        sub = a.customers[a.customers["strategy"] == strategy]
        whales[strategy] = [whale_curve(g["profit"]) for _, g in sub.groupby("replication")]
    means = {s: mean_whale(curves) for s, curves in whales.items() if curves}
    return CustomerFigures(whales, means, value_rows(a))


class CustomerView(VerticalScroll):
    """The whale chart keeps at least 14 rows and the table 6: in a short terminal the view scrolls."""

    _figures: tuple[object, CustomerFigures] | None = None  # (the customer ledger they are of, the figures)
    _wanted: object = None  # the analysis last asked to be shown

    def compose(self) -> ComposeResult:
        yield Static("", id="whale-legend")
        yield CachedPlot(id="whale-chart")
        yield Static("", id="whale-note")
        table = SteadyTable(id="value-table", zebra_stripes=True, cursor_type="row", fixed_columns=1)
        yield table
        yield ScrollCue(table, id="value-cue")

    def show(self, snap: RunSnapshot) -> None:
        """Draw the customer ledger's figures. Computing them (whale curves per replication, customer equity and
        lifetime values: ~0.2 s of pandas on the full ledger) happens in a thread, not in the key press that
        showed this tab; the previous figures stay on screen until the new ones are drawn."""
        a = snap.analysis
        if a is None or a.customers.empty:
            return
        self._wanted = a
        if self._figures is not None and self._figures[0] is a.customers:  # the same ledger: the figures hold
            self._draw(a, self._figures[1])
        else:
            self._prepare(a)

    @work(thread=True, exclusive=True, group="customer-figures")
    def _prepare(self, a) -> None:
        figures = customer_figures(a)
        self.app.call_from_thread(self._prepared, a, figures)

    def _prepared(self, a, figures: CustomerFigures) -> None:
        self._figures = (a.customers, figures)
        if self.is_attached and self._wanted is a:  # (not when a newer analysis was asked for meanwhile)
            self._draw(a, figures)

    def _draw(self, a, figures: CustomerFigures) -> None:
        plot = self.query_one(CachedPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.xlabel("% of customers, most profitable first")
        plt.ylabel("% of profit")
        highlighted = getattr(self.app, "highlight", None)
        whales = figures.whales
        reps = 0
        top = float("-inf")
        for strategy in a.strategies:
            if not whales[strategy]:
                continue
            reps = max(reps, len(whales[strategy]))
            mean, half = figures.means[strategy]
            colour = colour_of(a.strategies, strategy)
            x = (GRID * 100).tolist()
            if strategy == highlighted:
                plt.plot(x, (mean - half).tolist(), color=dim(colour), marker="braille")
                plt.plot(x, (mean + half).tolist(), color=dim(colour), marker="braille")
            plt.plot(x, mean.tolist(), color=colour, marker="braille")
            mark = marker_of(a.strategies, strategy)
            if mark:
                at = slice(5 + 3 * list(a.strategies).index(strategy), None, 20)
                plt.scatter(x[at], mean[at].tolist(), color=colour, marker=mark)
            top = max(top, float((mean + half).max()))
        plt.title(f"Whale curve, mean of {reps} replication{'s' if reps != 1 else ''}"
                  + (" (dim: 95% band of *)" if highlighted else ""))
        plt.hline(100.0, (128, 128, 128))
        yt, _, limits = axis(0.0, max(top, 100.0), tick_count(plot.size.height, chrome=5),
                             rows=plot_rows(plot.size.height, chrome=5))
        plt.yticks(yt, [f"{t:g}%" for t in yt])
        plt.ylim(*limits)
        plt.xticks(list(range(0, 101, 20)), [f"{t}%" for t in range(0, 101, 20)])
        plt.xlim(0, 100)
        plot.redraw()
        self.query_one("#whale-legend", Static).update(legend(a.strategies, highlighted,
                                                              strategy_labels(a.model.scenario)))
        head, rows = figures.values
        table = self.query_one(DataTable)
        table.clear(columns=True)
        # strategy and customer equity, the whale curve's two shares, then one LTV per segment (to the right)
        table.add_columns(*head[:2], "top 20% earn", "bottom 10% lose", *head[2:])
        for strategy, row in zip(a.strategies, rows, strict=True):  # rows show labels, in strategy order
            curves = whales[strategy]
            top = sum(c.top20_share for c in curves) / len(curves) if curves else float("nan")
            bottom = sum(c.bottom10_loss for c in curves) / len(curves) if curves else float("nan")
            table.add_row(*row[:2], percent(top), money(bottom, currency_of(a)), *row[2:])
        self.query_one(ScrollCue).refresh_cue()
        self.query_one("#whale-note", Static).update(
            "Customer equity: expected remaining value of the active base at the horizon; LTV: realised profit plus "
            f"expected remaining value per customer (Gupta & Lehmann). Means over {reps} replication"
            f"{'s' if reps != 1 else ''} of the customer ledger.")
