"""Shared helpers for tests: build scenarios from dicts and run the engine quickly."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from simulator.graph.compiler import CompiledModel, compile_scenario
from simulator.scenario.loader import load_data

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent


def scenario_dict(name: str) -> dict:
    path = DATA / name if (DATA / name).exists() else ROOT / "scenarios" / name
    return yaml.safe_load(path.read_text())


def compiled(data: dict) -> CompiledModel:
    return compile_scenario(load_data(copy.deepcopy(data)))


def mmc_scenario(servers: int, rho: float, handle_minutes: float, months: int, customers: int = 1000,
                 patience: float | None = None) -> dict:
    """The engine configured as a pure M/M/c queue: constant staff, no churn, no acquisition, Poisson contacts."""
    minutes_per_day = 450.0
    period = 30.4375
    per_day = rho * servers * minutes_per_day / handle_minutes
    return {
        "metadata": {"name": f"M/M/{servers}", "horizon_months": months},
        "employees": {"headcount": servers, "annual_salary": 1, "annual_quit_rate": 0, "ramp_days": 0,
                      "service_share": 1.0, "minutes_per_day": minutes_per_day},
        "segments": [{"name": "all", "initial_customers": customers, "contacts_per_month": per_day * period / customers,
                      "purchases_per_month": 0, "basket": 0, "handle_minutes": handle_minutes,
                      "patience_minutes": patience, "churn_per_month": 0.0}],
        "run": {"replications": 1, "seed": 1},
    }
