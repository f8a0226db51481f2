"""Segments from the fitted models, and the scenario file that `extends:` a base with them.

A segment holds what the engine needs per customer group (see scenarios/service_profit_chain.yaml):
- initial_customers: customers expected alive at the calibration end (sum of P(alive));
- purchases_per_month: the alive customers' mean purchase rate E[lambda | alive] (BG/NBD posterior);
- churn_per_month: from the BG/NBD: the constant churn under which the segment makes the model's discounted
  purchases over the CLV horizon (`matching_churn`); the instantaneous dropout hazard (an alive customer drops
  out after a purchase with probability p: E[lambda p | alive] = (r + x)/(alpha + T) * a/(a + b + x)) is
  reported beside it;
- basket: Gamma-Gamma expected spend per purchase, weighted by discounted expected purchases;
- acquisition_per_month: first purchases per month over the last 3 months of the calibration period;
- contacts and handle minutes from a costs file when given.
The base's own segments stay (segments merge by name) but are emptied, so its initiatives still resolve.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from simulator.customers_data import MONTH_WEEKS
from simulator.customers_data.fit import Fit
from simulator.customers_data.read import Transactions
from simulator.customers_data.value import Valuation
from simulator.errors import UsageError

AUTO_TOPS = (0.05, 0.20, 0.50)  # auto: top 5%, next 15%, next 30%, bottom 50% by predicted CLV


def assign_segments(valuation: Valuation, how: str) -> pd.Series:
    """Segment name per customer: 'auto' (value tiers whose edges include the top 20%), N (N equal-count value
    groups) or the export's column."""
    c = valuation.customers
    if how == "column":
        if "segment" not in c:
            raise UsageError("--segments COL: the column was not read")
        return c["segment"].fillna("unknown").map(_slug)
    rank = c["clv"].rank(ascending=False, method="first").to_numpy() / len(c)
    if how == "auto":
        edges = (0.0, *AUTO_TOPS, 1.0)
        names = ["value_top_5pct", "value_5_20pct", "value_20_50pct", "value_bottom_50pct"]
    else:
        n = int(how)
        edges = tuple(np.linspace(0, 1, n + 1))
        names = [f"value_group_{i + 1}_of_{n}" for i in range(n)]
    idx = np.searchsorted(np.asarray(edges[1:-1]), rank, side="left")
    return pd.Series(np.asarray(names)[idx], index=c.index)


def _slug(value: object) -> str:
    text = "".join(ch if ch.isalnum() else "_" for ch in str(value).lower()).strip("_") or "unknown"
    return text if text[0].isalpha() else f"s_{text}"


def segment_table(tx: Transactions, bg: Fit, valuation: Valuation, groups: pd.Series,
                  contacts_per_purchase: pd.Series | None = None, minutes_per_contact: pd.Series | None = None
                  ) -> pd.DataFrame:
    """One row per segment with the engine's parameters, per month."""
    s = tx.summary.reset_index(drop=True)
    c = valuation.customers
    r, alpha, a, b = (bg.params[k] for k in ("r", "alpha", "a", "b"))
    x, T = s["frequency"].to_numpy(float), s["T"].to_numpy(float)
    lam = (r + x) / (alpha + T)  # E[lambda | alive], per week
    hazard = lam * a / (a + b + x)  # E[lambda p | alive], per week
    alive = c["p_alive"].to_numpy()
    recent = pd.to_datetime(s["first"]) > pd.Timestamp(tx.calibration_end) - pd.DateOffset(months=3)
    disc = c["discounted_purchases"].to_numpy()
    frame = pd.DataFrame({"g": groups.to_numpy(), "alive": alive, "wl": alive * lam, "wh": alive * hazard,
                          "disc": disc, "w_spend": disc * c["spend"].to_numpy(), "clv": c["clv"].to_numpy(),
                          "new": recent.to_numpy(int), "n": 1})
    if contacts_per_purchase is not None:
        cpp = s["customer_id"].map(contacts_per_purchase).fillna(0.0).to_numpy()
        mpc = s["customer_id"].map(minutes_per_contact).fillna(0.0).to_numpy()
        frame["w_contacts"] = alive * lam * cpp
        frame["w_minutes"] = alive * lam * cpp * mpc
    agg = frame.groupby("g").sum(numeric_only=True)
    out = pd.DataFrame(index=agg.index)
    out["customers"] = agg["n"].astype(int)
    out["initial_customers"] = agg["alive"].round().astype(int)
    out["purchases_per_month"] = agg["wl"] / agg["alive"] * MONTH_WEEKS
    out["hazard_per_month"] = 1 - np.exp(-agg["wh"] / agg["alive"] * MONTH_WEEKS)
    out["churn_per_month"] = [
        matching_churn(agg.loc[g, "alive"] * out.loc[g, "purchases_per_month"], agg.loc[g, "disc"],
                       valuation.horizon_months, valuation.annual_discount) for g in agg.index]
    out["basket"] = agg["w_spend"] / agg["disc"].where(agg["disc"] > 0)
    out["basket"] = out["basket"].fillna(float(c["spend"].mean()))
    out["acquisition_per_month"] = agg["new"] / 3.0
    out["clv_total"] = agg["clv"]
    if "w_contacts" in agg:
        out["contacts_per_month"] = agg["w_contacts"] / agg["alive"] * MONTH_WEEKS
        out["handle_minutes"] = (agg["w_minutes"] / agg["w_contacts"]).where(agg["w_contacts"] > 0, 1.0)
    out["clv_per_customer"] = out["clv_total"] / out["customers"]
    return out.sort_values("clv_per_customer", ascending=False)


