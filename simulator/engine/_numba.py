"""Lazy numba: where compiled kernels are cached, and compiling one (None when numba does not import).

Kernels are plain Python functions over numpy arrays, compiled on first use with an explicit signature and
`cache=True`, so a later process loads the machine code from disk instead of compiling again. Every kernel
has a numpy (or pure-Python) twin that gives bit-identical results and is used when numba is missing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

DISABLE_ENV = "SPC_DISABLE_NUMBA"
"""Set to 1 to run the engine's numpy fallbacks instead of its numba kernels (the service queue excepted)."""


def _user_cache_dir() -> Path:
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local"
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "spc" / "numba"


def _cache_dir_for(module_dir: Path) -> Path | None:
    """None if numba can cache beside the module (`module_dir/__pycache__` writable), else a user cache dir."""
    here = module_dir / "__pycache__"
    try:  # the same test numba makes
        here.mkdir(exist_ok=True)
        tempfile.TemporaryFile(dir=here).close()
    except OSError:
        return _user_cache_dir()
    return None


def _set_cache_dir() -> None:
    """numba caches beside the engine's modules (`__pycache__`); where that is not writable (an installed
    package), point NUMBA_CACHE_DIR at a user cache dir before numba is imported, so that worker processes
    (which inherit the variable) load the compiled kernels instead of compiling them again. A NUMBA_CACHE_DIR
    set by the user wins. If numba was imported already, its own user-wide fallback (~/.cache/numba) applies."""
    if "NUMBA_CACHE_DIR" in os.environ or "numba" in sys.modules:
        return
    cache = _cache_dir_for(Path(__file__).resolve().parent)
    if cache is not None:
        os.environ.setdefault("NUMBA_CACHE_DIR", str(cache))


enabled = os.environ.get(DISABLE_ENV, "") in ("", "0")
"""False: every LazyKernel answers None (tests flip it to compare the kernels with their numpy twins)."""


_HELPERS: dict[Callable[..., object], Callable[..., object]] = {}


def _fingerprint(func: Callable[..., object], helpers: tuple[Callable[..., object], ...]) -> str:
    """A digest of the code of func and its helpers and of the numbers they read from their modules."""
    digest = hashlib.sha256()
    for fn in (func, *helpers):
        code = fn.__code__
        digest.update(code.co_code)
        digest.update(repr((code.co_consts, code.co_names)).encode())
        for name in code.co_names:
            value = fn.__globals__.get(name)
            if isinstance(value, (int, float, np.generic)):
                digest.update(f"{name}={value!r}".encode())
    return digest.hexdigest()[:12]


def compile_kernel(func: Callable[..., object], signature: str,
                   helpers: tuple[Callable[..., object], ...] = ()) -> Callable[..., object] | None:
    """`func` compiled for `signature` (or loaded from the on-disk cache); None without numba.

    `helpers`: plain functions of func's module that func calls by name; they are compiled too and bound in
    a copy of func's globals (the module keeps its plain functions). Floats follow IEEE (error_model numpy:
    x / 0 is inf or nan, no exception); no fastmath, so operations keep their order and rounding."""
    _set_cache_dir()
    try:
        import numba
    except ImportError:
        return None
    scope = dict(func.__globals__)
    for helper in helpers:
        scope[helper.__name__] = _compiled_helper(numba, helper, helpers)
    bound = types.FunctionType(func.__code__, scope, func.__name__, func.__defaults__, func.__closure__)
    # numba's disk cache is keyed by the kernel's own source file only: a changed helper or constant from
    # another module would load stale machine code. The fingerprint in the name makes such a change a new entry.
    bound.__qualname__ = f"{func.__qualname__}_{_fingerprint(func, helpers)}"
    bound.__module__, bound.__doc__ = func.__module__, func.__doc__
    func = bound
    with _without_blas_probe():
        try:
            return numba.njit(signature, cache=True, nogil=True, error_model="numpy")(func)
        except RuntimeError:  # no writable cache location at all: compile in memory, every process
            return numba.njit(signature, cache=False, nogil=True, error_model="numpy")(func)


_BLAS_PROBE = "scipy.linalg.cython_blas"


@contextlib.contextmanager
def _without_blas_probe() -> Iterator[None]:
    """Compile or load a kernel without numba's BLAS probe importing scipy.linalg (~0.35 s, on the path of every
    `spc run` before its workers start; the engine never uses scipy.linalg).

    numba's first compile in a process imports numba.np.arraymath, which tries `import scipy.linalg.cython_blas`
    once to choose how np.correlate and np.convolve take inner products (_HAVE_BLAS; the kernels here call
    neither). With that name mapped to None the import fails at once and numba uses its plain loop for those two;
    np.dot and the linear algebra still import the BLAS themselves when a function using them is compiled. Only
    if numba's probe has not run yet and scipy.linalg is not loaded anyway."""
    if "numba.np.arraymath" in sys.modules or "scipy.linalg" in sys.modules or _BLAS_PROBE in sys.modules:
        yield
        return
    sys.modules[_BLAS_PROBE] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if _BLAS_PROBE in sys.modules and sys.modules[_BLAS_PROBE] is None:
            del sys.modules[_BLAS_PROBE]


