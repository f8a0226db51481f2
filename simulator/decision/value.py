"""Decision analytics on sampled assumptions: P(best), regret, CVaR, EVPI/EVPPI, first-order Sobol, scenario discovery.

Pure functions on arrays and frames; nothing here runs a simulation. The input is what `spc decide` stores:

- `outcomes`: one row per (draw, strategy) with columns `draw`, `strategy`, `value` (the decision measure in
  money, already averaged over the draw's replications; the strategies share their random numbers within a draw)
  and optionally `all_green` (share of the draw's replications in which every scorecard perspective is green).
- `inputs`: one row per draw (index = draw), one column per assumption path (the sampled values).

Every draw of the design is taken as equally likely (a Latin hypercube or Sobol design over the assumptions'
distributions). Only draws in which every strategy has a value are used, so all paired figures are on the same
draws. A draw's value still carries some replication noise: it widens the intervals honestly, but it also
inflates everything built on a maximum over strategies (P(best), regret, EVPI), because noise looks like
information. More replications per draw shrink that bias; EVPPI, built on smoothed values, is hurt least.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulator.analysis.stats import mean_ci, proportion_ci, strategy_order

_TIE_RTOL = 1e-12  # values this close count as a tie for P(best): identical runs differ by rounding at most


def _wide(outcomes: pd.DataFrame, column: str = "value") -> pd.DataFrame:
    """Draws x strategies of `column`, keeping only draws in which every strategy has a value."""
    wide = outcomes.pivot(index="draw", columns="strategy", values=column).astype(float)
    wide = wide.dropna(how="any")
    if wide.empty:
        raise ValueError("no draw has a value for every strategy")
    return wide[strategy_order(wide.columns)]


def best_shares(values: np.ndarray) -> np.ndarray:
    """Per draw (row), 1 for the strategy with the highest value, ties split equally (1/k each among k tied)."""
    top = values.max(axis=1, keepdims=True)
    best = values >= top - _TIE_RTOL * np.abs(top)
    return best / best.sum(axis=1, keepdims=True)


def cvar(x, alpha: float = 0.05) -> float:
    """Lower-tail conditional value at risk: the mean of the worst `alpha` share of equally likely draws.

    The exact expected shortfall of the empirical distribution (Acerbi & Tasche 2002): with k = alpha * n, the
    floor(k) worst draws count fully and the next one with weight k - floor(k). So 100 draws at 5% average the 5
    worst; 30 draws average the worst one and half of the second worst; with fewer than 1/alpha draws
    (alpha * n < 1) it is the single worst draw: never an empty tail, never interpolated beyond the sample.
    """
    x = np.sort(np.asarray(x, dtype=float))
    if x.size == 0:
        return math.nan
    k = alpha * x.size
    if k <= 1:
        return float(x[0])
    whole = int(math.floor(k))
    weights = np.zeros(x.size)
    weights[:whole] = 1.0
    if whole < x.size:
        weights[whole] = k - whole
    return float(weights @ x / weights.sum())


def decision_table(outcomes: pd.DataFrame, baseline: str = "baseline") -> pd.DataFrame:
    """One row per strategy (baseline first): what it is worth over the assumptions, and how risky choosing it is.

    Columns: `strategy`, `draws`; `value_mean` with `value_ci_low/high` (95% Student t interval of the mean over
    draws: how precisely the expected value is known) and `value_p05/p95` (5%-95% spread of the draws: what the
    assumptions make possible, the interval that includes assumption uncertainty); the same for the paired
    difference to baseline as `delta_*`; `p_best` (share of draws in which it has the highest value, ties split
    equally) with its 95% Clopper-Pearson `p_best_ci_low/high` (a fractional count from ties is rounded outwards);
    `p_better` (share of draws strictly above baseline; NaN on the baseline row); `expected_regret` (mean over
    draws of the best strategy's value minus this one's) and `max_regret`; `cvar05_delta` (`cvar` of the
    difference to baseline at 5%: the mean of the worst 5% of draws, at least one draw); `rank` (1 = highest
    expected value); and `p_all_green` (mean over draws of the all-green share) when `outcomes` has `all_green`.

    The Clopper-Pearson interval treats draws as independent; a space-filling design is less variable than that,
    so the interval errs wide.
    """
    wide = _wide(outcomes)
    if baseline not in wide.columns:
        raise ValueError(f"baseline {baseline!r} is not among the strategies {list(wide.columns)}")
    v = wide.to_numpy()
    n = v.shape[0]
    shares = best_shares(v)
    regret = v.max(axis=1, keepdims=True) - v
    base = wide[baseline].to_numpy()
    green = None
    if "all_green" in outcomes.columns:
        green = outcomes.pivot(index="draw", columns="strategy", values="all_green").reindex(wide.index).astype(float)
    rows = []
    for j, strategy in enumerate(wide.columns):
        x, d = v[:, j], v[:, j] - base
        mean, lo, hi = mean_ci(x)
        d_mean, d_lo, d_hi = mean_ci(d)
        wins = float(shares[:, j].sum())
        row = {
            "strategy": strategy, "draws": n,
            "value_mean": mean, "value_ci_low": lo, "value_ci_high": hi,
            "value_p05": float(np.quantile(x, 0.05)), "value_p95": float(np.quantile(x, 0.95)),
            "delta_mean": d_mean, "delta_ci_low": d_lo, "delta_ci_high": d_hi,
            "delta_p05": float(np.quantile(d, 0.05)), "delta_p95": float(np.quantile(d, 0.95)),
            "p_best": wins / n, "p_best_ci_low": proportion_ci(math.floor(wins + 1e-9), n)[0],
            "p_best_ci_high": proportion_ci(math.ceil(wins - 1e-9), n)[1],
            "p_better": math.nan if strategy == baseline else float((d > 0).mean()),
            "expected_regret": float(regret[:, j].mean()), "max_regret": float(regret[:, j].max()),
            "cvar05_delta": cvar(d, 0.05),
        }
        if green is not None:
            row["p_all_green"] = float(green[strategy].mean())  # NaN-skipping; NaN if never known
        rows.append(row)
    table = pd.DataFrame(rows)
    table.insert(len(table.columns), "rank", table["value_mean"].rank(ascending=False, method="min").astype(int))
    return table


def evpi(outcomes: pd.DataFrame) -> float:
    """Expected value of perfect information, in money: E[max_s value] - max_s E[value] over the draws.

    What deciding after learning every assumption's true value would be worth on average. Replication noise left
    in the draws' values biases it upwards (a lucky draw looks like information).
    """
    v = _wide(outcomes).to_numpy()
    return float(max(v.max(axis=1).mean() - v.mean(axis=0).max(), 0.0))


# ---- EVPPI: Strong & Oakley's regression estimator -------------------------------------------------------------


def _evppi_of_fits(g: np.ndarray) -> float:
    """EVPPI from fitted incremental values g (draws x other strategies; the reference is 0):
    mean over draws of max(0, max_s g_s) minus max(0, max_s mean g_s)."""
    return float(np.maximum(g.max(axis=1), 0.0).mean() - max(g.mean(axis=0).max(), 0.0))


def _pspline_basis(x: np.ndarray, segments: int = 20) -> np.ndarray:
    """Cubic B-spline basis on equally spaced knots over x's range (Eilers & Marx's P-spline basis), dense."""
    from scipy.interpolate import BSpline

    u = (x - x.min()) / (x.max() - x.min())
    h = 1.0 / segments
    knots = np.arange(-3, segments + 4) * h
    return BSpline.design_matrix(np.clip(u, 0.0, 1.0), knots, 3, extrapolate=True).toarray()


def pspline_fit(x: np.ndarray, y: np.ndarray, samples: int = 0, seed: int = 0):
    """Penalised cubic regression spline of each column of y on x, smoothness chosen by GCV per column.

    Returns (fitted, draws): fitted is n x m; draws is samples x n x m curves from the fit's Bayesian posterior
    (Wood's Vp = sigma^2 (B'B + lambda P)^-1, as Strong et al. 2014 use to put a standard error on EVPPI).

    Why this smoother: 23 cubic B-splines with a second-difference penalty (a P-spline) fit any smooth response
    of a decision value to one assumption; the penalty's null space is the straight line, so as GCV raises
    lambda the fit tends to a line, never to wiggles, and an assumption that does not matter gets a nearly flat
    fit and an EVPPI of about 0. Unlike an interpolating smoothing spline it copes with tied x (discrete
    assumptions), and in the Demmler-Reinsch basis every lambda of the GCV grid, every strategy and every
    posterior draw costs only K-vector arithmetic after one n x K decomposition.
    """
    y = y.reshape(len(y), -1)
    n, m = y.shape
    if np.ptp(x) == 0:
        fitted = np.repeat(y.mean(axis=0, keepdims=True), n, axis=0)
        return fitted, np.repeat(fitted[None], samples, axis=0)
    # about one knot interval per 10 draws (3 to 20): a basis as rich as the data lets GCV chase noise
    b = _pspline_basis(x, segments=int(np.clip(n // 10, 3, 20)))
    k = b.shape[1]
    diff = np.diff(np.eye(k), n=2, axis=0)
    btb = b.T @ b
    r = np.linalg.cholesky(btb + 1e-10 * np.trace(btb) / k * np.eye(k)).T  # btb = r' r
    r_inv = np.linalg.inv(r)
    s, u = np.linalg.eigh(r_inv.T @ diff.T @ diff @ r_inv)
    s = np.clip(s, 0.0, None)
    q = b @ r_inv @ u  # orthonormal columns spanning the basis; the penalty is diag(s) in it
    z = q.T @ y  # K x m
    rss_perp = np.maximum((y * y).sum(axis=0) - (z * z).sum(axis=0), 0.0)
    lambdas = np.logspace(-6, 8, 57) * n / max(s.max(), 1e-12)
    shrink = 1.0 / (1.0 + lambdas[:, None] * s[None, :])  # grid x K
    edf = shrink.sum(axis=1)
    rss = rss_perp[None, :] + (((1.0 - shrink)[:, :, None] * z[None]) ** 2).sum(axis=1)  # grid x m
    best = np.argmin(n * rss / np.maximum(n - edf[:, None], 1.0) ** 2, axis=0)
    w = shrink[best].T * z  # K x m
    fitted = q @ w
    if not samples:
        return fitted, np.empty((0, n, m))
    sigma2 = rss[best, np.arange(m)] / np.maximum(n - edf[best], 1.0)
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((samples, k, m)) * np.sqrt(shrink[best].T[None] * sigma2[None, None, :])
    return fitted, np.einsum("nk,skm->snm", q, w[None] + noise)


def _gp_fit(x: np.ndarray, y: np.ndarray, seed: int = 0, max_fit: int = 300) -> np.ndarray:
    """Gaussian-process regression of each column of y on several assumptions at once (Strong et al. 2014's
    choice for groups: it captures interactions an additive model would miss). Hyperparameters (an RBF length
    scale per assumption, signal and noise variance) are fitted on at most `max_fit` draws, then the process is
    conditioned on all of them: one n x n Cholesky per strategy instead of one per optimiser step."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
    from threadpoolctl import threadpool_limits

    span = np.ptp(x, axis=0)
    keep = span > 0
    u = (x[:, keep] - x[:, keep].min(axis=0)) / span[keep]
    y = y.reshape(len(y), -1)
    if not keep.any():
        return np.repeat(y.mean(axis=0, keepdims=True), len(y), axis=0)
    rng = np.random.default_rng(seed)
    sub = rng.choice(len(u), size=min(max_fit, len(u)), replace=False)
    fitted = np.empty_like(y)
    # one BLAS thread: small matrices gain nothing from more, and on a busy machine they cost ~8x; an
    # irrelevant assumption's length scale runs to its bound (flat in it), which is the answer, not a warning
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for j in range(y.shape[1]):
            kernel = ConstantKernel(1.0, (1e-3, 1e3)) * RBF(np.full(u.shape[1], 0.5), (1e-2, 1e2)) \
                + WhiteKernel(0.1, (1e-6, 1e1))
            gp = GaussianProcessRegressor(kernel, normalize_y=True).fit(u[sub], y[sub, j])
            gp = GaussianProcessRegressor(gp.kernel_, normalize_y=True, optimizer=None).fit(u, y[:, j])
            fitted[:, j] = gp.predict(u)
    return fitted


