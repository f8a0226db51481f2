"""`spc report --transactions`: the scenario report's "Customer portfolio" section (issue 17).

The section's numbers must be the fitted analysis's own (one fit per module, ~5-10 s: pymc-marketing); the CLI
tests reuse it through a stand-in for the fit, so they check the plumbing and the page, not the fit twice.
"""

from __future__ import annotations

import base64
import datetime as dt
import re

import pytest

from simulator.analysis.units import money
from simulator.cli import main
from tests.helpers import DATA

SAMPLE = DATA / "cdnow" / "cdnow_sample.csv"
MINIMAL = DATA / "minimal.yaml"
CAL_END = dt.date(1997, 9, 30)
FAST = ["--replications", "2", "--months", "3", "--no-tornado", "--workers", "1"]


@pytest.fixture(scope="module")
def fitted():
    pytest.importorskip("pymc_marketing", reason="the optional 'data' extra (pip install '.[data]')")
    from simulator.customers_data.report_section import analyse_transactions

    return analyse_transactions(str(SAMPLE), calibration_end=CAL_END, draws=20, top=5)


def test_section_numbers_are_the_fitted_analysis(fitted):
    from simulator.customers_data.report_section import section_html, section_markdown

    a, rep = fitted
    c = a.valuation.customers
    assert rep["equity"]["clv_sum"] == pytest.approx(float(c["clv"].sum()))
    assert rep["equity"]["expected_alive"] == pytest.approx(float(c["p_alive"].sum()))
    best = c.sort_values("clv", ascending=False).iloc[0]
    assert rep["top"][0]["customer_id"] == str(best["customer_id"]) and len(rep["top"]) == 5
    assert rep["top"][0]["clv"] == pytest.approx(float(best["clv"]))
    assert rep["candidates"] == []  # no costs file: no customer destroys value
    assert rep["holdout"]["actual"] == 1882  # the repeat purchases in weeks 40-78 of the data
    md = section_markdown(rep, "EUR")
    assert f"Customer equity {money(rep['equity']['clv_sum'], 'EUR')} (95% " in md
    assert f"| {best['customer_id']} |" in md and "| P(alive) |" in md
    assert "Holdout (39.0 weeks): actual 1,882 repeat purchases" in md
    assert "none can be named without a costs file" in md
    page = section_html(rep, "EUR")
    assert page.count("data:image/png;base64,") == 3  # whale curve, tracking, conditional expectations
    assert money(rep["equity"]["clv_sum"], "EUR") in page
    # without a currency (spc portfolio --report): plain thousands, as before
    assert f"Customer equity {rep['equity']['clv_sum']:,.0f}" in section_markdown(rep)


def test_report_adds_the_section_in_the_scenarios_currency(fitted, tmp_path, monkeypatch):
    import simulator.customers_data.report_section as rs

    seen = {}

    def stand_in(path, **kw):
        seen.update(kw, path=path)
        return fitted

    monkeypatch.setattr(rs, "analyse_transactions", stand_in)
    out = tmp_path / "r.html"
    code = main(["report", str(MINIMAL), "--out", str(out), *FAST, "--transactions", str(SAMPLE),
                 "--calibration-end", "1997-09-30", "--customer-id", "customer_id", "--amount", "amount"])
    assert code == 0
    assert seen == {"path": str(SAMPLE), "customer_id": "customer_id", "date": None, "amount": "amount",
                    "calibration_end": CAL_END, "costs": None, "base": str(MINIMAL)}
    page = out.read_text()
    section = page[page.index('<section id="customer-portfolio">'):]
    section = section[:section.index("</section>")]
    cur = "EUR"  # minimal.yaml's
    assert money(fitted[1]["equity"]["clv_sum"], cur) in section
    images = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", section)
    assert len(images) == 3 and all(base64.b64decode(i)[:4] == b"\x89PNG" for i in images)
    assert page.index("<h2>Whale curve</h2>") < page.index("Customer portfolio") < page.index("<h2>Causal map</h2>")
    md = tmp_path / "r.md"
    assert main(["report", str(MINIMAL), "--out", str(md), *FAST, "--transactions", str(SAMPLE)]) == 0
    text = md.read_text()
    assert "## Customer portfolio" in text and text.index("## Customer portfolio") < text.index("## Causal map")


def test_missing_extra_is_one_line_before_any_run(tmp_path, monkeypatch, capsys):
    import simulator.customers_data.fit as fit
    import simulator.experiment as experiment
    from simulator.errors import UsageError

    def missing():
        raise UsageError(fit.EXTRA_HINT)

    def no_run(*a, **k):
        raise AssertionError("a simulation started")

    monkeypatch.setattr(fit, "_require", missing)
    monkeypatch.setattr(experiment, "run_experiment", no_run)
    code = main(["report", str(MINIMAL), "--out", str(tmp_path / "r.html"), *FAST, "--transactions", str(SAMPLE)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "'data' extra" in err
    assert not (tmp_path / "r.html").exists()


def test_bad_export_and_stray_options_are_one_line_errors(tmp_path, monkeypatch, capsys):
    pytest.importorskip("pymc_marketing", reason="the optional 'data' extra (pip install '.[data]')")
    import simulator.experiment as experiment

    monkeypatch.setattr(experiment, "run_experiment", lambda *a, **k: (_ for _ in ()).throw(AssertionError("ran")))
    bad = tmp_path / "t.csv"
    bad.write_text("customer_id,date,amount\n1,2024-01-01,10\n2,not a date,5\n")
    code = main(["report", str(MINIMAL), "--out", str(tmp_path / "r.html"), *FAST, "--transactions", str(bad)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and str(bad) in err
    code = main(["report", str(MINIMAL), "--out", str(tmp_path / "r.html"), *FAST, "--costs", "c.csv"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "--transactions" in err and len(err.splitlines()) == 1
