"""Why did a metric move? Shapley attribution of Δmetric (strategy − baseline) over causal pathway groups.

A pathway is switched off by *freezing* it: holding it at the value it had in the baseline run of the same
(seed, replication) (simulator.engine.frozen), so the strategy's effect through it disappears and nothing else
changes. For a set S of groups, v(S) = metric(strategy run with every group outside S frozen) − metric(baseline
run), per replication, on common random numbers. The Shapley value of group i averages its marginal
contribution v(S ∪ {i}) − v(S) over all orders in which the groups could be switched on: exact for up to
`EXACT_MAX` groups (all 2^k coalitions, each run once and memoised), from sampled permutations beyond. The
values sum to v(all) − v(none) by construction (efficiency): no residual row. v(none) is run too: it is 0 when
the groups partition every channel (the default groups do), and is reported as "outside the groups" when a
group file leaves a channel out. Pairwise interactions v(i,j) − v(i) − v(j) + v(∅) are reported separately (with
sampled permutations too: every singleton, pair and one-group complement is run besides the permutations'
prefixes, memoised with them). Per group, v(N) − v(N∖{i}) is what freezing that group alone removes, the check
a user can run: it equals the Shapley value plus half of each interaction the group has (exactly when there are
no higher-order interactions), not the Shapley value itself.
Per replication Shapley values give a mean and a 95% Student t interval per group.

Default groups: where the strategy's effect *enters the engine*. Every way a strategy can change the
engine's run is one of: a read port's value (the network's levers, links and feedback all reach the engine
through the read ports), an initiative's segment parameters, or an initiative's costs. So

  people      read ports employee_quit_rate, headcount_target: staffing (quits, hires, cuts, wages, severance)
  service     read ports service_quality, handle_time_factor: the experience and the desk's capacity
  customers   read ports churn_hazard_factor, acquisition_factor, referral_rate, contact_frequency_factor,
              price_index: the network's direct levers on the customer base
  INI (segment effects)   each of the strategy's initiatives that changes segment parameters
  initiative costs        the one-off and monthly costs of the strategy's initiatives

partition every channel (all frozen = the baseline run, to the bit; a test checks it), and each group is
credited in full with what enters the engine through it, consequences included (better service raises
satisfaction, retention, revenue, and the load that feeds back on the staff). The alternative, freezing the
chain stage by stage (links into employee nodes, then service, ...), makes every serial pathway need all its
stages, so Shapley would split each one equally among them; a group file (`--groups FILE`, YAML: name -> list
of elements such as `link:employee_satisfaction->service_quality`, `port:service_quality`, `measure:nps`,
`segments:INI`, `levers:INI`, `costs:INI`) can ask for any other cut. Groups that cannot matter (ports the
scenario does not wire) are left out. A metric that is a network node (not an engine output) also moves through
the network's own values, which the default groups do not freeze: its "outside the groups" row says how much.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simulator.analysis.stats import mean_ci
from simulator.engine.frozen import Frozen, Recording, parse_element
from simulator.engine.model import RunOutput, run_once
from simulator.engine.policy import Policy
from simulator.graph.compiler import CompiledModel, compile_scenario

Progress = Callable[[int, int], None]
EXACT_MAX = 8
DEFAULT_PERMUTATIONS = 64
FINAL_METRICS = ("npv", "cumulative_profit")
FIRM_VALUE = "firm_value"

PEOPLE = ("employee_quit_rate", "headcount_target")
SERVICE = ("service_quality", "handle_time_factor")
CUSTOMERS = ("churn_hazard_factor", "acquisition_factor", "referral_rate", "contact_frequency_factor", "price_index")


# ---- groups -----------------------------------------------------------------------------------------------
def default_groups(model: CompiledModel, strategy: str) -> dict[str, tuple[str, ...]]:
    """The chain's stages where they enter the engine (see the module docstring), for this strategy."""
    wired = set(model.ports_read)
    groups: dict[str, tuple[str, ...]] = {}
    for name, ports in (("people", PEOPLE), ("service", SERVICE), ("customers", CUSTOMERS)):
        if wired & set(ports):  # (a port the scenario does not wire keeps its default in every run)
            groups[name] = tuple(f"port:{p}" for p in ports if p in wired)
    policy = Policy.for_strategy(model.scenario, strategy)
    for ini in policy.initiatives:
        if any(e.segment is not None for e in ini.effects):
            groups[f"{ini.name} (segment effects)"] = (f"segments:{ini.name}",)
    costly = [ini.name for ini in policy.initiatives if ini.one_off_cost > 0 or ini.monthly_cost > 0]
    if costly:
        groups["initiative costs"] = tuple(f"costs:{n}" for n in costly)
    return groups


