"""Histories made by the model itself: known parameter values, one run of the world, survey noise added.

What the simulation-based checks calibrate (does the fit find values it was given?) and how the shipped
demo history is made. The run uses a seed of its own, never the design's, so the calibration sees a
world whose luck it has not seen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from simulator.calibration.history import History
from simulator.scenario.loader import LoadedScenario


def simulate_history(loaded: LoadedScenario, values: Mapping[str, float], metrics: Sequence[str], months: int,
                     seed: int, se: Mapping[str, float] | None = None, strategy: str = "baseline",
                     replication: int = 0, file: str = "(simulated)") -> History:
    """One run at `values` ({path: value}) for `months`, with N(0, se[metric]) noise on each observation."""
    from simulator.engine.model import run_once
    from simulator.graph.compiler import compile_scenario
    from simulator.scenario.loader import load_data
    from simulator.scenario.paths import with_values

    base = {k: v for k, v in loaded.data.items() if k != "extends"}
    model = compile_scenario(load_data(with_values(base, dict(values)), str(loaded.path)))
    out = pd.DataFrame(run_once(model, strategy, replication, seed, months).periods)
    rng = np.random.default_rng(np.random.SeedSequence((int(seed), 0x48495354)))  # "HIST"
    se = dict(se or {})
    rows = []
    for metric in metrics:
        s = float(se.get(metric, 0.0))
        truth = out[metric].to_numpy(dtype=float)[:months]
        noisy = truth + (rng.normal(0.0, s, size=len(truth)) if s > 0 else 0.0)
        rows += [(m + 1, metric, float(v), s) for m, v in enumerate(noisy)]
    return History(file, pd.DataFrame(rows, columns=["month", "metric", "value", "se"]))
