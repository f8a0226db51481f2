"""Helpers for the scenario-layer tests: paths, a minimal valid scenario, running `spc` in a subprocess."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
INVALID = DATA / "invalid"
SHIPPED = ROOT / "scenarios" / "service_profit_chain.yaml"
MINIMAL = DATA / "minimal.yaml"


def run_spc(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`spc ARGS` in a fresh interpreter, from the repository root (so relative paths print as given)."""
    return subprocess.run([sys.executable, "-m", "simulator.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def minimal_data() -> dict[str, Any]:
    """tests/data/minimal.yaml as plain data (a fresh copy each call)."""
    return copy.deepcopy(_MINIMAL)


def network_scenario(nodes: list[dict], links: list[dict], **metadata: Any) -> dict[str, Any]:
    """The minimal scenario with its network replaced (and nothing that refers to the old network)."""
    data = minimal_data()
    data["network"] = {"nodes": nodes, "links": links}
    data.pop("initiatives", None)
    data.pop("strategies", None)
    data["metadata"].update(metadata)
    return data


def write_yaml(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


_MINIMAL = yaml.safe_load(MINIMAL.read_text(encoding="utf-8"))