def load_groups(path: str | Path, model: CompiledModel) -> dict[str, tuple[str, ...]]:
    """A YAML group file: a mapping of group name -> list of elements (ValueError on anything else)."""
    import yaml

    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not data:
        raise ValueError(f"{path}: expected a mapping of group name -> list of elements")
    groups: dict[str, tuple[str, ...]] = {}
    seen: dict[str, str] = {}
    for name, elements in data.items():
        if isinstance(elements, str):
            elements = [elements]
        if not isinstance(elements, list) or not elements:
            raise ValueError(f"{path}: group '{name}' needs a list of elements")
        parsed = []
        for e in elements:
            el = parse_element(str(e), model)
            if el in seen:
                raise ValueError(f"{path}: element '{el}' is in both '{seen[el]}' and '{name}'")
            seen[el] = str(name)
            parsed.append(el)
        groups[str(name)] = tuple(parsed)
    return groups


# ---- the metric -------------------------------------------------------------------------------------------
def metric_of(out: RunOutput, metric: str, scenario, costs_off: frozenset[str] = frozenset()) -> float:
    """npv and cumulative_profit at the horizon; firm_value (NPV + continuing value; initiatives whose costs are
    frozen do not run on after the horizon either); any other column: its mean over the horizon."""
    if metric == FIRM_VALUE:
        from simulator.analysis.valuation import output_values

        if out.strategy != "baseline" and costs_off:
            spec = next(s for s in scenario.strategies if s.name == out.strategy)
            kept = [n for n in spec.initiatives if n not in costs_off]
            name = "__attribution__"
            scenario = scenario.model_copy(update={"strategies": [
                *scenario.strategies, spec.model_copy(update={"name": name, "initiatives": kept})]})
            out = RunOutput(name, out.replication, out.periods, out.ledger, out.events)
        return output_values(out, scenario)["firm_value"]
    series = out.periods[metric]
    return float(series[-1]) if metric in FINAL_METRICS else float(np.mean(series))


# ---- runs (in this process or a pool) ---------------------------------------------------------------------
_WORKER: CompiledModel | None = None


def _init(data: dict) -> None:
    global _WORKER
    from simulator.scenario.models import Scenario

    _WORKER = compile_scenario(Scenario.model_validate(data))


@dataclass(frozen=True)
class _Spec:
    strategy: str
    seed: int
    months: int
    metric: str


def _baseline(model: CompiledModel, spec: _Spec, rep: int) -> tuple[int, float, Recording]:
    out = run_once(model, "baseline", rep, spec.seed, spec.months, record=True)
    return rep, metric_of(out, spec.metric, model.scenario), out.recording


def _coalitions(model: CompiledModel, spec: _Spec, rep: int, recording: Recording,
                frozen_sets: Sequence[frozenset[str]], tag: int) -> tuple[int, list[float]]:
    values = []
    for elements in frozen_sets:
        out = run_once(model, spec.strategy, rep, spec.seed, spec.months, frozen=Frozen(recording, elements))
        costs_off = frozenset(e[len("costs:"):] for e in elements if e.startswith("costs:"))
        values.append(metric_of(out, spec.metric, model.scenario, costs_off))
    return tag, values


def _in_worker(kind: str, *args):
    assert _WORKER is not None
    return (_baseline if kind == "baseline" else _coalitions)(_WORKER, *args)


_COMPILED: dict[str, CompiledModel] = {}


def _on_cluster(key: str, data: dict, kind: str, *args):
    """A job on an executor's worker (no initializer there): the model compiled once per worker and scenario."""
    model = _COMPILED.get(key)
    if model is None:
        from simulator.scenario.models import Scenario

        _COMPILED.clear()
        model = _COMPILED[key] = compile_scenario(Scenario.model_validate(data))
    return (_baseline if kind == "baseline" else _coalitions)(model, *args)