Parameters = Sequence[str | Sequence[str]] | Mapping[str, Sequence[str]]


def evppi(outcomes: pd.DataFrame, inputs: pd.DataFrame, parameters: Parameters | None = None,
          samples: int = 200, seed: int = 0) -> pd.DataFrame:
    """Expected value of partial perfect information per assumption (or group), in money, ranked.

    Strong & Oakley's nonparametric regression estimator (Strong, Oakley & Brennan 2014, Med Decis Making
    34:311): take the strategy with the highest expected value as reference, regress every other strategy's
    incremental value (paired on common random numbers, so most replication noise cancels) on the assumption(s),
    and EVPPI = mean over draws of max(0, max_s fitted_s) - max(0, max_s mean fitted_s). One assumption: a
    P-spline with GCV (`pspline_fit`, which explains the choice); a group of two or more: a Gaussian process
    (`_gp_fit`). The estimate is clipped at 0.

    `parameters`: None (every column of `inputs`), a sequence of column names and/or groups (a group is a
    sequence of names, labelled "a + b"), or a mapping of group label to column names.
    Columns: `parameter`, `evppi`, `evppi_se` (the sd of EVPPI over `samples` curves from the spline's posterior,
    Strong et al. 2014; NaN for groups), `share_of_evpi`, `rank` (1 = most valuable to learn), `method`,
    `noise_floor` (what an irrelevant assumption scores at this many draws, see `noise_floor`) and `above_noise`.
    A share well below 2 * evppi_se / EVPI is noise: learning that assumption would not change the decision.
    """
    wide = _wide(outcomes)
    x_all = inputs.reindex(wide.index)
    if x_all.isna().any().any():
        raise ValueError("inputs has no row for some draws in outcomes")
    v = wide.to_numpy()
    ref = int(np.argmax(v.mean(axis=0)))
    inc = np.delete(v - v[:, [ref]], ref, axis=1)
    total = evpi(outcomes)
    if parameters is None:
        groups: dict[str, list[str]] = {c: [c] for c in inputs.columns}
    elif isinstance(parameters, Mapping):
        groups = {label: list(cols) for label, cols in parameters.items()}
    else:
        groups = {p if isinstance(p, str) else " + ".join(p): [p] if isinstance(p, str) else list(p)
                  for p in parameters}
    rows = []
    for label, cols in groups.items():
        x = x_all[cols].to_numpy(dtype=float)
        if inc.shape[1] == 0:
            value, se, method = 0.0, 0.0, "single strategy"
        elif len(cols) == 1:
            fitted, draws = pspline_fit(x[:, 0], inc, samples=samples, seed=seed)
            value, method = _evppi_of_fits(fitted), "p-spline"
            se = float(np.std([_evppi_of_fits(g) for g in draws], ddof=1)) if samples > 1 else math.nan
        else:
            value, se, method = _evppi_of_fits(_gp_fit(x, inc, seed=seed)), math.nan, "gaussian process"
        value = max(value, 0.0)
        rows.append({"parameter": label, "evppi": value, "evppi_se": se,
                     "share_of_evpi": value / total if total > 0 else 0.0, "method": method})
    table = pd.DataFrame(rows, columns=["parameter", "evppi", "evppi_se", "share_of_evpi", "method"])
    table.insert(4, "rank", table["evppi"].rank(ascending=False, method="min").astype(int))
    floor = noise_floor(inc, seed=seed) if inc.shape[1] else 0.0
    table["noise_floor"] = floor
    table["above_noise"] = table["evppi"] > floor
    return table.sort_values(["rank", "parameter"], kind="stable").reset_index(drop=True)


