"""Contracts between parts of the project: the engine never imports the UI, the front ends' modules form no
import circle and the engine and analysis import no front end, committed artefacts match the code that generates
them, shipped scenarios validate, and the CLI lists its commands."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

from simulator.ports import PORTS, ports_markdown_table
from simulator.scenario.schema import json_schema_text
from tests.scenario_helpers import ROOT, run_spc

SCHEMA = ROOT / "scenarios" / "schema.json"
README = ROOT / "README.md"


def test_engine_imports_no_ui() -> None:
    code = (
        "import sys\n"
        "import simulator, simulator.cli, simulator.graph.compiler\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'tui'))\n"
        "assert not bad, bad\n"
        "print('clean')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "clean", proc.stderr


def test_engine_source_never_names_the_ui() -> None:
    """Not even lazily: the UI plugs into `spc` through entry points (pyproject), the engine names no UI module."""
    import re

    pattern = re.compile(r"^\s*(from|import)\s+(tui|textual\w*)\b|find_spec\([\"'](tui|textual)", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "simulator").rglob("*.py") if pattern.search(p.read_text())]
    assert not offenders, offenders


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The modules an import statement names: `from a import b` names `a.b` when that is a module, else `a`."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = module if is_package else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        base = base.rpartition(".")[0]
    target = ".".join(x for x in (base if node.level else "", node.module or "") if x)
    return [f"{target}.{alias.name}" if _is_module(f"{target}.{alias.name}") else target for alias in node.names]


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _import_graph(*packages: str):
    """Module -> module it imports, anywhere in its source (also inside functions: lazy imports still run)."""
    import networkx as nx

    graph = nx.DiGraph()
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = _module_name(path)
            graph.add_node(module)
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    for target in _imported(node, module, path.name == "__init__.py"):
                        graph.add_edge(module, target)
    return graph


FRONT_ENDS = ("simulator.cli", "simulator.report", "simulator.report_charts", "tui", "textual")


def _front_end(module: str) -> bool:
    return any(module == f or module.startswith(f + ".") for f in FRONT_ENDS) or module.startswith("textual")


def test_cli_modules_form_no_import_circle() -> None:
    """`simulator/cli/` is one module per command group; what several share is in `common`/`progress`, so no
    command module imports another that imports it back, directly or through other simulator modules."""
    import networkx as nx

    graph = _import_graph("simulator")
    cli = {m for m in graph if m == "simulator.cli" or m.startswith("simulator.cli.")}
    assert {"simulator.cli", "simulator.cli.common", "simulator.cli.run", "simulator.cli.report",
            "simulator.cli.play", "simulator.cli.batch"} <= cli, sorted(cli)
    assert graph.has_edge("simulator.cli", "simulator.cli.run") and graph.has_edge("simulator.cli.run", "simulator.cli.report")
    circles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1 and c & cli]
    assert not circles, circles
    assert nx.is_directed_acyclic_graph(graph.subgraph(cli))
    # the command modules never import the package itself (its __init__ imports them all to build the parser)
    assert not [m for m in cli - {"simulator.cli", "simulator.cli.__main__"} if graph.has_edge(m, "simulator.cli")]


def test_engine_and_analysis_import_no_front_end() -> None:
    """The engine and the analysis (`analyse()` included) are shared by the CLI, the report and the terminal UI:
    they import none of them, not even lazily, and neither does anything they import."""
    import networkx as nx

    graph = _import_graph("simulator")
    assert "simulator.analysis.run_analysis" in graph
    for package in ("simulator.engine", "simulator.analysis"):
        modules = [m for m in graph if m == package or m.startswith(package + ".")]
        assert modules, package
        for module in modules:
            bad = sorted(m for m in nx.descendants(graph, module) if _front_end(m))
            assert not bad, (module, bad)


def test_the_ui_commands_arrive_through_entry_points() -> None:
    from simulator.cli import plugins

    assert "tui" in plugins("spc.commands") and "play" in plugins("spc.interactive")


def test_committed_schema_is_current() -> None:
    expected = json_schema_text()
    assert SCHEMA.read_text(encoding="utf-8") == expected, (
        "scenarios/schema.json is out of date with simulator/scenario/models.py: "
        "run `spc schema > scenarios/schema.json`"
    )
    schema = json.loads(expected)
    full, partial = schema["$defs"]["Scenario"], schema["$defs"]["PartialScenario"]
    assert full["additionalProperties"] is False and {"metadata", "employees", "segments"} <= set(full["required"])
    assert partial["additionalProperties"] is False and "required" not in partial
    assert schema["if"] == {"required": ["extends"]}


VALID_TEST_FILES = sorted(p for p in (ROOT / "tests" / "data").glob("*.yaml") if p.name != "play_decisions.yaml")


def test_scenario_files_validate_against_the_committed_schema(tmp_path) -> None:
    """What an editor with the yaml-language-server sees: every shipped file and every valid test file, the
    `extends:` children included (all their keys optional), and inline distributions pass the committed
    schema; a bad distribution fails it."""
    files = sorted((ROOT / "scenarios").glob("*.yaml")) + VALID_TEST_FILES
    children = [p for p in files if re.search(r"^extends:", p.read_text(), re.M)]
    assert len(files) >= 18 and len(children) >= 6
    check = [sys.executable, "-m", "check_jsonschema", "--schemafile", str(SCHEMA)]
    proc = subprocess.run([*check, *map(str, files)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "tests" / "data" / "uncertain.yaml").read_text().replace("mode: 0.5, high: 0.75", "sd: 0.5"))
    proc = subprocess.run([*check, str(bad)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "network.links[0].effect" in proc.stdout, proc.stdout + proc.stderr


def test_spc_schema_prints_the_schema() -> None:
    proc = run_spc("schema")
    assert proc.returncode == 0 and proc.stdout == json_schema_text()


def test_readme_carries_the_ports_table() -> None:
    table = ports_markdown_table()
    assert len(table.splitlines()) == len(PORTS) + 2
    assert table in README.read_text(encoding="utf-8"), (
        "README.md must contain simulator.ports.ports_markdown_table() verbatim; paste the output of "
        "`python -c 'from simulator.ports import ports_markdown_table as t; print(t())'`"
    )


def test_shipped_scenarios_validate() -> None:
    scenarios = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "scenarios").glob("*.yaml"))
    assert scenarios, "no shipped scenarios"
    proc = run_spc("validate", *scenarios)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert [line.split(": ok:")[0] for line in proc.stdout.splitlines()] == scenarios


def test_help_lists_the_commands() -> None:
    proc = run_spc("--help")
    assert proc.returncode == 0, proc.stderr
    listed = {line.split()[0] for line in proc.stdout.splitlines() if line.startswith("    ") and line.split()}
    for command in ("validate", "graph", "schema"):
        assert command in listed, (command, proc.stdout)
    assert proc.stdout.startswith("usage: spc")


def test_bad_arguments_are_one_line_and_exit_2() -> None:
    for args in (["no-such-command"], ["graph", "scenarios/service_profit_chain.yaml", "--format", "gif"], ["validate"]):
        proc = run_spc(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("error: "), (args, proc.stderr)
        assert "Traceback" not in proc.stderr