class _Runner:
    """Runs jobs in this process (workers <= 1), in a process pool, or on one of the batch executors
    (`executor` "processes" or "dask", simulator.batch.executors), counting runs for the progress callback.
    Every job's result depends only on its (seed, replication, coalition), so where it runs changes nothing."""

    def __init__(self, model: CompiledModel, workers: int, total: int, progress: Progress | None,
                 executor: str | None = None, scheduler: str | None = None):
        self.model, self.workers, self.total, self.progress = model, workers, total, progress
        self.kind, self.scheduler = executor, scheduler
        self.done = 0
        self.pool = None
        self.executor = None
        self._submit: Callable | None = None

    def __enter__(self):
        if self.kind in ("processes", "dask") and (self.kind == "dask" or self.workers > 1):
            import hashlib
            import json

            from simulator.batch.executors import make_executor

            self.executor = make_executor(self.kind, self.workers, self.scheduler)
            data = self.model.scenario.as_data()
            key = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
            # the executors' own task queues only take batch chunks: submit to their pool or client directly
            pool = getattr(self.executor, "_pool", None)
            client = getattr(self.executor, "_client", None)
            if client is not None:
                self._submit = lambda *job: client.submit(_on_cluster, key, data, *job, pure=False)
            elif pool is not None:
                self._submit = lambda *job: pool.submit(_on_cluster, key, data, *job)
        elif self.workers > 1 and self.kind != "local":
            from simulator.engine._numba import warm

            warm()  # the engine's kernels, compiled or loaded once before the workers start
            self.pool = ProcessPoolExecutor(self.workers, initializer=_init, initargs=(self.model.scenario.as_data(),))
            pool = self.pool
            self._submit = lambda *job: pool.submit(_in_worker, *job)
        return self

    def __exit__(self, *exc):
        if self.executor is not None:
            self.executor.close()
        if self.pool is not None:
            from simulator.processes import received

            self.pool.shutdown(wait=not received, cancel_futures=True)
        return False

    def map(self, kind: str, jobs: Sequence[tuple], runs_per_job: Sequence[int]):
        if self._submit is None:
            for job, n in zip(jobs, runs_per_job, strict=True):
                result = (_baseline if kind == "baseline" else _coalitions)(self.model, *job)
                self._tick(n)
                yield result
            return
        futures = {self._submit(kind, *job): n for job, n in zip(jobs, runs_per_job, strict=True)}
        if self.executor is not None and hasattr(self.executor, "_client"):
            from distributed import as_completed as finished
        else:
            finished = as_completed
        try:
            for f in finished(futures):
                result = f.result()
                self._tick(futures[f])
                yield result
        except BaseException:
            for f in futures:
                f.cancel()
            raise

    def _tick(self, n: int) -> None:
        self.done += n
        if self.progress:
            self.progress(self.done, self.total)


# ---- Shapley ----------------------------------------------------------------------------------------------
def shapley_exact(v: Mapping[frozenset[int], float], n: int) -> np.ndarray:
    """Exact Shapley values from v over every coalition of range(n)."""
    weights = [math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) for s in range(n)]
    phi = np.zeros(n)
    for i in range(n):
        others = [j for j in range(n) if j != i]
        for size in range(n):
            for subset in itertools.combinations(others, size):
                s = frozenset(subset)
                phi[i] += weights[size] * (v[s | {i}] - v[s])
    return phi


def shapley_sampled(v: Mapping[frozenset[int], float], n: int, permutations: Sequence[Sequence[int]]) -> np.ndarray:
    """Shapley values estimated as the mean marginal contribution over the given orders (each sums exactly)."""
    phi = np.zeros(n)
    for order in permutations:
        s: frozenset[int] = frozenset()
        for i in order:
            t = s | {i}
            phi[i] += v[t] - v[s]
            s = t
    return phi / len(permutations)


