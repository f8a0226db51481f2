"""Engine benchmarks, reported as ratios against baselines measured in the same run.

    python bench/bench_engine.py            # full: 200,000 customers on M/M/c (~1 minute)
    python bench/bench_engine.py --quick    # 20,000 customers on M/M/c

1. Service layer on M/M/c (lambda = 9, mu = 1, c = 10, FCFS): the engine's FCFSServers compiled (numba
   kernel) and as its pure-Python loop, hand-written SimPy (one generator per customer) and Ciw 3.2.7,
   timed round-robin, with Wq and P(wait) next to Erlang C, and the kernel's compile / cache-load time
   apart. Target (DESIGN "Performance"): compiled layer >= 150x hand-written SimPy, same sample path.
2. One run of the shipped scenario: customer-periods and contacts per second.
3. Linear scaling: the shipped scenario at 1x, 4x, 16x customers with staff scaled alike (same load
   per server); seconds per contact at each scale and the 16x / 1x ratio (linear means ~1).

Not part of the test suite: wall times on a shared machine are noisy, so only the ratios matter.
"""

from __future__ import annotations

import argparse
import copy
import gc
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ciw
import numpy as np
import simpy
import yaml

from simulator import compile_file
from simulator.engine import service
from simulator.engine.model import run_once
from simulator.engine.service import FCFSServers, erlang_c, warm
from simulator.graph.compiler import compile_scenario
from simulator.scenario.loader import load_data

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "service_profit_chain.yaml"

LAM, MU, C = 9.0, 1.0, 10
SEED = 20261123
REPS = 3
TARGET_RATIO = 150.0  # DESIGN "Performance": compiled service layer >= 150x hand-written SimPy
FAST_REPEATS = 10  # calls of the compiled layer per round (each takes milliseconds)
PY_REPEATS = 3
BATCHES = 20
T_975_19DF = 2.093  # Student t, 97.5% quantile, 19 degrees of freedom (20 batch means)
SCALES = (1, 4, 16)
SCALING_MONTHS = 12
SCALING_ROUNDS = 5
MIN_SECONDS = 2.0  # scenario runs: repeat short runs (beyond best of 3) until this much time is spent

# Network nodes measured in absolute numbers of employees or customers: when the scenario is scaled
# by k, their reference/initial/min/max scale by k and links into or out of them are rescaled.
STAFF_NODES = {"headcount_target", "headcount", "productive_fte", "employee_quits"}
CUSTOMER_NODES = {"active_customers", "customers_won", "customers_lost", "contacts_served"}


# ---- timing -------------------------------------------------------------------------------------------
def timed(fn: Callable[[], Any], reps: int = REPS, min_seconds: float = 0.0) -> tuple[float, float, Any, int]:
    """(best, median, last result, number of calls) of wall-clock timings of fn(): at least `reps` calls, and more (up to 25)
    until `min_seconds` have been spent, so that short runs get enough samples for a stable best."""
    times: list[float] = []
    result = None
    while len(times) < reps or (sum(times) < min_seconds and len(times) < 25):
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times), result, len(times)


def interleaved(fns: dict[str, Callable[[], Any]], rounds: int) -> dict[str, tuple[float, float, Any]]:
    """name -> (best, median, last result), timing the functions round-robin so that a noisy spell on the
    shared machine hits every contender alike instead of one of them."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    results: dict[str, Any] = {}
    for _ in range(rounds):
        for name, fn in fns.items():
            results[name] = None  # free the previous result before timing the next call
            gc.collect()
            t0 = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - t0)
    return {name: (min(t), statistics.median(t), results[name]) for name, t in times.items()}


def batch_ci(x: np.ndarray, batches: int = BATCHES) -> tuple[float, float]:
    """Mean and 95% half-width by batch means (the waits of successive customers are correlated)."""
    m = len(x) // batches
    means = x[: m * batches].reshape(batches, m).mean(axis=1)
    return float(x.mean()), float(T_975_19DF * means.std(ddof=1) / math.sqrt(batches))


# ---- 1. service layer on M/M/c ----------------------------------------------------------------------------
def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Interarrival and service times; the same seed gives every implementation that draws them the same path."""
    rng = np.random.default_rng(SEED)
    return rng.exponential(1.0 / LAM, n), rng.exponential(1.0 / MU, n)


