"""`spc portfolio TRANSACTIONS`: the customer portfolio under the fitted BG/NBD and Gamma-Gamma models: CLV and
P(alive) per customer with intervals, the whale curve, customer equity, repricing candidates, and with
`--calibration-end` the holdout check (needs the optional `data` extra)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from simulator.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    from simulator.customers_data.args import add_common

    p = sub.add_parser("portfolio", help="value the customer portfolio of a transaction export: CLV, P(alive), whale "
                                         "curve, repricing candidates, holdout check (pip install \".[data]\")")
    add_common(p)
    p.add_argument("--draws", type=int, default=100, help="parameter draws behind the intervals (default 100)")
    p.add_argument("--top", type=int, default=10, help="customers listed at each end (default 10)")
    p.add_argument("--out", metavar="FILE.csv", help="also write the per-customer table (CSV or .parquet)")
    p.add_argument("--report", metavar="PATH", help="also write the portfolio as a report section: HTML with charts "
                                                    "(whale curve, tracking, conditional expectations) or Markdown (.md)")
    p.set_defaults(func=cmd_portfolio)


def cmd_portfolio(args: argparse.Namespace) -> int:
    from simulator.customers_data.pipeline import analyse, portfolio_report, print_fit

    if not 0 <= args.draws <= 2000:
        raise UsageError(f"--draws {args.draws}: 0 to 2000")
    a = analyse(args, draws=args.draws)
    rep = portfolio_report(a)
    c = a.valuation.customers
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        (c.to_parquet if out.suffix.lower() in (".parquet", ".pq") else c.to_csv)(out, index=False)
    if args.report:
        from simulator.customers_data.report_section import write_report

        write_report(rep, args.report)
    if args.json:
        rep["customers_file"] = args.out
        json.dump(rep, sys.stdout, indent=2, default=str)
        print()
        return 0
    print_fit(a)
    asm, eq = rep["assumptions"], rep["equity"]
    print(f"\nvalue: CLV = discounted expected purchases over {asm['horizon_months']} months x (expected spend x "
          f"margin {asm['margin']:g} - cost per purchase), discount {asm['annual_discount']:.0%} a year; "
          f"intervals from {asm['draws']} parameter draws (parameter uncertainty only)")
    ci = f" [95% {eq['ci95'][0]:,.0f}, {eq['ci95'][1]:,.0f}]" if eq["ci95"] else ""
    print(f"customer equity: {eq['clv_sum']:,.0f}{ci} from {eq['customers']:,} customers, "
          f"{eq['expected_alive']:,.0f} expected alive")
    w = rep["whale"]
    print(f"whale curve: top 20% of customers hold {w['realised_top20']:.1%} of realised profit and "
          f"{w['predicted_top20']:.1%} of predicted CLV")
    print("  customers  " + "  ".join(f"{x:>5.0%}" for x, _ in w["predicted"][1:]))
    print("  realised   " + "  ".join(f"{y:>5.0%}" for _, y in w["realised"][1:]))
    print("  predicted  " + "  ".join(f"{y:>5.0%}" for _, y in w["predicted"][1:]))
    r = rep["repricing"]
    if a.costs is None:
        print("repricing: no --costs file, so no cost to serve: every expected value is >= 0")
    else:
        print(f"repricing candidates: {r['customers']:,} customers with negative expected value after cost to serve "
              f"(total {r['value_destroyed']:,.0f}); repricing them to break even, or letting them go, is worth "
              f"{r['worth']:,.0f} under the fitted model")
    cols = ["customer_id", "frequency", "p_alive", "purchases_12m", "spend", "clv"]
    has_ci = "clv_lo" in c
    print(f"\ntop {args.top} customers by predicted CLV:" if args.top else "")
    if args.top:
        _table(c.sort_values("clv", ascending=False).head(args.top), cols, has_ci)
        print(f"bottom {args.top}:")
        _table(c.sort_values("clv").head(args.top), cols, has_ci)
    if "holdout" in rep:
        h = rep["holdout"]
        print(f"\nholdout check ({h['weeks']:.1f} weeks after {a.tx.calibration_end}): actual {h['actual']:,} repeat "
              f"purchases; predicted {h['predicted_conditional']:,.0f} from each customer's history "
              f"({h['predicted_conditional'] / max(h['actual'], 1) - 1:+.1%}), {h['tracking_predicted']:,.0f} "
              f"for the cohort ({h['tracking_predicted'] / max(h['actual'], 1) - 1:+.1%})")
        print("  conditional expectations (mean holdout purchases per customer, by calibration repeat purchases):")
        print(f"  {'group':>6}{'customers':>11}{'actual':>9}{'predicted':>11}")
        for row in h["conditional_expectations"]:
            print(f"  {row['group']:>6}{row['customers']:>11,}{row['actual']:>9.3f}{row['predicted']:>11.3f}")
        tr = h["tracking"]
        step = max(1, len(tr) // 8)
        print("  cumulative repeat purchases (tracking): " + ", ".join(
            f"wk {t['week']}: {t['actual']:,} vs {t['expected']:,.0f}"
            for t in [*tr[step - 1:-1:step], tr[-1]]))
    for written in (args.out, args.report):
        if written:
            print(f"wrote {written}")
    return 0


def _table(frame, cols, has_ci: bool) -> None:
    print(f"  {'customer':<14}{'repeat':>7}{'P(alive)':>9}{'purch 12m':>11}{'spend':>8}{'CLV':>10}"
          + (f"{'95% CI':>20}" if has_ci else ""))
    for _, r in frame.iterrows():
        ci = f"  [{r['clv_lo']:>7,.1f}, {r['clv_hi']:>7,.1f}]" if has_ci else ""
        print(f"  {str(r['customer_id'])[:14]:<14}{int(r['frequency']):>7}{r['p_alive']:>9.2f}{r['purchases_12m']:>11.2f}"
              f"{r['spend']:>8.2f}{r['clv']:>10.1f}{ci}")