@dataclass
class GroupValue:
    name: str
    elements: tuple[str, ...]
    value: float
    low: float
    high: float
    share: float
    per_replication: list[float]
    alone: tuple[float, float, float] = (math.nan, math.nan, math.nan)
    """v(N) − v(N∖{i}): what freezing this group alone (every other group free) removes; mean and 95% CI."""

    @property
    def sign(self) -> str:
        if self.low > 0:
            return "+"
        if self.high < 0:
            return "−"
        return "±" if self.value != 0 else "0"


@dataclass
class Attribution:
    metric: str
    strategy: str
    replications: int
    seed: int
    months: int
    exact: bool
    total: tuple[float, float, float]
    groups: list[GroupValue]
    outside: tuple[float, float, float]  # v(no group): channels the groups leave out (0 for a partition)
    interactions: list[tuple[str, str, float, float, float]]
    runs: int
    seconds: float
    permutations: int = 0
    efficiency_gap: float = 0.0  # max over replications of |Σφ + v(∅) − Δ|
    per_replication_total: list[float] = field(default_factory=list)
    coalition_values: list[dict[frozenset[int], float]] = field(default_factory=list, repr=False)
    """Per replication, v(S) for every coalition S (indices into `groups`) that was run (memoised)."""

    def as_document(self) -> dict:
        return {
            "metric": self.metric, "strategy": self.strategy, "replications": self.replications, "seed": self.seed,
            "months": self.months, "method": "exact" if self.exact else f"sampled ({self.permutations} permutations)",
            "total": dict(zip(("mean", "ci_low", "ci_high"), self.total, strict=True)),
            "groups": [{"group": g.name, "elements": list(g.elements), "shapley": g.value, "ci_low": g.low,
                        "ci_high": g.high, "share": g.share, "sign": g.sign, "per_replication": g.per_replication,
                        "freezing_alone_removes": dict(zip(("mean", "ci_low", "ci_high"), g.alone, strict=True))}
                       for g in self.groups],
            "outside_groups": dict(zip(("mean", "ci_low", "ci_high"), self.outside, strict=True)),
            "interactions": [{"groups": [a, b], "interaction": m, "ci_low": lo, "ci_high": hi}
                             for a, b, m, lo, hi in self.interactions],
            "runs": self.runs, "seconds": self.seconds, "efficiency_gap": self.efficiency_gap,
        }