def matching_churn(monthly_purchases: float, discounted_purchases: float, months: int, annual_discount: float
                   ) -> float:
    """The constant monthly churn under which a segment buying `monthly_purchases` now makes the BG/NBD's
    discounted purchases over the horizon: the engine's churn is one constant hazard per segment, while the
    BG/NBD's customers slow down as the fast buyers drop out; matching the horizon total keeps the value (a
    segment's instantaneous hazard E[lambda p | alive] undervalued the top 20% by 7 points on CDNOW)."""
    from scipy.optimize import brentq

    m = np.arange(1, months + 1)
    disc = (1 + annual_discount) ** (-m / 12)

    def gap(c: float) -> float:
        return monthly_purchases * float(((1 - c) ** (m - 0.5) * disc).sum()) - discounted_purchases

    if monthly_purchases <= 0 or gap(0.0) <= 0:
        return 0.0
    if gap(0.999) >= 0:
        return 0.999
    return float(brentq(gap, 0.0, 0.999, xtol=1e-10))


def _base_contacts(base) -> tuple[float, float]:
    """Customer-weighted contacts per month and minutes per contact of the base scenario's segments."""
    segs = base.segments
    n = sum(s.initial_customers for s in segs) or 1
    contacts = sum(s.initial_customers * s.contacts_per_month for s in segs) / n
    minutes = sum(s.initial_customers * s.contacts_per_month * s.handle_minutes for s in segs) / max(contacts * n, 1e-9)
    return contacts, minutes


