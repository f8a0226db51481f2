"""Time series: profit, customers, satisfaction and headcount per strategy, as terminal charts.

Lines are means over the replications received so far, in Okabe & Ito's colour-blind-safe palette with a
distinct marker per strategy (colour is never the only cue); only the highlighted strategy shows its 95% band
(dim edges; every strategy's band would overlap into noise). Profit is cumulative by default (m: monthly, as a
3-month rolling mean), so a one-off spend shows as a step instead of setting the scale; such months are marked
▼/▲ and named under the charts. Y axes carry the unit in the title and round, evenly spaced ticks with thousand
separators; the x axis covers the whole horizon.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.widgets import Static

from simulator.analysis.stats import t975
from simulator.analysis.units import format_value, humanise, money, unit_title
from tui.snapshot import RunSnapshot
from tui.widgets.cached import CachedPlot, update_fitted, update_static

CHARTS = (("profit", "Cumulative profit"), ("active_customers", "Active customers"),
          ("customer_satisfaction", "Customer satisfaction"), ("headcount", "Headcount"))
ROLLING_MONTHS = 3  # the monthly profit view: a rolling mean per replication, as the report draws it
# Okabe & Ito (2008), colour-blind safe, as RGB (bands are a dimmer copy of their line). Their black is the
# baseline in print; on a terminal's dark background it is a light grey.
PALETTE = ((200, 200, 200), (230, 159, 0), (86, 180, 233), (0, 158, 115), (213, 94, 0), (204, 121, 167),
           (240, 228, 66), (0, 114, 178))
MARKERS = ("", "●", "■", "◆", "+", "x", "o", "*")  # one per strategy, every few months along its line
SPIKE_SPREADS = 2.0  # a month is a spike when this many 5–95% spreads of all monthly means beyond them


def bands(ts: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per strategy and period: mean and 95% CI bounds over replications."""
    out = ts.groupby(["strategy", "period"], sort=False)[metric].agg(["mean", "std", "count"]).reset_index()
    counts = out["count"].to_numpy()
    quantile = {int(n): (t975(int(n) - 1) if n > 1 else 0.0) for n in np.unique(counts)}
    half = np.array([quantile[int(n)] for n in counts]) * out["std"].fillna(0.0).to_numpy() / np.sqrt(counts)
    return out.assign(low=out["mean"] - half, high=out["mean"] + half)


def colour_of(strategies: tuple[str, ...] | list[str], strategy: str) -> tuple[int, int, int]:
    return PALETTE[list(strategies).index(strategy) % len(PALETTE)] if strategy in strategies else (128, 128, 128)


def marker_of(strategies: tuple[str, ...] | list[str], strategy: str) -> str:
    return MARKERS[list(strategies).index(strategy) % len(MARKERS)] if strategy in strategies else ""


def dim(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    return tuple(int(c * 0.45) for c in colour)  # type: ignore[return-value]


def legend(strategies: tuple[str, ...] | list[str], highlighted: str | None = None,
           names: dict[str, str] | None = None) -> Text:
    """Strategy labels with their colour and marker (plotext's own legend covers the lines in small charts)."""
    names = names or {}
    text = Text()
    for s in strategies:
        r, g, b = colour_of(strategies, s)
        mark = marker_of(strategies, s)
        text.append(f"━{mark or '━'}━ ", style=f"rgb({r},{g},{b})")
        text.append(names.get(s, humanise(s)) + ("*" if s == highlighted else "") + "  ",
                    style="bold" if s == highlighted else "")
    return text


def nice_step(span: float, count: int = 5) -> float:
    """The round step (1, 2, 2.5 or 5 × 10^k) giving about `count` ticks over `span`."""
    raw = span / max(1, count - 1)
    magnitude = 10.0 ** np.floor(np.log10(raw))
    return float(next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9)))


