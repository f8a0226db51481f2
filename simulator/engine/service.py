"""Exact FCFS multi-server queue with abandonment, without a Python generator per contact.

With identical servers and first-come-first-served order, the n-th contact starts at
max(arrival, earliest time a server frees up); a contact whose wait would exceed its patience
abandons and never occupies a server. So a priority queue of server free times replaces the event list:
one replace-the-minimum per contact, which gives the same sample path as a SimPy process per contact.

The loop runs as a numba kernel (`_fcfs_kernel`, compiled once and cached on disk) when numba imports,
and as the pure-Python `heapq` loop otherwise; both give bit-identical results. Every decision depends on
the free times only as a multiset (the minimum, then: remove it, add the new free time), so the kernel keeps
them in a tournament tree instead of a heap: the path from a leaf to the root is fixed, so its loads do not
wait for its comparisons, and a contact costs the same at 6 servers and at 2,000 (a heap's sift costs one
unpredictable branch per level). Between calls both store the free times sorted (a valid heap), so even the
stored state is the same. Where the free times are not totally ordered (a nan time, or an arrival or handle
time that could make one: see _totally_ordered), both run heapq's own algorithm instead (the kernel mirrors
its sifts) and keep its layout. Times are days from the start of the run and must be >= 0.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable

import numpy as np

from simulator.engine._numba import (  # noqa: F401 (shared helpers)
    _cache_dir_for,
    _set_cache_dir,
    _user_cache_dir,
    compile_kernel,
)


# ---- the loop, pure Python (the reference, and the fallback without numba) -----------------------------
def _serve_python(free: list[float], arrivals: np.ndarray, handles: np.ndarray,
                  patiences: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`free` is a non-empty heapq heap of server free times, updated in place."""
    replace = heapq.heapreplace
    # An abandonment is stored as -(exit time): exits are >= 0, so the sign bit alone marks it
    # (-0.0 included), which keeps the loop to one append per contact.
    exits: list[float] = []
    record = exits.append
    for a, h, p in zip(arrivals.tolist(), handles.tolist(), patiences.tolist(), strict=True):
        f = free[0]
        if f <= a:
            replace(free, a + h)
            record(a)
        elif f - a <= p:
            replace(free, f + h)
            record(f)
        else:
            record(-(a + p))
    if _totally_ordered(arrivals, handles, free):
        free.sort()  # the state between calls: sorted (see the module docstring)
    signed = np.asarray(exits, dtype=float)
    return np.abs(signed), ~np.signbit(signed)


def _totally_ordered(arrivals: np.ndarray, handles: np.ndarray, free: list[float]) -> bool:
    """No free time is nan, nor can become one: arrivals finite, handle times >= 0 (so a free time is a finite
    number or +inf). Then the kernel's tournament tree and heapq pick the same minimum every time."""
    with np.errstate(invalid="ignore"):
        return bool(np.isfinite(arrivals).all() and (handles >= 0.0).all() and not np.isnan(free).any())


# ---- the loop for numba (plain Python source; compiled lazily by _kernel()) -----------------------------
def _fcfs_kernel(arrivals, handles, patiences, heap, exits, served):  # pragma: no cover - runs compiled
    """Fill exits/served for contacts sorted by arrival; `heap` (server free times) is updated in place: sorted
    when the times are totally ordered (a tournament tree meanwhile), else as heapq leaves it (its sifts)."""
    n = arrivals.shape[0]
    c = heap.shape[0]
    if c == 0:  # nobody to answer: every contact is lost after its patience (at once if it has none)
        for i in range(n):
            p = patiences[i]
            exits[i] = arrivals[i] + (p if math.isfinite(p) else 0.0)
            served[i] = False
        return
    ordered = True  # _totally_ordered
    for i in range(n):
        ordered &= (arrivals[i] - arrivals[i] == 0.0) & (handles[i] >= 0.0)
    for k in range(c):
        ordered &= heap[k] == heap[k]
    if not ordered:
        _fcfs_heap(arrivals, handles, patiences, heap, exits, served)
        return
    # a tournament tree over P >= c leaves (padding: +inf, never below a real time): win[node] is the leaf of
    # its subtree's minimum, nodes P .. 2P - 1 are the leaves
    size = 1
    while size < c:
        size *= 2
    val = np.full(size, np.inf)
    val[:c] = heap
    win = np.empty(2 * size, np.uint64)  # (unsigned indices: no wrap-around test for negative ones)
    for leaf in range(size):
        win[size + leaf] = leaf
    for node in range(size - 1, 0, -1):
        left = win[2 * node]
        right = win[2 * node + 1]
        win[node] = right if val[right] < val[left] else left
    one = np.uint64(1)
    leaves = np.uint64(size)
    for i in range(n):
        a = arrivals[i]
        leaf = win[1]
        f = val[leaf]
        if f <= a:
            item = a + handles[i]
            exits[i] = a
            served[i] = True
        elif f - a <= patiences[i]:
            item = f + handles[i]
            exits[i] = f
            served[i] = True
        else:
            exits[i] = a + patiences[i]
            served[i] = False
            continue
        val[leaf] = item  # the minimum replaced; replay the matches on its path to the root
        node = leaves + leaf
        best = leaf
        best_value = item
        while node > one:
            other = win[node ^ one]
            other_value = val[other]
            take = other_value < best_value
            best = other if take else best
            best_value = other_value if take else best_value
            node >>= one
            win[node] = best
    val.sort()
    heap[:] = val[:c]


