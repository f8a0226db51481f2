"""The calibrated scenario: an `extends:` file holding the fitted values as distributions `spc decide` samples.

    extends: service_profit_chain.yaml
    uncertainty:
      assumptions:
        segments.mass_retail.churn_per_month: {dist: normal, mean: 0.0162, sd: 0.0007, low: 0, high: 1,
          source: "calibrated to history.csv (posterior mean and sd, 256 design runs); prior beta 0.015 +- 0.002"}

Each fitted parameter becomes a normal with the posterior's mean and sd, truncated at the prior's
support (ordinary runs use the mean); a point fit's parameter the history does not inform keeps its prior; pairs the posterior correlates (|rank correlation| >= 0.3) become
correlation groups, so decide draws them together as the history allows. The base's own correlation
groups are kept, without the fitted parameters. Written by path under `uncertainty.assumptions`, which
wins over the base's inline distribution (see simulator.scenario.uncertainty.extract).
"""

from __future__ import annotations

import math
import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import yaml

from simulator.calibration.calibrate import Calibration, uninformed
from simulator.errors import ScenarioError, UsageError

WRITE_CORRELATION = 0.3


def check_destination(base: Path, out: Path) -> None:
    """Refuse, before any run, a place from which the fitted file could not extend its base."""
    from simulator.scenario.loader import _inside, _roots

    if not _inside(base.resolve(), _roots(out)):
        raise UsageError(f"--out {out}: a file there cannot extend {base} (a base must be in the file's folder tree, "
                         "the shipped scenarios or a --base-dir); write it beside the scenario, or add --base-dir")


def _num(x: float) -> float:
    return float(f"{x:.6g}")


def _prior_text(p) -> str:
    d = p.prior
    if d.dist == "triangular":
        return f"triangular {d.low:g}/{d.mode:g}/{d.high:g}"
    if d.dist == "uniform":
        return f"uniform {d.low:g}..{d.high:g}"
    return f"{d.dist} {d.mean:g} +- {d.sd:g}"


def fitted_data(result: Calibration, out: Path) -> dict:
    """The fitted file's data: extends the calibrated scenario, with the fitted distributions by path."""
    setup = result.setup
    base = Path(setup.loaded.path)
    what = ("posterior mean and sd" if result.method == "posterior" else "point fit and its standard error")
    assumptions = {}
    for p, row in zip(setup.params, result.estimates.itertuples(), strict=True):
        if result.method == "point" and uninformed(row.sd_ratio):
            continue  # a point fit of a parameter the history does not inform: its prior stands
        lo, hi = p.support
        sd = row.sd if math.isfinite(row.sd) and row.sd > 0 else p.prior_sd
        dist: dict = {"dist": "normal", "mean": _num(row.mean), "sd": _num(max(sd, 1e-12))}
        if math.isfinite(lo):
            dist["low"] = _num(lo)
        if math.isfinite(hi):
            dist["high"] = _num(hi)
        dist["source"] = (f"calibrated to {Path(setup.history.file).name} ({what}, {result.design_runs} design runs); "
                          f"prior {_prior_text(p)}")
        assumptions[p.path] = dist
    unc: dict = {"assumptions": assumptions}
    groups = _correlations(result)
    base_groups = [g.model_dump() for g in setup.loaded.scenario.uncertainty.correlate]
    if groups or any(set(g["parameters"]) & set(setup.paths) for g in base_groups):
        from simulator.scenario.uncertainty import pruned_correlate

        unc["correlate"] = pruned_correlate(base_groups, set(setup.paths)) + groups
    rel = os.path.relpath(base.resolve(), out.resolve().parent)
    return {"extends": rel, "uncertainty": unc}


def _correlations(result: Calibration) -> list[dict]:
    if result.samples is None or len(result.setup.params) < 2:
        return []
    from scipy.stats import spearmanr

    rho = np.atleast_2d(spearmanr(result.samples).statistic)
    paths = result.setup.paths
    out = []
    for i in range(len(paths)):
        for j in range(i + 1, len(paths)):
            if abs(rho[i, j]) >= WRITE_CORRELATION:
                out.append({"parameters": [paths[i], paths[j]], "rho": round(float(np.clip(rho[i, j], -0.95, 0.95)), 2)})
    return out


def write_fitted(result: Calibration, out: str | Path) -> Path:
    """Write the fitted file and load it back (a file `spc decide` would refuse is not left behind)."""
    from simulator.scenario.loader import load

    out = Path(out)
    data = fitted_data(result, out)
    setup = result.setup
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = (f"# Calibrated by `spc calibrate` ({result.method}) to {setup.history.file}, {stamp}.\n"
              f"# {result.design_runs} design runs of {setup.strategy} x {setup.replications} replication(s), "
              f"seed {setup.seed}; the fit statistics are in the command's output.\n"
              "# `spc decide` on this file samples the fitted distributions instead of the priors.\n")
    text = header + yaml.safe_dump(data, sort_keys=False, width=110, allow_unicode=True)
    out.write_text(text)
    try:
        load(out)
    except ScenarioError as exc:
        if _correlations(result):  # a set of pairwise rank correlations need not be consistent: drop them
            data["uncertainty"].pop("correlate", None)
            out.write_text(header + yaml.safe_dump(data, sort_keys=False, width=110, allow_unicode=True))
            try:
                load(out)
                return out
            except ScenarioError:
                pass
        out.unlink(missing_ok=True)
        raise UsageError(f"the fitted file would not load: {exc.problems[0]}") from None
    return out
