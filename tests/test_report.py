"""Reports: `spc run --report` and `spc report RUN_DIR` write one self-contained file with every section."""

from __future__ import annotations

import base64
import re

from tests.helpers import DATA
from tests.test_cli_run import spc

SMALL = str(DATA / "engine_small.yaml")
SECTIONS = ("Strategy comparison against baseline", "Balanced scorecard", "Profit paths", "Whale curve",
            "Customer value and cost to serve", "customer equity", "unused capacity cost",
            "When each KPI turns green",
            "What drives NPV", "Causal map")


def _images(text: str) -> list[bytes]:
    return [base64.b64decode(b) for b in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", text)]


SCORED = DATA / "engine_small_scored.yaml"


def test_run_with_report_writes_a_self_contained_html(tmp_path):
    out = tmp_path / "report.html"
    result = spc("run", str(SCORED), "--replications", "2", "--months", "3", "--report", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    for section in SECTIONS:
        assert section in text
    images = _images(text)
    assert len(images) == 5 and all(img.startswith(b"\x89PNG") and len(img) > 5000 for img in images)
    assert "src=\"http" not in text and "<script" not in text  # nothing fetched from elsewhere
    for strategy in ("training", "cuts"):
        assert strategy in text


def test_report_from_a_saved_run_folder_as_markdown(tmp_path):
    run_dir = tmp_path / "run"
    assert spc("run", SMALL, "--replications", "2", "--months", "2", "--out", str(run_dir)).returncode == 0
    out = tmp_path / "report.md"
    result = spc("report", str(run_dir), "--out", str(out), "--no-tornado")
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert text.startswith("# Engine test shop")
    assert "| # | strategy | Δ firm value [95% CI] | Δ NPV [95% CI]" in text and "What drives NPV" not in text
    assert len(_images(text)) == 4


def test_report_of_a_folder_without_a_run_is_a_clear_error(tmp_path):
    result = spc("report", str(tmp_path), "--out", str(tmp_path / "r.html"))
    assert result.returncode == 2 and "not a run folder" in result.stderr and "Traceback" not in result.stderr


def test_money_and_values_read_as_an_executive_reads_them():
    from simulator.analysis.units import format_value, humanise, money, sensible

    assert money(455772.69, "EUR") == "€455.8k" and money(-110000, "EUR") == "−€110k"
    assert money(1_234_567, "USD") == "$1.23M" and money(789.4, "EUR") == "€789"
    assert money(12.0, "EUR", signed=True) == "+€12"
    assert format_value(455772.69, "npv", "EUR") == "€455.8k"
    assert format_value(0.084, "abandonment_rate") == "8.4%" and format_value(0.3, "employee_turnover") == "30%"
    assert format_value(1.234, "mean_wait_minutes") == "1.2 min"
    assert format_value(3512.4, "active_customers") == "3,512" and sensible(15.7143) == "15.7"
    assert humanise("npv_of_profit") == "NPV of profit" and humanise("reprice_unprofitable") == "reprice unprofitable"


def test_report_opens_on_an_executive_summary_without_cents(tmp_path):
    out = tmp_path / "report.html"
    result = spc("run", str(SCORED), "--replications", "2", "--months", "3", "--report", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    body = text[text.index("<body>"):]
    assert body.index("Executive summary") < body.index("Strategy comparison against baseline")
    assert re.search(r"(Recommended|Best) strategy: [^,]+, ranked \d(st|nd|rd|th) of", body)
    assert "95% CI" in body and "Scorecard:" in body
    assert "€" in body and "P(green)" in body
    assert not re.search(r"\d,\d{3}\.\d\d", body)  # no money to the cent ("455,772.69")
    assert "@media print" in text and "break-inside:avoid" in text and "size:A4" in text
    # no forced page per section (it left page 1 mostly empty): headings keep with what follows, and long tables
    # repeat their header row on the next page
    assert "break-before:page" not in text and "page-break-before:always" not in text
    assert "break-after:avoid" in text and "thead{display:table-header-group}" in text and "<thead>" in body
    assert "Whale curve (replication 0)" not in text  # the chart's title, averaged now


def _paths(months: int = 24):
    import numpy as np
    import pandas as pd

    rows = []
    for s_i, strategy in enumerate(("baseline", "crm", "training")):
        for rep in range(3):
            cum = 0.0
            for period in range(1, months + 1):
                profit = 20_000 + 1_000 * s_i + 500 * rep + (-110_000 if strategy == "crm" and period == 2 else 0)
                cum += profit
                rows.append({"strategy": strategy, "replication": rep, "period": period, "profit": profit,
                             "cumulative_profit": cum, "customer_satisfaction": 7 + np.sin(period) / 10})
    return pd.DataFrame(rows)


def test_charts_have_units_separators_the_whole_horizon_and_one_band():
    from matplotlib.collections import PolyCollection

    from simulator import report_charts as charts

    ts = _paths()
    fig = charts.paths_chart(ts, ("baseline", "crm", "training"), [("cumulative_profit", "Cumulative profit"),
                                                                 ("profit", "Monthly profit")],
                             currency="EUR", highlight="training", months=24, figure=True)
    cum, monthly = fig.axes
    fig.canvas.draw()
    assert cum.get_ylabel() == "EUR" and monthly.get_ylabel() == "EUR"
    assert any("," in t.get_text() for t in cum.get_yticklabels())  # "400,000", not "400000" or "1e6"
    assert cum.get_xlim() == (1, 24)
    assert sum(isinstance(c, PolyCollection) for c in cum.collections) == 1  # the highlighted strategy's band only
    assert "rolling mean" in monthly.get_title()
    assert monthly.get_ylim()[0] > -110_000  # the one-off spend does not set the scale ...
    assert any("month 2" in t.get_text() for t in monthly.texts)  # ... it is annotated
    styles = {line.get_linestyle() for line in cum.get_lines()}
    colours = {line.get_color() for line in cum.get_lines()}
    assert len(styles) == 3 and len(colours) == 3


def test_whale_chart_averages_the_replications():
    import pandas as pd

    from simulator import report_charts as charts

    customers = pd.DataFrame([{"strategy": s, "replication": r, "profit": p}
                              for s in ("baseline", "crm") for r in range(3) for p in (100 * r + 50, 10, -5, 300)])
    fig = charts.whale_chart(customers, ("baseline", "crm"), highlight="crm", figure=True)
    ax = fig.axes[0]
    assert ax.get_title() == "Whale curve (mean of 3 replications)" and ax.get_xlim() == (0, 100)
    assert len(ax.collections) == 1


def test_the_summary_states_the_recommended_strategys_true_rank():
    """A recommendation may take a tied runner-up; the summary must not call it 1st then."""
    from types import SimpleNamespace

    import pandas as pd

    from simulator.decision.analysis import Recommendation
    from simulator.report import executive_summary

    cmp = pd.DataFrame([
        {"strategy": "a", "rank": 1, "delta_firm_value": 120.0, "firm_ci_low": 10.0, "firm_ci_high": 230.0,
         "delta_npv": 5.0, "ci_low": 1.0, "ci_high": 9.0, "p_better": 1.0, "p_better_low": 0.5, "p_better_high": 1.0,
         "pairs": 3},
        {"strategy": "b", "rank": 2, "delta_firm_value": 110.0, "firm_ci_low": 90.0, "firm_ci_high": 130.0,
         "delta_npv": 4.0, "ci_low": 1.0, "ci_high": 8.0, "p_better": 1.0, "p_better_low": 0.5, "p_better_high": 1.0,
         "pairs": 3}])
    model = SimpleNamespace(scenario=SimpleNamespace(metadata=SimpleNamespace(currency="EUR"), strategies=[]))
    inp = SimpleNamespace(comparison=cmp, recommendation=Recommendation("b", "Recommended: b", ()), months=36,
                          scorecard=pd.DataFrame(), model=model, strategies=("baseline", "a", "b"))
    best, lines = executive_summary(inp)
    assert best == "b" and "ranked 2nd of 2" in lines[0]


def test_report_of_a_scenario_with_only_the_baseline(tmp_path):
    """No strategy to compare: the report still renders (no ranking note), instead of a KeyError."""
    out = tmp_path / "report.html"
    result = spc("report", str(DATA / "calibrate_small.yaml"), "--replications", "2", "--months", "3",
                 "--no-tornado", "--out", str(out))
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert "Rankings disagree" not in out.read_text()


def test_the_comparison_puts_the_measure_its_verdict_judges_first():
    """Ranked on firm value, 'better than baseline' stood beside a negative Δ NPV (Invest in people: −€36.5k NPV,
    +€788k firm value): the column the verdict and P(better) judge now comes first, and the verdict names it."""
    import pandas as pd

    from simulator.report import COMPARISON_HEAD, _comparison_rows, comparison_head

    row = {"rank": 1, "strategy": "invest", "delta_npv": -36_500.0, "ci_low": -53_600.0, "ci_high": -19_400.0,
           "delta_firm_value": 788_200.0, "firm_ci_low": 656_200.0, "firm_ci_high": 920_100.0, "delta_decision": 788_200.0,
           "distinguishable": True, "replications_needed": None, "payback_month": None, "spend": 183_300.0,
           "roi": -0.2, "revenue_growth": 452_400.0, "cost_savings": -275_400.0, "delta_satisfaction": 0.56,
           "pairs": 4, "p_better": 1.0, "p_better_low": 0.4, "p_better_high": 1.0, "decision_measure": "firm_value"}
    cmp = pd.DataFrame([row])
    head, (cells,) = comparison_head(cmp), _comparison_rows(cmp, "EUR")
    assert head[2] == "Δ firm value [95% CI]" and head[3] == "Δ NPV [95% CI]" and head[-1] == "verdict (firm value)"
    assert cells[2].startswith("+€788") and cells[3].startswith("−€36") and cells[-1] == "better than baseline"
    on_npv = cmp.assign(decision_measure="npv", delta_decision=-36_500.0)
    assert comparison_head(on_npv) == COMPARISON_HEAD and _comparison_rows(on_npv, "EUR")[0][2].startswith("−€36")