def row_aligned(lo: float, hi: float, count: int, rows: int) -> tuple[list[float], float] | None:
    """(ticks, top): round ticks from just below `lo`, every `r` text rows of a chart `rows` rows tall, and the
    axis top that makes each interval exactly `r` rows (plotext rounds each tick to a row: five intervals over
    nine rows come out 2, 2, 1, 2, 2 apart). Of the round steps and spacings that cover [lo, hi] with at most
    count + 2 ticks, the one wasting the least height; None when none does."""
    if rows < 3:
        return None
    base = nice_step(hi - lo, count)
    magnitude = 10.0 ** np.floor(np.log10(base))
    steps = sorted({m * magnitude * f for f in (1, 10) for m in (1, 2, 2.5, 5)})
    best: tuple[float, list[float], float] | None = None
    for step in (c for c in steps if c >= base * (1 - 1e-9)):
        start = float(np.floor(lo / step + 1e-9) * step)
        for r in range(2, rows):  # at least a row between ticks
            top = start + step * (rows - 1) / r
            k = (rows - 1) // r  # intervals shown
            if top < hi or k + 1 > count + 2 or k < 1:
                continue
            if best is None or top - start < best[0] - 1e-9 * step:  # the least height not showing data
                best = (top - start, [start + i * step for i in range(k + 1)], top)
    return (best[1], best[2]) if best is not None else None


def axis(lo: float, hi: float, count: int = 5, metric: str = "", currency: str | None = None, unit: str = "",
         rows: int = 0) -> tuple[list[float], list[str], tuple[float, float]]:
    """(ticks, labels, (bottom, top)): round, evenly spaced ticks covering [lo, hi], labelled in the metric's unit
    with thousand separators ('€200k', '3,500', '8%'), and the axis limits. Without `rows` (the chart's plot rows)
    the first and last tick are the limits; with it, the ticks are also evenly spaced on screen (`row_aligned`)."""
    if not np.isfinite(lo) or not np.isfinite(hi):
        return [], [], (lo, hi)
    if hi - lo < 1e-9:
        lo, hi = lo - max(1.0, abs(lo) * 0.05), hi + max(1.0, abs(hi) * 0.05)

    def spaced(n: int) -> list[float]:
        step = nice_step(hi - lo, n)
        start, stop = np.floor(lo / step + 1e-9) * step, np.ceil(hi / step - 1e-9) * step
        return [float(t) for t in np.arange(start, stop + step / 2, step)]

    aligned = row_aligned(lo, hi, count, rows) if rows else None
    if aligned is not None:
        ticks, top = aligned
    else:
        for n in range(count, 2, -1):  # at most count + 1 ticks: each on a row of its own in a short chart
            ticks = spaced(n)
            if len(ticks) <= count + 1:
                break
        else:  # two rows' worth: just the round bounds
            ticks = spaced(3)
            ticks = [ticks[0], ticks[-1]]
        top = ticks[-1]
    ticks = [0.0 if abs(t) < (hi - lo) * 1e-12 else t for t in ticks]  # no '-0'
    return ticks, [format_value(t, metric, currency, unit) for t in ticks], (ticks[0], top)


def axis_ticks(lo: float, hi: float, count: int = 5, metric: str = "", currency: str | None = None,
               unit: str = "", rows: int = 0) -> tuple[list[float], list[str]]:
    """The ticks and labels of `axis`."""
    ticks, labels, _ = axis(lo, hi, count, metric, currency, unit, rows)
    return ticks, labels


def month_ticks(first: int, last: int) -> list[int]:
    """Month ticks from the first to the last month of the horizon: every 6 (12 over four years), the last included."""
    span = last - first
    step = 1 if span <= 6 else 3 if span <= 12 else 6 if span <= 48 else 12
    ticks = [first, *range(first - first % step + step, last, step)]
    if last not in ticks:
        if ticks and last - ticks[-1] < step / 2 and len(ticks) > 1:
            ticks[-1] = last  # a tick two months before the end would crowd the last one
        else:
            ticks.append(last)
    return ticks


