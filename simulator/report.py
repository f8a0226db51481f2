"""A self-contained report of an experiment: HTML (one file, charts embedded) or Markdown.

Sections: scenario summary, strategy comparison, headline figures, balanced scorecards with coloured
status, profit and customer paths with confidence bands, the whale curve, the tornado, the causal map.
"""

from __future__ import annotations

import base64
import html

import pandas as pd

from simulator.analysis.run_analysis import Analysis
from simulator.analysis.scorecard import rollup
from simulator.analysis.units import format_value, humanise, money, names_of

STATUS_COLOUR = {"green": "#2e7d32", "amber": "#f9a825", "red": "#c62828"}
STATUS_MARK = {"green": "🟢", "amber": "🟡", "red": "🔴"}
TEXT_MARK = {"green": "●", "amber": "◐", "red": "○"}  # marks every font has (the emoji are boxes in some)


def strategy_names(inp: Analysis) -> dict[str, str]:
    """Per strategy: the name shown to people (its `label`, else the name with spaces for underscores)."""
    given = {s.name: s.label for s in inp.model.scenario.strategies if getattr(s, "label", "")}
    return {s: given.get(s) or humanise(s) for s in inp.strategies}


def _currency(inp: Analysis) -> str:
    return inp.model.scenario.metadata.currency


def _comparison_rows(cmp: pd.DataFrame, currency: str | None = None, names=None) -> list[list[str]]:
    from simulator.analysis.comparison import p_better_text

    def _money(x):  # money by magnitude with its currency, no cents
        return money(x, currency)

    names = names or {}
    rows = []
    for r in cmp.to_dict("records"):
        payback = "never" if r["payback_month"] is None or pd.isna(r["payback_month"]) else f"month {int(r['payback_month'])}"
        if r["distinguishable"]:
            verdict = "better than baseline" if r["delta_decision"] > 0 else "worse than baseline"
        else:
            need = r["replications_needed"]
            verdict = "not distinguishable yet" + ("" if need is None or pd.isna(need)
                                                   else f" (~{int(need)} replications for 80% power)")
        def delta(x):  # a difference: signed, as the terminal's tables write it
            return money(x, currency, signed=True)

        measures = [f"{delta(r['delta_npv'])} [{delta(r['ci_low'])}, {delta(r['ci_high'])}]", _firm_cell(r, currency)]
        if _firm_value_decides(cmp):
            measures.reverse()
        rows.append([str(r["rank"]), names.get(r["strategy"], humanise(r["strategy"])), *measures,
                     p_better_text(r), _money(r["spend"]), "-" if pd.isna(r["roi"]) else f"{r['roi']:.0%}", payback,
                     _money(r["revenue_growth"]), _money(r["cost_savings"]), f"{r['delta_satisfaction']:+.2f}", verdict])
    return rows


COMPARISON_HEAD = ["#", "strategy", "Δ NPV [95% CI]", "Δ firm value [95% CI]", "P(better) [95% CI]", "spend (NPV)", "ROI", "payback", "Δ revenue",
                   "cost savings", "Δ satisfaction", "verdict"]


def _firm_value_decides(cmp: pd.DataFrame) -> bool:
    return not cmp.empty and "decision_measure" in cmp and str(cmp["decision_measure"].iloc[0]) == "firm_value"


def comparison_head(cmp: pd.DataFrame) -> list[str]:
    """The comparison's headers: the measure that P(better) and the verdict judge first, so that 'better than
    baseline' never stands first beside a Δ it did not judge (a negative Δ NPV of a strategy that adds firm value)."""
    if not _firm_value_decides(cmp):
        return COMPARISON_HEAD
    return [*COMPARISON_HEAD[:2], COMPARISON_HEAD[3], COMPARISON_HEAD[2], *COMPARISON_HEAD[4:-1], "verdict (firm value)"]


def _firm_cell(r, currency: str | None = None) -> str:
    if pd.isna(r.get("delta_firm_value")):
        return "-"

    def m(x):
        return money(x, currency, signed=True)

    return f"{m(r['delta_firm_value'])} [{m(r['firm_ci_low'])}, {m(r['firm_ci_high'])}]"


def _ranking_lines(inp: Analysis) -> list[str]:
    ranked_on = inp.comparison.attrs.get("ranked_on", "npv")
    lines = [f"Ranked on {'firm value' if ranked_on == 'firm_value' else 'NPV over the horizon'}."]
    return lines + ([inp.ranking_note] if inp.ranking_note else [])


