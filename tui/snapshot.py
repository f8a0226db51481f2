"""What the views show of a run at one moment: progress plus the analysis of complete replications."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from simulator.analysis.run_analysis import Analysis


@dataclass(frozen=True)
class RunSnapshot:
    run_id: int
    done: int
    total: int
    replications: int  # target replications per strategy
    complete: int  # replications every strategy has finished (what the analysis is over)
    elapsed: float
    partial_timeseries: pd.DataFrame  # every run received, for charts that need no pairing
    analysis: Analysis | None  # over complete replications; None until the first one is complete
    first_result_after: float | None = None

    @property
    def finished(self) -> bool:
        return self.done >= self.total
