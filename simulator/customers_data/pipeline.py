"""The stages `spc import` and `spc portfolio` share: read -> fit -> value, and the printed fit report."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from simulator.customers_data.fit import Fit, fit_bgnbd, fit_gamma_gamma
from simulator.customers_data.read import Costs, Transactions, read_costs, read_transactions
from simulator.customers_data.value import (
    Valuation,
    conditional_expectations,
    top_share,
    tracking,
    value_customers,
    whale_curve,
)
from simulator.errors import UsageError


@dataclass
class Analysis:
    tx: Transactions
    bg: Fit
    gg: Fit
    valuation: Valuation
    costs: Costs | None
    base: Path


def base_path(name: str) -> Path:
    from simulator import shipped_scenarios

    path = Path(name)
    if path.is_file():
        return path
    shipped = shipped_scenarios() / name
    if shipped.is_file():
        return shipped
    raise UsageError(f"--base {name}: no such scenario (a path, or one of the shipped: "
                     f"{', '.join(sorted(p.name for p in shipped_scenarios().glob('*.yaml')))})")


def analyse(args: argparse.Namespace, *, segment_column: str | None = None, draws: int = 0) -> Analysis:
    if args.horizon_months < 1 or args.horizon_months > 600:
        raise UsageError(f"--horizon-months {args.horizon_months}: 1 to 600")
    base = base_path(args.base)
    tx = read_transactions(args.transactions, customer_id=args.customer_id, date=args.date, amount=args.amount,
                           calibration_end=args.calibration_end, segment_column=segment_column,
                           drop_duplicates=args.drop_duplicates)
    costs = None
    cpp = None
    if args.costs:
        from simulator.engine.model import YEAR_DAYS
        from simulator.scenario.loader import load

        emp = load(base).scenario.employees
        costs = read_costs(args.costs, args.customer_id, emp.annual_salary / (YEAR_DAYS * emp.minutes_per_day
                                                                              * emp.practical_capacity))
        known = set(tx.summary["customer_id"])
        extra = int((~costs.table["customer_id"].isin(known)).sum())
        missing = len(known - set(costs.table["customer_id"]))
        if extra:
            costs.rules.append(_rule("customers in the costs file but not in the fit, ignored", extra))
        if missing:
            costs.rules.append(_rule("customers of the fit missing from the costs file: cost to serve 0", missing))
        purchases = tx.summary.set_index("customer_id")["frequency"] + 1
        cpp = costs.table.set_index("customer_id")["cost"].reindex(purchases.index).fillna(0.0) / purchases
    bg = fit_bgnbd(tx.summary)
    gg = fit_gamma_gamma(tx.summary)
    valuation = value_customers(tx, bg, gg, horizon_months=args.horizon_months, annual_discount=args.discount_rate,
                                margin=args.margin, cost_per_purchase=cpp, draws=draws)
    return Analysis(tx, bg, gg, valuation, costs, base)


def _rule(text: str, count: int):
    from simulator.customers_data.read import Rule

    return Rule(text, count)


PARAM_NOTES = {"r": "purchase rate shape", "alpha": "purchase rate scale (weeks)", "a": "dropout shape a",
               "b": "dropout shape b", "p": "spend shape p", "q": "spend shape q", "v": "spend scale gamma"}


def fit_report(a: Analysis) -> dict:
    tx = a.tx

    def model(f: Fit) -> dict:
        return {"model": f.name, "customers": f.n, "log_likelihood": round(f.loglik, 3),
                "parameters": {("gamma" if k == "v" else k): {"estimate": v, "ci95": list(f.interval(k))}
                               for k, v in f.params.items()}}

    rules = tx.rules + (a.costs.rules if a.costs else [])
    return {"file": tx.file, "rows": tx.rows, "customers": tx.customers, "purchases": tx.purchases,
            "repeat_purchases": int(tx.summary["frequency"].sum()),
            "calibration": {"start": str(tx.calibration_start), "end": str(tx.calibration_end),
                            "weeks": round(tx.calibration_weeks, 2)},
            "holdout": {"end": str(tx.last_date), "weeks": round(tx.holdout_weeks, 2)} if tx.holdout_weeks else None,
            "models": [model(a.bg), model(a.gg)],
            "rules": [{"rule": r.text, "count": r.count} for r in rules],
            "method": "maximum likelihood (pymc-marketing fit(method='map') with flat priors); 95% Wald intervals "
                      "on the log scale from the Hessian"}


def print_fit(a: Analysis) -> None:
    rep = fit_report(a)
    cal = rep["calibration"]
    print(f"{rep['file']}: {rep['rows']:,} rows, {rep['customers']:,} customers, {rep['purchases']:,} purchases "
          f"({rep['repeat_purchases']:,} repeat); calibration {cal['start']} to {cal['end']} ({cal['weeks']} weeks)"
          + (f", holdout to {rep['holdout']['end']} ({rep['holdout']['weeks']} weeks)" if rep["holdout"] else ""))
    for m in rep["models"]:
        print(f"{m['model']}: {m['customers']:,} customers, log-likelihood {m['log_likelihood']:,.2f}")
        for k, p in m["parameters"].items():
            lo, hi = p["ci95"]
            print(f"  {k:<6} {p['estimate']:>10.4g}   95% CI [{lo:.4g}, {hi:.4g}]   "
                  f"{PARAM_NOTES['v' if k == 'gamma' else k]}")
    print(f"method: {rep['method']}")
    if rep["rules"]:
        print("rules applied:")
        for r in rep["rules"]:
            print(f"  {r['count']:>7,}  {r['rule']}")
    else:
        print("rules applied: none needed")


def frame_records(frame: pd.DataFrame) -> list[dict]:
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()} for row in frame.to_dict("records")]


def portfolio_report(a) -> dict:
    """Everything `spc portfolio` shows, as plain data (also the hook for a report section)."""
    c = a.valuation.customers
    negative = c[c["clv"] < 0]
    rep = {
        "fit": fit_report(a),
        "assumptions": {"margin": a.valuation.margin, "horizon_months": a.valuation.horizon_months,
                        "annual_discount": a.valuation.annual_discount, "draws": a.valuation.draws,
                        "cost_to_serve": a.costs.file if a.costs else None},
        "equity": {"clv_sum": float(c["clv"].sum()),
                   "ci95": ([float(c["clv_lo"].sum()), float(c["clv_hi"].sum())] if "clv_lo" in c else None),
                   "expected_alive": float(c["p_alive"].sum()), "customers": len(c)},
        "whale": {"realised_top20": top_share(c["realised"].to_numpy()), "predicted_top20": top_share(c["clv"].to_numpy()),
                  "realised": whale_curve(c["realised"].to_numpy()), "predicted": whale_curve(c["clv"].to_numpy())},
        "repricing": {"customers": len(negative), "value_destroyed": float(negative["clv"].sum()),
                      "worth": float(-negative["clv"].sum())},
    }
    if a.tx.holdout_weeks:
        ce = conditional_expectations(a.tx, a.bg)
        tr = tracking(a.tx, a.bg)
        cal_week = int(round((a.tx.calibration_end - a.tx.calibration_start).days / 7))
        at_cal = tr.iloc[min(cal_week, len(tr)) - 1]
        last = tr.iloc[-1]
        rep["holdout"] = {
            "weeks": a.tx.holdout_weeks,
            "conditional_expectations": frame_records(ce),
            "actual": int(a.tx.summary["holdout"].sum()),
            "predicted_conditional": float((ce["predicted"] * ce["customers"]).sum()),
            "tracking_predicted": float(last["expected"] - at_cal["expected"]),
            "tracking": frame_records(tr),
        }
    return rep
