"""The options `spc import` and `spc portfolio` share; light to import, as every `spc` start builds the parser."""

from __future__ import annotations

import argparse
import datetime as dt

from simulator.errors import UsageError

DEFAULT_BASE = "service_profit_chain.yaml"


def date_arg(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--calibration-end {value}: not a date (use YYYY-MM-DD)") from None


def fraction_arg(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise UsageError(f"{value}: not a number") from None
    if not 0 <= x <= 1:
        raise UsageError(f"{value}: must be between 0 and 1")
    return x


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("transactions", metavar="TRANSACTIONS", help="CSV or Parquet: one row per transaction")
    p.add_argument("--customer-id", metavar="COL", help="customer column (default: customer_id)")
    p.add_argument("--date", metavar="COL", help="date column (default: date)")
    p.add_argument("--amount", metavar="COL", help="amount column (default: amount; negative = a return)")
    p.add_argument("--costs", metavar="COSTS", help="CSV/Parquet per customer: contacts, handle_minutes and/or cost "
                                                    "over the calibration period")
    p.add_argument("--calibration-end", type=date_arg, metavar="DATE",
                   help="fit on transactions up to DATE; later ones are the holdout check (default: the last date)")
    p.add_argument("--margin", type=fraction_arg, default=0.3,
                   help="gross margin on spend, 0-1 (default 0.3, an assumption: give yours)")
    p.add_argument("--horizon-months", type=int, default=36, help="CLV horizon (default 36)")
    p.add_argument("--discount-rate", type=fraction_arg, default=0.08, help="annual discount rate (default 0.08)")
    p.add_argument("--drop-duplicates", action="store_true", help="drop exact duplicate rows (default: keep, counted)")
    p.add_argument("--base", metavar="SCENARIO", default=DEFAULT_BASE,
                   help=f"the scenario the output extends (a path, or a shipped one; default {DEFAULT_BASE}); its "
                        "capacity cost rate also costs handle minutes")
    p.add_argument("--json", action="store_true", help="print the same as JSON")