def noise_floor(inc: np.ndarray, permutations: int = 40, seed: int = 0, quantile: float = 0.95) -> float:
    """The EVPPI an assumption that does not matter gets at this number of draws: the `quantile` of the one-
    assumption estimator over random orderings of the draws (a permuted assumption has no relation to the values).

    With few draws the spline finds some structure in noise (from replications and from the other assumptions),
    so EVPPI is biased upwards; an estimate below this floor cannot be told from an irrelevant assumption."""
    rng = np.random.default_rng(np.random.SeedSequence((seed, 0x4E4F4953)))  # "NOIS"
    x = np.arange(len(inc), dtype=float)
    values = [_evppi_of_fits(pspline_fit(rng.permutation(x), inc)[0]) for _ in range(permutations)]
    return float(np.quantile(np.maximum(values, 0.0), quantile))


# ---- variance-based sensitivity ----------------------------------------------------------------------------------


def first_order_sobol(values, inputs: pd.DataFrame, seed: int = 0, harmonics: int = 10) -> pd.DataFrame:
    """First-order Sobol indices of one strategy's value (e.g. its difference to baseline) over the stored draws.

    S1_i = Var(E[value | assumption i]) / Var(value): the share of the spread that assumption i alone explains.
    Estimated with SALib's RBD-FAST (Tarantola et al. 2006 with Plischke's reordering and Tissot & Prieur's bias
    correction), which works on any given sample, so the decision draws serve as they are, no Saltelli design
    needed. `S1_conf` is SALib's bootstrap half-width (95%). `S1_smooth` cross-checks it by the same ratio with
    E[value | x_i] from the P-spline of `pspline_fit`: RBD-FAST's reordering can resonate with the digital
    structure of a scrambled Sobol design (seen on Ishigami: 0.52 instead of 0.44 for one scramble), which the
    regression does not; a large gap between the two says to trust neither without more draws.
    `values`: one value per row of `inputs` (array in row order, or a Series indexed like `inputs`).
    Columns: `parameter`, `S1`, `S1_conf`, `S1_smooth`, `rank` (by S1). Constant assumptions get 0.
    """
    from SALib.analyze import rbd_fast

    y = values.reindex(inputs.index).to_numpy(float) if isinstance(values, pd.Series) else np.asarray(values, float)
    if y.shape != (len(inputs),) or not np.isfinite(y).all():
        raise ValueError("values must be finite, one per row of inputs")
    x = inputs.to_numpy(dtype=float)
    varies = np.ptp(x, axis=0) > 0
    s1, conf = np.zeros(x.shape[1]), np.zeros(x.shape[1])
    if varies.any() and np.ptp(y) > 0:
        names = [str(c) for c, keep in zip(inputs.columns, varies, strict=True) if keep]
        problem = {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}
        res = rbd_fast.analyze(problem, x[:, varies], y, M=harmonics, seed=seed)
        s1[varies], conf[varies] = res["S1"], res["S1_conf"]
    var = y.var()
    smooth = np.array([pspline_fit(x[:, i], y)[0][:, 0].var() / var if var > 0 and varies[i] else 0.0
                       for i in range(x.shape[1])])
    table = pd.DataFrame({"parameter": list(inputs.columns), "S1": s1, "S1_conf": conf, "S1_smooth": smooth})
    table["rank"] = table["S1"].rank(ascending=False, method="min").astype(int)
    return table


