"""`spc import TRANSACTIONS --out FILE.yaml`: fit BG/NBD and Gamma-Gamma to a transaction export and write a
scenario whose segments come from the data (needs the optional `data` extra)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from simulator.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    from simulator.customers_data.args import add_common

    p = sub.add_parser("import", help="fit purchase/dropout/spend models to a transaction export and write a "
                                      "scenario with segments from the data (pip install \".[data]\")")
    add_common(p)
    p.add_argument("--segments", default="auto", metavar="auto|N|COL",
                   help="auto: value tiers (top 5%%, 5-20%%, 20-50%%, bottom 50%% by predicted CLV); N: N equal-size "
                        "value groups; COL: a column of the export (default auto)")
    p.add_argument("--out", required=True, metavar="FILE.yaml", help="the scenario to write")
    p.set_defaults(func=cmd_import)


def segments_arg(value: str) -> tuple[str, str | None]:
    """('auto'|'N'|'column', column name or None)."""
    if value == "auto":
        return "auto", None
    if value.isdigit():
        n = int(value)
        if not 1 <= n <= 20:
            raise UsageError(f"--segments {value}: 1 to 20 groups")
        return value, None
    return "column", value


def cmd_import(args: argparse.Namespace) -> int:
    from simulator.customers_data.pipeline import analyse, fit_report, frame_records, print_fit
    from simulator.customers_data.scenario_out import (
        assign_segments,
        scenario_data,
        segment_table,
        write_scenario,
    )
    from simulator.customers_data.value import grouped_top_share, top_share

    out = Path(args.out)
    if out.suffix.lower() not in (".yaml", ".yml"):
        raise UsageError(f"--out {args.out}: give a .yaml file")
    how, column = segments_arg(args.segments)
    a = analyse(args, segment_column=column)
    groups = assign_segments(a.valuation, how)
    cpc = mpc = None
    if a.costs is not None and {"contacts", "handle_minutes"} <= set(a.costs.table.columns):
        t = a.costs.table.set_index("customer_id")
        if t["contacts"].notna().any() and t["handle_minutes"].notna().any():
            purchases = a.tx.summary.set_index("customer_id")["frequency"] + 1
            cpc = t["contacts"].reindex(purchases.index).fillna(0.0) / purchases
            mpc = (t["handle_minutes"] / t["contacts"].where(t["contacts"] > 0)).reindex(purchases.index)
    table = segment_table(a.tx, a.bg, a.valuation, groups, cpc, mpc)
    data, header = scenario_data(a.tx, a.bg, a.gg, table, a.base, out, args.margin,
                                 a.costs.file if (a.costs is not None and cpc is not None) else None,
                                 args.horizon_months)
    clv = a.valuation.customers["clv"].to_numpy()
    whale = {"data_top20_share": top_share(clv), "segments_top20_share": grouped_top_share(clv, groups.to_numpy())}
    write_scenario(out, data, header)
    from simulator.scenario.loader import load

    load(out)  # the file written must load: a ScenarioError here is a bug, reported as such
    if args.json:
        rep = fit_report(a)
        rep["segments"] = frame_records(table.reset_index(names="segment"))
        rep["whale_curve"] = whale
        rep["scenario"] = str(out)
        json.dump(rep, sys.stdout, indent=2, default=str)
        print()
        return 0
    print_fit(a)
    print(f"segments ({args.segments}), per month, customers alive = sum of P(alive):")
    print(f"  {'segment':<22}{'customers':>10}{'alive':>8}{'purch/mo':>10}{'basket':>9}{'churn/mo':>10}"
          f"{'hazard/mo':>10}{'new/mo':>8}{'CLV total':>12}")
    for name, r in table.iterrows():
        print(f"  {name:<22}{int(r['customers']):>10,}{int(r['initial_customers']):>8,}{r['purchases_per_month']:>10.3f}"
              f"{r['basket']:>9.2f}{r['churn_per_month']:>10.4f}{r['hazard_per_month']:>10.4f}"
              f"{r['acquisition_per_month']:>8.1f}{r['clv_total']:>12,.0f}")
    print("  churn/mo: the constant churn that reproduces the BG/NBD's discounted purchases over the horizon; "
          "hazard/mo: the alive customers' dropout hazard today")
    print(f"whale curve: top 20% of customers hold {whale['data_top20_share']:.1%} of predicted CLV; "
          f"with each customer at its segment's mean, {whale['segments_top20_share']:.1%}")
    print(f"wrote {out} (extends {data['extends']}); check it with: spc run {out}")
    return 0
