"""The engine's speed-ups change no number: each fast path against the plain one it replaces, bit for bit.

No timings here (they live in bench/); these tests only pin that a faster path computes the same floats.
"""

from __future__ import annotations

import random

import pytest

from simulator.engine.netstep import FastNetworkState
from simulator.graph.compiler import CompiledModel, compile_file, compile_scenario
from simulator.graph.network import NetworkState
from simulator.scenario.loader import load_data
from tests.scenario_helpers import SHIPPED, network_scenario

SCENARIOS = sorted(SHIPPED.parent.glob("*.yaml"))


def every_form() -> CompiledModel:
    """All four link forms, a delayed link, bounded lever and auxiliary, an adjusting and an integrating stock,
    a measure, and a node with several incoming links (their order of addition matters for the bits)."""
    nodes = [
        {"name": "lever_a", "kind": "lever", "reference": 1.0, "min": 0.2, "max": 3.0},
        {"name": "lever_b", "kind": "lever", "reference": 5.0},
        {"name": "nps", "kind": "measure", "reference": 20.0},
        {"name": "aux_lin", "kind": "auxiliary", "reference": 0.5, "max": 4.0},
        {"name": "aux_el", "kind": "auxiliary", "reference": 2.0, "min": 0.1},
        {"name": "aux_sum", "kind": "auxiliary", "reference": 1.0},
        {"name": "stock_adj", "kind": "stock", "reference": 3.0, "adjust_days": 20, "min": 0.0, "max": 9.0},
        {"name": "stock_int", "kind": "stock", "reference": 0.0, "initial": 10.0, "integrate": True},
    ]
    links = [
        {"from": "lever_a", "to": "aux_lin", "effect": 0.7},
        {"from": "lever_b", "to": "aux_el", "effect": 0.3, "form": "elasticity"},
        {"from": "nps", "to": "aux_sum", "effect": 1.5, "form": "saturating", "scale": 2.0},
        {"from": "aux_lin", "to": "aux_sum", "effect": -0.4, "delay_days": 14},
        {"from": "aux_el", "to": "aux_sum", "effect": 2.0, "form": "table",
         "points": [[0.0, -1.0], [2.0, 0.0], [5.0, 0.5], [9.0, 0.6]]},
        {"from": "aux_sum", "to": "stock_adj", "effect": 0.9},
        {"from": "lever_a", "to": "stock_int", "effect": 0.01, "delay_days": 30},
        {"from": "stock_adj", "to": "stock_int", "effect": 0.05},
    ]
    return compile_scenario(load_data(network_scenario(nodes, links)))


def assert_same_steps(model: CompiledModel, steps: int, seed: int) -> None:
    """Random measures, levers (some beyond their bounds), link effects and step lengths, fed to both."""
    plain, fast = NetworkState(model), FastNetworkState(model)
    nodes = model.scenario.network.nodes
    measures = [n for n in nodes if n.kind == "measure"]
    levers = [n for n in nodes if n.kind == "lever"]
    links = [link.id for link in model.scenario.network.links]
    rnd = random.Random(seed)
    for k in range(steps):
        dt = rnd.choice([7.0, 7.0, 7.0, 2.4375, 30.4375 - 28.0])
        m = {n.name: n.reference * rnd.uniform(0.0, 2.5) for n in measures if rnd.random() < 0.9}
        lv = {n.name: n.reference * rnd.uniform(-0.5, 3.5) for n in levers if rnd.random() < 0.8}
        effects = {lid: rnd.uniform(-1.0, 1.0) for lid in links if rnd.random() < 0.3}
        a = dict(plain.step(dt, m, lv, effects))
        b = dict(fast.step(dt, m, lv, effects))
        assert list(a) == list(b)
        diff = {name: (a[name], b[name]) for name in a if a[name] != b[name] or type(a[name]) is not type(b[name])}
        assert not diff, f"step {k}: {diff}"
        assert plain._smoothed == fast._smoothed


def test_fast_network_step_is_bit_identical_on_every_link_form() -> None:
    assert_same_steps(every_form(), 400, seed=1)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_fast_network_step_is_bit_identical_on_the_shipped_scenarios(path) -> None:
    assert_same_steps(compile_file(path), 200, seed=2)