def valuation_note(inp: Analysis) -> str:
    if inp.model.scenario.valuation.method == "none":
        return "This scenario counts no value beyond the horizon (valuation method none): firm value = NPV."
    return ("Firm value = NPV over the horizon + the continuing value of the customers active at the horizon, "
            "discounted to today: the sum over those customers of (m − o)·r / (1 + i − r), with m their segment's "
            "monthly margin after cost to serve (whole run), r = exp(−h) the customer's monthly retention at the "
            "churn hazard h the model sets for them at the horizon, i the monthly "
            "discount rate, and o the continuing costs (fixed costs, unused-capacity wages, turnover, overtime, "
            "severance and initiatives still running; last-12-month run-rate) per active customer.")


def valuation_rows(inp: Analysis) -> tuple[list[str], list[list[str]]]:
    """Per strategy: NPV, continuing value and firm value (mean [95% CI]) and customers at the horizon."""
    from simulator.analysis.valuation import valuation_summary

    head = ["strategy", "NPV [95% CI]", "continuing value [95% CI]", "firm value [95% CI]", "customers at horizon"]
    if inp.valuation is None or inp.valuation.empty:
        return head, []
    rows, names, cur = [], strategy_names(inp), _currency(inp)

    def _money(x):
        return money(x, cur)

    for r in valuation_summary(inp.valuation, inp.strategies).to_dict("records"):
        rows.append([names.get(r["strategy"], r["strategy"]), *(f"{_money(r[c])} [{_money(r[c + '_ci_low'])}, {_money(r[c + '_ci_high'])}]"
                                      for c in ("npv", "continuing_value", "firm_value")),
                     f"{r['active_customers']:,.0f}"])
    return head, rows


COMPARISON_NOTE = ("Paired differences per replication (every strategy sees the same customers and draws where its "
                   "decisions agree); Δ NPV: mean with its 95% CI. P(better): the replications in which the strategy "
                   "beat baseline, with the 95% (Clopper-Pearson) interval of that share. ~N replications for 80% "
                   "power: how many a paired t test would need to detect the observed Δ four times in five.")
SUMMARY_TITLE = "Headline figures (mean ± 95% CI, or mean [95% CI] where it is asymmetric)"


def _summary_rows(summary: pd.DataFrame, strategies, names=None, currency: str | None = None,
                  ) -> tuple[list[str], list[list[str]]]:
    from simulator.analysis.summary import format_figure
    from simulator.results import SUMMARY_METRICS

    head = ["strategy", *SUMMARY_METRICS.values()]
    rows = []
    for s in strategies:
        sub = summary[summary["strategy"] == s].set_index("metric")
        rows.append([(names or {}).get(s, s), *(format_figure(m, sub.at[m, "mean"], sub.at[m, "ci_low"], sub.at[m, "ci_high"],
                                                              currency=currency)
                          for m in SUMMARY_METRICS)])
    return head, rows


def _charts(inp: Analysis) -> dict[str, bytes]:
    from simulator import report_charts as charts  # matplotlib: only a report pays for importing it

    best, _ = executive_summary(inp)
    kw = {"highlight": best, "names": strategy_names(inp)}
    out = {
        "paths": charts.paths_chart(inp.timeseries, inp.strategies, [("cumulative_profit", "Cumulative profit"),
                                                                     ("profit", "Monthly profit")],
                                    currency=_currency(inp), months=inp.months, **kw),
        "customers": charts.paths_chart(inp.timeseries, inp.strategies, [("active_customers", "Active customers"),
                                                                         ("customer_satisfaction", "Customer satisfaction"),
                                                                         ("headcount", "Headcount")],
                                        months=inp.months, **kw),
        "whale": charts.whale_chart(inp.customers, inp.strategies, **kw),
    }
    out.update(_strategy_maps(inp))
    if inp.tornado is not None and len(inp.tornado):
        out["tornado"] = charts.tornado_chart(inp.tornado, "NPV of profit (baseline)", currency=_currency(inp))
    return out


def map_strategy(inp: Analysis) -> str | None:
    """The strategy the map shows: the recommended one, else the first non-baseline strategy."""
    chosen = inp.recommendation.strategy if inp.recommendation is not None else None
    if chosen not in inp.strategies:
        chosen = next((s for s in inp.strategies if s != "baseline"), inp.strategies[0] if inp.strategies else None)
    return chosen