def engine_mmc(n: int, compiled: bool) -> tuple[float, float, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The engine's service layer (numba kernel or pure-Python loop); returns (seconds spent generating the
    arrays, seconds in serve(), (waits, exits, served)). serve() includes its own array prep (dtype and
    contiguity checks, allocating the outputs) around the kernel call."""
    t0 = time.perf_counter()
    inter, handles = draw(n)
    arrivals = np.cumsum(inter)
    patiences = np.full(n, np.inf)
    t1 = time.perf_counter()
    exits, served = FCFSServers(C, compiled=compiled).serve(arrivals, handles, patiences)
    t2 = time.perf_counter()
    assert served.all()
    return t1 - t0, t2 - t1, (exits - arrivals, exits, served)


def simpy_mmc(n: int) -> np.ndarray:
    """Hand-written SimPy: a source process and one generator process per customer."""
    inter_a, handles_a = draw(n)
    inter, handles = inter_a.tolist(), handles_a.tolist()
    env = simpy.Environment()
    res = simpy.Resource(env, capacity=C)
    waits = [0.0] * n

    def customer(i: int, service: float):
        arrived = env.now
        with res.request() as req:
            yield req
            waits[i] = env.now - arrived
            yield env.timeout(service)

    def source():
        for i in range(n):
            yield env.timeout(inter[i])
            env.process(customer(i, handles[i]))

    env.process(source())
    env.run()
    return np.asarray(waits)


def ciw_mmc(n: int) -> ciw.Simulation:
    ciw.seed(SEED)
    network = ciw.create_network(arrival_distributions=[ciw.dists.Exponential(LAM)],
                                 service_distributions=[ciw.dists.Exponential(MU)], number_of_servers=[C])
    sim = ciw.Simulation(network)
    sim.simulate_until_max_customers(n, method="Finish")
    return sim


def ciw_waits(sim: ciw.Simulation) -> np.ndarray:
    records = sorted(sim.get_all_records(), key=lambda r: r.arrival_date)
    return np.asarray([r.waiting_time for r in records])


def kernel_first_call() -> dict[str, float]:
    """Cost of the compiled kernel's first use in a fresh process: `import numba`, then warm() with an empty
    cache (compile and write it) and again with the cache filled (load it), in subprocesses with their own
    NUMBA_CACHE_DIR so neither this process nor the package's __pycache__ is involved."""
    code = ("import time; t0 = time.perf_counter(); import numba; t1 = time.perf_counter(); "
            "from simulator.engine import service; t2 = time.perf_counter(); assert service.warm(); "
            "t3 = time.perf_counter(); print(t1 - t0, t3 - t2)")
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for label in ("compile", "load"):
            res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                                 capture_output=True, text=True)
            imp, first = map(float, res.stdout.split())
            out[label] = first
            out["import numba"] = min(out.get("import numba", math.inf), imp)
    return out