def test_stacked_frames_equal_one_dataframe_per_run_concatenated() -> None:
    """experiment._tidy's column-wise stacking against what it replaced: pd.concat of a frame per run."""
    import pandas as pd

    from simulator.engine.model import run_once
    from simulator.experiment import _tidy, ledger_frame, timeseries_frame

    model = compile_file(SHIPPED)
    outputs = [run_once(model, s, r, 7, months=2) for s in ("baseline", "invest_in_people") for r in (0, 1)]
    for part in ("periods", "ledger"):
        frames = []
        for out in outputs:
            df = pd.DataFrame(getattr(out, part))
            df.insert(0, "replication", out.replication)
            df.insert(0, "strategy", out.strategy)
            frames.append(df)
        expected = pd.concat(frames, ignore_index=True)
        got = _tidy(outputs, part)
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
        assert list(got.dtypes) == list(expected.dtypes)
    assert list(timeseries_frame(outputs).columns[:3]) == ["strategy", "replication", "period"]
    assert len(ledger_frame(outputs)) == sum(len(out.ledger["customer"]) for out in outputs)


def test_the_run_path_imports_pandas_only_when_it_builds_frames() -> None:
    """`spc run` imports pandas while its workers run (experiment._import_pandas), not before it starts them:
    the engine and the experiment runner import neither it nor scipy's heavy parts, also once the kernels are
    loaded (numba's BLAS probe skipped, see _numba._without_blas_probe), and numba still compiles np.dot after."""
    import subprocess
    import sys

    code = ("import sys, simulator.experiment, simulator.engine.model\n"
            "from simulator.engine import _numba\n"
            "_numba.warm()\n"
            "print(sorted(m for m in ('pandas', 'matplotlib', 'duckdb', 'scipy.stats', 'scipy.special', 'scipy.linalg')"
            " if m in sys.modules))\n"
            "if _numba.enabled:\n"
            "    import numba, numpy as np\n"
            "    assert numba.njit(lambda a: np.dot(a, a))(np.ones(3)) == 3.0\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_compiled_ndtri_is_scipys_to_the_bit() -> None:
    """engine.normal.ndtri (Cephes, compiled) against scipy.special.ndtri: random uniforms, the 53-bit uniforms
    nearest 0 and 1 (the tails the keyed generator can reach), a log grid down to 1e-304 (both tail branches)
    and every branch edge with its neighbours; also into an `out` row of a 2-d buffer, as the engine calls it."""
    import numpy as np
    from scipy.special import ndtri as scipy_ndtri

    from simulator.engine.normal import ndtri

    rng = np.random.default_rng(20261125)
    k = np.arange(1, 200_001, dtype=np.float64) * 2.0**-53
    edges = []
    for base in (0.5, 0.13533528323661269189, 1 - 0.13533528323661269189, np.exp(-32.0), 2.0**-53, 1 - 2.0**-53,
                 0.375, 0.625, 1e-300):
        x = np.float64(base)
        edges.append(x)
        for direction in (0.0, 1.0):
            y = x
            for _ in range(20):
                y = np.nextafter(y, direction)
                edges.append(y)
    y = np.concatenate([rng.random(1_000_000), k, 1.0 - k, np.exp(-np.linspace(0.0, 700.0, 200_000)),
                        np.array(edges), np.array([0.0, 1.0])])
    expected = scipy_ndtri(y)
    got = ndtri(y)
    assert np.array_equal(got.view(np.int64), expected.view(np.int64))
    block = np.zeros((3, y.size + 5))
    ndtri(y, out=block[2, :y.size])
    assert np.array_equal(block[2, :y.size].view(np.int64), expected.view(np.int64))


def test_the_runs_heavy_work_waits_for_a_quiet_moment_after_a_key_but_not_for_ever(monkeypatch) -> None:
    """tui.runner.after_input on a fake clock: no wait when the last key is old enough, a wait until it is, and never
    longer than its limit (keys held down must not stop the tables)."""
    import tui.runner as runner

    class Clock:
        now = 0.0
        sleeps = 0

        def perf_counter(self) -> float:
            return self.now

        def sleep(self, seconds: float) -> None:
            self.now += seconds
            self.sleeps += 1

    clock = Clock()
    monkeypatch.setattr(runner, "time", clock)
    runner.after_input(lambda: 5.0, quiet=0.25, limit=0.5)
    assert clock.sleeps == 0
    key_at = -0.1  # a key 0.1 s ago: waits until 0.25 s have passed since it
    runner.after_input(lambda: clock.now - key_at, quiet=0.25, limit=0.5)
    assert 0.15 <= clock.now < 0.17
    start = clock.now  # keys all the time: gives up after the limit
    runner.after_input(lambda: 0.0, quiet=0.25, limit=0.5)
    assert 0.5 <= clock.now - start < 0.52
