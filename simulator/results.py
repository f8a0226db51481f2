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
    "employee_quits", "hires", "redundancies", "purchases", "self_service_contacts",
    "service_minutes", "activity_minutes", "unused_minutes", "practical_minutes", "overtime_minutes",
)
"""Capacity (time-driven ABC, one pool of staff time): practical_minutes = paid minutes x practical share;
service_minutes (desk) + activity_minutes + unused_minutes = practical_minutes exactly. unused_minutes is
negative when staff work beyond practical capacity; that work is also counted in overtime_minutes (per step)."""

COST_COLUMNS: tuple[str, ...] = (
    "cost_of_goods", "wages", "overtime_costs", "turnover_costs", "severance_costs", "acquisition_costs",
    "channel_costs", "initiative_spend", "fixed_costs",
)
"""The P&L's cost lines: costs = their sum, profit = revenue - costs. Nothing else is a cost."""

ALLOCATIONS: tuple[str, ...] = ("cost_to_serve", "activity_costs", "unused_capacity_cost")
"""Allocations, not costs: cost_to_serve = wages allocated to customers at the capacity cost rate (desk
service + activities) + channel costs; activity_costs is the activities' part of it; unused_capacity_cost
= unused_minutes x rate, so cost_to_serve - channel_costs + unused_capacity_cost = wages."""

MONEY: tuple[str, ...] = ("revenue", *COST_COLUMNS, "costs", "profit", "discounted_profit", *ALLOCATIONS)
DERIVED: tuple[str, ...] = ("employee_turnover", "cumulative_profit", "npv")
"""employee_turnover: annualised quits / mean headcount of the period; npv: cumulative discounted profit."""

ENGINE_METRICS: tuple[str, ...] = LEVELS + RATES + FLOWS + MONEY + DERIVED

LEDGER_COLUMNS: tuple[str, ...] = (
    "strategy", "replication", "customer", "segment", "ordinal", "joined_day", "left_day", "tenure_months", "active",
    "contacts", "purchases", "revenue", "cost_of_goods", "cost_to_serve", "acquisition_cost", "profit",
    "satisfaction", "churn_hazard",
)
"""churn_hazard: the monthly hazard the model sets for an active customer at the horizon (NaN once left)."""

SUMMARY_METRICS: dict[str, str] = {
    "npv": "NPV of profit",
    "cumulative_revenue": "Revenue (cum.)",
    "active_customers": "Customers (end)",
    "employee_turnover": "Staff turnover/yr",
    "customer_satisfaction": "Satisfaction 0-10",
}
"""The figures `spc run` prints per strategy, keyed as they appear in JSON and summary.csv."""


ACTIVITY_VOLUME_PREFIX = "volume_"
"""Per declared activity, a time-series column `volume_<activity>`: occurrences of its driver in the period."""


def metric_names(scenario: Scenario) -> list[str]:
    """Every column a KPI or a query may name: engine metrics plus the scenario's network nodes."""
    return list(ENGINE_METRICS) + [n.name for n in scenario.network.nodes if n.name not in ENGINE_METRICS]