def _strategy_maps(inp: Analysis) -> dict[str, bytes]:
    """The strategy map (PNG) coloured by the recommended strategy's KPI status (the first strategy's without one)."""
    from simulator.graph.strategy_map import draw

    chosen = map_strategy(inp)
    card = inp.scorecard if not inp.scorecard.empty else None
    weights = None
    if inp.attribution is not None and inp.attribution.strategy == chosen:
        from simulator.graph.strategy_map import attribution_edge_weights

        weights = attribution_edge_weights(inp.model, inp.attribution.groups)
    return {"causal_map": draw(inp.model, "png", strategy=chosen, scorecard=card, edge_weights=weights)}


def kpi_labels(scenario) -> dict[str, tuple[str, str]]:
    """Per KPI name: (label, unit) as declared, else the humanised name and no unit."""
    out = {}
    for persp in scenario.scorecard.perspectives:
        for obj in persp.objectives:
            for k in obj.kpis:
                out[k.name] = (getattr(k, "label", "") or humanise(k.name), getattr(k, "unit", ""))
    return out


def _scorecard_matrix(card: pd.DataFrame, strategies, currency: str | None = None, scenario=None,
                      ) -> tuple[list[str], list[tuple[str, str, list[tuple[str, str]]]]]:
    """(strategies, rows of (perspective, kpi label, [(text, status) per strategy])): values in their unit
    ('€455.8k', '8%', '1.2 min'), KPI names humanised, targets with their unit."""
    labels = kpi_labels(scenario) if scenario is not None else {}
    rows = []
    for (persp, kpi), group in card.groupby(["perspective", "kpi"], sort=False):
        first = group.iloc[0]
        arrow = "≥" if first["direction"] == "higher" else "≤"
        name, unit = labels.get(kpi, (humanise(kpi), ""))
        label = f"{name} ({arrow} {format_value(first['target'], first['metric'], currency, unit)})"
        cells = []
        for s in strategies:
            r = group[group["strategy"] == s].iloc[0]
            cells.append((f"{format_value(r['value'], r['metric'], currency, unit)} · P(green) {r['p_green']:.0%}",
                          r["status"]))
        rows.append((persp, label, cells))
    return list(strategies), rows


def value_rows(inp: Analysis) -> tuple[list[str], list[list[str]]]:
    """Per strategy: customer equity and lifetime value per segment."""
    from simulator.analysis.customer_value import customer_equity, lifetime_values

    rate = inp.model.scenario.metadata.discount_rate
    segments = [s.name for s in inp.model.scenario.segments]
    labels = names_of(inp.model.scenario.segments)
    head = ["strategy", "customer equity", *(f"LTV {labels[s]}" for s in segments)]
    rows, names, cur = [], strategy_names(inp), _currency(inp)

    def _money(x):
        return money(x, cur)

    for strategy in inp.strategies:
        ledger = inp.customers[inp.customers["strategy"] == strategy]
        equity = [customer_equity(g, rate) for _, g in ledger.groupby("replication")]
        ltv = lifetime_values(ledger, rate).groupby("segment")["lifetime_value"].mean()
        rows.append([names.get(strategy, strategy), _money(sum(equity) / len(equity)), *(_money(ltv.get(s, float("nan"))) for s in segments)])
    return head, rows


def capacity_rows(inp: Analysis) -> tuple[list[str], list[list[str]]]:
    """Time-driven ABC per strategy: rate, used and unused capacity, and each activity's volume and unit cost."""
    from simulator.analysis.capacity import capacity_report

    reports = capacity_report(inp.timeseries, inp.model.scenario, inp.strategies)
    names, cur = strategy_names(inp), _currency(inp)

    def _money(x):
        return money(x, cur)

    head = ["strategy", "capacity cost rate /min", "practical minutes", "used minutes", "used capacity cost", "unused minutes",
            "unused capacity cost", "overtime cost", "per activity: volume × minutes = unit cost"]
    rows = []
    for strategy, r in reports.items():
        acts = "; ".join(f"{a.activity}: {a.volume:,.0f} × {a.unit_minutes:.1f} min = {a.unit_cost:,.2f}"
                         for a in r.activities.itertuples() if a.volume > 0)
        rows.append([names.get(strategy, strategy), f"{r.rate:.3f}", f"{r.practical_minutes:,.0f}", f"{r.used_minutes:,.0f}",
                     _money(r.used_cost), f"{r.unused_minutes:,.0f}", _money(r.unused_cost), _money(r.overtime_cost),
                     acts])
    return head, rows