def _fcfs_heap(arrivals, handles, patiences, heap, exits, served):  # pragma: no cover - runs compiled
    """_fcfs_kernel with heapq's heapreplace exactly as CPython does it (sift the hole at the root down to a leaf
    along the smaller children, put the new item there, sift it up), so the heap's layout matches
    `_serve_python`'s whatever the times (nan included)."""
    n = arrivals.shape[0]
    c = heap.shape[0]
    for i in range(n):
        a = arrivals[i]
        f = heap[0]
        if f <= a:
            item = a + handles[i]
            exits[i] = a
            served[i] = True
        elif f - a <= patiences[i]:
            item = f + handles[i]
            exits[i] = f
            served[i] = True
        else:
            exits[i] = a + patiences[i]
            served[i] = False
            continue
        # heapq._siftup(heap, 0) with heap[0] = item
        pos = 0
        child = 1
        while child < c:
            right = child + 1
            if right < c and not heap[child] < heap[right]:
                child = right
            heap[pos] = heap[child]
            pos = child
            child = 2 * pos + 1
        # heapq._siftdown(heap, 0, pos)
        while pos > 0:
            parent = (pos - 1) >> 1
            if item < heap[parent]:
                heap[pos] = heap[parent]
                pos = parent
            else:
                break
        heap[pos] = item


_SIGNATURE = "void(float64[::1], float64[::1], float64[::1], float64[::1], float64[::1], boolean[::1])"
_KERNEL: Callable[..., None] | None = None
_KERNEL_TRIED = False


def _kernel() -> Callable[..., None] | None:
    """The compiled kernel (compiled now, or loaded from the on-disk cache), or None without numba."""
    global _KERNEL, _KERNEL_TRIED
    if not _KERNEL_TRIED:
        _KERNEL_TRIED = True
        _KERNEL = compile_kernel(_fcfs_kernel, _SIGNATURE, (_fcfs_heap,))
    return _KERNEL


def warm() -> bool:
    """Compile the kernel or load it from the cache; True if the compiled path is available.

    Call it in the parent before starting worker processes: the first compile writes the cache, and
    every worker then loads the machine code (~0.25 s) instead of compiling it (~1.5 s) each."""
    return _kernel() is not None


# ---- the public queue -----------------------------------------------------------------------------------
def _floats(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float64)


class FCFSServers:
    """c identical servers, persistent across calls so the queue carries over between network steps.

    `compiled`: None (default) uses the numba kernel when numba imports, else the Python loop; False always
    uses the Python loop; True requires numba. Both give bit-identical exits, served flags and server state,
    so the choice may change between calls on the same queue.
    """

    def __init__(self, servers: int, now: float = 0.0, compiled: bool | None = None):
        self._free = np.full(max(0, servers), float(now))  # heapq-ordered server free times
        self.compiled = compiled

    @property
    def servers(self) -> int:
        return len(self._free)

    def set_servers(self, servers: int, now: float) -> None:
        """Change capacity at `now`: new servers are free at once; removed ones are those busy longest."""
        servers = max(0, servers)
        if servers == len(self._free):
            return
        free = self._free.tolist()
        if servers > len(free):
            for _ in range(servers - len(free)):
                heapq.heappush(free, now)
        else:
            free = sorted(free)[:servers]
            heapq.heapify(free)
        self._free = np.asarray(free, dtype=np.float64)

    def serve(self, arrivals: np.ndarray, handles: np.ndarray, patiences: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Contacts sorted by arrival -> (exit from queue, served?). Exit is service start or abandonment."""
        if self.compiled is False:
            return self.serve_python(arrivals, handles, patiences)
        if self.compiled is None and _kernel() is None:
            return self.serve_python(arrivals, handles, patiences)
        return self.serve_compiled(arrivals, handles, patiences)

    def serve_compiled(self, arrivals: np.ndarray, handles: np.ndarray,
                       patiences: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        kernel = _kernel()
        if kernel is None:
            raise RuntimeError("numba is not installed: the compiled service layer is unavailable")
        arrivals, handles, patiences = _floats(arrivals), _floats(handles), _floats(patiences)
        n = arrivals.shape[0]
        if handles.shape != (n,) or patiences.shape != (n,):
            raise ValueError(f"serve(): arrivals, handles and patiences differ in shape "
                             f"({arrivals.shape}, {handles.shape}, {patiences.shape})")
        exits = np.empty(n, dtype=np.float64)
        served = np.empty(n, dtype=np.bool_)
        kernel(arrivals, handles, patiences, self._free, exits, served)
        return exits, served

    def serve_python(self, arrivals: np.ndarray, handles: np.ndarray,
                     patiences: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The same queue as a pure-Python heapq loop (reference and fallback)."""
        if not len(self._free):  # nobody to answer: every contact is lost after its patience (at once if none)
            exits_arr = arrivals + np.where(np.isfinite(patiences), patiences, 0.0)
            return np.asarray(exits_arr, dtype=np.float64), np.zeros(len(arrivals), dtype=bool)
        free = self._free.tolist()
        exits, served = _serve_python(free, arrivals, handles, patiences)
        self._free = np.asarray(free, dtype=np.float64)
        return exits, served


def erlang_c(arrival_rate: float, service_rate: float, servers: int) -> tuple[float, float]:
    """Erlang C: P(wait) and mean wait in queue Wq for M/M/c (used by validation tests and bench)."""
    a = arrival_rate / service_rate
    rho = a / servers
    if rho >= 1:
        return 1.0, math.inf
    term = 1.0
    total = 1.0
    for k in range(1, servers):
        term *= a / k
        total += term
    last = term * a / servers / (1 - rho)
    p_wait = last / (total + last)
    return p_wait, p_wait / (servers * service_rate - arrival_rate)
