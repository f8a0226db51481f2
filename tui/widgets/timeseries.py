"""Time series: profit, customers, satisfaction and headcount per strategy, as terminal charts.

Lines are means over the replications received so far; the highlighted strategy and baseline also show
their 95% band (dotted), which narrows as replications stream in.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Grid, Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

from simulator.analysis.stats import format_money, t975
from tui.snapshot import RunSnapshot

CHARTS = (("profit", "Monthly profit"), ("active_customers", "Active customers"),
          ("customer_satisfaction", "Customer satisfaction"), ("headcount", "Headcount"))
# RGB so bands can be drawn as a dimmer copy of their line (plotext has no dashed lines)
PALETTE = ((230, 230, 230), (64, 196, 255), (102, 204, 102), (255, 92, 92), (214, 128, 255), (255, 170, 51),
           (90, 120, 255), (240, 220, 80))


def bands(ts: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per strategy and period: mean and 95% CI bounds over replications."""
    out = ts.groupby(["strategy", "period"], sort=False)[metric].agg(["mean", "std", "count"]).reset_index()
    counts = out["count"].to_numpy()
    quantile = {int(n): (t975(int(n) - 1) if n > 1 else 0.0) for n in np.unique(counts)}
    half = np.array([quantile[int(n)] for n in counts]) * out["std"].fillna(0.0).to_numpy() / np.sqrt(counts)
    return out.assign(low=out["mean"] - half, high=out["mean"] + half)


def colour_of(strategies: tuple[str, ...] | list[str], strategy: str) -> tuple[int, int, int]:
    return PALETTE[list(strategies).index(strategy) % len(PALETTE)] if strategy in strategies else (128, 128, 128)


def dim(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    return tuple(int(c * 0.45) for c in colour)  # type: ignore[return-value]


def legend(strategies: tuple[str, ...] | list[str], highlighted: str | None = None) -> Text:
    """Strategy names in their chart colours (plotext's own legend covers the lines in small charts)."""
    text = Text()
    for s in strategies:
        r, g, b = colour_of(strategies, s)
        text.append("━━ ", style=f"rgb({r},{g},{b})")
        text.append(s + ("*" if s == highlighted else "") + "  ", style="bold" if s == highlighted else "")
    return text


def axis_ticks(lo: float, hi: float, count: int = 5) -> tuple[list[float], list[str]]:
    """Evenly spaced ticks with compact labels (plotext's default prints seven digits)."""
    if not np.isfinite(lo) or not np.isfinite(hi):
        return [], []
    if hi - lo < 1e-9:
        lo, hi = lo - 1, hi + 1
    ticks = np.linspace(lo, hi, count).tolist()
    span = hi - lo
    labels = [format_money(t) if span >= 100 else f"{t:.{2 if span < 5 else 1}f}" for t in ticks]
    return ticks, labels


def plot_bands(plt, frame: pd.DataFrame, strategies, highlighted: str | None) -> None:
    """Mean lines for every strategy, dim 95% band edges for baseline and the highlighted strategy."""
    groups = dict(tuple(frame.groupby("strategy", sort=False)))
    for strategy in strategies:
        sub = groups.get(strategy)
        if sub is None:
            continue
        colour = colour_of(strategies, strategy)
        months = sub["period"].tolist()
        if strategy in ("baseline", highlighted):
            plt.plot(months, sub["low"].tolist(), color=dim(colour), marker="braille")
            plt.plot(months, sub["high"].tolist(), color=dim(colour), marker="braille")
        plt.plot(months, sub["mean"].tolist(), color=colour, marker="braille")
    ticks, labels = axis_ticks(float(frame["low"].min()), float(frame["high"].max()))
    plt.yticks(ticks, labels)
    months = sorted(frame["period"].unique())
    step = max(1, len(months) // 6)
    plt.xticks(months[::step], [str(int(m)) for m in months[::step]])


class TimeSeriesView(Vertical):
    highlighted: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="timeseries-legend")
        with Grid(id="timeseries-grid"):
            for metric, _ in CHARTS:
                yield PlotextPlot(id=f"chart-{metric}")

    def show(self, snap: RunSnapshot, strategies: tuple[str, ...]) -> None:
        ts = snap.partial_timeseries
        if ts.empty:
            return
        reps = ts.groupby("strategy")["replication"].nunique()
        low, high = int(reps.min()), int(reps.max())
        over = f"{low}" if low == high else f"{low}–{high}"
        self.query_one("#timeseries-legend", Static).update(
            legend(strategies, self.highlighted) + Text(
                f"· means over {over} replication{'s' if high > 1 else ''}; dim: 95% band (h: next strategy)",
                style="dim"))
        for metric, title in CHARTS:
            plot = self.query_one(f"#chart-{metric}", PlotextPlot)
            plt = plot.plt
            plt.clear_data()
            plt.clear_figure()
            plt.title(title)
            plot_bands(plt, bands(ts, metric), strategies, self.highlighted)
            plot.refresh()