def _compiled_helper(numba: types.ModuleType, helper: Callable[..., object],
                     helpers: tuple[Callable[..., object], ...]) -> Callable[..., object]:
    """`helper` compiled once per process (shared by the kernels that call it), with the other `helpers` it calls
    by name bound in a copy of its globals: a kernel may call another kernel's function as a helper (the helpers
    it calls listed with it)."""
    if helper not in _HELPERS:
        scope = dict(helper.__globals__)
        for other in helpers:
            if other is not helper and other.__name__ in helper.__code__.co_names:
                scope[other.__name__] = _compiled_helper(numba, other, helpers)
        bound = types.FunctionType(helper.__code__, scope, helper.__name__, helper.__defaults__, helper.__closure__)
        bound.__qualname__, bound.__module__ = helper.__qualname__, helper.__module__
        _HELPERS[helper] = numba.njit(nogil=True, error_model="numpy")(bound)
    return _HELPERS[helper]


class LazyKernel:
    """A kernel compiled on first use: `get()` returns the compiled function, or None (no numba, or disabled)."""

    def __init__(self, func: Callable[..., object], signature: str, helpers: tuple[Callable[..., object], ...] = ()):
        self.func = func
        self.signature = signature
        self.helpers = helpers
        self._compiled: Callable[..., object] | None = None
        self._tried = False
        KERNELS.append(self)

    def get(self) -> Callable[..., object] | None:
        if not enabled:
            return None
        if not self._tried:
            self._tried = True
            self._compiled = compile_kernel(self.func, self.signature, self.helpers)
        return self._compiled


KERNELS: list[LazyKernel] = []
"""Every LazyKernel made (the engine's modules make theirs at import)."""


def warm() -> bool:
    """Compile the engine's kernels or load them from the disk cache; True if all are available. Like
    service.warm(): call it in the parent before starting worker processes, so they load the machine code."""
    from simulator.engine import customers, model, rng  # noqa: F401 (their kernels register on import)

    return all(kernel.get() is not None for kernel in KERNELS)


def pairwise_stack(n):  # pragma: no cover - compiled into the kernels that use it
    """A walk over n terms for pairwise_next, started: the whole range (0, n), to be split (sp = 1). 128 entries of
    each kind are more than the depth of any n (at most 64)."""
    stack = np.empty(384, np.int64)
    stack[0] = 0
    stack[128] = n
    stack[256] = 0
    return stack


def pairwise_next(stack, sp):  # pragma: no cover - compiled into the kernels that use it
    """One step of numpy's pairwise summation walk, without the data: stack[:128], [128:256] and [256:] hold the
    pending ranges' first terms, lengths and states (0: split it, 1: its right half next, 2: add its halves), sp
    how many are pending. Advances to the next block (at most 128 terms, taken in order). Returns (sp, first term,
    length, adds): length 0 when the walk is done, and `adds`, how many times the two newest partial sums are
    added before that block (or, at the end, to finish the sum). Start with the range (0, n, 0) and sp = 1."""
    los = stack[:128]
    lens = stack[128:256]
    states = stack[256:]
    adds = 0
    while sp > 0:
        lo = los[sp - 1]
        m = lens[sp - 1]
        if m <= 128:
            return sp - 1, lo, m, adds
        half = m // 2
        half -= half % 8
        state = states[sp - 1]
        if state == 0:
            states[sp - 1] = 1
            los[sp] = lo
            lens[sp] = half
            states[sp] = 0
            sp += 1
        elif state == 1:
            states[sp - 1] = 2
            los[sp] = lo + half
            lens[sp] = m - half
            states[sp] = 0
            sp += 1
        else:
            adds += 1
            sp -= 1
    return 0, 0, 0, adds


def pairwise_sum(a, n):  # pragma: no cover - compiled into the kernels that use it
    """np.sum(a[:n]) for float64, bit for bit: 0.0 + numpy's pairwise summation (numpy/_core/src/umath/
    loops_utils.h.src: blocks of at most 128 summed with 8 accumulators, longer runs split in two at a
    multiple of 8), written without recursion (pairwise_next walks the blocks). tests/test_rng_compiled.py
    checks it against np.sum."""
    if n <= 0:
        return 0.0
    stack = pairwise_stack(n)
    values = np.empty(128)
    sp = 1
    vp = 0
    while True:
        sp, lo, m, adds = pairwise_next(stack, sp)
        for _ in range(adds):
            values[vp - 2] = values[vp - 2] + values[vp - 1]
            vp -= 1
        if m == 0:
            return 0.0 + values[0]
        # (unsigned indices: no wrap-around test for negative ones, so the loads go in a row)
        base = np.uint64(lo)
        stop = np.uint64(lo + m)
        if m < 8:
            res = -0.0
            i = base
            while i < stop:
                res += a[i]
                i += np.uint64(1)
        else:
            r0 = a[base]
            r1 = a[base + np.uint64(1)]
            r2 = a[base + np.uint64(2)]
            r3 = a[base + np.uint64(3)]
            r4 = a[base + np.uint64(4)]
            r5 = a[base + np.uint64(5)]
            r6 = a[base + np.uint64(6)]
            r7 = a[base + np.uint64(7)]
            i = base + np.uint64(8)
            end = np.uint64(lo + m - m % 8)
            while i < end:
                r0 += a[i]
                r1 += a[i + np.uint64(1)]
                r2 += a[i + np.uint64(2)]
                r3 += a[i + np.uint64(3)]
                r4 += a[i + np.uint64(4)]
                r5 += a[i + np.uint64(5)]
                r6 += a[i + np.uint64(6)]
                r7 += a[i + np.uint64(7)]
                i += np.uint64(8)
            res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
            while i < stop:
                res += a[i]
                i += np.uint64(1)
        values[vp] = res
        vp += 1


PAIRWISE = (pairwise_sum, pairwise_next, pairwise_stack)
"""pairwise_sum with the helpers it calls: list them all in a kernel's helpers."""
