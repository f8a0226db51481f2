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
    assert "| # | strategy | Δ NPV [95% CI]" in text and "What drives NPV" not in text
    assert len(_images(text)) == 4


def test_report_of_a_folder_without_a_run_is_a_clear_error(tmp_path):
    result = spc("report", str(tmp_path), "--out", str(tmp_path / "r.html"))
    assert result.returncode == 2 and "not a run folder" in result.stderr and "Traceback" not in result.stderr
