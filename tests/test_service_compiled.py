"""The compiled service layer (numba kernel) against the pure-Python heapq loop: bit-identical results."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.engine import service
from simulator.engine.service import FCFSServers

ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("numba")


def same(x: np.ndarray, y: np.ndarray) -> bool:
    """Bit for bit (dtype, shape and every byte)."""
    return x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()


def workload(rng: np.random.Generator, n: int, t0: float, rate: float, patience: str,
             ties: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    arrivals = t0 + np.cumsum(rng.exponential(1.0 / rate, n))
    if ties:  # many contacts arriving at the very same instant
        arrivals = np.floor(arrivals * 4.0) / 4.0
    handles = rng.exponential(1.0, n)
    if patience == "inf":
        patiences = np.full(n, np.inf)
    elif patience == "mixed":  # finite, zero and infinite patience in one batch
        patiences = rng.exponential(0.5, n)
        patiences[rng.random(n) < 0.2] = 0.0
        patiences[rng.random(n) < 0.2] = np.inf
    else:
        patiences = rng.exponential(float(patience), n)
    return arrivals, handles, patiences


def run_both(calls: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]], start_servers: int) -> int:
    """Feed the same calls (server count set before each) to a compiled and a Python queue; compare everything.
    Returns the number of contacts that abandoned."""
    lost = 0
    fast, slow = FCFSServers(start_servers, compiled=True), FCFSServers(start_servers, compiled=False)
    for servers, arrivals, handles, patiences in calls:
        now = float(arrivals[0]) if len(arrivals) else 0.0
        fast.set_servers(servers, now)
        slow.set_servers(servers, now)
        e1, s1 = fast.serve(arrivals, handles, patiences)
        e2, s2 = slow.serve(arrivals, handles, patiences)
        assert same(e1, e2)
        assert same(s1, s2)
        assert same(fast._free, slow._free)  # the heap, layout included: the queue carried to the next call
        assert fast.servers == slow.servers == servers
        lost += int((~s1).sum())
    return lost


@pytest.mark.parametrize("patience", ["inf", "0.3", "2.0", "mixed"])
@pytest.mark.parametrize("ties", [False, True])
def test_compiled_matches_python_over_calls(patience, ties):
    rng = np.random.default_rng([len(patience), ord(patience[-1]), int(ties)])
    calls = []
    t = 0.0
    for servers in [10, 10, 3, 12, 0, 7, 1, 0, 0, 25, 4]:  # capacity changes while the queue carries over
        n = int(rng.integers(0, 3000))
        arrivals, handles, patiences = workload(rng, n, t, rate=9.0 if servers else 2.0, patience=patience, ties=ties)
        if n:
            t = float(arrivals[-1])
        calls.append((servers, arrivals, handles, patiences))
    lost = run_both(calls, start_servers=10)
    assert lost > 0  # zero servers lose everyone; finite patience abandons too


def test_overload_with_abandonment_and_big_heap():
    rng = np.random.default_rng(7)
    calls = [(c, *workload(rng, 50_000, 100.0 * k, rate=3.0 * c, patience="0.5", ties=k % 2 == 1))
             for k, c in enumerate([64, 200, 2, 33])]
    assert run_both(calls, start_servers=64) > 1000


def test_zero_servers_loses_everyone_after_their_patience():
    arrivals = np.array([0.0, 1.0, 1.0, 2.5])
    patiences = np.array([0.5, np.inf, 0.0, 2.0])
    for compiled in (True, False):
        exits, served = FCFSServers(0, compiled=compiled).serve(arrivals, np.ones(4), patiences)
        assert exits.tolist() == [0.5, 1.0, 1.0, 4.5]
        assert not served.any()


def test_ties_and_empty_calls():
    arrivals = np.zeros(6)
    handles = np.array([1.0, 1.0, 2.0, 1.0, 1.0, 1.0])
    patiences = np.array([np.inf, np.inf, np.inf, 0.0, 1.0, 1.5])
    expected = None
    for compiled in (True, False):
        q = FCFSServers(2, compiled=compiled)
        e, s = q.serve(np.empty(0), np.empty(0), np.empty(0))
        assert e.shape == s.shape == (0,)
        exits, served = q.serve(arrivals, handles, patiences)
        assert served.tolist() == [True, True, True, False, True, False]
        assert exits.tolist() == [0.0, 0.0, 1.0, 0.0, 1.0, 1.5]
        expected = (exits, served) if expected is None else expected
        assert same(exits, expected[0])


def test_inputs_are_converted_and_checked():
    q = FCFSServers(2)
    exits, served = q.serve(np.arange(5), np.ones(5, dtype=np.float32), np.full(10, np.inf)[::2])
    assert exits.dtype == np.float64 and served.dtype == np.bool_
    with pytest.raises(ValueError):
        FCFSServers(2).serve(np.arange(5.0), np.ones(4), np.full(5, np.inf))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6),
                          st.lists(st.tuples(st.integers(0, 40), st.integers(1, 12),
                                             st.one_of(st.just(np.inf), st.integers(0, 8))),
                                   max_size=40)),
                min_size=1, max_size=5))
def test_compiled_matches_python_property(batches):
    """Small integer-grid times (plenty of exact ties between arrivals, free times and patience limits)."""
    calls = []
    t = 0.0
    for servers, contacts in batches:
        gaps = np.array([c[0] for c in contacts], dtype=float) / 4.0
        arrivals = t + np.cumsum(gaps)
        if len(arrivals):
            t = float(arrivals[-1])
        handles = np.array([c[1] for c in contacts], dtype=float) / 4.0
        patiences = np.array([c[2] for c in contacts], dtype=float) / 4.0
        calls.append((servers, arrivals, handles, patiences))
    run_both(calls, start_servers=batches[0][0])


def test_compiled_and_python_agree_with_the_engine_default():
    rng = np.random.default_rng(3)
    a, h, p = workload(rng, 5000, 0.0, 9.0, "mixed", ties=True)
    e0, s0 = FCFSServers(10).serve(a, h, p)
    e1, s1 = FCFSServers(10, compiled=False).serve(a, h, p)
    assert service.warm()
    assert same(e0, e1) and same(s0, s1)


FALLBACK = """
import sys
sys.modules["numba"] = None  # numba cannot be imported
import numpy as np
from simulator.engine import service
assert service.warm() is False
rng = np.random.default_rng(11)
q = service.FCFSServers(5)
out = {}
for k, c in enumerate([5, 0, 8, 2]):
    q.set_servers(c, 10.0 * k)
    n = 2000
    a = np.floor((10.0 * k + np.cumsum(rng.exponential(1 / 6.0, n))) * 8) / 8
    h = rng.exponential(1.0, n)
    p = rng.exponential(0.7, n)
    p[::5] = np.inf
    out[f"e{k}"], out[f"s{k}"] = q.serve(a, h, p)
