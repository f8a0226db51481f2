"""A firm's own history: monthly observations of the metrics the model writes, read and checked.

    month,metric,value,se
    1,active_customers,3512,
    1,nps,-14,4.1
    1,customer_satisfaction,7.21,0.05

`month` counts simulated months from 1 (the first month of the run); `metric` is a column of the
engine's monthly time series (a written port such as nps or active_customers, or a node of the
scenario's network); `se` is the observation's standard error (a survey's sampling error) and may be
left empty; `n`, a survey's sample size, gives the se of an NPS or a share instead. Gaps (months
without an observation) are allowed and stated. Every problem is one line naming the file and row.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from simulator.errors import UsageError, closest

REQUIRED = ("month", "metric", "value")
OPTIONAL = ("se", "n")
SHARE_METRICS = frozenset({"abandonment_rate", "utilisation"})  # in [0, 1]: n gives a binomial se


@dataclass(frozen=True)
class History:
    """Tidy observations (month, metric, value, se), sorted by metric then month; se is 0 where none was given."""

    file: str
    frame: pd.DataFrame

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.frame["metric"]))

    @property
    def last_month(self) -> int:
        return int(self.frame["month"].max())

    def upto(self, month: int) -> History:
        """The observations of months 1..month: fitting on the first part, forecasting the rest."""
        return History(self.file, self.frame[self.frame["month"] <= month].reset_index(drop=True))

    def gaps(self) -> dict[str, list[int]]:
        """Per metric, the months inside its observed range that have no observation."""
        out = {}
        for metric, g in self.frame.groupby("metric", sort=False):
            months = set(g["month"].astype(int))
            missing = [m for m in range(min(months), max(months) + 1) if m not in months]
            if missing:
                out[str(metric)] = missing
        return out

    def describe(self) -> list[str]:
        """One line per metric: its months, gaps and whether standard errors were given."""
        lines = []
        gaps = self.gaps()
        for metric, g in self.frame.groupby("metric", sort=False):
            lo, hi = int(g["month"].min()), int(g["month"].max())
            missing = gaps.get(str(metric), [])
            gap = f", {len(missing)} month(s) missing ({_ranges(missing)})" if missing else ""
            se = g["se"]
            err = f", se {se.min():.3g}-{se.max():.3g}" if (se > 0).any() else ", no se (the model's own noise only)"
            lines.append(f"{metric}: months {lo}-{hi}, {len(g)} observation(s){gap}{err}")
        return lines


def _ranges(values: Sequence[int]) -> str:
    parts, start, prev = [], None, None
    for v in sorted(values):
        if start is None:
            start = prev = v
        elif v == prev + 1:
            prev = v
        else:
            parts.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = prev = v
    if start is not None:
        parts.append(f"{start}" if start == prev else f"{start}-{prev}")
    return ", ".join(parts)


def _where(file: str, row: int, parquet: bool) -> str:
    return f"{file}: row {row + 1}" if parquet else f"{file}:{row + 2}"  # CSV: line 1 is the header


def read_history(path: str | Path, metrics: Iterable[str], months: int | None = None) -> History:
    """The history in `path` (CSV or Parquet), checked against the metrics the model writes.

    `metrics`: the engine's time-series columns for this scenario; `months`: the horizon the runs cover
    (observations after it are refused). Raises UsageError with one line naming file and row.
    """
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise UsageError(f"no such history file: {file}")
    parquet = path.suffix.lower() in (".parquet", ".pq")
    try:
        raw = pd.read_parquet(path) if parquet else pd.read_csv(path, dtype=str, keep_default_na=False,
                                                                  skipinitialspace=True, comment="#")
    except (ValueError, OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"{file}: cannot read it as {'Parquet' if parquet else 'CSV'}: {first}") from None
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    for column in raw.columns:
        if column not in REQUIRED + OPTIONAL:
            hint = closest(column, REQUIRED + OPTIONAL) or "columns are month, metric, value and optionally se or n"
            raise UsageError(f"{file}: unknown column '{column}' ({hint})")
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        raise UsageError(f"{file}: needs the column(s) {', '.join(missing)} (a history is month, metric, value, "
                         "optionally se or n)")
    if raw.empty:
        raise UsageError(f"{file}: no observations")
    known = list(metrics)
    rows = []
    seen: dict[tuple[int, str], int] = {}
    for i, rec in enumerate(raw.to_dict("records")):
        where = _where(file, i, parquet)
        month = _number(rec["month"], where, "month")
        if month != int(month) or month < 1:
            raise UsageError(f"{where}: month must be a whole number from 1 (got {rec['month']!r})")
        month = int(month)
        if months is not None and month > months:
            raise UsageError(f"{where}: month {month} is after the runs' last month {months} "
                             f"(hint: give --months {month} or more)")
        metric = str(rec["metric"]).strip()
        if metric not in known:
            raise UsageError(f"{where}: unknown metric '{metric}' "
                             f"({closest(metric, known) or 'a column of the monthly time series, e.g. ' + ', '.join(known[:4])})")
        value = _number(rec["value"], where, "value")
        se = _optional(rec.get("se"), where, "se")
        n = _optional(rec.get("n"), where, "n")
        if se is not None and se < 0:
            raise UsageError(f"{where}: se must be 0 or more (got {se:g})")
        if se is None and n is not None:
            se = _se_from_n(metric, value, n, where)
        key = (month, metric)
        if key in seen:
            raise UsageError(f"{where}: month {month} of {metric} is given twice (first at "
                             f"{_where(file, seen[key], parquet).split(':', 1)[1].strip()})")
        seen[key] = i
        rows.append((month, metric, value, 0.0 if se is None else se))
    frame = pd.DataFrame(rows, columns=["month", "metric", "value", "se"])
    order = {m: k for k, m in enumerate(dict.fromkeys(frame["metric"]))}
    frame = frame.sort_values(["metric", "month"], key=lambda s: s.map(order) if s.name == "metric" else s)
    return History(file, frame.reset_index(drop=True))


def _number(value: object, where: str, column: str) -> float:
    try:
        x = float(str(value).strip()) if not isinstance(value, (int, float)) else float(value)
    except ValueError:
        raise UsageError(f"{where}: {column} is not a number (got {value!r})") from None
    if not math.isfinite(x):
        raise UsageError(f"{where}: {column} must be a finite number (got {value!r})")
    return x


def _optional(value: object, where: str, column: str) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or str(value).strip() == "":
        return None
    return _number(value, where, column)


def _se_from_n(metric: str, value: float, n: float, where: str) -> float:
    """A survey's standard error from its sample size, where the spread of one answer follows from the value."""
    if n < 1:
        raise UsageError(f"{where}: n (the survey's sample size) must be at least 1 (got {n:g})")
    if metric == "nps":  # answers are +100, 0 or -100: var = 1e4 (p+ + p-) - nps^2 <= 1e4 - nps^2
        return math.sqrt(max(1e4 - value * value, 0.0) / n)
    if metric in SHARE_METRICS:
        if not 0 <= value <= 1:
            raise UsageError(f"{where}: {metric} is a share in [0, 1] (got {value:g})")
        return math.sqrt(value * (1 - value) / n)
    raise UsageError(f"{where}: n gives a standard error for nps and shares ({', '.join(sorted(SHARE_METRICS))}) "
                     f"only (hint: give se for {metric})")


def model_metrics(model) -> list[str]:
    """The columns of the engine's monthly time series for a compiled model (from a one-month run)."""
    from simulator.engine.model import run_once
    from simulator.results import ID_COLUMNS

    out = run_once(model, "baseline", 0, model.scenario.run.seed, 1)
    return [c for c in pd.DataFrame(out.periods).columns if c not in ID_COLUMNS]


def observation_matrix(history: History, metrics: Sequence[str], months: int) -> tuple[np.ndarray, np.ndarray]:
    """(value, se) as months x metrics arrays, NaN where nothing was observed."""
    value = np.full((months, len(metrics)), np.nan)
    se = np.full((months, len(metrics)), np.nan)
    col = {m: j for j, m in enumerate(metrics)}
    for month, metric, v, s in history.frame.itertuples(index=False):
        value[month - 1, col[metric]] = v
        se[month - 1, col[metric]] = s
    return value, se
