"""Service-profit-chain simulator: the headless engine (never imports the UI).

Public API used by the CLI and the TUI:
    load(path) -> LoadedScenario            validate a scenario file
    compile_file(path) -> CompiledModel     load and compile
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("service-profit-chain")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+local"

from simulator.errors import Problem, ScenarioError, UsageError  # noqa: E402
from simulator.graph.compiler import CompiledModel, compile_file, compile_loaded, compile_scenario  # noqa: E402
from simulator.scenario.loader import LoadedScenario, load, load_data  # noqa: E402

__all__ = [
    "CompiledModel", "LoadedScenario", "Problem", "ScenarioError", "UsageError", "__version__", "compile_file",
    "compile_loaded", "compile_scenario", "load", "load_data",
]