out["heap"] = q._free
np.savez(sys.argv[1], **out)
"""


def test_fallback_without_numba_gives_identical_results(tmp_path):
    path = tmp_path / "fallback.npz"
    subprocess.run([sys.executable, "-c", FALLBACK, str(path)], cwd=ROOT, check=True)
    got = np.load(path)
    rng = np.random.default_rng(11)
    q = FCFSServers(5, compiled=True)
    for k, c in enumerate([5, 0, 8, 2]):
        q.set_servers(c, 10.0 * k)
        n = 2000
        a = np.floor((10.0 * k + np.cumsum(rng.exponential(1 / 6.0, n))) * 8) / 8
        h = rng.exponential(1.0, n)
        p = rng.exponential(0.7, n)
        p[::5] = np.inf
        e, s = q.serve(a, h, p)
        assert same(e, got[f"e{k}"]) and same(s, got[f"s{k}"])
        assert (~s).any()
    assert same(q._free, got["heap"])


def test_a_new_process_loads_the_cached_kernel():
    """After warm() in this process, another process (a worker) loads the machine code instead of compiling."""
    assert service.warm()
    code = ("from simulator.engine import service; assert service.warm(); "
            "print(sum(service._KERNEL.stats.cache_hits.values()), sum(service._KERNEL.stats.cache_misses.values()))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True,
                         env={**os.environ})
    assert out.stdout.split() == ["1", "0"]


def test_cache_dir_falls_back_to_a_user_dir_when_the_package_is_not_writable(tmp_path):
    assert service._cache_dir_for(tmp_path) is None  # writable: numba caches beside the module
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    cache = service._cache_dir_for(blocker / "pkg")  # its __pycache__ cannot be created
    assert cache is not None and cache.parts[-2:] == ("spc", "numba")
