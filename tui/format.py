"""Numbers and statuses as styled text, shared by the views."""

from __future__ import annotations

import math

from rich.text import Text

from simulator.analysis import units

STATUS_STYLE = {"green": "bold green", "amber": "bold yellow", "red": "bold red"}
STATUS_MARK = {"green": "●", "amber": "◐", "red": "○"}


def money(x: float | None, currency: str | None = None) -> str:
    """Money by magnitude with its currency and no cents ('€455.8k'): `simulator.analysis.units`, as every front end."""
    return units.money(x, currency)


def signed_money(x: float | None, currency: str | None = None, compact: bool = False) -> str:
    """As `money`, with '+' on gains ('+€115.9k', '−€38.3k'); `compact`: 3 significant figures ('+€116k')."""
    return units.money(x, currency, signed=True, compact=compact)


def currency_of(analysis) -> str | None:
    """The scenario's currency (metadata.currency) of an `Analysis`, None when there is none."""
    model = getattr(analysis, "model", None)
    return getattr(getattr(getattr(model, "scenario", None), "metadata", None), "currency", None)


def percent(x: float | None, digits: int = 0) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.{digits}%}"


def share(x: float | None) -> str:
    """A share of draws as '%', never rounded to a bare 0% or 100% that it is not ('<1%', '>99%'): a P(better)
    of 0.3% beside an interval that spans zero must not read as 'never better'."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if 0 < x < 0.005:
        return "<1%"
    if 0.995 < x < 1:
        return ">99%"
    return f"{x:.0%}"


def status_text(status: str, label: str) -> Text:
    """A status as mark + label in its colour; colour is never the only cue (the mark differs too)."""
    return Text(f"{STATUS_MARK.get(status, '?')} {label}", style=STATUS_STYLE.get(status, ""))


def delta_text(value: float, low: float, high: float, currency: str | None = None) -> Text:
    """Δ with its CI, green when the whole CI is above zero, red when below, plain when it spans zero."""
    style = "green" if low > 0 else "red" if high < 0 else ""
    # the currency once per cell: the interval's bounds are in the same unit (and 80 columns have no room to spare)
    a, b, c = signed_money(value, currency, compact=True), signed_money(low, compact=True), signed_money(high, compact=True)
    return Text(f"{a} [{b}, {c}]", style=style)


def change_text(before: float | None, after: float | None, currency: str | None = None, signed: bool = True) -> Text:
    """Before → after against a pinned run: '+€116k → +€98.2k (−€17.8k)', green up, red down, dim unchanged;
    `signed=False` for levels ('€725k → €705k (−€19.9k)') rather than differences."""
    if before is None or after is None or before != before or after != after:
        return Text("-", style="dim")
    diff = after - before
    tiny = abs(diff) < 0.5  # under a unit of money: the same
    style = "dim" if tiny else "green" if diff > 0 else "red"
    tail = "(same)" if tiny else f"({signed_money(diff, currency, compact=True)})"
    show = signed_money if signed else (lambda x, c, compact: units.money(x, c, compact=compact))
    a, b = show(before, currency, compact=True), show(after, currency, compact=True)
    return Text(f"{a} → {b} {tail}", style=style)


def recommendation_text(headline: str, reasons: tuple[str, ...] | list[str], more: int = 0) -> Text:
    """The recommendation as the CLI's Decision panel prints it: the headline in bold, one reason a line."""
    text = Text(headline, style="bold")
    for reason in reasons:
        text.append("\n" + reason)
    if more:
        text.append(f"\n+{more} more reason{'s' if more != 1 else ''}: key 6 (Decision)", style="dim")
    return text
