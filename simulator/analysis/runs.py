"""One run at a time: split the tidy frames (time series, customer ledger) into each run's own arrays.

The per-run figures (firm value, the scorecard's KPIs) are computed from one run's arrays alone, so a run's figure is
the same to the last bit whether it is computed from its own `RunOutput` (a worker of `spc decide`, a counterfactual
run of `spc explain`) or from a frame that holds many runs (`spc run`, the report). pandas' grouped reductions did not
promise that (a sorted frame's grouped mean differed in the last bit with the number of runs in it), and on one run's
frames they cost more CPU than the simulation itself: ~40 ms a run, against ~1 ms in numpy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

RUN_KEYS = ["strategy", "replication"]

Columns = Mapping[str, np.ndarray]
"""One run's columns: name -> its values in the run's row order (a `RunOutput`'s periods or ledger)."""


def run_rows(frame: pd.DataFrame) -> dict[tuple, np.ndarray]:
    """Row positions of each (strategy, replication) in `frame`, runs in order of first appearance (as a groupby
    with sort=False), each run's rows in frame order."""
    if frame.empty:
        return {}
    (strategy, strategies), (replication, replications) = (pd.factorize(frame[k]) for k in RUN_KEYS)
    if len(strategies) == 1 and len(replications) == 1:
        return {(strategies[0], replications[0]): np.arange(len(frame))}
    codes, runs = pd.factorize(strategy.astype(np.int64) * len(replications) + replication)
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    n = len(replications)
    return {(strategies[run // n], replications[run % n]): rows
            for run, rows in zip(runs.tolist(), np.split(order, bounds), strict=True)}


def split_runs(frame: pd.DataFrame, columns: Iterable[str]) -> dict[tuple, dict[str, np.ndarray]]:
    """Per run (as `run_rows`): its values of those of `columns` that `frame` has. A column of labels (a segment)
    comes as integer codes, numbered in order of first appearance: what the figures group on, without turning
    every label of a large ledger into a Python string."""
    arrays = {c: _values(frame[c]) for c in columns if c in frame.columns}
    rows = run_rows(frame)
    if len(rows) == 1:
        return {key: arrays for key in rows}
    return {key: {c: a[r] for c, a in arrays.items()} for key, r in rows.items()}


def _values(column: pd.Series) -> np.ndarray:
    if is_numeric_dtype(column) or is_bool_dtype(column):
        return column.to_numpy()
    return pd.factorize(column)[0]


def run_index(keys: list[tuple]) -> pd.MultiIndex:
    return pd.MultiIndex.from_tuples(keys, names=RUN_KEYS) if keys else pd.MultiIndex.from_arrays(
        [pd.Index([], dtype=object), pd.Index([], dtype="int64")], names=RUN_KEYS)


def _present(values: np.ndarray) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    return x[~np.isnan(x)]


def total(values: np.ndarray) -> float:
    """The sum, NaN skipped (a pandas sum): correctly rounded (math.fsum), so it does not depend on the order."""
    return math.fsum(_present(values).tolist())


def mean(values: np.ndarray) -> float:
    """The mean, NaN skipped (NaN when nothing is left): `total` / count."""
    x = _present(values)
    return total(x) / x.size if x.size else math.nan


def last(values: np.ndarray) -> float:
    """The last value that is not NaN (a pandas groupby last), NaN when there is none."""
    x = _present(values)
    return float(x[-1]) if x.size else math.nan