CAPACITY_NOTE = ("Time-driven ABC (Kaplan & Anderson 2004): staff time is one pool. Capacity cost rate = wages ÷ "
                 "practical minutes (paid minutes × practical share). Desk service and the declared activities use it; "
                 "their cost is an allocation of wages to customers (cost to serve), not an extra cost. Used + unused = "
                 "wages. Work beyond practical capacity shows as negative unused minutes and is paid as overtime. "
                 "Totals over the horizon, mean over replications.")


def green_rows(inp: Analysis) -> tuple[list[str], list[list[str]]]:
    """KPI x strategy: the month from which each KPI (on the mean path) stays green."""
    from simulator.analysis.scorecard import green_from, status_over_time

    table = green_from(status_over_time(inp.timeseries, inp.model.scenario))
    labels = kpi_labels(inp.model.scenario)
    rows = []
    for kpi in dict.fromkeys(table["kpi"]):
        sub = table[table["kpi"] == kpi].set_index("strategy")["green_from"]
        rows.append([labels.get(kpi, (humanise(kpi), ""))[0], *("never" if pd.isna(sub.get(s)) else f"month {int(sub.get(s))}" for s in inp.strategies)])
    names = strategy_names(inp)
    return ["KPI stays green from", *(names[s] for s in inp.strategies)], rows


VALUE_NOTE = ("Customer equity: expected remaining value of the active base at the horizon (Gupta & Lehmann margin "
              "multiple from each segment's observed monthly margin after cost to serve and retention). LTV: realised "
              "profit plus expected remaining value, mean per customer ever served.")


def nobreak(text: str) -> str:
    """Keep a sign with its amount ('−€53.6k' broke after the minus in narrow cells)."""
    return text.replace("−€", "−\u2060€").replace("+€", "+\u2060€").replace("[−", "[\u2060−")


