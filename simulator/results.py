"""Result frames and their column names: the one place that names what the engine reports.

Time series: one row per (strategy, replication, period) with one column per metric. Levels are
end-of-period values, flows are sums over the period, rates are period means. Network nodes follow
as columns named after the nodes. The customer ledger has one row per customer ever active.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulator.scenario.models import Scenario

ID_COLUMNS: tuple[str, ...] = ("strategy", "replication", "period")

LEVELS: tuple[str, ...] = (
    "headcount", "productive_fte", "active_customers", "customer_satisfaction", "nps", "contacts_waiting",
)
RATES: tuple[str, ...] = ("utilisation", "mean_wait_minutes", "abandonment_rate", "mean_queue_length")
FLOWS: tuple[str, ...] = (
    "contacts_arrived", "contacts_served", "contacts_abandoned", "contacts_delayed", "queue_minutes", "customers_won", "customers_lost",
    "employee_quits", "hires", "purchases", "service_minutes", "practical_minutes",
)
MONEY: tuple[str, ...] = (
    "revenue", "cost_of_goods", "wages", "activity_costs", "turnover_costs", "acquisition_costs",
    "initiative_spend", "fixed_costs", "costs", "profit", "discounted_profit",
)
DERIVED: tuple[str, ...] = ("employee_turnover", "cumulative_profit", "npv")
"""employee_turnover: annualised quits / mean headcount of the period; npv: cumulative discounted profit."""

ENGINE_METRICS: tuple[str, ...] = LEVELS + RATES + FLOWS + MONEY + DERIVED

LEDGER_COLUMNS: tuple[str, ...] = (
    "strategy", "replication", "customer", "segment", "joined_day", "left_day", "tenure_months", "active",
    "contacts", "purchases", "revenue", "cost_of_goods", "cost_to_serve", "acquisition_cost", "profit",
    "satisfaction",
)

SUMMARY_METRICS: dict[str, str] = {
    "npv": "NPV of profit",
    "cumulative_revenue": "Revenue (cum.)",
    "active_customers": "Customers (end)",
    "employee_turnover": "Staff turnover/yr",
    "customer_satisfaction": "Satisfaction 0-10",
}
"""The figures `spc run` prints per strategy, keyed as they appear in JSON and summary.csv."""


def metric_names(scenario: Scenario) -> list[str]:
    """Every column a KPI or a query may name: engine metrics plus the scenario's network nodes."""
    return list(ENGINE_METRICS) + [n.name for n in scenario.network.nodes if n.name not in ENGINE_METRICS]
