"""A batch plan: scenario files x sweep variants, each a run of strategies x replications.

Everything a user can get wrong is checked here, before any simulation starts: files and globs,
sweep keys (in every file), values (each variant is validated like a scenario file), strategies.
"""

from __future__ import annotations

import glob
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from simulator.batch.sweep import Design, Variant, check_key, variant_key, variant_label, variants
from simulator.errors import ScenarioError, UsageError
from simulator.scenario.loader import LoadedScenario, load, load_data
from simulator.scenario.paths import with_values


@dataclass(frozen=True)
class RunSpec:
    """One scenario variant: strategies x replications on one seed and horizon (a row of `runs`)."""

    file: str
    name: str
    scenario_hash: str
    base: dict  # the file's merged data, shared by all of its variants (never mutated)
    variant: Variant
    strategies: tuple[str, ...]
    replications: int
    seed: int
    months: int
    outputs: str = "full"  # "decision": only per-replication summaries are kept (see batch.worker.Part)

    @property
    def variant_key(self) -> str:
        return variant_key(self.variant)

    def data(self) -> dict:
        """The variant's scenario data (a fresh copy): what travels to the workers."""
        return with_values(self.base, self.variant)


def expand_paths(patterns: Sequence[str]) -> list[Path]:
    """Files, folders (their *.yaml) and globs, in the order given, without repeats."""
    out: list[Path] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            found = sorted(path.glob("*.yaml"))
        elif path.exists():
            found = [path]
        elif glob.has_magic(pattern):
            found = [Path(p) for p in sorted(glob.glob(pattern, recursive=True)) if Path(p).is_file()]
        else:
            raise UsageError(f"no such file: {pattern}")
        if not found:
            raise UsageError(f"no scenario files match '{pattern}'")
        out += [p for p in found if p not in out]
    return out


def _strategies(loaded: LoadedScenario, requested: Sequence[str] | None) -> tuple[str, ...]:
    from simulator.experiment import resolve_strategies

    try:
        return resolve_strategies(loaded.scenario, requested)
    except UsageError as exc:
        raise UsageError(f"{loaded.path}: {exc}") from None


def _check_variant(spec: RunSpec) -> None:
    try:
        load_data(spec.data(), spec.file)
    except ScenarioError as exc:
        problem = exc.problems[0]
        hint = f" (hint: {problem.hint})" if problem.hint else ""
        raise UsageError(f"{spec.file}: {variant_label(spec.variant)} is not a valid scenario: "
                         f"{problem.message}{hint}") from None


def build_plan(patterns: Sequence[str], design: Design, replications: int | None, seed: int | None,
               months: int | None, strategies: Sequence[str] | None) -> list[RunSpec]:
    """Every run of the batch, files in the order given, variants in design order; all validated."""
    specs: list[RunSpec] = []
    for path in expand_paths(patterns):
        loaded = load(path)
        base = {k: v for k, v in loaded.data.items() if k != "extends"}
        for key in design.keys:
            check_key(key, base, str(path), "--range" if key in {k for k, _, _ in design.ranges} else "--sweep")
        sc = loaded.scenario
        run_seed = int(seed if seed is not None else sc.run.seed)
        common = dict(file=str(path), name=sc.metadata.name, scenario_hash=loaded.content_hash, base=base,
                      strategies=_strategies(loaded, strategies),
                      replications=int(replications or sc.run.replications), seed=run_seed,
                      months=int(months or sc.metadata.horizon_months))
        for values in variants(design, run_seed):
            spec = RunSpec(variant=values, **common)
            _check_variant(spec)
            specs.append(spec)
    return specs


def task_count(specs: Sequence[RunSpec]) -> int:
    return sum(len(s.strategies) * s.replications for s in specs)


def tasks_of(spec: RunSpec) -> Iterator[tuple[str, int]]:
    """(strategy, replication) in replication-major order, so a cut-short run holds whole replications."""
    for replication in range(spec.replications):
        for strategy in spec.strategies:
            yield strategy, replication
