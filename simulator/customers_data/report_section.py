"""The portfolio as a report section (Markdown or self-contained HTML with embedded charts).

`spc portfolio --report PATH` writes it on its own; `section_markdown` / `section_html` take the plain data of
`cli_portfolio.portfolio_report`, so the scenario report can include the same section.
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


def _lines(rep: dict) -> list[str]:
    fit, eq, w, r = rep["fit"], rep["equity"], rep["whale"], rep["repricing"]
    cal = fit["calibration"]
    lines = [f"Fitted from {fit['file']}: {fit['customers']:,} customers, {fit['purchases']:,} purchases, calibration "
             f"{cal['start']} to {cal['end']} ({cal['weeks']} weeks). {fit['method']}.", ""]
    lines += ["| model | parameter | estimate | 95% interval |", "|---|---|---|---|"]
    for m in fit["models"]:
        for k, p in m["parameters"].items():
            lines.append(f"| {m['model']} (log-lik. {m['log_likelihood']:,.2f}) | {k} | {p['estimate']:.4g} | "
                         f"{p['ci95'][0]:.4g} to {p['ci95'][1]:.4g} |")
    lines.append("")
    if fit["rules"]:
        lines += ["Data rules applied: " + "; ".join(f"{x['rule']} ({x['count']:,})" for x in fit["rules"]) + ".", ""]
    ci = f" (95% {eq['ci95'][0]:,.0f} to {eq['ci95'][1]:,.0f})" if eq["ci95"] else ""
    lines += [f"Customer equity {eq['clv_sum']:,.0f}{ci}; {eq['expected_alive']:,.0f} of {eq['customers']:,} customers "
              f"expected alive. Top 20% of customers: {w['realised_top20']:.1%} of realised profit, "
              f"{w['predicted_top20']:.1%} of predicted CLV.", ""]
    if rep["assumptions"]["cost_to_serve"]:
        lines += [f"Repricing candidates: {r['customers']:,} customers with negative expected value after cost to serve; "
                  f"repricing them to break even (or letting them go) is worth {r['worth']:,.0f}.", ""]
    if "holdout" in rep:
        h = rep["holdout"]
        lines += [f"Holdout ({h['weeks']:.1f} weeks): actual {h['actual']:,} repeat purchases, predicted "
                  f"{h['predicted_conditional']:,.0f} ({h['predicted_conditional'] / max(h['actual'], 1) - 1:+.1%}).", "",
                  "| calibration repeat purchases | customers | actual | predicted |", "|---|---|---|---|"]
        lines += [f"| {x['group']} | {x['customers']:,} | {x['actual']:.3f} | {x['predicted']:.3f} |"
                  for x in h["conditional_expectations"]]
        lines.append("")
    return lines


def section_markdown(rep: dict) -> str:
    return "## Customer portfolio\n\n" + "\n".join(_lines(rep)) + "\n"


def section_html(rep: dict) -> str:
    """The section as HTML with the charts embedded (no external files)."""
    body = []
    table: list[str] = []
    for line in _lines(rep):
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
        body.append(f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,'
                    f'{base64.b64encode(png).decode()}"><figcaption>{html.escape(title)}</figcaption></figure>')
    return "<section><h2>Customer portfolio</h2>" + "".join(body) + "</section>"


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
