"""A self-contained report of an experiment: HTML (one file, charts embedded) or Markdown.

Sections: scenario summary, strategy comparison, headline figures, balanced scorecards with coloured
status, profit and customer paths with confidence bands, the whale curve, the tornado, the causal map.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass

import pandas as pd

from simulator import report_charts as charts
from simulator.analysis.scorecard import rollup
from simulator.analysis.stats import format_money as _money
from simulator.graph.compiler import CompiledModel

STATUS_COLOUR = {"green": "#2e7d32", "amber": "#f9a825", "red": "#c62828"}
STATUS_MARK = {"green": "🟢", "amber": "🟡", "red": "🔴"}


@dataclass(frozen=True)
class Analysis:
    model: CompiledModel
    timeseries: pd.DataFrame
    customers: pd.DataFrame
    summary: pd.DataFrame
    scorecard: pd.DataFrame
    comparison: pd.DataFrame
    strategies: tuple[str, ...]
    replications: int
    seed: int
    months: int
    scenario_hash: str
    version: str
    tornado: pd.DataFrame | None = None


TORNADO_REPLICATIONS = 4  # one replication left the chart dominated by noise once paths diverge


def analyse(model: CompiledModel, scenario_hash: str, timeseries: pd.DataFrame, customers: pd.DataFrame, strategies,
            replications: int, seed: int, months: int, scorecard: bool = True) -> Analysis:
    """Summary, scorecard and comparison of an experiment, computed once for the tables, JSON and report.

    `scorecard=False` leaves the scorecard empty: a live view refreshing a table that is not on screen."""
    from simulator import __version__
    from simulator.analysis.comparison import comparison_frame
    from simulator.analysis.scorecard import scorecard_frame
    from simulator.analysis.summary import summary_frame

    sc = model.scenario
    return Analysis(
        model=model, timeseries=timeseries, customers=customers,
        summary=summary_frame(timeseries, strategies),
        scorecard=scorecard_frame(timeseries, sc, strategies) if scorecard else pd.DataFrame(),
        comparison=comparison_frame(timeseries, sc.metadata.discount_rate, sc.metadata.period_days, strategies=strategies),
        strategies=tuple(strategies), replications=replications, seed=seed, months=months, scenario_hash=scenario_hash,
        version=__version__)


def with_tornado(inp: Analysis, workers: int | None = None) -> Analysis:
    """The analysis plus a tornado of baseline NPV over every link effect (the report's 'what drives NPV')."""
    from dataclasses import replace

    from simulator.analysis.sensitivity import tornado
    from simulator.experiment import default_workers

    links = [f"links.{link.source}->{link.target}.effect" for link in inp.model.scenario.network.links]
    if not links:
        return inp
    torn = tornado(inp.model.scenario.as_data(), "baseline", "npv", 0.2, replications=TORNADO_REPLICATIONS,
                   seed=inp.seed, months=inp.months, workers=workers or default_workers(2 * len(links)), parameters=links)
    return replace(inp, tornado=torn)


def _comparison_rows(cmp: pd.DataFrame) -> list[list[str]]:
    rows = []
    for r in cmp.to_dict("records"):
        payback = "never" if r["payback_month"] is None or pd.isna(r["payback_month"]) else f"month {int(r['payback_month'])}"
        if r["distinguishable"]:
            verdict = "better than baseline" if r["delta_npv"] > 0 else "worse than baseline"
        else:
            need = r["replications_needed"]
            verdict = "not distinguishable yet" + ("" if need is None or pd.isna(need) else f" (~{int(need)} replications)")
        rows.append([str(r["rank"]), r["strategy"], f"{_money(r['delta_npv'])} [{_money(r['ci_low'])}, {_money(r['ci_high'])}]",
                     f"{r['p_better']:.0%}", _money(r["spend"]), "-" if pd.isna(r["roi"]) else f"{r['roi']:.0%}", payback,
                     _money(r["revenue_growth"]), _money(r["cost_savings"]), f"{r['delta_satisfaction']:+.2f}", verdict])
    return rows


COMPARISON_HEAD = ["#", "strategy", "Δ NPV [95% CI]", "P(better)", "spend (NPV)", "ROI", "payback", "Δ revenue",
                   "cost savings", "Δ satisfaction", "verdict"]


def _summary_rows(summary: pd.DataFrame, strategies) -> tuple[list[str], list[list[str]]]:
    from simulator.results import SUMMARY_METRICS

    head = ["strategy", *SUMMARY_METRICS.values()]
    rows = []
    for s in strategies:
        sub = summary[summary["strategy"] == s].set_index("metric")
        cells = []
        for m in SUMMARY_METRICS:
            mean, half = sub.at[m, "mean"], (sub.at[m, "ci_high"] - sub.at[m, "ci_low"]) / 2
            if m in ("npv", "cumulative_revenue"):
                cells.append(f"{_money(mean)} ± {_money(half)}")
            elif m == "employee_turnover":
                cells.append(f"{mean:.1%} ± {half:.1%}")
            elif m == "active_customers":
                cells.append(f"{mean:,.0f} ± {half:,.0f}")
            else:
                cells.append(f"{mean:.2f} ± {half:.2f}")
        rows.append([s, *cells])
    return head, rows


def _charts(inp: Analysis) -> dict[str, bytes]:
    out = {
        "paths": charts.paths_chart(inp.timeseries, inp.strategies, [("profit", "Monthly profit"),
                                                                     ("cumulative_profit", "Cumulative profit")]),
        "customers": charts.paths_chart(inp.timeseries, inp.strategies, [("active_customers", "Active customers"),
                                                                         ("customer_satisfaction", "Customer satisfaction"),
                                                                         ("headcount", "Headcount")]),
        "whale": charts.whale_chart(inp.customers, inp.strategies),
        "causal_map": charts.causal_map_chart(inp.model),
    }
    if inp.tornado is not None and len(inp.tornado):
        out["tornado"] = charts.tornado_chart(inp.tornado, "NPV of profit (baseline)")
    return out


def _scorecard_matrix(card: pd.DataFrame, strategies) -> tuple[list[str], list[tuple[str, str, list[tuple[str, str]]]]]:
    """(strategies, rows of (perspective, kpi label, [(text, status) per strategy]))."""
    rows = []
    for (persp, kpi), group in card.groupby(["perspective", "kpi"], sort=False):
        first = group.iloc[0]
        arrow = "≥" if first["direction"] == "higher" else "≤"
        label = f"{kpi} ({first['metric']} {arrow} {first['target']:g})"
        cells = []
        for s in strategies:
            r = group[group["strategy"] == s].iloc[0]
            cells.append((f"{r['value']:,.2f} · P(green) {r['p_green']:.0%}", r["status"]))
        rows.append((persp, label, cells))
    return list(strategies), rows


def value_rows(inp: Analysis) -> tuple[list[str], list[list[str]]]:
    """Per strategy: customer equity, lifetime value per segment, and time-driven ABC capacity costs."""
    from simulator.analysis.customer_value import customer_equity, lifetime_values, time_driven_abc

    rate = inp.model.scenario.metadata.discount_rate
    segments = [s.name for s in inp.model.scenario.segments]
    head = ["strategy", "customer equity", *(f"LTV {s}" for s in segments), "capacity cost rate /min",
            "used capacity cost", "unused capacity cost"]
    rows = []
    for strategy in inp.strategies:
        ledger = inp.customers[inp.customers["strategy"] == strategy]
        equity = [customer_equity(g, rate) for _, g in ledger.groupby("replication")]
        ltv = lifetime_values(ledger, rate).groupby("segment")["lifetime_value"].mean()
        ts = inp.timeseries[inp.timeseries["strategy"] == strategy]
        reps = max(1, ts["replication"].nunique())
        desk_wages = ts["wages"].sum() / reps * inp.model.scenario.employees.service_share
        abc = time_driven_abc(desk_wages, ts["practical_minutes"].sum() / reps,
                              {"service contacts": (1.0, ts["service_minutes"].sum() / reps)})
        rows.append([strategy, _money(sum(equity) / len(equity)), *(_money(ltv.get(s, float("nan"))) for s in segments),
                     f"{abc.rate:.3f}", _money(abc.used_cost), _money(abc.unused_cost)])
    return head, rows


def green_rows(inp: Analysis) -> tuple[list[str], list[list[str]]]:
    """KPI x strategy: the month from which each KPI (on the mean path) stays green."""
    from simulator.analysis.scorecard import green_from, status_over_time

    table = green_from(status_over_time(inp.timeseries, inp.model.scenario))
    rows = []
    for kpi in dict.fromkeys(table["kpi"]):
        sub = table[table["kpi"] == kpi].set_index("strategy")["green_from"]
        rows.append([kpi, *("never" if pd.isna(sub.get(s)) else f"month {int(sub.get(s))}" for s in inp.strategies)])
    return ["KPI stays green from", *inp.strategies], rows


VALUE_NOTE = ("Customer equity: expected remaining value of the active base at the horizon (Gupta & Lehmann margin "
              "multiple from each segment's observed monthly margin after cost to serve and retention). LTV: realised "
              "profit plus expected remaining value, mean per customer ever served. Capacity: time-driven ABC on the "
              "service desk (Kaplan & Anderson): desk share of wages / practical desk minutes; used = minutes spent serving "
              "contacts; unused = the rest of the practical capacity.")


def to_html(inp: Analysis) -> str:
    sc = inp.model.scenario
    imgs = {k: base64.b64encode(v).decode() for k, v in _charts(inp).items()}
    e = html.escape

    def table(head, rows) -> str:
        return ("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>"
                + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows) + "</table>")

    def img(key: str, alt: str) -> str:
        return f'<img alt="{e(alt)}" src="data:image/png;base64,{imgs[key]}">' if key in imgs else ""

    strategies, matrix = _scorecard_matrix(inp.scorecard, inp.strategies)
    card_html = "<table><tr><th>perspective</th><th>KPI</th>" + "".join(f"<th>{e(s)}</th>" for s in strategies) + "</tr>"
    for persp, label, cells in matrix:
        card_html += f"<tr><td>{e(persp.replace('_', ' '))}</td><td>{e(label)}</td>" + "".join(
            f'<td><span class="dot" style="background:{STATUS_COLOUR[st]}"></span>{e(text)}</td>' for text, st in cells) + "</tr>"
    persp = rollup(inp.scorecard, "perspective")
    card_html += "</table><h3>Perspective roll-up</h3><table><tr><th>strategy</th>" + "".join(
        f"<th>{e(p.replace('_', ' '))}</th>" for p in dict.fromkeys(persp["perspective"])) + "</tr>"
    for s in strategies:
        sub = persp[persp["strategy"] == s]
        card_html += f"<tr><td>{e(s)}</td>" + "".join(
            f'<td><span class="dot" style="background:{STATUS_COLOUR[r.status]}"></span>{r.status} ({r.score:.2f})</td>'
            for r in sub.itertuples()) + "</tr>"
    card_html += "</table><h3>When each KPI turns green (and stays green)</h3>" + table(*green_rows(inp))
    if inp.scorecard.empty:
        card_html = "<p>This scenario defines no scorecard.</p>"
    summary_head, summary_rows = _summary_rows(inp.summary, inp.strategies)
    loops = "".join(f"<li><b>{lp.polarity}</b>: {e(lp.label)}</li>" for lp in inp.model.loops[:12])
    tornado_html = (f"<h2>What drives NPV</h2>{img('tornado', 'tornado')}" if "tornado" in imgs else "")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{e(sc.metadata.name)}: strategy report</title>
