"""The portfolio as a report section (Markdown or self-contained HTML with embedded charts).

`spc portfolio --report PATH` writes it on its own; `section_markdown` / `section_html` take the plain data of
`simulator.customers_data.pipeline.portfolio_report`, so the scenario report can include the same section.
"""

from __future__ import annotations

import base64
import html
import io


def _charts(rep: dict) -> list[tuple[str, bytes]]:
    """PNG charts: the whale curves, and with a holdout the tracking and conditional-expectation plots."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for key, label in (("realised", "realised profit"), ("predicted", "predicted CLV")):
        xs, ys = zip(*rep["whale"][key], strict=True)
        ax.plot([100 * x for x in xs], [100 * y for y in ys], marker="o", ms=3, label=label)
    ax.axhline(100, color="grey", lw=0.8)
    ax.set(xlabel="customers, most valuable first (%)", ylabel="share of total (%)", title="Whale curve")
    ax.legend()
    out.append(("Whale curve", _png(fig, plt)))
    if "holdout" in rep:
        tr = rep["holdout"]["tracking"]
        fig, ax = plt.subplots(figsize=(5.5, 3.6))
        ax.plot([t["week"] for t in tr], [t["actual"] for t in tr], label="actual")
        ax.plot([t["week"] for t in tr], [t["expected"] for t in tr], ls="--", label="BG/NBD")
        cal = rep["fit"]["calibration"]["weeks"]
        ax.axvline(cal, color="grey", lw=0.8)
        ax.set(xlabel="week", ylabel="cumulative repeat purchases", title="Tracking (calibration | holdout)")
        ax.legend()
        out.append(("Tracking", _png(fig, plt)))
        ce = rep["holdout"]["conditional_expectations"]
        fig, ax = plt.subplots(figsize=(5.5, 3.6))
        groups = [str(r["group"]) for r in ce]
        ax.plot(groups, [r["actual"] for r in ce], marker="o", label="actual")
        ax.plot(groups, [r["predicted"] for r in ce], marker="s", ls="--", label="BG/NBD")
        ax.set(xlabel="repeat purchases in the calibration period", ylabel="mean holdout purchases",
               title="Conditional expectations")
        ax.legend()
        out.append(("Conditional expectations", _png(fig, plt)))
    return out


def _png(fig, plt) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def _money(x: float, currency: str | None) -> str:
    """With a currency (the scenario report's) '€12.3k'; without (a transaction file has none) '12,345'."""
    if currency is None:
        return f"{x:,.0f}"
    from simulator.analysis.units import money

    return money(x, currency)


def _lines(rep: dict, currency: str | None = None) -> list[str]:
    fit, eq, w, r = rep["fit"], rep["equity"], rep["whale"], rep["repricing"]
    cal = fit["calibration"]
    lines = [f"Fitted from {fit['file']}: {fit['customers']:,} customers, {fit['purchases']:,} purchases, calibration "
             f"{cal['start']} to {cal['end']} ({cal['weeks']} weeks). {fit['method'][0].upper() + fit['method'][1:]}.", ""]
    lines += ["| model | parameter | estimate | 95% interval |", "|---|---|---|---|"]
    for m in fit["models"]:
        for k, p in m["parameters"].items():
            lines.append(f"| {m['model']} (log-lik. {m['log_likelihood']:,.2f}) | {k} | {p['estimate']:.4g} | "
                         f"{p['ci95'][0]:.4g} to {p['ci95'][1]:.4g} |")
    lines.append("")
    if fit["rules"]:
        lines += ["Data rules applied: " + "; ".join(f"{x['rule']} ({x['count']:,})" for x in fit["rules"]) + ".", ""]
    ci = f" (95% {_money(eq['ci95'][0], currency)} to {_money(eq['ci95'][1], currency)})" if eq["ci95"] else ""
    lines += [f"Customer equity {_money(eq['clv_sum'], currency)}{ci}; {eq['expected_alive']:,.0f} of "
              f"{eq['customers']:,} customers expected alive. Top 20% of customers: {w['realised_top20']:.1%} of realised profit, "
              f"{w['predicted_top20']:.1%} of predicted CLV.", ""]
    if rep["assumptions"]["cost_to_serve"]:
        lines += [f"Repricing candidates: {r['customers']:,} customers with negative expected value after cost to "
                  f"serve; repricing them to break even (or letting them go) is worth {_money(r['worth'], currency)}.", ""]
    else:
        lines += ["Repricing candidates: none can be named without a costs file (cost to serve), so every expected "
                  "value is zero or more.", ""]
    for key, title in (("top", "Top customers by predicted lifetime value"),
                       ("candidates", "Repricing candidates (most negative expected value first)")):
        if rep.get(key):
            cur = f" ({currency})" if currency else ""
            lines += [f"{title}:", "", "| customer | repeat purchases | P(alive) | purchases next 12 months | "
                      f"mean spend{cur} | CLV{cur} | CLV 95% interval |", "|---|---|---|---|---|---|---|"]
            lines += [f"| {c['customer_id']} | {c['frequency']:,.0f} | {c['p_alive']:.2f} | {c['purchases_12m']:.2f} | "
                      f"{c['spend']:,.2f} | {c['clv']:,.1f} | "
                      + (f"{c['clv_lo']:,.1f} to {c['clv_hi']:,.1f} |" if "clv_lo" in c else "- |") for c in rep[key]]
            lines.append("")
    if "holdout" in rep:
        h = rep["holdout"]
        lines += [f"Holdout ({h['weeks']:.1f} weeks): actual {h['actual']:,} repeat purchases, predicted "
                  f"{h['predicted_conditional']:,.0f} ({h['predicted_conditional'] / max(h['actual'], 1) - 1:+.1%}).", "",
                  "| calibration repeat purchases | customers | actual | predicted |", "|---|---|---|---|"]
        lines += [f"| {x['group']} | {x['customers']:,} | {x['actual']:.3f} | {x['predicted']:.3f} |"
                  for x in h["conditional_expectations"]]
        lines.append("")
    return lines


def section_markdown(rep: dict, currency: str | None = None) -> str:
    return "## Customer portfolio\n\n" + "\n".join(_lines(rep, currency)) + "\n"


def section_html(rep: dict, currency: str | None = None) -> str:
    """The section as HTML with the charts embedded (no external files)."""
    body = []
    table: list[str] = []
    for line in _lines(rep, currency):
        if line.startswith("|"):
            if not line.startswith("|---"):
                cells = [html.escape(c.strip()) for c in line.strip("|").split("|")]
                tag = "th" if not table else "td"
                table.append("<tr>" + "".join(f"<{tag}>{c}</{tag}>" for c in cells) + "</tr>")
            continue
        if table:
            body.append("<table>" + "".join(table) + "</table>")
            table = []
        if line:
            body.append(f"<p>{html.escape(line)}</p>")
    if table:
        body.append("<table>" + "".join(table) + "</table>")
    for title, png in _charts(rep):
        # side by side, two to a row on a wide page (the chart titles say what each is)
        body.append('<figure style="display:inline-block;width:48%;margin:0.5em 1% 0.5em 0;vertical-align:top">'
                    f'<img style="max-width:100%" alt="{html.escape(title)}" src="data:image/png;base64,'
                    f'{base64.b64encode(png).decode()}"></figure>')
    return "<section id=\"customer-portfolio\"><h2>Customer portfolio</h2>" + "".join(body) + "</section>"


def write_report(rep: dict, path: str) -> None:
    import os
    from pathlib import Path

    target = Path(path)
    if target.suffix.lower() in (".md", ".markdown"):
        text = section_markdown(rep)
    else:
        text = ("<!doctype html><html><head><meta charset='utf-8'><title>Customer portfolio</title><style>"
                "body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}"
                "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}</style></head><body>"
                + section_html(rep) + "</body></html>\n")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)


