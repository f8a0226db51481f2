"""The engine's numba kernels against their numpy twins: keyed draws, Poisson inverse, numpy's sums, whole runs.

Every kernel must give bit-identical results to the numpy code it replaces (which is also the fallback
without numba), so these compare bytes, not values within a tolerance.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.engine import _numba, model, rng
from simulator.engine.model import run_once
from simulator.engine.rng import KeyedRandom, poisson_inverse
from tests.helpers import compiled, scenario_dict

ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("numba")


def same(x, y) -> bool:
    """Bit for bit (dtype, shape and every byte)."""
    x, y = np.asarray(x), np.asarray(y)
    return x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()


def both(fn, monkeypatch):
    """fn() with the kernels, then with numpy."""
    compiled_result = fn()
    monkeypatch.setattr(_numba, "enabled", False)
    numpy_result = fn()
    monkeypatch.setattr(_numba, "enabled", True)
    return compiled_result, numpy_result


def random_keys(g: np.random.Generator, n: int) -> np.ndarray:
    keys = g.integers(0, 2**63, n, dtype=np.uint64) * np.uint64(2) + g.integers(0, 2, n, dtype=np.uint64)
    keys[: min(n, 4)] = np.array([0, 1, 2**64 - 1, 2**63], dtype=np.uint64)[: min(n, 4)]  # the extremes
    return keys


def test_all_kernels_compile():
    assert _numba.warm()


# ---- keyed uniforms ---------------------------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**64 - 1), replication=st.integers(0, 10**6), purpose=st.integers(0, 9),
       step=st.sampled_from([0, 1, 7, 179, 10**9]), n=st.integers(0, 300), with_index=st.booleans())
def test_uniform_compiled_equals_numpy(seed, replication, purpose, step, n, with_index):
    g = np.random.default_rng(seed % 2**32)
    r = KeyedRandom.for_replication(seed, replication)
    keys = random_keys(g, n)
    index = None
    if with_index:  # indices within a key, huge ones included
        index = g.integers(0, 2**63, n, dtype=np.int64)
        index[: min(n, 3)] = np.array([0, 1, 2**63 - 1])[: min(n, 3)]
    got = r.uniform(purpose, keys, step, index)
    want = r._uniform_numpy(purpose, keys, step, index)
    assert rng._UNIFORM.get() is not None
    assert same(got, want)
    assert ((got > 0) & (got < 1)).all()


def test_uniform_takes_any_layout_and_falls_back_for_other_shapes():
    r = KeyedRandom.for_replication(3, 1)
    keys = np.arange(40, dtype=np.uint64)
    assert same(r.uniform(2, keys[::3], 4), r._uniform_numpy(2, keys[::3], 4))  # strided
    ro = keys.copy()
    ro.flags.writeable = False
    assert same(r.uniform(2, ro, 4, np.arange(40)), r._uniform_numpy(2, ro, 4, np.arange(40)))  # read-only
    assert same(r.uniform(2, keys.astype(np.int64), 4), r._uniform_numpy(2, keys, 4))  # other integer dtype
    grid = keys.reshape(5, 8)
    assert same(r.uniform(2, grid, 4), r._uniform_numpy(2, grid, 4))  # 2-d: the numpy path
    assert same(r.uniform(2, keys, 4, np.uint64(3)), r._uniform_numpy(2, keys, 4, np.uint64(3)))  # broadcast index


def test_exponential_and_normal_follow_the_uniforms(monkeypatch):
    r = KeyedRandom.for_replication(11, 2)
    keys = random_keys(np.random.default_rng(0), 500)
    for draw in (r.exponential, r.normal):
        a, b = both(lambda draw=draw: draw(5, keys, 9, np.arange(500)), monkeypatch)
        assert same(a, b)


def test_step_bases_are_the_bases():
    for seed in (0, 1, 2**63 + 5):
        r = KeyedRandom.for_replication(seed, 3)
        for step in (0, 1, 180, 2**40):
            bases = r.step_bases(step)
            assert [int(bases[p]) for p in range(10)] == [int(r._base(p, step)) for p in range(10)]


def _bases_kernel(roots, step, out):
    for p in range(roots.shape[0]):
        out[p] = _step_base(roots[p], step)  # noqa: F821 (bound by kernel_of)


def test_kernels_mix_the_same_step_bases():
    kernel = kernel_of(_bases_kernel, "void(uint64[::1], int64, uint64[::1])", (rng._step_base,))
    out = np.empty(10, dtype=np.uint64)
    for seed in (0, 7, 2**64 - 1):
        r = KeyedRandom.for_replication(seed, 2)
        for step in (0, 1, 155, 2**40):
            kernel(r.purpose_roots(), step, out)
            assert same(out, r.step_bases(step))


# ---- Poisson inverse --------------------------------------------------------------------------------------
MEANS = [0.0, -1.0, 1e-300, 1e-12, 1e-3, 0.3, 0.5, 1.0, 2.5, 7.0, 29.9, 30.0, 30.000001, 31.0, 100.0, 1e4]


def poisson_cases(g: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    u = g.random(n)
    u[: n // 10] = 1.0 - g.random(n // 10) * 2.0**-40  # the far tail: long walks, the 401 cap
    u[n // 10: n // 5] = g.random(n // 10) * 1e-12  # the near end
    g.shuffle(u)
    listed = np.asarray(g.choice(MEANS, n), dtype=np.float64)  # 0, negative, tiny, ~30, > 30 (scipy's branch)
    means = np.where(g.random(n) < 0.5, g.random(n) * 40.0, listed)  # and means all over (0, 40)
    return u, means


@pytest.mark.parametrize("seed", range(6))
def test_poisson_inverse_compiled_equals_numpy(seed):
    g = np.random.default_rng(seed)
    u, means = poisson_cases(g, 3000)
    got = poisson_inverse(u, means)
    want = rng._poisson_inverse_numpy(u, means, np.zeros(u.shape, dtype=np.int64))
    assert rng._POISSON.get() is not None
    assert same(got, want)


def test_poisson_inverse_edge_cases():
    u = np.array([0.5, 1.0 - 2.0**-53, 2.0**-60, 0.999999, 0.1])
    for mean in MEANS:
        m = np.full(u.size, mean)
        assert same(poisson_inverse(u, m), rng._poisson_inverse_numpy(u, m, np.zeros(u.size, dtype=np.int64)))
    assert same(poisson_inverse(u, 0.7), rng._poisson_inverse_numpy(u, np.full(5, 0.7), np.zeros(5, np.int64)))
    assert poisson_inverse(np.zeros(0), np.zeros(0)).shape == (0,)
    top = np.full(400, 1.0 - 2.0**-53)  # u closer to 1 than the CDF gets in floating point for some means
    means = np.linspace(0.01, 30.0, 400)
    want = rng._poisson_inverse_numpy(top, means, np.zeros(400, dtype=np.int64))
    assert same(poisson_inverse(top, means), want)
    assert (want == 401).any()  # the walk's cap


@pytest.mark.parametrize("seed", range(4))
def test_keyed_poisson_compiled_equals_numpy(seed, monkeypatch):
    g = np.random.default_rng(100 + seed)
    keys = random_keys(g, 4000)
    _, means = poisson_cases(g, 4000)
    r = KeyedRandom.for_replication(seed, 7)
    a, b = both(lambda: r.poisson(rng.PURCHASES, keys, means, 12), monkeypatch)
    assert same(a, b)
    a, b = both(lambda: r.poisson(rng.CONTACTS, keys, 0.4, 3), monkeypatch)  # a scalar mean
    assert same(a, b)


# ---- numpy's sum, the clip and the stable sort, as the kernels do them ------------------------------------
def kernel_of(source_fn, signature: str, helpers: tuple) -> object:
    """A test kernel calling helpers by name (compiled as the engine compiles its kernels)."""
    scope = {**vars(_numba), **vars(rng), **vars(model), "np": np}
    fn = types.FunctionType(source_fn.__code__, scope, source_fn.__name__)
    return _numba.compile_kernel(fn, signature, helpers)


def _sum_kernel(a, n):
    return pairwise_sum(a, n)  # noqa: F821 (bound by kernel_of)


def test_pairwise_sum_is_numpys_sum():
    kernel = kernel_of(_sum_kernel, "float64(float64[::1], int64)", _numba.PAIRWISE)
    g = np.random.default_rng(5)
    sizes = [*range(0, 300), 1000, 1024, 1031, 4096, 8191, 8192, 8193, 65536, 100_003, 1_000_001]
    for n in sizes:
        a = g.standard_normal(n) * 10.0 ** g.integers(-8, 9, n)  # mixed magnitudes: order matters
        assert same(kernel(a, n), a.sum()), n
        assert same(kernel(a, n // 2), a[: n // 2].sum()), n
    assert same(kernel(np.array([-0.0, -0.0]), 2), np.array([-0.0, -0.0]).sum())


def stream_pairwise_sum(a, n):
    """a[:n] summed term by term in pairwise_next's blocks, as _purchases_kernel sums its terms."""
    stack = pairwise_stack(n)  # noqa: F821 (bound by kernel_of)
    sp = 1
    lanes = np.empty(8)
    partial = np.empty(128)
    depth = 0
    while n > 0:
        sp, lo, m, adds = pairwise_next(stack, sp)  # noqa: F821 (bound by kernel_of)
        for _ in range(adds):
            partial[depth - 2] = partial[depth - 2] + partial[depth - 1]
            depth -= 1
        if m == 0:
            break
        stop = lo + m
        one_by_one = lo
        t = -0.0
        if m >= 8:
            one_by_one = stop - m % 8
            for j in range(8):
                lanes[j] = a[lo + j]
            for g in range(lo + 8, one_by_one, 8):
                for j in range(8):
                    lanes[j] += a[g + j]
            t = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
        for i in range(one_by_one, stop):
            t += a[i]
        partial[depth] = t
        depth += 1
    return 0.0 + partial[0] if n > 0 else 0.0


