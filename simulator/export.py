"""Writing an experiment to a folder: timeseries.parquet, customers.parquet, summary.csv, run.json.

Files are written to temporary names and renamed into place, so an interrupted write never leaves a
half-written file under a final name.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def write_run(out_dir: Path, timeseries: pd.DataFrame, customers: pd.DataFrame, summary: pd.DataFrame,
              document: dict[str, Any]) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / n for n in ("timeseries.parquet", "customers.parquet", "summary.csv", "run.json")]
    _atomic(paths[0], lambda p: timeseries.to_parquet(p, index=False))
    _atomic(paths[1], lambda p: customers.to_parquet(p, index=False))
    _atomic(paths[2], lambda p: summary.to_csv(p, index=False))
    _atomic(paths[3], lambda p: p.write_text(json.dumps(document, indent=2) + "\n"))
    return paths
