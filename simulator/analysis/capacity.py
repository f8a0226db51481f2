"""Time-driven ABC over a run (Kaplan & Anderson, HBR 2004): what capacity cost, what it was used for.

Staff time is one pool. Practical capacity = paid minutes x practical share; the capacity cost rate =
cost of capacity supplied (wages) / practical minutes. Desk service and declared activities both consume
the pool; each activity's unit cost = its minutes x the rate. Used + unused capacity = practical capacity,
and used + unused cost = wages: activity cost is an allocation of wages, never a cost of its own. Work
beyond practical capacity shows as negative unused capacity and is paid as overtime (a real cost line).
Figures are totals over the horizon, averaged over replications.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from simulator.analysis.stats import strategy_order
from simulator.results import ACTIVITY_VOLUME_PREFIX
from simulator.scenario.models import Scenario

DESK = "desk service (contacts served)"


@dataclass(frozen=True)
class CapacityReport:
    rate: float  # capacity cost rate per practical minute
    cost_supplied: float  # wages
    practical_minutes: float
    used_minutes: float
    used_cost: float
    unused_minutes: float  # negative: staff worked beyond practical capacity
    unused_cost: float
    overtime_minutes: float
    overtime_cost: float
    activities: pd.DataFrame  # activity, driver, volume, unit_minutes, unit_cost, minutes, cost (desk service first)

    def document(self) -> dict:
        return {
            "capacity_cost_rate": self.rate, "cost_supplied": self.cost_supplied,
            "practical_minutes": self.practical_minutes, "used_minutes": self.used_minutes,
            "used_cost": self.used_cost, "unused_minutes": self.unused_minutes, "unused_cost": self.unused_cost,
            "overtime_minutes": self.overtime_minutes, "overtime_cost": self.overtime_cost,
            "activities": [{k: (None if pd.isna(v) else v) for k, v in r.items()}
                           for r in self.activities.to_dict("records")],
        }


def capacity_report(ts: pd.DataFrame, scenario: Scenario, strategies=None) -> dict[str, CapacityReport]:
    """Per strategy: the capacity cost rate, each activity's volume, unit time and unit cost, used and unused."""
    out: dict[str, CapacityReport] = {}
    for strategy in strategy_order(ts["strategy"].unique(), strategies):
        sub = ts[ts["strategy"] == strategy]
        reps = max(1, sub["replication"].nunique())

        def total(column: str, sub=sub, reps=reps) -> float:
            return float(sub[column].sum()) / reps if column in sub else 0.0

        wages, practical = total("wages"), total("practical_minutes")
        rate = wages / practical if practical > 0 else float("nan")
        served, desk = total("contacts_served"), total("service_minutes")
        rows = [{"activity": DESK, "driver": "contact", "volume": served,
                 "unit_minutes": desk / served if served else float("nan"),
                 "unit_cost": desk / served * rate if served else float("nan"), "minutes": desk, "cost": desk * rate}]
        for act in scenario.activities:
            volume = total(ACTIVITY_VOLUME_PREFIX + act.name)
            rows.append({"activity": act.name, "driver": act.driver, "volume": volume, "unit_minutes": act.minutes,
                         "unit_cost": act.minutes * rate, "minutes": volume * act.minutes,
                         "cost": volume * act.minutes * rate})
        used = desk + total("activity_minutes")
        unused = practical - used
        out[strategy] = CapacityReport(rate, wages, practical, used, used * rate, unused, unused * rate,
                                       total("overtime_minutes"), total("overtime_costs"), pd.DataFrame(rows))
    return out