def test_a_sum_taken_term_by_term_in_pairwise_next_blocks_is_numpys_sum():
    """The walk _purchases_kernel sums its terms by (it never writes them out): numpy's sum, bit for bit."""
    kernel = kernel_of(stream_pairwise_sum, "float64(float64[::1], int64)",
                       (_numba.pairwise_next, _numba.pairwise_stack))
    g = np.random.default_rng(6)
    sizes = [*range(0, 300), 1000, 1024, 1031, 4096, 8191, 8192, 8193, 65536, 100_003, 1_000_001]
    for n in sizes:
        a = g.standard_normal(n) * 10.0 ** g.integers(-8, 9, n)  # mixed magnitudes: order matters
        assert same(kernel(a, n), a.sum()), n
    assert same(kernel(np.array([-0.0, -0.0]), 2), np.array([-0.0, -0.0]).sum())
    assert same(kernel(np.zeros(0), 0), np.zeros(0).sum())


def _clip_kernel(x, lo, hi, out):
    for i in range(x.shape[0]):
        out[i] = _clip(x[i], lo, hi)  # noqa: F821 (bound by kernel_of)


def test_clip_is_numpys_clip():
    from simulator.engine import customers

    kernel = kernel_of(_clip_kernel, "void(float64[::1], float64, float64, float64[::1])", (customers._clip,))
    x = np.array([-0.0, 0.0, -1e-300, 5.0, 10.0, 10.0000001, np.inf, -np.inf, np.nan, 3.3, -7.0])
    out = np.empty_like(x)
    for lo, hi in ((0.0, 10.0), (0.0, 1.0)):
        kernel(x, lo, hi, out)
        assert same(out, np.clip(x, lo, hi))


