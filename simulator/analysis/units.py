"""Names and numbers as an executive reads them: humanised names, money by magnitude with its currency (no
cents), shares as %, minutes as "min", other values rounded to a few significant figures."""

from __future__ import annotations

import math
import re

CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF ", "INR": "₹"}

ACRONYMS = {"npv": "NPV", "nps": "NPS", "kpi": "KPI", "roi": "ROI", "ltv": "LTV", "crm": "CRM", "fte": "FTE",
            "abc": "ABC", "it": "IT", "hr": "HR", "cogs": "COGS"}

MONEY_METRICS = frozenset({
    "revenue", "cost_of_goods", "wages", "overtime_costs", "turnover_costs", "severance_costs", "acquisition_costs",
    "channel_costs", "initiative_spend", "fixed_costs", "costs", "profit", "discounted_profit", "cost_to_serve",
    "activity_costs", "unused_capacity_cost", "cumulative_profit", "npv", "cumulative_revenue", "firm_value",
    "continuing_value", "spend"})
SHARE_METRICS = frozenset({"utilisation", "abandonment_rate", "employee_turnover"})
MINUTE_METRICS = frozenset({"mean_wait_minutes"})


def humanise(name: str) -> str:
    """'npv_of_profit' -> 'NPV of profit', 'reprice_unprofitable' -> 'reprice unprofitable'."""
    words = re.split(r"[_\s]+", str(name).strip())
    return " ".join(ACRONYMS.get(w.lower(), w) for w in words if w)


def label_of(item) -> str:
    """An item's `label` when it has one, else its humanised name."""
    return getattr(item, "label", None) or humanise(getattr(item, "name", item))


def names_of(items) -> dict[str, str]:
    """Per item name: the name shown to people (strategies, initiatives, segments, nodes or KPIs of a scenario)."""
    return {item.name: label_of(item) for item in items}


def strategy_labels(scenario) -> dict[str, str]:
    """Per strategy name: its label, else its humanised name (baseline included, as 'baseline')."""
    return {"baseline": "baseline", **names_of(scenario.strategies)}


def currency_symbol(currency: str | None) -> str:
    if not currency:
        return ""
    return CURRENCY_SYMBOLS.get(currency.upper(), f"{currency} ")


def money(x: float | None, currency: str | None = None, signed: bool = False, compact: bool = False) -> str:
    """'€455.8k', '−€110k', '€1.23M', '€789' (3–4 significant figures, never cents; '-' when missing);
    `compact`: 3 significant figures ('€456k'), for intervals in narrow tables."""
    if x is None or x != x:
        return "-"
    sign = "−" if x < 0 else ("+" if signed and x > 0 else "")
    a = abs(x)
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= size * 0.9995:
            v = a / size
            digits = 2 if v < 10 else 1 if v < (100 if compact else 1000) else 0
            text = f"{v:,.{digits}f}"
            if "." in text:
                text = text.rstrip("0").rstrip(".")
            return f"{sign}{currency_symbol(currency)}{text}{suffix}"
    return f"{sign}{currency_symbol(currency)}{a:,.0f}"


def sensible(x: float | None, digits: int = 3) -> str:
    """A number rounded to `digits` significant figures, thousands separated: 15.7143 -> '15.7', 0.08 -> '0.08'."""
    if x is None or x != x:
        return "-"
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    magnitude = math.floor(math.log10(abs(x)))
    decimals = max(0, digits - 1 - magnitude)
    text = f"{round(x, decimals):,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def metric_kind(metric: str, unit: str = "") -> str:
    """'money', 'share', 'minutes' or 'number' for a results column (a node's unit may say 'minutes' or 'share')."""
    if metric in MONEY_METRICS:
        return "money"
    if metric in SHARE_METRICS:
        return "share"
    if metric in MINUTE_METRICS:
        return "minutes"
    u = (unit or "").lower()
    if u in ("share", "fraction", "%"):
        return "share"
    if u in ("minutes", "min"):
        return "minutes"
    if u in ("currency", "money") or u.startswith("currency"):
        return "money"
    return "number"


def format_value(x: float | None, metric: str, currency: str | None = None, unit: str = "") -> str:
    """A metric's value as an executive reads it: '€455.8k', '8%', '4.0 min', '3,512', '7.82'."""
    if x is None or x != x:
        return "-"
    kind = metric_kind(metric, unit)
    if kind == "money":
        return money(x, currency)
    if kind == "share":
        return f"{x:.0%}" if abs(x) >= 0.1 or x == 0 else f"{x:.1%}"
    if kind == "minutes":
        return f"{x:.1f} min"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return sensible(x)


def unit_title(metric: str, currency: str | None = None, unit: str = "") -> str:
    """An axis title's unit: 'EUR', '%', 'minutes', or the node's own unit ('' when none is known)."""
    kind = metric_kind(metric, unit)
    if kind == "money":
        return currency or "money"
    if kind == "share":
        return "%"
    if kind == "minutes":
        return "minutes"
    return {"active_customers": "customers", "headcount": "employees", "customer_satisfaction": "score 0-10",
            "nps": "points", "productive_fte": "FTE"}.get(metric, unit)