def spikes(ts: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Months that would set a monthly chart's scale: per strategy, the mean furthest outside the 5–95% range of
    all strategies' monthly means widened by SPIKE_SPREADS times that range (a one-off spend, e.g. a CRM
    licence). Columns strategy, period, the metric, and departure (signed: below the range is negative)."""
    mean = ts.groupby(["strategy", "period"], sort=False)[metric].mean().reset_index()
    if mean.empty:
        return mean.assign(departure=[])
    q05, q95 = (float(q) for q in mean[metric].quantile([0.05, 0.95]))
    lo, hi = q05 - SPIKE_SPREADS * (q95 - q05), q95 + SPIKE_SPREADS * (q95 - q05)
    values = mean[metric]
    mean["departure"] = np.where(values < lo, values - lo, np.where(values > hi, values - hi, 0.0))
    out = mean[mean["departure"] != 0]
    return out.loc[out["departure"].abs().groupby(out["strategy"], sort=False).idxmax()]


def plot_rows(height: int, chrome: int = 4) -> int:
    """The rows plotext plots on in a chart `height` rows tall: title, frame (2) and x ticks take `chrome` rows
    (5 with an x label); 0 when the height is not known yet."""
    return max(0, height - chrome) if height > 0 else 0


def tick_count(height: int, chrome: int = 4) -> int:
    """How many y ticks a chart `height` rows tall can show one per row with a row between; 5 when the height is
    not known yet."""
    rows = plot_rows(height, chrome) or 9
    return max(2, min(5, (rows + 1) // 2))


def plot_bands(plt, frame: pd.DataFrame, strategies, highlighted: str | None, metric: str = "",
               currency: str | None = None, months: tuple[int, int] | None = None,
               scale: pd.DataFrame | None = None, ticks_wanted: int = 5, rows: int = 0) -> tuple[float, float]:
    """Mean lines for every strategy with its marker every few months, dim 95% band edges for the highlighted
    strategy only; round y ticks in the metric's unit over `scale`'s rows (default: all), x ticks over the whole
    horizon. Returns the y limits."""
    groups = dict(tuple(frame.groupby("strategy", sort=False)))
    order = [s for s in strategies if s != highlighted] + [s for s in strategies if s == highlighted]  # on top
    first, last = months or (int(frame["period"].min()), int(frame["period"].max()))
    every = max(1, (last - first + 1) // 6)
    for strategy in order:
        sub = groups.get(strategy)
        if sub is None:
            continue
        colour = colour_of(strategies, strategy)
        x = sub["period"].tolist()
        if strategy == highlighted:
            plt.plot(x, sub["low"].tolist(), color=dim(colour), marker="braille")
            plt.plot(x, sub["high"].tolist(), color=dim(colour), marker="braille")
        plt.plot(x, sub["mean"].tolist(), color=colour, marker="braille")
        mark = marker_of(strategies, strategy)
        if mark:  # staggered, so markers of lines that run together do not all land on the same months
            offset = (list(strategies).index(strategy) * every // max(1, len(strategies))) % every
            at = sub.iloc[offset::every]
            plt.scatter(at["period"].tolist(), at["mean"].tolist(), color=colour, marker=mark)
    scale = frame if scale is None or scale.empty else scale
    drawn = scale["strategy"] == highlighted  # only the highlighted strategy's band is on the chart
    lo = float(np.nanmin([scale["mean"].min(), scale.loc[drawn, "low"].min() if drawn.any() else np.nan]))
    hi = float(np.nanmax([scale["mean"].max(), scale.loc[drawn, "high"].max() if drawn.any() else np.nan]))
    ticks, labels, (bottom, top) = axis(lo, hi, ticks_wanted, metric, currency, rows=rows)
    if ticks:
        plt.yticks(ticks, labels)
        plt.ylim(bottom, top)
        lo, hi = bottom, top
    xt = month_ticks(first, last)
    plt.xticks(xt, [str(m) for m in xt])
    plt.xlim(first, last)
    return lo, hi


def profit_view(ts: pd.DataFrame, monthly: bool) -> pd.DataFrame:
    """The profit column as charted: cumulative per replication, or (monthly) a 3-month rolling mean."""
    ts = ts.sort_values(["strategy", "replication", "period"], kind="stable")
    by_run = ts.groupby(["strategy", "replication"], sort=False)["profit"]
    if monthly:
        profit = by_run.transform(lambda x: x.rolling(ROLLING_MONTHS, min_periods=1).mean())
    else:
        profit = by_run.cumsum()
    return ts.assign(profit=profit)


def spike_text(found: pd.DataFrame, strategies, names: dict[str, str], currency: str | None,
               metric: str = "profit") -> Text:
    """'▼ CRM for acquisition: −€107k in month 2' per spike (the month's mean), in its strategy's colour."""
    text = Text()
    for row in found.to_dict("records"):
        r, g, b = colour_of(strategies, row["strategy"])
        text.append(f"{'▼' if row['departure'] < 0 else '▲'} ", style=f"rgb({r},{g},{b})")
        text.append(f"{names.get(row['strategy'], humanise(row['strategy']))}: "
                    f"{money(row[metric], currency, signed=True)} in month {int(row['period'])}  ")
    return text


class TimeSeriesView(VerticalScroll, can_focus=True):
    """Four charts; m switches profit between cumulative (the default) and monthly (3-month rolling mean).

    Each chart keeps at least 12 rows (fewer leave two or three y ticks): in a short terminal the view scrolls."""

    BINDINGS = [Binding("m", "toggle_monthly", "Monthly profit", show=False)]  # named in the legend line
    highlighted: str | None = None
    monthly = False
    _last: tuple[RunSnapshot, tuple[str, ...]] | None = None
    _drawn: tuple | None = None  # what the charts were last drawn from (see `show`)
    _deferred = False  # a draw is waiting for the screen's layout (see `show`)
    _spikes: tuple[pd.DataFrame, pd.DataFrame] | None = None  # (the frame, its spikes): the note's and the chart's

    def compose(self) -> ComposeResult:
        yield Static("", id="timeseries-legend")
        with Grid(id="timeseries-grid"):
            for metric, _ in CHARTS:
                yield CachedPlot(id=f"chart-{metric}")
        yield Static("", id="timeseries-spikes")

    def on_show(self) -> None:
        self.focus()  # m is this view's key

    def action_toggle_monthly(self) -> None:
        self.monthly = not self.monthly
        if self._last is not None:
            self.show(*self._last)

    def on_resize(self) -> None:
        """Ticks and rows are chosen for each chart's height: a new size redraws them."""
        if self._last is not None:
            self.show(*self._last)

    def on_hide(self) -> None:
        if self._last is not None:  # the data may change before the tab comes back: `show` says when it is drawn
            self.hold()

    def hold(self) -> None:
        """The charts are out of date (new data while the tab was hidden): until `show` draws them, or finds them
        up to date, they build nothing, rather than build the old figures at a new size when the tab comes on
        screen, only to build the new ones a frame later."""
        for plot in self.query(CachedPlot):
            plot.hold()

    def _show_laid_out(self) -> None:
        self._deferred = False
        if self._last is not None:
            self.show(*self._last, laid_out=True)

    def show(self, snap: RunSnapshot, strategies: tuple[str, ...], laid_out: bool = False) -> None:
        """Draw the charts of `snap`, once: the legend and the spike note go first, and when they change the
        layout (or the tab has just opened) the charts are drawn after it, at the heights they get; drawn before,
        they were drawn at the old heights, built again at the new ones, and re-fitted at the next show."""
        ts = snap.partial_timeseries
        if ts.empty:
            return
        self._last = (snap, strategies)
        plots = list(self.query(CachedPlot))
        model = snap.analysis.model if snap.analysis is not None else getattr(self.app, "model", None)
        # the same snapshot, options and chart heights draw the same charts: nothing to do (the tab shown again
        # resizes the view to the size it had, and plotext and pandas took ~40 ms redrawing them)
        drawn = (snap, model, strategies, self.monthly, self.highlighted, tuple(p.size.height for p in plots))
        if (self._drawn is not None and drawn[0] is self._drawn[0] and drawn[1] is self._drawn[1]
                and drawn[2:] == self._drawn[2:]):
            for plot in plots:
                plot.release()
            return
        scenario = getattr(model, "scenario", None)
        currency = scenario.metadata.currency if scenario is not None else None
        names = {s.name: (getattr(s, "label", "") or humanise(s.name)) for s in scenario.strategies} if scenario else {}
        reps = ts.groupby("strategy")["replication"].nunique()
        low, high = int(reps.min()), int(reps.max())
        over = f"{low}" if low == high else f"{low}–{high}"
        band = "dim: 95% band of *, h: next" if self.highlighted else "h: a 95% band"
        moved = update_fitted(self.query_one("#timeseries-legend", Static), legend(strategies, self.highlighted, names)
                              + Text(f"· mean of {over} rep{'s' if high > 1 else ''}; {band}; m: "
                                     f"{'cumulative' if self.monthly else 'monthly'} profit", style="dim"))
        if self._spikes is None or self._spikes[0] is not ts:
            self._spikes = (ts, spikes(ts, "profit"))
        found = self._spikes[1]
        note = self.query_one("#timeseries-spikes", Static)
        update_static(note, Text("One-off: ", style="dim") + spike_text(found, strategies, names, currency))
        moved = moved or note.display != bool(len(found))
        note.display = bool(len(found))
        unplaced = any(p.size.height == 0 for p in plots)
        if unplaced or (moved and not laid_out):
            # the charts' heights are not known yet (the tab just opened, or was hidden again before the layout:
            # its Resize when shown brings it back here) or are about to change: draw them once the screen is
            # laid out, and build nothing before
            for plot in plots:
                plot.hold()
            if not laid_out and not self._deferred:
                self._deferred = True
                self.call_after_refresh(self._show_laid_out)
            return
        self._drawn = drawn
        months = (int(ts["period"].min()), int(ts["period"].max()))
        for metric, title in CHARTS:
            plot = self.query_one(f"#chart-{metric}", CachedPlot)
            plt = plot.plt
            plt.clear_data()
            plt.clear_figure()
            data = profit_view(ts, self.monthly) if metric == "profit" else ts
            if metric == "profit" and self.monthly:
                title = f"Monthly profit, {ROLLING_MONTHS}-month mean"
            unit = unit_title(metric, currency)
            plt.title(f"{title} ({unit})" if unit else title)
            frame = bands(data, metric)
            scale = None
            if metric == "profit" and self.monthly and len(found):  # the months a spike sways do not set the scale
                near = pd.concat([(frame["strategy"] == r["strategy"]) & (frame["period"] - r["period"]).between(
                    0, ROLLING_MONTHS - 1) for r in found.to_dict("records")], axis=1).any(axis=1)
                scale = frame[~near]
            lo, hi = plot_bands(plt, frame, strategies, self.highlighted, metric, currency, months, scale,
                                tick_count(plot.size.height), plot_rows(plot.size.height))
            if metric == "profit" and len(found):  # each spike marked on its strategy's line (or the chart's edge)
                means = frame.set_index(["strategy", "period"])["mean"]
                for row in found.to_dict("records"):
                    y = means.get((row["strategy"], row["period"]))
                    if y is not None:
                        plt.scatter([row["period"]], [min(max(float(y), lo), hi)],
                                    color=colour_of(strategies, row["strategy"]),
                                    marker="▼" if row["departure"] < 0 else "▲")
            plot.redraw()