def _sort_kernel(values, order, spare, n):
    _merge_sort(values, order, spare, n)  # noqa: F821 (bound by kernel_of)


def test_merge_sort_is_a_stable_argsort():
    kernel = kernel_of(_sort_kernel, "void(float64[::1], int64[::1], uint64[::1], int64)", (model._merge_sort,))
    g = np.random.default_rng(9)
    for n in (0, 1, 2, 3, 7, 64, 65, 1000, 4097):
        values = np.floor(g.random(n) * max(1, n // 4))  # many ties
        order = np.empty(n, dtype=np.int64)
        kernel(values, order, np.empty(n, dtype=np.uint64), n)
        assert same(order, np.argsort(values, kind="stable"))


def draw_reference(r: KeyedRandom, step: int, who_all, seg_all, keys, start, exposure, counts):
    """The numpy step's contact draws (model._serve_and_trade, numpy path)."""
    who = np.repeat(who_all, counts)
    kth = rng.within_group_index(counts)
    ckeys = np.repeat(keys, counts)
    times = np.repeat(start, counts) + r.uniform(rng.CONTACT_TIME, ckeys, step, kth) * np.repeat(exposure, counts)
    order = np.argsort(times, kind="stable")
    who, times, ckeys, kth = who[order], times[order], ckeys[order], kth[order]
    return (who, np.repeat(seg_all, counts)[order], times, r._uniform_numpy(rng.HANDLING, ckeys, step, kth),
            r._uniform_numpy(rng.PATIENCE, ckeys, step, kth), r._uniform_numpy(rng.EXPERIENCE, ckeys, step, kth))


@pytest.mark.parametrize("bunched", [False, True])
def test_contact_draws_match_the_numpy_step(bunched):
    """The draw kernel (bucket sort, or merge sort when times bunch up) against repeat + argsort(stable)."""
    g = np.random.default_rng(21 if bunched else 20)
    n = 2000
    t, dt = 35.0, 7.0
    who_all = np.sort(g.choice(10 * n, n, replace=False)).astype(np.int64)
    seg_all = g.integers(0, 3, n).astype(np.int32)
    keys = random_keys(g, n)
    start = np.where(g.random(n) < 0.9, t, t + g.random(n) * dt)
    exposure = (t + dt - start) * np.where(g.random(n) < 0.1, g.random(n), 1.0)
    if bunched:  # most contacts at the same instant: the buckets overflow
        exposure[g.random(n) < 0.7] = 0.0
    counts = g.poisson(0.6, n).astype(np.int64)
    counts[:3] = [7, 0, 12]
    total = int(counts.sum())
    r = KeyedRandom.for_replication(77, 4)
    i64 = lambda k: np.empty(k, dtype=np.int64)  # noqa: E731
    u64 = lambda k: np.empty(k, dtype=np.uint64)  # noqa: E731
    f64 = lambda k: np.empty(k)  # noqa: E731
    who, cseg, times, uh, up, ue = i64(total), np.empty(total, dtype=np.int32), f64(total), f64(total), f64(total), f64(
        total)
    disposition = g.normal(size=10 * n)  # per customer slot
    queue_disposition = f64(total)
    order, bucket = i64(total), i64(total + 1)
    carried = u64(4 * (total + 1))
    largest = model._DRAW_CONTACTS.get()(
        who_all, seg_all, keys, start, exposure, counts, r.purpose_roots(), 5, t, dt, i64(total + 1), carried,
        carried.view(np.float64), f64(total), order, bucket, u64(total), u64(total), who, cseg, times, uh, up, ue,
        disposition, queue_disposition)
    assert largest == counts.max()
    want = draw_reference(r, 5, who_all, seg_all, keys, start, exposure, counts)
    for got, expected in zip((who, cseg, times, uh, up, ue), want, strict=True):
        assert same(got, expected)
    assert same(queue_disposition, disposition[want[0]])  # each contact carries its customer's disposition
    # order: each queue slot's contact in customer order (repeat order); bucket: its inverse
    assert same(order, np.argsort(np.repeat(start, counts) + r.uniform(rng.CONTACT_TIME, np.repeat(keys, counts), 5,
                                                                      rng.within_group_index(counts))
                                  * np.repeat(exposure, counts), kind="stable"))
    assert same(bucket[:total][order], np.arange(total))


def test_arrival_clock_hands_back_when_its_gaps_run_out():
    """A segment whose first batch of gaps ends before the step's end: -1 and the clocks untouched."""
    kernel = _numba_kernel("ARRIVAL_CLOCK")
    logs = np.full(10, -1e-9)  # gaps of 1e-9 days: ten of them never reach the end
    used, budgets, ordinals = np.zeros(1), np.array([0.5]), np.array([4], dtype=np.int64)
    state = (used.copy(), budgets.copy(), ordinals.copy())
    out = (np.empty(20, dtype=np.int32), np.empty(20, dtype=np.int64), np.empty(20))
    assert kernel(logs, np.array([1.0]), used, budgets, ordinals, np.array([10]), 7.0, 0.0, *out) == -1
    assert all(same(a, b) for a, b in zip((used, budgets, ordinals), state, strict=True))


def _numba_kernel(name: str):
    from simulator.engine import customers

    return getattr(customers, name).get()


# ---- whole runs -------------------------------------------------------------------------------------------
def run_both(model_, strategy: str, replication: int, seed: int, months: int, monkeypatch):
    return both(lambda: run_once(model_, strategy, replication, seed, months), monkeypatch)


def assert_same_run(a, b) -> None:
    assert set(a.periods) == set(b.periods) and set(a.ledger) == set(b.ledger)
    for name in a.periods:
        assert same(a.periods[name], b.periods[name]), name
    for name in a.ledger:
        assert same(a.ledger[name].astype(str) if a.ledger[name].dtype == object else a.ledger[name],
                    b.ledger[name].astype(str) if b.ledger[name].dtype == object else b.ledger[name]), name
    assert a.events == b.events


SHIPPED = compiled(scenario_dict("service_profit_chain.yaml"))


@pytest.mark.parametrize("strategy", ["baseline", "invest_in_people", "headcount_cuts", "reprice_unprofitable",
                                      "loyalty_programme", "crm_for_acquisition"])
def test_shipped_scenario_runs_identically_compiled_and_in_numpy(strategy, monkeypatch):
    a, b = run_both(SHIPPED, strategy, 1, 5, 8, monkeypatch)
    assert model._step_kernels() is not None
    assert_same_run(a, b)


def busy_scenario() -> dict:
    """Every activity driver, segment-specific activities, a mean above 30 (scipy's branch), no patience,
    a queue that carries over, arrivals heavy enough to need several gaps per step."""
    data = copy.deepcopy(scenario_dict("service_profit_chain.yaml"))
    data["segments"][1]["contacts_per_month"] = 160.0  # ~37 contacts a week each: scipy's inverse
    data["segments"][1]["initial_customers"] = 40
    data["segments"][0]["patience_minutes"] = None
    data["segments"][2]["acquisition_per_month"] = 400.0
    data["employees"]["headcount"] = 4
    for node in data["network"]["nodes"]:
        if node["name"] == "headcount_target":
            node["reference"] = 4
    data["activities"] = [
        {"name": "per_contact", "minutes": 2, "driver": "contact"},
        {"name": "upkeep", "minutes": 3, "driver": "customer_month"},
        {"name": "per_purchase", "minutes": 0.5, "driver": "purchase", "segments": ["small_business"]},
        {"name": "reviews", "minutes": 20, "driver": "customer_month", "segments": ["small_business"]},
        {"name": "welcome", "minutes": 45, "driver": "new_customer", "segments": ["mass_retail"]},
        {"name": "reports", "minutes": 600, "driver": "month"},
    ]
    return data


@pytest.mark.parametrize("strategy,seed", [("baseline", 1), ("reprice_unprofitable", 2), ("headcount_cuts", 3)])
def test_a_busy_scenario_runs_identically_compiled_and_in_numpy(strategy, seed, monkeypatch):
    a, b = run_both(compiled(busy_scenario()), strategy, 0, seed, 4, monkeypatch)
    assert a.periods["contacts_abandoned"].sum() > 0 and a.periods["contacts_waiting"].max() > 0
    assert_same_run(a, b)


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**32), replication=st.integers(0, 50), strategy=st.sampled_from(["baseline", "training",
                                                                                             "cuts"]))