# ---- scenario discovery --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """A box of assumption ranges in which `winner` loses to `rival`.

    `conditions`: (parameter, lower, upper) with the box lower < x <= upper (None = unbounded), in the order the
    tree split on them; `loss_rate`: share of the box's draws in which the winner loses; `coverage`: share of all
    losses that fall in the box; `share_of_draws`: the box's share of all draws.
    """

    conditions: tuple[tuple[str, float | None, float | None], ...]
    loss_rate: float
    coverage: float
    share_of_draws: float
    draws: int
    losses: int

    @property
    def text(self) -> str:
        """'links.a->b.effect <= 0.071 and 0.01 < segments.x.churn_per_month <= 0.018', or 'all draws'."""
        parts = []
        for name, low, high in self.conditions:
            if low is not None and high is not None:
                parts.append(f"{low:.4g} < {name} <= {high:.4g}")
            elif high is not None:
                parts.append(f"{name} <= {high:.4g}")
            else:
                parts.append(f"{name} > {low:.4g}")
        return " and ".join(parts) if parts else "all draws"

    def __str__(self) -> str:
        return (f"{self.text}: loses in {self.loss_rate:.0%} of these draws, {self.coverage:.0%} of all losses, "
                f"{self.share_of_draws:.0%} of draws")


def scenario_discovery(outcomes: pd.DataFrame, inputs: pd.DataFrame, winner: str, rival: str, max_depth: int = 2,
                       min_leaf_share: float = 0.05, min_loss_rate: float = 0.5) -> list[Rule]:
    """The assumption ranges under which `winner` loses to `rival` (value_winner < value_rival), as boxes.

    A shallow scikit-learn decision tree (balanced class weights, so rare losses still drive the splits; at least
    `min_leaf_share` of the draws per leaf, so no box rests on a handful of draws) is fitted on the label; its
    leaves with a loss rate of at least `min_loss_rate` are returned, highest loss rate first. A leaf of a tree is
    exactly the kind of box PRIM finds (Bryant & Lempert 2010's scenario discovery), and with depth 2 it names at
    most two assumptions, which a manager can read. Why not PRIM from the EMA workbench: that package weighs
    300+ MB with notebooks and server clients for one algorithm, while scikit-learn is light, well kept and already
    a dependency. Never loses: []. Always loses: one box with no conditions ('all draws').
    """
    from sklearn.tree import DecisionTreeClassifier

    wide = _wide(outcomes)
    for name in (winner, rival):
        if name not in wide.columns:
            raise ValueError(f"strategy {name!r} is not among {list(wide.columns)}")
    lose = (wide[winner] < wide[rival]).to_numpy()
    x = inputs.loc[wide.index]
    n, losses = len(lose), int(lose.sum())
    if losses == 0:
        return []
    if losses == n:
        return [Rule((), 1.0, 1.0, 1.0, n, n)]
    tree = DecisionTreeClassifier(max_depth=max_depth, class_weight="balanced", random_state=0,
                                  min_samples_leaf=max(1, math.ceil(min_leaf_share * n)))
    tree.fit(x.to_numpy(dtype=float), lose)
    t, names = tree.tree_, [str(c) for c in x.columns]
    leaf_of = tree.apply(x.to_numpy(dtype=float))
    rules: list[Rule] = []

    def walk(node: int, bounds: dict[str, tuple[float | None, float | None]]) -> None:
        if t.children_left[node] == -1:  # a leaf
            inside = leaf_of == node
            lost = int(lose[inside].sum())
            rate = lost / int(inside.sum())
            if rate >= min_loss_rate:
                rules.append(Rule(tuple((k, lo, hi) for k, (lo, hi) in bounds.items()), rate, lost / losses,
                                  float(inside.mean()), int(inside.sum()), lost))
            return
        name, cut = names[t.feature[node]], float(t.threshold[node])
        low, high = bounds.get(name, (None, None))
        walk(t.children_left[node], {**bounds, name: (low, cut if high is None else min(high, cut))})
        walk(t.children_right[node], {**bounds, name: (cut if low is None else max(low, cut), high)})

    walk(0, {})
    return sorted(rules, key=lambda r: (-r.loss_rate, -r.coverage))