def to_html(inp: Analysis) -> str:
    sc = inp.model.scenario
    imgs = {k: base64.b64encode(v).decode() for k, v in _charts(inp).items()}
    e = html.escape

    def table(head, rows) -> str:
        return ("<table><thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr></thead><tbody>"
                + "".join("<tr>" + "".join(f"<td>{nobreak(e(c))}</td>" for c in r) + "</tr>" for r in rows)
                + "</tbody></table>")

    def img(key: str, alt: str) -> str:
        return f'<img alt="{e(alt)}" src="data:image/png;base64,{imgs[key]}">' if key in imgs else ""

    names, cur = strategy_names(inp), _currency(inp)
    strategies, matrix = _scorecard_matrix(inp.scorecard, inp.strategies, cur, sc)
    card_html = "<table><thead><tr><th>perspective</th><th>KPI</th>" + "".join(
        f"<th>{e(names[s])}</th>" for s in strategies) + "</tr></thead>"
    for persp, label, cells in matrix:
        card_html += f"<tr><td>{e(persp.replace('_', ' '))}</td><td>{e(label)}</td>" + "".join(
            f'<td><span class="dot" style="background:{STATUS_COLOUR[st]}"></span>{nobreak(e(text))}</td>' for text, st in cells) + "</tr>"
    persp = rollup(inp.scorecard, "perspective")
    card_html += "</table><h3>Perspective roll-up</h3><table><tr><th>strategy</th>" + "".join(
        f"<th>{e(p.replace('_', ' '))}</th>" for p in dict.fromkeys(persp["perspective"])) + "</tr>"
    for s in strategies:
        sub = persp[persp["strategy"] == s]
        card_html += f"<tr><td>{e(names[s])}</td>" + "".join(
            f'<td><span class="dot" style="background:{STATUS_COLOUR[r.status]}"></span>{r.status} ({r.score:.2f}) · '
            f'P(green) {"-" if pd.isna(r.p_green) else f"{r.p_green:.0%}"}</td>'
            for r in sub.itertuples()) + "</tr>"
    card_html += "</table><h3>When each KPI turns green (and stays green)</h3>" + table(*green_rows(inp))
    if inp.scorecard.empty:
        card_html = "<p>This scenario defines no scorecard.</p>"
    summary_head, summary_rows = _summary_rows(inp.summary, inp.strategies, names, cur)
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
.decision{{border-left:4px solid #1565c0;background:#f4f8fd;padding:0.2em 1em;margin:1em 0}}
.decision ul.keys{{font-size:1.05em}}
@page{{size:A4;margin:12mm 10mm}}
@media print{{
/* sections flow on from one another (a break before every h2 left pages mostly empty); headings stay with what
   follows them, rows and charts are never cut, long tables continue on the next page under a repeated header */
body{{max-width:none;margin:0;padding:0;font-size:9.5pt}}
h1{{font-size:17pt;margin:0 0 0.3em}} h2{{font-size:12.5pt;margin:0.9em 0 0.3em}} h3{{font-size:10.5pt}}
h2,h3,h2+p,h3+p{{break-after:avoid;page-break-after:avoid}}
p{{orphans:3;widows:3}}
table{{width:100%;font-size:7.5pt;margin:0.4em 0}} thead{{display:table-header-group}}
tr,img,.decision{{break-inside:avoid;page-break-inside:avoid}}
th,td{{padding:2px 4px}}
th,.decision,.dot{{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
img{{display:block;max-width:100%;max-height:125mm;margin:0.3em auto;object-fit:contain}}
}}
</style></head><body>
<h1>{e(sc.metadata.name)}</h1>
<p>{e(sc.metadata.description)}</p>
<p class="meta">{inp.months} months · {inp.replications} replications per strategy · seed {inp.seed} · scenario hash {e(inp.scenario_hash)} ·
spc {e(inp.version)} · money in {e(sc.metadata.currency)} · discount rate {sc.metadata.discount_rate:.1%} a year</p>
{_recommendation_html(inp)}
<h2>Strategy comparison against baseline</h2>
<p>{e(COMPARISON_NOTE)}</p>
{table(comparison_head(inp.comparison), _comparison_rows(inp.comparison, cur, names))}
{"".join(f"<p><b>{e(line)}</b></p>" for line in _ranking_lines(inp))}
<h2>Value beyond the horizon</h2>
<p>{e(valuation_note(inp))}</p>
{table(*valuation_rows(inp))}
<h2>{e(SUMMARY_TITLE)}</h2>
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
<h2>Capacity and activity costs</h2>
<p>{e(CAPACITY_NOTE)}</p>
{table(*capacity_rows(inp))}
<h2>Whale curve</h2>
{img('whale', 'whale curve')}
{_portfolio(inp, "html")}
{_calibration(inp, "html")}
{tornado_html}
<h2>Causal map</h2>
{img('causal_map', 'strategy map')}
<h3>Feedback loops ({len(inp.model.loops)}; shortest shown)</h3><ul>{loops}</ul>
</body></html>
"""


def _portfolio(inp: Analysis, fmt: str) -> str:
    """The customer portfolio of a transaction export (`--transactions`), in the scenario's currency."""
    if inp.portfolio is None:
        return ""
    from simulator.customers_data.report_section import section_html, section_markdown

    return (section_html if fmt == "html" else section_markdown)(inp.portfolio, _currency(inp))


def _calibration(inp: Analysis, fmt: str) -> str:
    """History against the written and the calibrated model, the fit statistics and warnings (`--history`)."""
    if inp.calibration is None:
        return ""
    from simulator.calibration.report_section import section_html, section_markdown

    return (section_html if fmt == "html" else section_markdown)(inp.calibration)


def executive_summary(inp: Analysis) -> tuple[str | None, list[str]]:
    """(the best strategy, two or three lines of its key numbers): Δ firm value (or Δ NPV) against baseline with
    its 95% CI and P(better), and the status of each scorecard perspective."""
    from simulator.analysis.comparison import p_better_text

    cmp, names, cur = inp.comparison, strategy_names(inp), _currency(inp)
    if cmp is None or cmp.empty:
        return None, []
    rows = {r["strategy"]: r for r in cmp.to_dict("records")}
    best = inp.recommendation.strategy if inp.recommendation is not None else None
    if best not in rows:
        best = min(rows.values(), key=lambda r: r["rank"])["strategy"]
    r = rows[best]
    name = names.get(best, humanise(best))
    if not pd.isna(r.get("delta_firm_value", float("nan"))):
        what, d, lo, hi = "firm value", r["delta_firm_value"], r["firm_ci_low"], r["firm_ci_high"]
    else:
        what, d, lo, hi = "NPV", r["delta_npv"], r["ci_low"], r["ci_high"]
    rank = int(r["rank"])  # the recommendation may take a statistically tied runner-up (better scorecard or risk)
    ordinal = {1: "1st", 2: "2nd", 3: "3rd"}.get(rank, f"{rank}th")
    label = "Recommended strategy" if inp.recommendation is not None else "Best strategy"
    lines = [f"{label}: {name}, ranked {ordinal} of {len(rows)} on expected {what} over {inp.months} months.",
             f"Δ {what} against baseline: {money(d, cur, signed=True)} (95% CI {money(lo, cur, signed=True)} to "
             f"{money(hi, cur, signed=True)}); Δ NPV {money(r['delta_npv'], cur, signed=True)}; better than baseline "
             f"in {p_better_text(r)} replications."]
    if not inp.scorecard.empty:
        persp = rollup(inp.scorecard, "perspective")
        sub = persp[persp["strategy"] == best]
        if len(sub):
            lines.append("Scorecard: " + ", ".join(f"{humanise(p.perspective)} {TEXT_MARK.get(p.status, '')} {p.status}"
                                                   for p in sub.itertuples()) + ".")
    return best, lines


def _recommendation_html(inp: Analysis) -> str:
    rec = inp.recommendation
    _, lines = executive_summary(inp)
    summary = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    if rec is None:
        return (f'<section class="decision"><h2>Executive summary</h2><ul class="keys">{summary}</ul></section>'
                if lines else "")
    reasons = "".join(f"<li>{html.escape(r)}</li>" for r in rec.reasons)
    return (f'<section class="decision"><h2>Executive summary</h2><p><b>{html.escape(rec.headline)}</b></p>'
            f'<ul class="keys">{summary}</ul><ul>{reasons}</ul></section>')


def _recommendation_markdown(inp: Analysis) -> list[str]:
    rec = inp.recommendation
    _, lines = executive_summary(inp)
    head = ["## Executive summary"] if rec is not None or lines else []
    keys = ["\n".join(f"- {line}" for line in lines)] if lines else []
    return head + ([] if rec is None else [f"**{rec.headline}**"]) + keys + (
        [] if rec is None else ["\n".join(f"- {r}" for r in rec.reasons)])


def to_markdown(inp: Analysis) -> str:
    sc = inp.model.scenario
    imgs = {k: base64.b64encode(v).decode() for k, v in _charts(inp).items()}

    def table(head, rows) -> str:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
        return "\n".join(lines)

    names, cur = strategy_names(inp), _currency(inp)
    strategies, matrix = _scorecard_matrix(inp.scorecard, inp.strategies, cur, sc)
    card = "This scenario defines no scorecard." if inp.scorecard.empty else table(
                 ["perspective", "KPI", *(names[s] for s in strategies)],
                 [[p.replace("_", " "), label, *(f"{STATUS_MARK[st]} {text}" for text, st in cells)] for p, label, cells in matrix])
    summary_head, summary_rows = _summary_rows(inp.summary, inp.strategies, names, cur)
    parts = [f"# {sc.metadata.name}", sc.metadata.description,
             f"{inp.months} months, {inp.replications} replications, seed {inp.seed}, scenario hash `{inp.scenario_hash}`, "
             f"spc {inp.version}, money in {sc.metadata.currency}.",
             *_recommendation_markdown(inp),
             "## Strategy comparison against baseline", COMPARISON_NOTE,
             table(comparison_head(inp.comparison), _comparison_rows(inp.comparison, cur, names)),
             *(f"**{line}**" for line in _ranking_lines(inp)),
             "## Value beyond the horizon", valuation_note(inp), table(*valuation_rows(inp)),
             f"## {SUMMARY_TITLE}", table(summary_head, summary_rows),
             "## Balanced scorecard", card,
             *([] if inp.scorecard.empty else ["### When each KPI turns green (and stays green)", table(*green_rows(inp))]),
             "## Customer value and cost to serve", VALUE_NOTE, table(*value_rows(inp)),
             "## Capacity and activity costs", CAPACITY_NOTE, table(*capacity_rows(inp))]
    for key, title in (("paths", "Profit paths"), ("customers", "Customers, satisfaction and staff"),
                       ("whale", "Whale curve"), ("tornado", "What drives NPV"), ("causal_map", "Causal map")):
        if key in imgs:
            parts += [f"## {title}", f"![{title}](data:image/png;base64,{imgs[key]})"]
        if key == "whale" and inp.portfolio is not None:
            parts.append(_portfolio(inp, "md").strip())
        if key == "whale" and inp.calibration is not None:
            parts.append(_calibration(inp, "md"))
    parts += ["### Feedback loops", *[f"- **{lp.polarity}**: {lp.label}" for lp in inp.model.loops[:12]]]
    return "\n\n".join(parts) + "\n"