def analyse_transactions(transactions: str, *, customer_id: str | None = None, date: str | None = None,
                         amount: str | None = None, calibration_end=None, costs: str | None = None,
                         draws: int = 100, top: int = 10, base: str | None = None):
    """(Analysis, portfolio data) of `spc portfolio TRANSACTIONS` with its defaults: one code path for the
    portfolio command, the scenario report's section and the terminal UI's screen, so all three show the same
    numbers. The data adds the `top` customers by CLV and the `top` most negative ones (repricing candidates)."""
    import argparse

    from simulator.customers_data.args import add_common
    from simulator.customers_data.pipeline import analyse, frame_records, portfolio_report

    require_data_extra()
    parser = argparse.ArgumentParser()
    add_common(parser)
    args = parser.parse_args([str(transactions)])
    args.customer_id, args.date, args.amount, args.costs = customer_id, date, amount, costs
    args.calibration_end = calibration_end
    if base is not None:  # whose capacity cost rate costs handle minutes (the report's own scenario)
        args.base = base
    a = analyse(args, draws=draws)
    rep = portfolio_report(a)
    c = a.valuation.customers
    cols = [k for k in ("customer_id", "frequency", "p_alive", "purchases_12m", "spend", "clv", "clv_lo", "clv_hi")
            if k in c]
    rep["top"] = frame_records(c.sort_values("clv", ascending=False).head(top)[cols])
    rep["candidates"] = frame_records(c[c["clv"] < 0].sort_values("clv").head(top)[cols])
    for row in rep["top"] + rep["candidates"]:
        row["customer_id"] = str(row["customer_id"])
    return a, rep


def require_data_extra() -> None:
    """The one-line UsageError naming the `data` extra, raised before anything slow starts."""
    from simulator.customers_data.fit import _require

    _require()
