"""Service-profit-chain simulator: the headless engine (never imports the UI).

Public API used by the CLI and the TUI:
    load(path) -> LoadedScenario            validate a scenario file
    compile_file(path) -> CompiledModel     load and compile
"""

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

try:
    __version__ = version("service-profit-chain")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+local"

from simulator.errors import Problem, ScenarioError, UsageError  # noqa: E402
from simulator.graph.compiler import CompiledModel, compile_file, compile_loaded, compile_scenario  # noqa: E402
from simulator.scenario.loader import LoadedScenario, load, load_data  # noqa: E402


def shipped_scenarios() -> Path:
    """The folder of the shipped cases: `scenarios/` beside the package in a source checkout, and the copy the
    wheel carries inside the package (`simulator/scenarios`, see pyproject.toml) after `pip install .`."""
    inside = Path(__file__).resolve().parent / "scenarios"
    return inside if inside.is_dir() else Path(__file__).resolve().parent.parent / "scenarios"


__all__ = [
    "CompiledModel", "LoadedScenario", "Problem", "ScenarioError", "UsageError", "__version__", "compile_file",
    "compile_loaded", "compile_scenario", "load", "load_data", "shipped_scenarios",
]