def attribute(model: CompiledModel, strategy: str, metric: str = "npv",
              groups: Mapping[str, Sequence[str]] | None = None, replications: int | None = None,
              seed: int | None = None, months: int | None = None, workers: int | None = None,
              permutations: int = DEFAULT_PERMUTATIONS, progress: Progress | None = None,
              top_interactions: int = 5, executor: str | None = None, scheduler: str | None = None) -> Attribution:
    """Shapley attribution of metric(strategy) − metric(baseline) over `groups` (default: default_groups).
    `executor`: None (this process or a process pool of `workers`), "local", "processes" or "dask" (the batch
    executors; `scheduler` a running Dask scheduler's address); the values do not depend on it."""
    sc = model.scenario
    if strategy == "baseline" or strategy not in sc.strategy_names():
        raise ValueError(f"unknown strategy '{strategy}'")
    reps = int(replications if replications is not None else sc.run.replications)
    seed = int(seed if seed is not None else sc.run.seed)
    months = int(months if months is not None else sc.metadata.horizon_months)
    _check_metric(model, metric)
    groups = dict(groups) if groups is not None else default_groups(model, strategy)
    names = list(groups)
    n = len(names)
    spec = _Spec(strategy, seed, months, metric)
    exact = n <= EXACT_MAX
    if exact:
        coalitions = [frozenset(c) for size in range(n + 1) for c in itertools.combinations(range(n), size)]
        orders: list[tuple[int, ...]] = []
    else:
        rng = np.random.default_rng(seed)
        orders = [tuple(int(i) for i in rng.permutation(n)) for _ in range(permutations)]
        needed = {frozenset(), frozenset(range(n))} | _pair_coalitions(n)
        for order in orders:
            needed |= {frozenset(order[:k]) for k in range(1, n)}
        coalitions = sorted(needed, key=lambda c: (len(c), sorted(c)))
    frozen_sets = [frozenset(e for i in range(n) if i not in c for e in groups[names[i]]) for c in coalitions]
    per_rep_runs = len(coalitions)
    total_runs = reps * (1 + per_rep_runs)
    if workers is None:
        from simulator.experiment import default_workers

        workers = default_workers(total_runs)
    started = time.perf_counter()
    base_value: dict[int, float] = {}
    values: dict[int, dict[frozenset[int], float]] = {r: {} for r in range(reps)}
    chunk = max(1, min(8, math.ceil(per_rep_runs * reps / max(1, 2 * workers))))
    with _Runner(model, workers, total_runs, progress, executor, scheduler) as runner:
        recordings: dict[int, Recording] = {}
        for rep, value, recording in runner.map("baseline", [(spec, r) for r in range(reps)], [1] * reps):
            base_value[rep], recordings[rep] = value, recording
        jobs, sizes, index = [], [], []
        for r in range(reps):
            for lo in range(0, per_rep_runs, chunk):
                part = list(range(lo, min(per_rep_runs, lo + chunk)))
                jobs.append((spec, r, recordings[r], [frozen_sets[k] for k in part], len(index)))
                sizes.append(len(part))
                index.append((r, part))
        for tag, vals in runner.map("coalitions", jobs, sizes):  # in any order: the tag says which job
            rep, part = index[tag]
            for k, val in zip(part, vals, strict=True):
                values[rep][coalitions[k]] = val - base_value[rep]
    seconds = time.perf_counter() - started
    phis, totals, outside, gaps = [], [], [], []
    for r in range(reps):
        v = values[r]
        phi = shapley_exact(v, n) if exact else shapley_sampled(v, n, orders)
        total = v[frozenset(range(n))]
        phis.append(phi)
        totals.append(total)
        outside.append(v[frozenset()])
        gaps.append(abs(float(phi.sum()) + v[frozenset()] - total))
    phis_arr = np.array(phis).reshape(reps, n)
    total_ci = mean_ci(totals)
    full = frozenset(range(n))
    rows = []
    for i, name in enumerate(names):
        m, lo, hi = mean_ci(phis_arr[:, i])
        share = m / total_ci[0] if total_ci[0] else math.nan
        alone = mean_ci([values[r][full] - values[r][full - {i}] for r in range(reps)])
        rows.append(GroupValue(name, tuple(groups[name]), m, lo, hi, share, phis_arr[:, i].tolist(), alone))
    interactions = []
    if n >= 2:
        for i, j in itertools.combinations(range(n), 2):
            per = [pair_interaction(values[r], i, j) for r in range(reps)]
            scale = 1e-9 * max(1.0, abs(total_ci[0]))
            m, lo, hi = (0.0 if abs(x) < scale else x for x in mean_ci(per))  # additive pairs: rounding only
            interactions.append((names[i], names[j], m, lo, hi))
        interactions.sort(key=lambda x: -abs(x[2]))
        interactions = interactions[:top_interactions]
    return Attribution(metric, strategy, reps, seed, months, exact, total_ci, rows, mean_ci(outside), interactions,
                       total_runs, seconds, 0 if exact else permutations, max(gaps) if gaps else 0.0, totals,
                       [values[r] for r in range(reps)])


def _pair_coalitions(n: int) -> set[frozenset[int]]:
    """What pairwise interactions and single freezes need beyond the permutations' prefixes: every singleton,
    pair and complement of one group (n + n(n−1)/2 + n coalitions, memoised with the rest)."""
    full = frozenset(range(n))
    out = {frozenset((i,)) for i in range(n)} | {full - {i} for i in range(n)}
    return out | {frozenset(p) for p in itertools.combinations(range(n), 2)}


def pair_interaction(v: Mapping[frozenset[int], float], i: int, j: int) -> float:
    """v(i,j) − v(i) − v(j) + v(∅): what switching both on adds beyond switching each on alone."""
    return v[frozenset((i, j))] - v[frozenset((i,))] - v[frozenset((j,))] + v[frozenset()]


def _check_metric(model: CompiledModel, metric: str) -> None:
    from simulator.results import metric_names

    known = set(metric_names(model.scenario)) | {FIRM_VALUE}
    if metric not in known:
        from simulator.errors import closest

        hint = closest(metric, sorted(known))
        raise ValueError(f"unknown metric '{metric}'" + (f" ({hint})" if hint else ""))