def test_small_scenario_runs_identically_compiled_and_in_numpy(seed, replication, strategy):
    small = compiled(scenario_dict("engine_small.yaml"))
    a = run_once(small, strategy, replication, seed, 3)
    _numba.enabled = False
    try:
        b = run_once(small, strategy, replication, seed, 3)
    finally:
        _numba.enabled = True
    assert_same_run(a, b)


FALLBACK = """
import pickle, sys
sys.modules["numba"] = None  # numba cannot be imported
from simulator.engine import _numba
from simulator.engine.model import run_once
from tests.helpers import compiled, scenario_dict
assert _numba.warm() is False
out = run_once(compiled(scenario_dict("service_profit_chain.yaml")), "invest_in_people", 1, 5, 5)
pickle.dump((out.periods, out.ledger), open(sys.argv[1], "wb"))
"""


def test_without_numba_the_numpy_step_gives_identical_results(tmp_path):
    import pickle

    path = tmp_path / "fallback.pkl"
    subprocess.run([sys.executable, "-c", FALLBACK, str(path)], cwd=ROOT, check=True)
    periods, ledger = pickle.load(open(path, "rb"))
    here = run_once(SHIPPED, "invest_in_people", 1, 5, 5)
    assert all(same(here.periods[k], periods[k]) for k in periods)
    assert all(same(here.ledger[k], ledger[k]) if ledger[k].dtype != object else
               here.ledger[k].tolist() == ledger[k].tolist() for k in ledger)


def test_a_new_process_loads_the_cached_kernels():
    """After warm() here, another process (a worker) loads every kernel's machine code instead of compiling."""
    assert _numba.warm()
    code = ("from simulator.engine import _numba; assert _numba.warm(); "
            "print(sum(sum(k.get().stats.cache_hits.values()) for k in _numba.KERNELS), "
            "sum(sum(k.get().stats.cache_misses.values()) for k in _numba.KERNELS), len(_numba.KERNELS))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True,
                         env={**os.environ})
    hits, misses, n = out.stdout.split()
    assert hits == n and misses == "0"