def interleaved_repeat(fns: dict[str, Callable[[], Any]], rounds: int,
                       repeats: dict[str, int]) -> dict[str, tuple[float, float, Any, int]]:
    """name -> (best, median, last result, calls): round-robin like `interleaved`, but a fast contender is
    called `repeats[name]` times in a row in each round, so its best and median rest on more samples."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    results: dict[str, Any] = {}
    for _ in range(rounds):
        for name, fn in fns.items():
            for _ in range(repeats.get(name, 1)):
                results[name] = None
                gc.collect()
                t0 = time.perf_counter()
                results[name] = fn()
                times[name].append(time.perf_counter() - t0)
    return {name: (min(t), statistics.median(t), results[name], len(t)) for name, t in times.items()}


def bench_service(n: int) -> dict[str, Any]:
    p_wait, wq = erlang_c(LAM, MU, C)
    print(f"== 1. Service layer: M/M/c, lambda={LAM:g}, mu={MU:g}, c={C}, FCFS, {n:,} customers, {REPS} rounds "
          f"round-robin (compiled {FAST_REPEATS}x per round, Python loop {PY_REPEATS}x, the others once)")
    print(f"   Erlang C: P(wait) = {p_wait:.4f}, Wq = {wq:.4f} (mean service time = 1)")

    numba_imported = "numba" in sys.modules
    t0 = time.perf_counter()
    assert warm(), "numba is not importable: the compiled service layer cannot be benchmarked"
    warm_s = time.perf_counter() - t0
    stats = service._KERNEL.stats  # type: ignore[union-attr]
    how = "loaded from the disk cache" if sum(stats.cache_hits.values()) else "compiled (cache was empty)"
    first = kernel_first_call()
    what = how if numba_imported else "import numba + " + how
    print(f"   kernel first use, not in the timings: this process {warm_s:.3f} s ({what}, {stats.cache_path}); "
          f"a fresh process: import numba {first['import numba']:.3f} s, then compile {first['compile']:.3f} s "
          f"with an empty cache, load {first['load']:.3f} s from the cache")

    gens: dict[str, list[float]] = {"compiled": [], "python": []}
    serves: dict[str, list[float]] = {"compiled": [], "python": []}

    def run_engine(compiled: bool):
        def call():
            gen, serve, out = engine_mmc(n, compiled)
            gens["compiled" if compiled else "python"].append(gen)
            serves["compiled" if compiled else "python"].append(serve)
            return out
        return call

    timings = interleaved_repeat({"compiled": run_engine(True), "python": run_engine(False),
                                  "simpy": lambda: simpy_mmc(n), "ciw": lambda: ciw_mmc(n)}, REPS,
                                 {"compiled": FAST_REPEATS, "python": PY_REPEATS})
    (w_fast, e_fast, s_fast), (w_py, e_py, s_py) = timings["compiled"][2], timings["python"][2]
    w_simpy, w_ciw = timings["simpy"][2], ciw_waits(timings["ciw"][2])
    rows = [("compiled FCFSServers", n, *timings["compiled"][:2], w_fast),
            ("Python loop FCFSServers", n, *timings["python"][:2], w_py),
            ("hand-written SimPy", n, *timings["simpy"][:2], w_simpy),
            ("Ciw " + ciw.__version__, len(w_ciw), *timings["ciw"][:2], w_ciw)]

    simpy_rate = rows[2][1] / rows[2][2]
    print(f"   {'implementation':<25}{'best s':>9}{'median s':>10}{'customers/s':>13}{'vs SimPy':>10}"
          f"{'Wq +- 95% CI':>20}{'P(wait) +- 95% CI':>22}")
    summary = []
    for name, count, b, m, w in rows:
        rate = count / b
        wq_hat, wq_ci = batch_ci(w)
        pw_hat, pw_ci = batch_ci((w > 0).astype(float))
        ok = abs(wq_hat - wq) <= wq_ci and abs(pw_hat - p_wait) <= pw_ci
        print(f"   {name:<25}{b:>9.4f}{m:>10.4f}{rate:>13,.0f}{rate / simpy_rate:>9.2f}x"
              f"{wq_hat:>11.4f} +- {wq_ci:.4f}{pw_hat:>13.4f} +- {pw_ci:.4f}"
              f"  {'Erlang C in CI' if ok else 'Erlang C outside CI'}")
        summary.append((name, rate, rate / simpy_rate))
    for key, name in (("compiled", rows[0][0]), ("python", rows[1][0])):
        gen, srv = min(gens[key]), min(serves[key])
        print(f"   {name}: best of its parts: generating the numpy arrays {gen:.4f} s, serve() {srv:.4f} s "
              f"(median {statistics.median(serves[key]):.4f} s) -> {n / srv:,.0f} customers/s in serve() alone "
              f"({n / srv / simpy_rate:.0f}x SimPy)")
    identical = (e_fast.tobytes() == e_py.tobytes() and s_fast.tobytes() == s_py.tobytes())
    print(f"   compiled vs Python loop on the same draws: exits and served {'bit-identical' if identical else 'DIFFERENT'}")
    diffs = {}
    for name, w in (("compiled", w_fast), ("Python loop", w_py)):
        diffs[name] = diff = float(np.max(np.abs(w - w_simpy)))
        path = "same sample path" if diff == 0.0 else "DIFFERENT sample paths: not the same FCFS queue"
        print(f"   {name} vs SimPy on the same draws: max |wait difference| = {diff:.1e} ({path})")
    ratio = summary[0][2]
    verdict = "PASS" if ratio >= TARGET_RATIO and identical and diffs["compiled"] == 0.0 else "FAIL"
    print(f"   target compiled service layer >= {TARGET_RATIO:g}x hand-written SimPy, same waits as SimPy and "
          f"bit-identical to the Python loop: {ratio:.1f}x -> {verdict}")
    return {"rows": summary, "ratio": ratio, "verdict": verdict, "warm": warm_s, "first": first}


# ---- 2. the shipped scenario ------------------------------------------------------------------------------
def bench_scenario() -> dict[str, float]:
    t0 = time.perf_counter()
    model = compile_file(SCENARIO)
    compile_s = time.perf_counter() - t0
    best, med, out, runs = timed(lambda: run_once(model, "baseline", 0, 1), min_seconds=MIN_SECONDS)
    p = out.periods
    months = len(p["period"])
    cust_periods = float(p["active_customers"].sum())
    contacts = float(p["contacts_arrived"].sum())
    print(f"\n== 2. Shipped scenario {SCENARIO.name}: baseline, replication 0, {months} months, best of {runs} runs")
    print(f"   compile {compile_s:.3f} s (not in the run time); run best {best:.3f} s, median {med:.3f} s")
    print(f"   {cust_periods:,.0f} customer-periods -> {cust_periods / best:,.0f} customer-periods/s")
    print(f"   {contacts:,.0f} contacts -> {contacts / best:,.0f} contacts/s")
    return {"seconds": best, "cust_periods_per_s": cust_periods / best, "contacts_per_s": contacts / best}


# ---- 3. linear scaling ------------------------------------------------------------------------------------
def _times(value: Any, k: float) -> Any:
    """value x k for a number or an uncertain number ({dist: ..., low, mode, high, mean, sd}: each scaled; a beta
    without bounds gets its implied [0, 1] first)."""
    if isinstance(value, dict):
        out = dict(value)
        if out.get("dist") == "beta":
            out.setdefault("low", 0.0)
            out.setdefault("high", 1.0)
        for key in ("low", "mode", "high", "mean", "sd"):
            if out.get(key) is not None:
                out[key] = out[key] * k
        if k < 0 and out.get("low") is not None and out.get("high") is not None:
            out["low"], out["high"] = out["high"], out["low"]
        return out
    return value * k


def _scale_node(node: dict[str, Any], k: float) -> None:
    for key in ("reference", "initial", "min", "max"):
        if node.get(key) is not None:
            node[key] = _times(node[key], k)


def scale_scenario(data: dict[str, Any], k: float) -> dict[str, Any]:
    """k x customers and k x staff, so the load per server is unchanged (k below 1: counts rounded, at least one
    member of staff)."""
    d = copy.deepcopy(data)
    for seg in d["segments"]:
        seg["initial_customers"] = int(round(int(seg["initial_customers"]) * k))
        seg["acquisition_per_month"] = _times(seg["acquisition_per_month"], k)
    d["employees"]["headcount"] = max(1, int(round(int(d["employees"]["headcount"]) * k)))
    network = d.get("network", {})
    nodes = network.get("nodes", [])
    extensive = {n["name"] for n in nodes
                 if n["name"] in STAFF_NODES | CUSTOMER_NODES or str(n.get("unit", "")).strip() == "FTE"}
    for node in nodes:
        if node["name"] in extensive:
            _scale_node(node, k)
    for link in network.get("links", []):
        form = link.get("form", "linear")
        if form == "elasticity":
            continue  # dimensionless; the target's reference already carries the scale
        src, dst = link["from"] in extensive, link["to"] in extensive
        if form == "table":
            link["points"] = [[x * (k if src else 1), y * (k if dst else 1)] for x, y in link["points"]]
            continue
        effect = link.get("effect", 1.0)
        if form == "linear":
            link["effect"] = _times(effect, (k if dst else 1) / (k if src else 1))
        elif form == "saturating":
            link["effect"] = _times(effect, k if dst else 1)
            if src and link.get("scale") is not None:
                link["scale"] = _times(link["scale"], k)
    for ini in d.get("initiatives", []):  # absolute changes to a scaled lever
        for eff in ini.get("effects", []):
            if eff.get("lever") in extensive:
                for op in ("set", "add"):
                    if eff.get(op) is not None:
                        eff[op] = _times(eff[op], k)
    return d


def bench_scaling() -> dict[str, Any]:
    data = yaml.safe_load(SCENARIO.read_text())
    print(f"\n== 3. Linear scaling: customers and staff x{', x'.join(map(str, SCALES))}, "
          f"{SCALING_MONTHS} months, baseline, best of {SCALING_ROUNDS} (round-robin)")
    print(f"   {'scale':>5}{'customers':>11}{'headcount':>10}{'servers':>8}{'contacts':>11}{'per server':>11}"
          f"{'best s':>8}{'us/contact':>11}{'util':>7}{'wait min':>9}{'abandon':>8}")
    models = {k: compile_scenario(load_data(scale_scenario(data, k), f"{SCENARIO.name} x{k}")) for k in SCALES}
    timings = interleaved({str(k): (lambda m=m: run_once(m, "baseline", 0, 1, months=SCALING_MONTHS))
                           for k, m in models.items()}, SCALING_ROUNDS)
    results = []
    for k, model in models.items():
        emp = model.scenario.employees
        best, _, out = timings[str(k)]
        p = out.periods
        contacts = float(p["contacts_arrived"].sum())
        customers = sum(s.initial_customers for s in model.scenario.segments)
        servers = int(round(emp.headcount * emp.service_share))
        per_contact = best / contacts
        results.append((k, per_contact))
        abandon = p["contacts_abandoned"].sum() / contacts
        print(f"   {k:>4}x{customers:>11,}{emp.headcount:>10}{servers:>8}{contacts:>11,.0f}{contacts / servers:>11,.0f}"
              f"{best:>8.3f}{per_contact * 1e6:>11.2f}{p['utilisation'].mean():>7.3f}"
              f"{p['mean_wait_minutes'].mean():>9.2f}{abandon:>8.1%}")
    base = results[0][1]
    ratios = {k: pc / base for k, pc in results}
    print("   cost per contact relative to 1x: " + ", ".join(f"{k}x: {r:.2f}" for k, r in ratios.items())
          + "  (linear = 1; below 1 = fixed per-step overhead amortised)")
    return {"per_contact": dict(results), "ratios": ratios}


def _numba_version() -> str:
    try:
        import numba
    except ImportError:
        return "missing"
    return numba.__version__


# ---- main -------------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 customers on M/M/c instead of 200,000")
    args = parser.parse_args()
    n = 20_000 if args.quick else 200_000
    print(f"bench_engine ({'quick' if args.quick else 'full'}): Python {platform.python_version()}, "
          f"numpy {np.__version__}, numba {_numba_version()}, simpy {simpy.__version__}, ciw {ciw.__version__}, "
          f"{platform.machine()}, seed {SEED}")
    t0 = time.perf_counter()
    svc = bench_service(n)
    scen = bench_scenario()
    scal = bench_scaling()
    print(f"\n== Summary (ratios are within this run; total {time.perf_counter() - t0:.0f} s)")
    print(f"   {'measure':<46}{'value':>16}{'ratio':>10}")
    for name, rate, ratio in svc["rows"]:
        print(f"   {'M/M/c customers/s, ' + name:<46}{rate:>16,.0f}{ratio:>9.2f}x")
    print(f"   {f'  compiled target >= {TARGET_RATIO:g}x SimPy':<46}{'':>16}{svc['verdict']:>10}")
    print(f"   {'shipped scenario customer-periods/s':<46}{scen['cust_periods_per_s']:>16,.0f}")
    print(f"   {'shipped scenario contacts/s':<46}{scen['contacts_per_s']:>16,.0f}")
    for k, pc in scal["per_contact"].items():
        print(f"   {f'scaling {k}x: us per contact (ratio to 1x)':<46}{pc * 1e6:>16.2f}{scal['ratios'][k]:>9.2f}x")


if __name__ == "__main__":
    main()
