"""Numbers and statuses as styled text, shared by the views."""

from __future__ import annotations

import math

from rich.text import Text

from simulator.analysis.stats import format_money

STATUS_STYLE = {"green": "bold green", "amber": "bold yellow", "red": "bold red"}
STATUS_MARK = {"green": "●", "amber": "◐", "red": "○"}


def money(x: float | None) -> str:
    return format_money(x)


def signed_money(x: float | None) -> str:
    if x is None or x != x:
        return "-"
    return ("+" if x > 0 else "") + format_money(x)


def percent(x: float | None, digits: int = 0) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.{digits}%}"


def status_text(status: str, label: str) -> Text:
    """A status as mark + label in its colour; colour is never the only cue (the mark differs too)."""
    return Text(f"{STATUS_MARK.get(status, '?')} {label}", style=STATUS_STYLE.get(status, ""))


def delta_text(value: float, low: float, high: float) -> Text:
    """Δ with its CI, green when the whole CI is above zero, red when below, plain when it spans zero."""
    style = "green" if low > 0 else "red" if high < 0 else ""
    return Text(f"{signed_money(value)} [{signed_money(low)}, {signed_money(high)}]", style=style)


def recommendation_text(headline: str, reasons: tuple[str, ...] | list[str], more: int = 0) -> Text:
    """The recommendation as the CLI's Decision panel prints it: the headline in bold, one reason a line."""
    text = Text(headline, style="bold")
    for reason in reasons:
        text.append("\n" + reason)
    if more:
        text.append(f"\n+{more} more reason{'s' if more != 1 else ''}: key 6 (Decision)", style="dim")
    return text
