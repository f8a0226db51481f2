"""History against the calibrated model: one panel per metric (its label and unit), with the 90% band and the
file as written.

matplotlib (a dependency already, for the report's charts), drawn off-screen; PNG or SVG by the file's suffix.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simulator.calibration.calibrate import Calibration
from simulator.calibration.history import observation_matrix
from simulator.calibration.labels import metric_heading
from simulator.errors import UsageError

FORMATS = (".png", ".svg")


def check_plot_path(path: str | Path) -> Path:
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise UsageError(f"--plot {path}: give a .png or .svg file")
    return path


def plot(result: Calibration, path: str | Path) -> Path:
    """Draw the calibrated model's trajectories (needs the check runs) against the history."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = check_plot_path(path)
    setup = result.setup
    tr = result.trajectories
    if not tr:
        raise UsageError("--plot needs the check runs of the calibrated model")
    months = np.arange(1, setup.months + 1)
    value, se = observation_matrix(setup.history, setup.metrics, setup.months)
    n = len(setup.metrics)
    cols = 2 if n > 1 else 1
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6.0 * cols, 2.8 * rows), squeeze=False)
    for j, metric in enumerate(setup.metrics):
        ax = axes[j // cols][j % cols]
        ax.fill_between(months, tr["lower"][:, j], tr["upper"][:, j], color="tab:blue", alpha=0.18,
                        label="calibrated, 90% band")
        ax.plot(months, tr["calibrated"][:, j], color="tab:blue", lw=1.6, label="calibrated")
        ax.plot(months, tr["written"][:, j], color="tab:gray", lw=1.2, ls="--", label="as written (uncalibrated)")
        ok = np.isfinite(value[:, j])
        ax.errorbar(months[ok], value[ok, j], yerr=np.where(se[ok, j] > 0, se[ok, j], np.nan), fmt="o", ms=3,
                    color="black", elinewidth=0.8, label="history")
        if setup.fit_until:
            ax.axvline(setup.fit_until + 0.5, color="tab:red", lw=0.8, ls=":")
        ax.set_title(metric_heading(setup.loaded.scenario, metric), fontsize=10)
        ax.set_xlabel("month", fontsize=8)
        ax.tick_params(labelsize=8)
    for k in range(n, rows * cols):
        axes[k // cols][k % cols].axis("off")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    title = f"{setup.loaded.scenario.metadata.name}: history vs calibrated model ({result.method})"
    if setup.fit_until:
        title += f"; fitted on months 1-{setup.fit_until}"
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0.06, 1, 0.96))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
