"""Issue 15: after a regular (non-editable) install the scenario browser lists the shipped scenarios. An editable
install finds `scenarios/` in the repository and hides a wheel that lacks them, so this builds the wheel, installs it
into a folder of its own and opens the browser from there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scenario_helpers import ROOT

BROWSE = """
import asyncio, sys
from pathlib import Path
import simulator, tui.app
from textual.widgets import OptionList

site = Path(sys.argv[1]).resolve()
assert Path(simulator.__file__).resolve().is_relative_to(site), simulator.__file__  # the wheel's copy, not the repo
assert Path(tui.app.__file__).resolve().is_relative_to(site), tui.app.__file__


async def main():
    app = tui.app.SpcApp(None, replications=2, months=12, workers=1, timings=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.5)
        options = app.screen.query_one("#browser-list", OptionList)
        print("\\n".join(str(options.get_option_at_index(i).id) for i in range(options.option_count)))

asyncio.run(main())
"""


def test_a_wheel_install_lists_the_shipped_scenarios_in_the_browser(tmp_path) -> None:
    wheels, site = tmp_path / "wheels", tmp_path / "site"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(wheels)],
                           capture_output=True, text=True, timeout=300)
    if build.returncode != 0 and "hatchling" in build.stderr and "No matching distribution" in build.stderr:
        pytest.skip("the build backend (hatchling) cannot be fetched here")
    assert build.returncode == 0, build.stderr
    (wheel,) = wheels.glob("*.whl")
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
                              str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr
    env = {**os.environ, "PYTHONPATH": str(site)}
    shown = subprocess.run([sys.executable, "-c", BROWSE, str(site)], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    listed = [Path(line) for line in shown.stdout.splitlines() if line.endswith(".yaml")]
    names = {p.name for p in listed}
    assert {"service_profit_chain.yaml"} <= names and len(names) >= 5, shown.stdout
    assert all(p.resolve().is_relative_to(site.resolve()) for p in listed), listed  # read from the installed package