def scenario_data(tx: Transactions, bg: Fit, gg: Fit, table: pd.DataFrame, base_path: Path, out_path: Path,
                  margin: float, costs_file: str | None, valuation_months: int = 36) -> tuple[dict, list[str]]:
    """The scenario mapping (extends the base) and its header comment lines."""
    from simulator.scenario.loader import load

    base = load(base_path).scenario
    period = f"calibration period {tx.calibration_start} to {tx.calibration_end}"
    src = f"fitted from {Path(tx.file).name}, {period}"
    base_contacts, base_minutes = _base_contacts(base)
    segments = []
    for name, row in table.iterrows():
        seg = {
            "name": str(name),
            "description": f"{int(row['customers'])} customers in the export; {int(row['initial_customers'])} expected alive "
                           f"at {tx.calibration_end} (sum of BG/NBD P(alive)).",
            "initial_customers": int(row["initial_customers"]),
            "acquisition_per_month": {"dist": "triangular", "low": round(float(row["acquisition_per_month"]) * 0.5, 3),
                                      "mode": round(float(row["acquisition_per_month"]), 3),
                                      "high": round(float(row["acquisition_per_month"]) * 1.5 + 1e-3, 3),
                                      "source": f"first purchases per month in the last 3 months, {src}; +-50%"},
            "purchases_per_month": {"dist": "triangular", "low": _r(row["purchases_per_month"] * 0.9),
                                    "mode": _r(row["purchases_per_month"]),
                                    "high": _r(row["purchases_per_month"] * 1.1),
                                    "source": f"BG/NBD E[lambda | alive], {src}; +-10%"},
            "basket": {"dist": "triangular", "low": _r(row["basket"] * 0.9), "mode": _r(row["basket"]),
                       "high": _r(row["basket"] * 1.1), "source": f"Gamma-Gamma expected spend per purchase, {src}; +-10%"},
            "cogs_fraction": round(1 - margin, 4),
            "churn_per_month": {"dist": "triangular", "low": _r(row["churn_per_month"] * 0.8),
                                "mode": _r(row["churn_per_month"]), "high": _r(min(1.0, row["churn_per_month"] * 1.2)),
                                "source": f"BG/NBD: the constant churn that gives the model's discounted purchases "
                                          f"over {valuation_months} months (instantaneous dropout hazard "
                                          f"E[lambda p | alive] {row['hazard_per_month']:.4f}), {src}; +-20%"},
        }
        if "contacts_per_month" in row and costs_file:
            seg["contacts_per_month"] = {"dist": "triangular", "low": _r(row["contacts_per_month"] * 0.9),
                                         "mode": _r(row["contacts_per_month"]),
                                         "high": _r(row["contacts_per_month"] * 1.1),
                                         "source": f"contacts per purchase from {Path(costs_file).name} x purchase rate; +-10%"}
            seg["handle_minutes"] = max(0.1, _r(row["handle_minutes"]))
        else:
            seg["contacts_per_month"] = _r(base_contacts)
            seg["handle_minutes"] = _r(base_minutes)
        segments.append(seg)
    contacts = table.get("contacts_per_month", pd.Series(base_contacts, index=table.index))
    minutes = table.get("handle_minutes", pd.Series(base_minutes, index=table.index))
    # staff minutes per month the customers drive: desk contacts plus back-office work per customer-month
    upkeep = sum(act.minutes for act in base.activities if act.driver == "customer_month" and not act.segments)
    data_load = float((table["initial_customers"] * (contacts * minutes + upkeep)).sum())
    base_load = sum(s.initial_customers * (s.contacts_per_month * s.handle_minutes + upkeep) for s in base.segments)
    headcount = max(1, int(round(base.employees.headcount * data_load / base_load))) if base_load else \
        base.employees.headcount
    emptied = [{"name": s.name, "initial_customers": 0, "acquisition_per_month": 0,
                "description": f"(emptied by spc import: not in {Path(tx.file).name}) {s.description}".strip()}
               for s in base.segments]
    rel = os.path.relpath(base_path.resolve(), out_path.resolve().parent)
    data = {"extends": rel.replace(os.sep, "/"),
            "metadata": {"name": f"{base.metadata.name}: customers from {Path(tx.file).name}",
                         "description": f"Segments {src} (spc import). Everything else is the base's."},
            "employees": {"headcount": headcount},
            "segments": emptied + segments}
    if any(n.name == "headcount_target" for n in base.network.nodes):  # the lever the engine staffs to
        data["network"] = {"nodes": [{"name": "headcount_target", "reference": headcount,
                                      "max": max(headcount * 3, 10)}]}
    if any(k.name == "customer_base" for p in base.scorecard.perspectives for o in p.objectives for k in o.kpis):
        data["scorecard"] = {"perspectives": [{"name": p.name, "objectives": [
            {"name": o.name, "kpis": [{"name": "customer_base", "target": int(table["initial_customers"].sum()),
                                       "amber": max(1, int(table["initial_customers"].sum() * 0.05))}]}
            for o in p.objectives if any(k.name == "customer_base" for k in o.kpis)]}
            for p in base.scorecard.perspectives
            if any(k.name == "customer_base" for o in p.objectives for k in o.kpis)]}
    header = [
        f"Generated by spc import from {tx.file} ({tx.rows} rows, {tx.customers} customers, {tx.purchases} purchases).",
        f"BG/NBD r={bg.params['r']:.4g} alpha={bg.params['alpha']:.4g} a={bg.params['a']:.4g} b={bg.params['b']:.4g} "
        f"(weeks); Gamma-Gamma p={gg.params['p']:.4g} q={gg.params['q']:.4g} gamma={gg.params['v']:.4g}; {period}.",
        f"cogs_fraction = 1 - margin {margin} [A] (spc import --margin).",
        ("contacts_per_month and handle_minutes: " + (f"from {costs_file}" if costs_file else
         "[A] not in the export: the base's customer-weighted mean (give --costs)")),
        f"employees.headcount and the headcount_target lever: [A] the base's {base.employees.headcount} scaled by the "
        f"staff minutes per month the customers drive ({data_load:,.0f} here vs {base_load:,.0f} in the base: desk "
        f"contacts and per-customer back-office work), so utilisation stays near the base's.",
        "The base's segments are kept with 0 customers so its initiatives still name them.",
    ]
    return data, header


def _r(value: float) -> float:
    return float(f"{float(value):.4g}")


SCALAR_SOURCES = {
    "initial_customers": "sum of BG/NBD P(alive) at the calibration end",
    "cogs_fraction": "[A] 1 - --margin",
    "contacts_per_month": "[A] the base's customer-weighted mean (no --costs)",
    "handle_minutes": "minutes per contact (see the header)",
    "headcount": "[A] the base's, scaled by workload (see the header)",
    "reference": "[A] the base's headcount lever, scaled by workload",
    "target": "customers expected alive (sum of P(alive))",
}


def _with_sources(text: str) -> str:
    """Plain numbers cannot carry a `source:` field, so they get a trailing comment naming theirs."""
    import re

    out = []
    for line in text.splitlines():
        m = re.match(r"^\s*(?:- )?(\w+): [-0-9.e]+$", line)
        if m and m.group(1) in SCALAR_SOURCES and not line.lstrip().startswith(("initial_customers: 0",)):
            line = f"{line}  # {SCALAR_SOURCES[m.group(1)]}"
        out.append(line)
    return "\n".join(out) + "\n"


def write_scenario(path: Path, data: dict, header: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(f"# {line}\n" for line in header) + _with_sources(
        yaml.safe_dump(data, sort_keys=False, width=110, allow_unicode=True))
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
