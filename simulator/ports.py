"""Ports: the single table of where the causal network meets the discrete-event engine.

The engine *reads* the value of a network node named like a read port at every network step (a
scenario wires its own nodes into it), and *writes* each written port into the `measure` node of that
name, if the scenario declares one, after every step. An unconnected port keeps its default.
`ENGINE_LINKS` are the causal paths the engine itself carries from read ports to written ports; they
close the feedback loops of the service-profit chain and are drawn dashed in the causal map.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Port:
    name: str
    direction: Literal["read", "written"]
    unit: str
    default: str
    meaning: str


PORTS: tuple[Port, ...] = (
    # read by the engine
    Port("employee_quit_rate", "read", "quits per employee-year", "employees.annual_quit_rate",
         "Hazard at which each employee quits"),
    Port("headcount_target", "read", "employees", "employees.headcount",
         "Headcount the hiring process refills to"),
    Port("service_quality", "read", "score 0-10", "7.0",
         "Mean experience score of a contact served without waiting"),
    Port("handle_time_factor", "read", "x", "1.0", "Multiplies every segment's handle time"),
    Port("churn_hazard_factor", "read", "x", "1.0", "Multiplies every segment's base churn hazard"),
    Port("contact_frequency_factor", "read", "x", "1.0", "Multiplies contacts and purchases per customer"),
    Port("acquisition_factor", "read", "x", "1.0", "Multiplies every segment's acquisition rate"),
    Port("referral_rate", "read", "referrals per promoter-year", "0.0",
         "New customers each promoter brings"),
    Port("price_index", "read", "x", "1.0", "Multiplies the basket of every purchase"),
    # written by the engine
    Port("headcount", "written", "employees", "", "Employees on the payroll"),
    Port("productive_fte", "written", "FTE", "", "Headcount weighted by ramp-up productivity"),
    Port("utilisation", "written", "share", "", "Busy server time / server time supplied"),
    Port("mean_wait_minutes", "written", "minutes", "", "Mean wait of contacts that started service"),
    Port("abandonment_rate", "written", "share", "", "Abandoned / contacts that left the queue"),
    Port("contacts_served", "written", "contacts per step", "", "Contacts whose service started"),
    Port("active_customers", "written", "customers", "", "Customers with an active relationship"),
    Port("customers_won", "written", "customers per step", "", "New customers (acquisition + referrals)"),
    Port("customers_lost", "written", "customers per step", "", "Customers who defected"),
    Port("customer_satisfaction", "written", "score 0-10", "", "Mean satisfaction of active customers"),
    Port("nps", "written", "points -100..100", "", "Net promoter score (9-10 minus 0-6)"),
    Port("employee_quits", "written", "quits per step", "", "Employees who quit"),
    Port("revenue", "written", "currency per step", "", "Sales revenue"),
    Port("costs", "written", "currency per step", "", "All costs"),
    Port("profit", "written", "currency per step", "", "Revenue minus costs"),
)

READ_PORTS: dict[str, Port] = {p.name: p for p in PORTS if p.direction == "read"}
WRITTEN_PORTS: dict[str, Port] = {p.name: p for p in PORTS if p.direction == "written"}

ENGINE_LINKS: tuple[tuple[str, str, int], ...] = (
    ("headcount_target", "headcount", +1),
    ("headcount", "productive_fte", +1),
    ("productive_fte", "utilisation", -1),
    ("productive_fte", "mean_wait_minutes", -1),
    ("handle_time_factor", "utilisation", +1),
    ("handle_time_factor", "mean_wait_minutes", +1),
    ("contact_frequency_factor", "utilisation", +1),
    ("contact_frequency_factor", "revenue", +1),
    ("mean_wait_minutes", "abandonment_rate", +1),
    ("mean_wait_minutes", "customer_satisfaction", -1),
    ("abandonment_rate", "customer_satisfaction", -1),
    ("service_quality", "customer_satisfaction", +1),
    ("customer_satisfaction", "nps", +1),
    ("customer_satisfaction", "customers_lost", -1),
    ("churn_hazard_factor", "customers_lost", +1),
    ("acquisition_factor", "customers_won", +1),
    ("referral_rate", "customers_won", +1),
    ("nps", "customers_won", +1),
    ("customers_won", "active_customers", +1),
    ("customers_lost", "active_customers", -1),
    ("active_customers", "utilisation", +1),
    ("active_customers", "mean_wait_minutes", +1),
    ("active_customers", "contacts_served", +1),
    ("active_customers", "revenue", +1),
    ("price_index", "revenue", +1),
    ("revenue", "profit", +1),
    ("costs", "profit", -1),
    ("headcount", "costs", +1),
    ("employee_quits", "costs", +1),
    ("employee_quit_rate", "employee_quits", +1),
    ("employee_quits", "headcount", -1),
)


def ports_markdown_table() -> str:
    """The ports table as Markdown; the README carries exactly this text (a test checks it)."""
    rows = ["| port | direction | unit | default | meaning |", "|---|---|---|---|---|"]
    for p in PORTS:
        default = f"`{p.default}`" if p.default else "-"
        rows.append(f"| `{p.name}` | {p.direction} | {p.unit} | {default} | {p.meaning} |")
    return "\n".join(rows)