<style>
body{{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}}
table{{border-collapse:collapse;margin:0.8em 0;font-size:0.9em}} th,td{{border:1px solid #ddd;padding:4px 8px;text-align:right}}
th{{background:#f3f3f3}} td:first-child,th:first-child,td:nth-child(2){{text-align:left}}
.dot{{display:inline-block;width:0.8em;height:0.8em;border-radius:50%;margin-right:0.4em;vertical-align:middle}}
img{{max-width:100%;margin:0.5em 0}} .meta{{color:#555}}
</style></head><body>
<h1>{e(sc.metadata.name)}</h1>
<p>{e(sc.metadata.description)}</p>
<p class="meta">{inp.months} months · {inp.replications} replications per strategy · seed {inp.seed} · scenario hash {e(inp.scenario_hash)} ·
spc {e(inp.version)} · money in {e(sc.metadata.currency)} · discount rate {sc.metadata.discount_rate:.1%} a year</p>
<h2>Strategy comparison against baseline</h2>
<p>Paired differences per replication (every strategy sees the same customers and draws where its decisions agree).</p>
{table(COMPARISON_HEAD, _comparison_rows(inp.comparison))}
<h2>Headline figures (mean ± 95% CI)</h2>
{table(summary_head, summary_rows)}
<h2>Balanced scorecard</h2>
{card_html}
<h2>Profit paths</h2>
{img('paths', 'profit paths')}
<h2>Customers, satisfaction and staff</h2>
{img('customers', 'customer paths')}
<h2>Customer value and cost to serve</h2>
<p>{e(VALUE_NOTE)}</p>
{table(*value_rows(inp))}
<h2>Whale curve</h2>
{img('whale', 'whale curve')}
{tornado_html}
<h2>Causal map</h2>
{img('causal_map', 'causal map')}
<h3>Feedback loops ({len(inp.model.loops)}; shortest shown)</h3><ul>{loops}</ul>
</body></html>
"""


def to_markdown(inp: Analysis) -> str:
    sc = inp.model.scenario
    imgs = {k: base64.b64encode(v).decode() for k, v in _charts(inp).items()}

    def table(head, rows) -> str:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
        return "\n".join(lines)

    strategies, matrix = _scorecard_matrix(inp.scorecard, inp.strategies)
    card = "This scenario defines no scorecard." if inp.scorecard.empty else table(["perspective", "KPI", *strategies],
                 [[p.replace("_", " "), label, *(f"{STATUS_MARK[st]} {text}" for text, st in cells)] for p, label, cells in matrix])
    summary_head, summary_rows = _summary_rows(inp.summary, inp.strategies)
    parts = [f"# {sc.metadata.name}", sc.metadata.description,
             f"{inp.months} months, {inp.replications} replications, seed {inp.seed}, scenario hash `{inp.scenario_hash}`, "
             f"spc {inp.version}, money in {sc.metadata.currency}.",
             "## Strategy comparison against baseline", table(COMPARISON_HEAD, _comparison_rows(inp.comparison)),
             "## Headline figures (mean ± 95% CI)", table(summary_head, summary_rows),
             "## Balanced scorecard", card,
             *([] if inp.scorecard.empty else ["### When each KPI turns green (and stays green)", table(*green_rows(inp))]),
             "## Customer value and cost to serve", VALUE_NOTE, table(*value_rows(inp))]
    for key, title in (("paths", "Profit paths"), ("customers", "Customers, satisfaction and staff"),
                       ("whale", "Whale curve"), ("tornado", "What drives NPV"), ("causal_map", "Causal map")):
        if key in imgs:
            parts += [f"## {title}", f"![{title}](data:image/png;base64,{imgs[key]})"]
    parts += ["### Feedback loops", *[f"- **{lp.polarity}**: {lp.label}" for lp in inp.model.loops[:12]]]
    return "\n\n".join(parts) + "\n"
