"""Make `retail_bank_history.csv`: 36 months of a synthetic but plausible history for the retail bank.

The bank of `service_profit_chain.yaml`, run once under its status quo (baseline) with four numbers
set to values the scenario does not assume (the "truth" below, which the lesson pretends not to know),
on a seed of its own, with the noise of how a bank measures itself added:

    active_customers        from the core banking system: exact
    customers_lost          closed accounts a month: exact
    customer_satisfaction   a monthly customer survey, se 0.06 on the 0-10 scale (~600 answers)
    nps                     the same survey's NPS: its standard error follows from n = 400 answers
    employee_satisfaction   a monthly staff pulse survey, se 1.5 index points

Run from the repository: python scenarios/history/make_history.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from simulator.calibration.synthetic import simulate_history
from simulator.scenario.loader import load

HERE = Path(__file__).resolve().parent
SCENARIO = HERE.parent / "service_profit_chain.yaml"
OUT = HERE / "retail_bank_history.csv"
SEED = 1994  # not the scenario's run seed: the world's luck is not the model's
MONTHS = 36
TRUTH = {  # what the world is like (the scenario's point values: 0.015, 0.10, 0.35, -60)
    "segments.mass_retail.churn_per_month": 0.0165,
    "links.employee_satisfaction->service_quality.effect": 0.13,
    "segments.mass_retail.satisfaction_sensitivity": 0.45,
    "links.utilisation->employee_satisfaction.effect": -45.0,
}
SE = {"customer_satisfaction": 0.06, "employee_satisfaction": 1.5}
NPS_ANSWERS = 400
METRICS = ["active_customers", "customers_lost", "customer_satisfaction", "nps", "employee_satisfaction"]


def make() -> pd.DataFrame:
    loaded = load(SCENARIO)
    exact = simulate_history(loaded, TRUTH, METRICS, MONTHS, SEED, SE).frame
    rng = np.random.default_rng(SEED)
    nps = exact["metric"] == "nps"
    # an NPS survey of n answers: each +100, 0 or -100, so its se is at most sqrt((1e4 - nps^2) / n)
    se_nps = np.sqrt((1e4 - exact.loc[nps, "value"] ** 2) / NPS_ANSWERS)
    exact.loc[nps, "value"] = exact.loc[nps, "value"] + rng.normal(0.0, 1.0, nps.sum()) * se_nps
    out = exact.assign(se=exact["se"].where(exact["se"] > 0), n=np.where(nps, NPS_ANSWERS, np.nan))
    out.loc[nps, "se"] = np.nan  # the file gives n for the NPS: spc calibrate works out its se
    out["value"] = out["value"].round(3)
    return out[["month", "metric", "value", "se", "n"]]


if __name__ == "__main__":
    frame = make()
    header = ("# Synthetic history of the retail bank (scenarios/service_profit_chain.yaml), made by make_history.py:\n"
              "# the model at known values plus survey noise. month 1 is the first simulated month.\n")
    OUT.write_text(header + frame.to_csv(index=False, float_format="%.6g"))
    print(f"wrote {OUT} ({len(frame)} observations)")
