r"""Planning a training run: isoFLOP allocation with uncertainty, what a plan costs, and the
chance that it reaches a target loss.

IsoFLOP allocation (Hoffmann et al. 2022, Approach 2). Runs are grouped into FLOP budgets
(isoFLOP curves, :math:`C = k N D`). Per budget :math:`c` a parabola in :math:`x = \ln N`,

.. math::

    y_i = \beta_{c0} + \beta_{c1} u_i + \beta_{c2} u_i^2 + \varepsilon_i, \quad
    u_i = x_i - \bar x_c, \quad \varepsilon_i \sim \mathcal N(0, \sigma_c^2),

is fitted to the log loss (or the loss) of its :math:`n_c` runs. Under the reference prior
:math:`p(\beta_c, \sigma_c^2) \propto 1/\sigma_c^2` (the flat limit of the conjugate
Normal-inverse-gamma prior) the posterior is closed form,

.. math::

    \sigma_c^2 \mid y \sim \text{Inv-}\chi^2(\nu_c, s_c^2), \quad
    \beta_c \mid \sigma_c^2, y \sim
    \mathcal N\big(\hat\beta_c, \sigma_c^2 (X_c^\top X_c)^{-1}\big),

with :math:`\nu_c = n_c - 3` and :math:`s_c^2 = \mathrm{RSS}_c / \nu_c`: each curve's own noise
(how well a parabola fits varies with the curve's span). With ``noise="pooled"``, and for a
curve of exactly 3 runs (which its parabola passes through), one variance is shared instead:
:math:`\nu = \sum_c (n_c - 3)`, :math:`s^2 = \sum_c \mathrm{RSS}_c / \nu` over the curves
pooled. Each draw
gives the minimiser :math:`\ln N^*_c = \bar x_c - \beta_{c1} / (2 \beta_{c2})` of every budget's
parabola (a draw with :math:`\beta_{c2} \le 0` opens downward and has no minimum: it is counted
and reported), and a least-squares line through :math:`(\ln C_c, \ln N^*_c)`,
:math:`\ln N^* = \ln k_N + a \ln C`: draws of the exponent :math:`a` and the prefactor that carry
the uncertainty of every minimum.

References:
    Hoffmann, J. et al. (2022). Training Compute-Optimal Large Language Models. NeurIPS.
    arXiv:2203.15556 (Section 3.2, Approach 2; Table 2: a = 0.49, 0.462-0.534).
"""

from __future__ import annotations

import dataclasses
import math
import re
import warnings
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from ._data import (
    DEFAULT_LEVEL,
    DataWarning,
    as_pandas,
    check_flops_per_param_token,
    check_level,
    check_seed,
    is_real_number,
    validate,
)
from ._errors import InvalidTypeError, InvalidValueError

__all__ = [
    "HARDWARE",
    "Hardware",
    "compare_allocations",
    "cost",
    "isoflop_allocation",
    "isoflop_minima",
]

# Fewest runs per isoFLOP curve (a parabola has three coefficients) and fewest curves (a line
# through two minima passes through both: nothing would check that the minima lie on one).
MIN_RUNS = 3
MIN_BUDGETS = 3
DEFAULT_TOLERANCE = 1.1
DEFAULT_NUM_DRAWS = 4000
# Share of joint draws without a minimum on every curve above which a DataWarning says so (the
# share is always in attrs["p_no_minimum"] and, per curve, in isoflop_minima's p_no_minimum).
_WARN_NO_MINIMUM = 0.01
_SECONDS_PER_HOUR = 3600.0
_HOURS_PER_DAY = 24.0


# ----------------------------------------------------------------------------- checks
def _check_tolerance(tolerance: Any) -> float:
    if not (is_real_number(tolerance) and math.isfinite(tolerance) and tolerance > 1):
        raise InvalidValueError(
            "tolerance must be a factor above 1 (1.1: runs within 10% of each other's compute "
            f"form one isoFLOP curve), got {tolerance!r}"
        )
    return float(tolerance)


def _check_num_draws(num_draws: Any) -> int:
    if isinstance(num_draws, bool) or not isinstance(num_draws, int | np.integer):
        raise InvalidTypeError(f"num_draws must be an integer >= 100, got {num_draws!r}")
    if num_draws < 100:
        raise InvalidValueError(
            f"num_draws must be at least 100 (quantiles need draws), got {num_draws}"
        )
    return int(num_draws)


def _positive_values(name: str, value: Any, what: str) -> np.ndarray:
    """``value`` as a flat float64 array of finite positive numbers, or a ValueError naming it."""
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError):
        raw = None
    if raw is None or np.iscomplexobj(raw) or raw.dtype == bool:
        raise InvalidValueError(f"{name} must be {what}: a positive number or an array of them")
    try:
        a = np.atleast_1d(raw.astype(np.float64)).reshape(-1)
    except (TypeError, ValueError):
        raise InvalidValueError(
            f"{name} must be {what}: a positive number or an array of them, got {value!r}"
        ) from None
    if a.size == 0:
        raise InvalidValueError(f"{name} is empty: give at least one value")
    bad = a[~(np.isfinite(a) & (a > 0))]
    if bad.size:
        raise InvalidValueError(
            f"{name} must be finite and positive ({what}), got {bad[:5].tolist()}"
        )
    return a


def _quantiles(draws: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    q = (1.0 - level) / 2.0
    lo, med, hi = np.quantile(draws, [q, 0.5, 1.0 - q], axis=0)
    return lo, med, hi


def _flops(c: float) -> str:
    return f"{c:.3g}"


# ----------------------------------------------------------------------------- budgets
def _densest_windows(log_c: np.ndarray, width: float) -> tuple[np.ndarray, int]:
    """Budget codes (-1: in no budget) by repeatedly taking the window of ``width`` in log
    compute that holds the most runs, while it holds at least :data:`MIN_RUNS` of them."""
    codes = np.full(len(log_c), -1)
    order = np.argsort(log_c, kind="stable")
    free = order.copy()
    found = 0
    while len(free) >= MIN_RUNS:
        v = log_c[free]
        ends = np.searchsorted(v, v + width * (1 + 1e-12), side="right")
        counts = ends - np.arange(len(v))
        start = int(np.argmax(counts))
        if counts[start] < MIN_RUNS:
            break
        taken = free[start : ends[start]]
        codes[taken] = found
        found += 1
        free = np.concatenate([free[:start], free[ends[start] :]])
    if not found:
        return codes, 0
    # codes in order of compute
    centres = [np.median(log_c[codes == j]) for j in range(found)]
    rank = np.argsort(np.argsort(centres))
    return np.where(codes >= 0, rank[np.maximum(codes, 0)], -1), found


def _budget_codes(
    data: pd.DataFrame,
    log_c: np.ndarray,
    *,
    budget: str | None,
    budgets: Any,
    tolerance: float,
) -> tuple[np.ndarray, list[str]]:
    """Each run's budget code (-1: in no isoFLOP curve) and a name per budget."""
    if budget is not None and budgets is not None:
        raise InvalidValueError(
            "give either budget (a column labelling each run's isoFLOP curve) or budgets "
            "(the curves' FLOPs), not both"
        )
    if budget is not None:
        if not isinstance(budget, str):
            raise InvalidTypeError(f"budget must be a column name, got {budget!r}")
        if budget not in data.columns:
            raise InvalidValueError(
                f"budget: no column {budget!r} in the table; its columns are {list(data.columns)}"
            )
        labels = data[budget]
        if labels.isna().any():
            rows = list(data.index[labels.isna().to_numpy()][:5])
            raise InvalidValueError(f"budget column {budget!r} is empty at row(s) {rows}")
        codes, uniques = pd.factorize(labels.to_numpy(), sort=True)
        plain = (u.item() if isinstance(u, np.generic) else u for u in uniques)
        return codes, [f"{budget}={u!r}" for u in plain]
    if budgets is not None:
        centres = np.sort(np.log(_positive_values("budgets", budgets, "FLOP budgets")))
        nearest = np.argmin(np.abs(log_c[:, None] - centres[None, :]), axis=1)
        inside = np.abs(log_c - centres[nearest]) <= math.log(tolerance)
        codes = np.where(inside, nearest, -1)
        return codes, [f"C={_flops(math.exp(c))}" for c in centres]
    codes, found = _densest_windows(log_c, math.log(tolerance))
    return codes, [""] * found


# ----------------------------------------------------------------------------- the fit
@dataclasses.dataclass(frozen=True)
class _Minima:
    """Posterior draws of each isoFLOP curve's minimiser and of the line through them."""

    log_c: np.ndarray  # (K,) each budget's log FLOPs (geometric mean of its runs' compute)
    runs: np.ndarray  # (K,) runs per budget
    log_n_range: np.ndarray  # (K, 2) smallest and largest log N of each budget's runs
    log_n_opt: np.ndarray  # (S, K) vertex draws, NaN where the parabola has no minimum
    slope: np.ndarray  # (S',) exponent a per draw with a minimum in every budget
    intercept: np.ndarray  # (S',)
    left_out: int  # runs in no budget
    num_draws: int


def _parabola_draws(
    x: list[np.ndarray],
    y: list[np.ndarray],
    names: list[str],
    num_draws: int,
    seed: int,
    noise: str,
) -> np.ndarray:
    """``(num_draws, K)`` draws of each budget's vertex in ``ln N`` (NaN: no minimum)."""
    fits = []
    for xc, yc, name in zip(x, y, names, strict=True):
        if np.unique(xc).size < 3:
            raise InvalidValueError(
                f"isoFLOP curve {name} has runs at only {np.unique(xc).size} distinct model "
                "size(s): a parabola needs three; add runs at other N"
            )
        centre = xc.mean()
        u = xc - centre
        design = np.stack([np.ones_like(u), u, u * u], axis=1)
        gram_inv = np.linalg.inv(design.T @ design)
        beta = gram_inv @ design.T @ yc
        rss = float(np.sum((yc - design @ beta) ** 2))
        gram_inv = 0.5 * (gram_inv + gram_inv.T)
        fits.append((centre, beta, np.linalg.cholesky(gram_inv), rss, len(xc) - 3))
    own = [noise == "per_budget" and dof > 0 for *_, dof in fits]
    pool_rss = sum(f[3] for f, o in zip(fits, own, strict=True) if not o)
    pool_dof = sum(f[4] for f, o in zip(fits, own, strict=True) if not o)
    if not all(own) and pool_dof == 0:
        exact = [name for name, (*_, dof) in zip(names, fits, strict=True) if dof == 0]
        raise InvalidValueError(
            f"isoFLOP curve(s) {', '.join(exact)} have exactly {MIN_RUNS} runs: the parabola "
            "passes through them and leaves nothing to measure the noise by, and no other "
            "curve lends its noise; add a run to a curve"
        )
    rng = np.random.default_rng(seed)
    pooled = np.sqrt(pool_rss / rng.chisquare(pool_dof, num_draws)) if pool_dof else None
    out = np.empty((num_draws, len(fits)))
    for j, ((centre, beta, chol, rss, dof), o) in enumerate(zip(fits, own, strict=True)):
        # sigma ~ scaled Inv-chi2(dof, rss/dof): the curve's own, or the pooled one
        sigma = np.sqrt(rss / rng.chisquare(dof, num_draws)) if o else pooled
        z = rng.standard_normal((num_draws, 3))
        b = beta[None, :] + sigma[:, None] * (z @ chol.T)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:, j] = np.where(b[:, 2] > 0, centre - b[:, 1] / (2.0 * b[:, 2]), np.nan)
    return out


def _minima(
    data: Any,
    *,
    target: str,
    budget: str | None,
    budgets: Any,
    tolerance: Any,
    log_loss: bool,
    num_draws: Any,
    seed: Any,
    flops_per_param_token: Any,
    noise: str = "per_budget",
) -> _Minima:
    check_seed(seed)
    if noise not in ("per_budget", "pooled"):
        raise InvalidValueError(f"noise must be 'per_budget' or 'pooled', got {noise!r}")
    k = check_flops_per_param_token(flops_per_param_token)
    tolerance = _check_tolerance(tolerance)
    num_draws = _check_num_draws(num_draws)
    if not isinstance(log_loss, bool):
        raise InvalidTypeError(f"log_loss must be True or False, got {log_loss!r}")
    data = as_pandas(data)
    size = "D" if "D" in data.columns or "C" not in data.columns else "C"
    table = validate(data, ["N", size], target, target_positive=log_loss)
    n = table["N"].to_numpy()
    compute = k * n * table["D"].to_numpy() if size == "D" else table["C"].to_numpy()
    log_c = np.log(compute)
    # validate keeps every row in order (it drops none unless asked): rows align by position
    codes, names = _budget_codes(data, log_c, budget=budget, budgets=budgets, tolerance=tolerance)
    count = len(names)
    runs = np.bincount(codes[codes >= 0], minlength=count)
    names = [
        name or f"C={_flops(float(np.exp(np.mean(log_c[codes == j]))))}"
        for j, name in enumerate(names)
    ]
    given = budget is not None or budgets is not None
    if given:
        few = [(name, r) for name, r in zip(names, runs, strict=True) if r < MIN_RUNS]
        if few:
            listed = ", ".join(f"{name}: {r} run(s)" for name, r in few)
            how = "within the tolerance of it" if budgets is not None else "labelled so"
            raise InvalidValueError(
                f"each isoFLOP curve needs at least {MIN_RUNS} runs for its parabola; {listed} "
                f"({how}); add runs, or leave the curve out"
            )
    if count < MIN_BUDGETS:
        found = ", ".join(f"{name} ({r} runs)" for name, r in zip(names, runs, strict=True))
        raise InvalidValueError(
            f"isoFLOP allocation needs at least {MIN_BUDGETS} FLOP budgets with {MIN_RUNS} or "
            f"more runs each, found {count}{': ' + found if found else ''}"
            + (
                ""
                if given
                else f" (runs within a factor tolerance={tolerance:g} of each other's compute "
                "form one budget; raise it, pass budgets=[...] or a budget column)"
            )
        )
    y_all = table[target].to_numpy()
    y_all = np.log(y_all) if log_loss else y_all
    x = [np.log(n[codes == j]) for j in range(count)]
    y = [y_all[codes == j] for j in range(count)]
    log_n_opt = _parabola_draws(x, y, names, num_draws, seed, noise)
    log_c_budget = np.array([np.mean(log_c[codes == j]) for j in range(count)])
    ok = np.all(np.isfinite(log_n_opt), axis=1)
    centred = log_c_budget - log_c_budget.mean()
    pts = log_n_opt[ok]
    slope = (pts - pts.mean(axis=1, keepdims=True)) @ centred / np.sum(centred**2)
    intercept = pts.mean(axis=1) - slope * log_c_budget.mean()
    return _Minima(
        log_c=log_c_budget,
        runs=runs,
        log_n_range=np.array([[xc.min(), xc.max()] for xc in x]),
        log_n_opt=log_n_opt,
        slope=slope,
        intercept=intercept,
        left_out=int(np.sum(codes < 0)),
        num_draws=num_draws,
    )


def _warn_about_minima(m: _Minima, *, stacklevel: int) -> None:
    """DataWarnings for curves whose parabola has no minimum in some draws, or whose minimum
    lies outside the model sizes of its runs."""
    lacking = np.mean(np.isnan(m.log_n_opt), axis=0)
    share = 1.0 - len(m.slope) / m.num_draws
    if share > _WARN_NO_MINIMUM:
        listed = ", ".join(
            f"C={_flops(math.exp(c))} ({p:.2g})"
            for c, p in zip(m.log_c, lacking, strict=True)
            if p > 0
        )
        warnings.warn(
            "isoFLOP parabolas open downward (no minimum) in some posterior draws, by curve: "
            f"{listed}; those draws ({share:.2g} of all) are left out, so the exponent's "
            "interval assumes every curve has a minimum. Add runs on both sides of each "
            "curve's minimum",
            DataWarning,
            stacklevel=stacklevel + 1,
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a curve without any minimum: NaN
        median = np.nanmedian(m.log_n_opt, axis=0)
    outside = (median < m.log_n_range[:, 0]) | (median > m.log_n_range[:, 1])
    if outside.any():
        listed = ", ".join(
            f"C={_flops(math.exp(c))}: N*={math.exp(v):.3g} outside {math.exp(lo):.3g}-"
            f"{math.exp(hi):.3g}"
            for c, v, (lo, hi), out in zip(m.log_c, median, m.log_n_range, outside, strict=True)
            if out
        )
        warnings.warn(
            f"the minimum of an isoFLOP curve lies outside the model sizes of its runs ({listed}):"
            " the parabola extrapolates there; add runs beyond it",
            DataWarning,
            stacklevel=stacklevel + 1,
        )


def isoflop_minima(
    data: Any,
    *,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
    target: str = "loss",
    budget: str | None = None,
    budgets: Any = None,
    tolerance: float = DEFAULT_TOLERANCE,
    log_loss: bool = True,
    noise: str = "per_budget",
    num_draws: int = DEFAULT_NUM_DRAWS,
    flops_per_param_token: float = 6.0,
) -> pd.DataFrame:
    r"""The minimum of each isoFLOP curve, with its posterior interval (Approach 2's first step).

    Per budget, the posterior of the vertex :math:`\ln N^*_c = \bar x_c - \beta_{c1}/(2\beta_{c2})`
    of a parabola in :math:`\ln N` (see :func:`isoflop_allocation` for the model).

    Args:
        data: One row per run: ``N`` (parameters), ``D`` (tokens; or ``C``, FLOPs) and the
            ``target`` column.
        level: Central interval probability, in (0, 1) (default 0.9).
        seed: Seed of the posterior draws.
        target: The loss column.
        budget: Name of a column labelling each run's isoFLOP curve (any labels). Default:
            runs are grouped by compute, ``tolerance`` apart at most.
        budgets: The curves' FLOP budgets instead: each run joins the nearest one within a
            factor ``tolerance`` of its compute, the others are left out.
        tolerance: Factor, above 1 (default 1.1): without ``budget`` or ``budgets``, the runs
            whose compute lies within this factor of each other's form one curve (the fullest
            such window first, then the next; runs in windows of fewer than 3 are left out).
        log_loss: Fit the parabola to the log of the loss (default; its noise is then
            proportional to the loss) rather than the loss.
        noise: ``"per_budget"`` (default: each curve's own noise variance; a curve of exactly
            3 runs takes the others' pooled) or ``"pooled"`` (one variance for all curves).
        num_draws: Posterior draws (default 4000).
        flops_per_param_token: ``k`` in ``C = k N D`` (default 6).

    Returns:
        One row per budget, by compute: ``C`` (the geometric mean of its runs' compute),
        ``runs``, ``N_min`` and ``N_max`` (its runs' model sizes), ``N_opt`` (median of the
        vertex), ``N_opt_lower``, ``N_opt_upper``, and ``p_no_minimum``, the posterior
        probability that its parabola opens downward.

    Raises:
        ValueError: for fewer than 3 budgets, a given budget with fewer than 3 runs (named with
            its count), a curve with fewer than 3 distinct model sizes, or bad arguments.
    """
    check_level(level)
    m = _minima(
        data,
        target=target,
        budget=budget,
        budgets=budgets,
        tolerance=tolerance,
        log_loss=log_loss,
        num_draws=num_draws,
        seed=seed,
        flops_per_param_token=flops_per_param_token,
        noise=noise,
    )
    q = (1.0 - level) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a curve without any minimum: NaN
        lo, med, hi = np.nanquantile(m.log_n_opt, [q, 0.5, 1.0 - q], axis=0)
    out = pd.DataFrame(
        {
            "C": np.exp(m.log_c),
            "runs": m.runs,
            "N_min": np.exp(m.log_n_range[:, 0]),
            "N_max": np.exp(m.log_n_range[:, 1]),
            "N_opt": np.exp(med),
            "N_opt_lower": np.exp(lo),
            "N_opt_upper": np.exp(hi),
            "p_no_minimum": np.mean(np.isnan(m.log_n_opt), axis=0),
        }
    )
    out.attrs.update(level=level, left_out=m.left_out, log_loss=log_loss)
    return out


def _allocation_table(
    m: _Minima, C: np.ndarray, *, level: float, flops_per_param_token: float
) -> pd.DataFrame:
    if len(m.slope) == 0:
        lacking = np.mean(np.isnan(m.log_n_opt), axis=0)
        listed = ", ".join(
            f"C={_flops(math.exp(c))} ({p:.2g})" for c, p in zip(m.log_c, lacking, strict=True)
        )
        raise InvalidValueError(
            "no posterior draw has a minimum on every isoFLOP curve; the share of draws in "
            f"which each curve's parabola opens downward: {listed}. Are the runs on isoFLOP "
            "curves? Add runs on both sides of each curve's minimum, or name the curves "
            "(budgets=[...] or a budget column)"
        )
    log_c = np.log(C)
    log_n = m.intercept[:, None] + m.slope[:, None] * log_c[None, :]  # (S', budgets)
    lo, med, hi = _quantiles(log_n, level)
    budget = C / flops_per_param_token
    out = pd.DataFrame({"C": C})
    # D* = budget / N* and D*/N* = budget / N*^2 fall as N* rises: their bounds are N*'s swapped
    out["N_opt"], out["N_opt_lower"], out["N_opt_upper"] = np.exp(med), np.exp(lo), np.exp(hi)
    out["D_opt"], out["D_opt_lower"], out["D_opt_upper"] = (
        budget / np.exp(v) for v in (med, hi, lo)
    )
    out["tokens_per_param"], out["tokens_per_param_lower"], out["tokens_per_param_upper"] = (
        budget / np.exp(2 * v) for v in (med, hi, lo)
    )
    a_lo, a_med, a_hi = _quantiles(m.slope, level)
    out["a"], out["a_lower"], out["a_upper"] = a_med, a_lo, a_hi
    out["b"], out["b_lower"], out["b_upper"] = 1 - a_med, 1 - a_hi, 1 - a_lo
    top, bottom = m.log_c.max(), m.log_c.min()
    out["extrapolation"] = np.maximum.reduce(
        [np.zeros(len(C)), (log_c - top) / math.log(10), (bottom - log_c) / math.log(10)]
    )
    out.attrs.update(
        level=level,
        flops_per_param_token=flops_per_param_token,
        method="isoflop",
        budgets=tuple(float(v) for v in np.exp(m.log_c)),
        runs=tuple(int(r) for r in m.runs),
        left_out=m.left_out,
        p_no_minimum=1.0 - len(m.slope) / m.num_draws,
    )
    return out


def isoflop_allocation(
    data: Any,
    C: Any,
    *,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
    target: str = "loss",
    budget: str | None = None,
    budgets: Any = None,
    tolerance: float = DEFAULT_TOLERANCE,
    log_loss: bool = True,
    noise: str = "per_budget",
    num_draws: int = DEFAULT_NUM_DRAWS,
    flops_per_param_token: float = 6.0,
) -> pd.DataFrame:
    r"""Compute-optimal allocation from isoFLOP curves (Hoffmann et al.'s Approach 2), with
    posterior intervals that carry the uncertainty of every curve's minimum.

    Per budget :math:`c` a parabola in :math:`u = \ln N - \bar x_c` fits the log loss,
    :math:`y = \beta_{c0} + \beta_{c1} u + \beta_{c2} u^2 + \varepsilon`, with Normal noise of
    variance :math:`\sigma_c^2` and the reference prior
    :math:`p(\beta_c, \sigma_c^2) \propto 1/\sigma_c^2`: the posterior is
    Normal-inverse-:math:`\chi^2`, drawn in closed form (see ``bayescale._plan``). Each joint
    draw gives every curve's minimiser
    :math:`\ln N^*_c = \bar x_c - \beta_{c1}/(2\beta_{c2})` and the least-squares line
    :math:`\ln N^* = \ln k_N + a \ln C` through them. Draws in which a parabola opens downward
    (:math:`\beta_{c2} \le 0`, no minimum) are left out and reported: their share in
    ``attrs["p_no_minimum"]`` (per curve by :func:`isoflop_minima`), and a
    :class:`~bayescale.DataWarning` above 1%, as for a minimum outside its curve's runs.

    Calibration: on curves simulated from a Chinchilla law with noise of one variance, the 90%
    interval of ``a`` covers the truth in 90% of replicates with ``noise="pooled"`` and in
    about 95% with ``noise="per_budget"``, which sums the curves' independent Student-t
    uncertainties: conservative when the variance is in fact shared, and the safer choice when
    the curves fit unequally well (on the digitised Chinchilla points one curve's residuals are
    ten times the others', and one pooled variance would blur every curve by them).

    Args:
        data: One row per run: ``N`` (parameters), ``D`` (tokens; or ``C``, FLOPs, when the
            table has no ``D``) and the ``target`` column.
        C: FLOP budgets to allocate (a number or an array, raw FLOPs, e.g. ``5.76e23``).
        level: Central interval probability, in (0, 1) (default 0.9).
        seed: Seed of the posterior draws.
        target: The loss column (default ``"loss"``).
        budget: Name of a column labelling each run's isoFLOP curve. Default: group the runs
            by compute (``tolerance``).
        budgets: The curves' FLOP budgets, e.g. Hoffmann's ``[6e18, 1e19, 3e19, ...]``: each
            run joins the nearest within a factor ``tolerance``; the others are left out.
        tolerance: Factor, above 1 (default 1.1). Without ``budget`` or ``budgets``, runs whose
            compute lies within this factor of each other form one curve: the window holding
            the most runs first, then the next; runs in no window of 3 or more are left out
            (counted in ``attrs["left_out"]``).
        log_loss: Fit the parabolas to the log loss (default) or to the loss.
        noise: ``"per_budget"`` (default: each curve's own noise variance, as the parabola
            fits some curves better than others; a curve of exactly 3 runs takes the others'
            pooled) or ``"pooled"`` (one variance for all curves).
        num_draws: Posterior draws (default 4000).
        flops_per_param_token: ``k`` in ``C = k N D`` (default 6).

    Returns:
        One row per budget, the columns of :meth:`Posterior.allocate
        <bayescale.Posterior.allocate>` that Approach 2 estimates: ``C``; ``N_opt``,
        ``D_opt``, ``tokens_per_param``, ``a`` (:math:`d\ln N^*/d\ln C`) and ``b``
        (:math:`= 1 - a`), each with ``_lower``/``_upper`` bounds; and ``extrapolation``,
        the decades of ``C`` beyond the budgets fitted. ``attrs`` holds ``budgets`` (their
        FLOPs), ``runs`` (per budget), ``left_out``, ``p_no_minimum`` and ``level``.
        :func:`isoflop_minima` gives the curves' minima.

    Raises:
        ValueError: for fewer than 3 budgets (naming those found and their runs), a given
            budget with fewer than 3 runs (named with its count), a curve with fewer than 3
            distinct model sizes, budgets ``C`` that are not finite and positive, or bad
            arguments. :class:`~bayescale.DataError` for a bad table.

    Example:
        >>> data = bs.datasets.load("chinchilla")
        >>> hoffmann = [6e18, 1e19, 3e19, 6e19, 1e20, 3e20, 6e20, 1e21, 3e21]
        >>> bs.isoflop_allocation(data, 5.76e23, budgets=hoffmann, tolerance=1.12)
        ... # a = 0.504, 90% interval 0.473-0.528 (Hoffmann's Table 2: 0.49, 0.462-0.534)

    References:
        Hoffmann, J. et al. (2022). Training Compute-Optimal Large Language Models. NeurIPS.
        arXiv:2203.15556 (Approach 2; Table 2: a = 0.49, 0.462-0.534).
    """
    check_level(level)
    C = _positive_values("C", C, "FLOP budgets")
    m = _minima(
        data,
        target=target,
        budget=budget,
        budgets=budgets,
        tolerance=tolerance,
        log_loss=log_loss,
        num_draws=num_draws,
        seed=seed,
        flops_per_param_token=flops_per_param_token,
        noise=noise,
    )
    out = _allocation_table(m, C, level=level, flops_per_param_token=float(flops_per_param_token))
    _warn_about_minima(m, stacklevel=2)
    return out


# ----------------------------------------------------------------------------- two estimators
def _warn_if_disjoint(
    C: np.ndarray,
    parametric: tuple[np.ndarray, np.ndarray],
    isoflop: tuple[np.ndarray, np.ndarray],
    *,
    level: float,
    law: str,
    stacklevel: int,
) -> None:
    """A DataWarning where the two estimators' intervals of the exponent ``a`` do not overlap."""
    (p_lo, p_hi), (i_lo, i_hi) = parametric, isoflop
    apart = (p_hi < i_lo) | (i_hi < p_lo)
    if not apart.any():
        return
    j = int(np.flatnonzero(apart)[0])
    warnings.warn(
        f"the {level:.0%} intervals of the exponent a = dlog N*/dlog C do not overlap at "
        f"C={_flops(C[j])}: parametric law {law!r} [{p_lo[j]:.3f}, {p_hi[j]:.3f}], isoFLOP "
        f"curves (Approach 2) [{i_lo[j]:.3f}, {i_hi[j]:.3f}]. The law's form or the isoFLOP "
        "design is off: check the curves (bayescale.plot.isoflop, bayescale.isoflop_minima), "
        "try other laws (bayescale.compare), and trust neither allocation alone",
        DataWarning,
        stacklevel=stacklevel + 1,
    )


def _isoflop_data(post: Any) -> pd.DataFrame:
    from ._allocation import check_nd

    check_nd(
        post.law,
        "method='isoflop' needs runs in N and D",
        grouped="method='isoflop' fits one group's isoFLOP curves; pass group=<label>",
        only_nd=False,
        log_link=False,
    )
    return post.data


def _parametric_a(post: Any, C: np.ndarray, flops_per_param_token: float, level: float):
    """The ``level`` interval of the law's own exponent ``a`` per budget, or None where
    the law does not allocate (inputs other than N and D, or another link)."""
    if set(post.law.inputs) != {"N", "D"} or post.law.link != "log":
        return None
    import jax.numpy as jnp

    from ._allocation import allocate_draws

    theta = {k: jnp.asarray(post._theta_flat[k]) for k in post.law.param_names}
    a = np.asarray(allocate_draws(post.law, theta, C / flops_per_param_token)["a"])
    lo, _, hi = _quantiles(a, level)
    return lo, hi


def posterior_isoflop(
    post: Any,
    C: np.ndarray,
    *,
    level: float,
    flops_per_param_token: float,
    seed: int,
    budgets: Any,
    tolerance: Any,
    stacklevel: int,
) -> pd.DataFrame:
    """``post.allocate(C, method="isoflop")``: Approach 2 on the fit's own runs, warned where
    its exponent disagrees with the law's. ``stacklevel`` counts from the caller of this."""
    data = _isoflop_data(post)
    m = _minima(
        data,
        target=post.law.target,
        budget=None,
        budgets=budgets,
        tolerance=DEFAULT_TOLERANCE if tolerance is None else tolerance,
        log_loss=True,
        num_draws=DEFAULT_NUM_DRAWS,
        seed=seed,
        flops_per_param_token=flops_per_param_token,
    )
    out = _allocation_table(m, C, level=level, flops_per_param_token=flops_per_param_token)
    _warn_about_minima(m, stacklevel=stacklevel + 1)
    parametric = _parametric_a(post, C, flops_per_param_token, level)
    if parametric is not None:
        _warn_if_disjoint(
            C,
            parametric,
            (out["a_lower"].to_numpy(), out["a_upper"].to_numpy()),
            level=level,
            law=post.law.name,
            stacklevel=stacklevel + 1,
        )
    return out


_SHARED = [
    "C",
    *(
        f"{q}{s}"
        for q in ("N_opt", "D_opt", "tokens_per_param", "a", "b")
        for s in ("", "_lower", "_upper")
    ),
]


def compare_allocations(
    post: Any,
    C: Any,
    *,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
    budgets: Any = None,
    tolerance: float = DEFAULT_TOLERANCE,
    flops_per_param_token: float = 6.0,
) -> pd.DataFrame:
    """The law's compute-optimal allocation beside the isoFLOP curves' (Approach 2) of the same
    runs, with a :class:`~bayescale.DataWarning` where their intervals of ``a`` do not overlap.

    The two answer one question from different assumptions: the parametric posterior
    (:meth:`Posterior.allocate <bayescale.Posterior.allocate>`) trusts the law's form at every
    ``N`` and ``D``; the isoFLOP estimate (:func:`isoflop_allocation`) only that each curve is
    a parabola near its minimum and the minima follow a power law in ``C``. Disjoint intervals
    of the exponent mean that one of them, at least, is wrong.

    Args:
        post: A fit of a law in ``N`` and ``D`` whose runs lie on isoFLOP curves.
        C: FLOP budgets (a number or an array).
        level: Central interval probability (default 0.9); also the intervals compared.
        seed: Seed of the isoFLOP posterior draws.
        budgets: The isoFLOP curves' FLOPs (see :func:`isoflop_allocation`); default: runs
            grouped by compute within ``tolerance``.
        tolerance: Factor grouping runs into curves (default 1.1).
        flops_per_param_token: ``k`` in ``C = k N D`` (default 6).

    Returns:
        Two rows per budget, ``method`` first (``"parametric"``, ``"isoflop"``), then ``C`` and
        the allocation columns both estimators have: ``N_opt``, ``D_opt``,
        ``tokens_per_param``, ``a`` and ``b`` with their ``_lower``/``_upper`` bounds.

    Raises:
        ValueError: as :meth:`Posterior.allocate <bayescale.Posterior.allocate>` and
            :func:`isoflop_allocation` do.
    """
    check_level(level)
    C = _positive_values("C", C, "FLOP budgets")
    k = check_flops_per_param_token(flops_per_param_token)
    parametric = post.allocate(C, level=level, flops_per_param_token=k)
    data = _isoflop_data(post)
    m = _minima(
        data,
        target=post.law.target,
        budget=None,
        budgets=budgets,
        tolerance=tolerance,
        log_loss=True,
        num_draws=DEFAULT_NUM_DRAWS,
        seed=seed,
        flops_per_param_token=k,
    )
    isoflop = _allocation_table(m, C, level=level, flops_per_param_token=k)
    _warn_about_minima(m, stacklevel=2)
    _warn_if_disjoint(
        C,
        (parametric["a_lower"].to_numpy(), parametric["a_upper"].to_numpy()),
        (isoflop["a_lower"].to_numpy(), isoflop["a_upper"].to_numpy()),
        level=level,
        law=post.law.name,
        stacklevel=2,
    )
    out = pd.concat(
        [
            parametric[_SHARED].assign(method="parametric"),
            isoflop[_SHARED].assign(method="isoflop"),
        ],
        ignore_index=True,
    )
    order = np.argsort(np.tile(np.arange(len(C)), 2), kind="stable")
    out = out.iloc[order].reset_index(drop=True)
    out = out[["method", *_SHARED]]
    out.attrs = {"level": level, "flops_per_param_token": k}
    return out


# ----------------------------------------------------------------------------- cost
@dataclasses.dataclass(frozen=True)
class Hardware:
    r"""An accelerator fleet: what a training run's FLOPs cost in time and money.

    A run of :math:`C` FLOPs on ``count`` accelerators of peak throughput :math:`P` (FLOP/s)
    at model FLOPs utilisation :math:`u` takes

    .. math::

        t = \frac{C}{P\, u\, \text{count}} \ \text{seconds}, \qquad
        \text{accelerator-hours} = \frac{C}{3600\, P\, u}, \qquad
        \text{cost} = \text{accelerator-hours} \times \text{price per hour}.

    Presets (:data:`bayescale.HARDWARE`, :meth:`preset`) hold the peak **dense** BF16 tensor
    throughput per accelerator from the vendors' datasheets (half the "with sparsity" figure
    NVIDIA and AMD print first):

    ==============  ===========  ===========================================================
    preset          peak FLOP/s  source
    ==============  ===========  ===========================================================
    ``a100``        312e12       NVIDIA A100 Tensor Core GPU datasheet (SXM; 624 sparse)
    ``h100``        989e12       NVIDIA H100 datasheet, H100 SXM (1,979 sparse)
    ``h100_pcie``   756e12       NVIDIA H100 datasheet, H100 PCIe (1,513 sparse)
    ``h200``        989e12       NVIDIA H200 datasheet, H200 SXM (1,979 sparse)
    ``b200``        2.25e15      NVIDIA HGX B200 datasheet, per GPU (4.5e15 sparse)
    ``gb200``       2.5e15       NVIDIA GB200 NVL72 datasheet, per GPU (180e15 dense / 72)
    ``mi300x``      1307.4e12    AMD Instinct MI300X datasheet (2,614.9 sparse)
    ``tpu_v3``      123e12       Google Cloud TPU v3 docs, peak bf16 per chip
    ``tpu_v4``      275e12       Google Cloud TPU v4 docs, peak bf16 per chip
    ``tpu_v5e``     197e12       Google Cloud TPU v5e docs, peak bf16 per chip
    ``tpu_v5p``     459e12       Google Cloud TPU v5p docs, peak bf16 per chip
    ``tpu_v6e``     918e12       Google Cloud TPU v6e (Trillium) docs, peak bf16 per chip
    ==============  ===========  ===========================================================

    Attributes:
        name: What it is (free text; a preset's key).
        peak_flops: Peak dense throughput of one accelerator, FLOP/s, in the precision the run
            trains in (BF16 for the presets).
        mfu: Model FLOPs utilisation, the share of the peak a run sustains, in (0, 1]
            (default 0.4; large dense runs report 0.3-0.55).
        count: Accelerators training together (default 1).
        price_per_hour: Price of one accelerator-hour (any currency), or None when unknown
            (the cost is then NaN).

    Example:
        >>> hw = bs.Hardware.preset("a100", count=1024, price_per_hour=1.5)
        >>> bs.cost(5.76e23, hardware=hw)  # Chinchilla: ~52 days, ~1.28M A100-hours
    """

    name: str
    peak_flops: float
    mfu: float = 0.4
    count: int = 1
    price_per_hour: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidValueError(f"name must be a non-empty string, got {self.name!r}")
        p = self.peak_flops
        if not (is_real_number(p) and math.isfinite(p) and p > 0):
            raise InvalidValueError(
                f"peak_flops must be a finite positive number of FLOP/s per accelerator "
                f"(e.g. 989e12 for an H100), got {p!r}"
            )
        if p < 1e9:
            raise InvalidValueError(
                f"peak_flops={p!r} is below 1e9 FLOP/s: give FLOP/s, not TFLOP/s "
                f"(989e12 for 989 TFLOP/s)"
            )
        if not (is_real_number(self.mfu) and 0 < self.mfu <= 1):
            raise InvalidValueError(
                f"mfu must be a fraction in (0, 1] (0.4 for 40% utilisation), got {self.mfu!r}"
            )
        c = self.count
        if isinstance(c, bool) or not isinstance(c, int | np.integer) or c < 1:
            raise InvalidValueError(f"count must be a positive integer of accelerators, got {c!r}")
        price = self.price_per_hour
        if price is not None and not (
            is_real_number(price) and math.isfinite(price) and price >= 0
        ):
            raise InvalidValueError(
                f"price_per_hour must be a finite non-negative number or None, got {price!r}"
            )
        object.__setattr__(self, "peak_flops", float(p))
        object.__setattr__(self, "mfu", float(self.mfu))
        object.__setattr__(self, "count", int(c))
        if price is not None:
            object.__setattr__(self, "price_per_hour", float(price))

    @property
    def flops_per_second(self) -> float:
        """Sustained throughput of the whole fleet, FLOP/s: ``peak_flops * mfu * count``."""
        return self.peak_flops * self.mfu * self.count

    @classmethod
    def preset(
        cls,
        name: str,
        *,
        mfu: float = 0.4,
        count: int = 1,
        price_per_hour: float | None = None,
    ) -> Hardware:
        """A preset accelerator (see the table above) with a fleet's settings.

        Args:
            name: A preset's key, e.g. ``"h100"``, ``"tpu_v5p"`` (case, spaces, ``-`` and
                ``_`` do not matter: ``"TPU v5p"`` works).
            mfu: Model FLOPs utilisation (default 0.4).
            count: Accelerators (default 1).
            price_per_hour: Price per accelerator-hour, or None.

        Raises:
            ValueError: for an unknown name (listing the presets) or bad settings.
        """
        base = _preset(name)
        return cls(base.name, base.peak_flops, mfu, count, price_per_hour)


def _key(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name.lower())


_PEAK_BF16 = {
    "a100": 312e12,
    "h100": 989e12,
    "h100_pcie": 756e12,
    "h200": 989e12,
    "b200": 2.25e15,
    "gb200": 2.5e15,
    "mi300x": 1307.4e12,
    "tpu_v3": 123e12,
    "tpu_v4": 275e12,
    "tpu_v5e": 197e12,
    "tpu_v5p": 459e12,
    "tpu_v6e": 918e12,
}
HARDWARE: Mapping[str, Hardware] = MappingProxyType(
    {name: Hardware(name, peak) for name, peak in _PEAK_BF16.items()}
)
_BY_KEY = {_key(name): hw for name, hw in HARDWARE.items()}


def _preset(name: Any) -> Hardware:
    if not isinstance(name, str):
        raise InvalidTypeError(f"hardware must be a Hardware or a preset's name, got {name!r}")
    found = _BY_KEY.get(_key(name))
    if found is None:
        raise InvalidValueError(
            f"unknown hardware {name!r}; presets: {', '.join(HARDWARE)} (or give "
            "bayescale.Hardware(name, peak_flops, ...))"
        )
    return found


_COST_COLUMNS = ("accelerator_hours", "days", "cost")


def _compute_columns(table: pd.DataFrame) -> list[str]:
    """``C`` and its interval columns (``C_lower``, ``C_upper``) present in ``table``."""
    return [c for c in ("C", "C_lower", "C_upper") if c in table.columns]


def cost(C: Any, *, hardware: Hardware | str) -> pd.DataFrame:
    r"""What training runs of ``C`` FLOPs cost on ``hardware``: accelerator-hours, wall-clock
    days and money.

    .. math::

        \text{accelerator-hours} = \frac{C}{3600\, P\, u}, \qquad
        \text{days} = \frac{C}{86400\, P\, u\, n}, \qquad
        \text{cost} = \text{accelerator-hours} \times \text{price per hour},

    with :math:`P` the peak FLOP/s of one accelerator, :math:`u` the utilisation (MFU) and
    :math:`n` the accelerators (:class:`Hardware`).

    Args:
        C: FLOPs: a number, an array, or a table with a ``C`` column, e.g. from
            :meth:`Posterior.allocate <bayescale.Posterior.allocate>` or
            :meth:`Posterior.compute_for <bayescale.Posterior.compute_for>`; its interval
            columns ``C_lower``/``C_upper`` are costed too (``inf``, a target reached at no
            budget, costs ``inf``).
        hardware: A :class:`Hardware`, or a preset's name (one accelerator at 40% MFU, no
            price: ``Hardware.preset(name, count=..., price_per_hour=...)`` for a fleet).

    Returns:
        For numbers: one row per value, ``C``, ``accelerator_hours``, ``days`` and ``cost``
        (NaN without a price). For a table: a copy with those columns added, each with
        ``_lower``/``_upper`` where the table has ``C_lower``/``C_upper``. ``attrs["hardware"]``
        is the :class:`Hardware`.

    Raises:
        ValueError: for FLOPs that are not positive numbers (a table's naming the column and
            row), a table without a ``C`` column, or an unknown preset.

    Example:
        >>> bs.cost(post.compute_for(loss=2.0), hardware=bs.Hardware.preset("h100", count=512))
    """
    hw = hardware if isinstance(hardware, Hardware) else _preset(hardware)
    if isinstance(C, pd.DataFrame):
        table = C.copy()
        if "C" not in table.columns:
            raise InvalidValueError(
                f"C: the table has no 'C' column (FLOPs); its columns are {list(table.columns)}"
            )
        for name in _compute_columns(table):
            try:
                values = table[name].to_numpy(dtype=np.float64)
            except (TypeError, ValueError):
                raise InvalidValueError(f"C: column {name!r} is not numeric") from None
            bad = np.isnan(values) | (values <= 0)
            if bad.any():
                rows = list(table.index[bad][:5])
                raise InvalidValueError(
                    f"C: column {name!r} must hold positive FLOPs; row(s) {rows} hold "
                    f"{values[bad][:3].tolist()}"
                )
        sources = _compute_columns(table)
    else:
        table = pd.DataFrame({"C": _positive_values("C", C, "FLOPs")})
        sources = ["C"]
    per_accelerator = hw.peak_flops * hw.mfu * _SECONDS_PER_HOUR
    price = math.nan if hw.price_per_hour is None else hw.price_per_hour
    for source in sources:
        suffix = source[1:]  # "", "_lower", "_upper"
        flops = table[source].to_numpy(dtype=np.float64)
        hours = flops / per_accelerator
        table[f"accelerator_hours{suffix}"] = hours
        table[f"days{suffix}"] = hours / hw.count / _HOURS_PER_DAY
        table[f"cost{suffix}"] = hours * price
    table.attrs = {**table.attrs, "hardware": hw}
    return table


# ----------------------------------------------------------------------------- prob_reach
def _checked_losses(loss: Any) -> np.ndarray:
    return _positive_values("loss", loss, "target losses")


def _broadcast(loss: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(point index, loss)`` per row: targets against points, one of them single or both of
    one length."""
    m = len(loss)
    if m == n:
        return np.arange(n), loss
    if m == 1:
        return np.arange(n), np.repeat(loss, n)
    if n == 1:
        return np.zeros(m, int), loss
    raise InvalidValueError(
        f"{m} target losses against {n} points: give one loss, one point, or as many losses "
        "as points"
    )


def _reach(
    pred: np.ndarray, chains: int, point: np.ndarray, loss: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``P(y <= loss)`` from predictive draws ``pred`` (``(draws, points)``, chain-major) and
    its Monte Carlo standard error from the indicator's effective sample size."""
    from arviz_stats.base import array_stats

    hits = (pred[:, point] <= loss[None, :]).astype(np.float64)  # (draws, rows)
    p = hits.mean(axis=0)
    per_chain = hits.reshape(chains, -1, hits.shape[1])
    if per_chain.shape[1] < 4:  # too few draws per chain for an autocorrelation estimate
        se = np.sqrt(p * (1 - p) / hits.shape[0])
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            se = np.asarray(array_stats.mcse(per_chain, chain_axis=0, draw_axis=1))
    se = np.where((p == 0) | (p == 1), 0.0, np.nan_to_num(se, nan=0.0))
    return p, se


def prob_reach(
    post: Any,
    loss: Any,
    *,
    C: Any,
    seed: int,
    flops_per_param_token: float,
    inputs: Mapping[str, Any],
    stacklevel: int,
) -> pd.DataFrame:
    """:meth:`Posterior.prob_reach <bayescale.Posterior.prob_reach>`; ``stacklevel`` counts
    the frames from this one (1) to the user's call."""
    import jax

    from ._posterior import _AS_GIVEN, _warn_implausible, _warn_scaled

    loss = _checked_losses(loss)
    check_seed(seed)
    k = check_flops_per_param_token(flops_per_param_token)
    grouped, inputs = post._grouped_inputs(inputs)
    if grouped is not _AS_GIVEN:
        post = post.for_group(grouped, seed=seed)
    if C is None:
        x = post._x(inputs, stacklevel=stacklevel + 1)
        n = len(next(iter(x.values())))
        point, targets = _broadcast(loss, n)
        pred, distance = post._predictive_draws(x, seed)
        chains = 1 if post.num_draws == 1 else post.num_chains
        p, se = _reach(pred, chains, point, targets)
        out = pd.DataFrame({name: values[point] for name, values in x.items()})
        out["distance"] = distance[point]
    else:
        if inputs:
            raise InvalidValueError(
                f"give C (the compute-optimal run at each budget) or the law's inputs "
                f"{list(post.law.inputs)}, not both; got C and {sorted(inputs)}"
            )
        budgets = _positive_values("C", C, "FLOP budgets")
        _warn_scaled("C", budgets, stacklevel=stacklevel)
        _warn_implausible("C", budgets, stacklevel=stacklevel)
        import jax.numpy as jnp

        from ._allocation import allocate_draws
        from ._discrepancy import allocation_prediction

        theta = {name: jnp.asarray(post._theta_flat[name]) for name in post.law.param_names}
        n_opt = np.asarray(allocate_draws(post.law, theta, budgets / k)["N_opt"])
        d_opt = budgets[None, :] / k / n_opt
        point, targets = _broadcast(loss, len(budgets))
        if post.num_draws == 1:  # a point fit: its one optimum, with many noise draws there
            x = {"N": n_opt[0], "D": d_opt[0]}
            pred, distance = post._predictive_draws(x, seed)
            chains = 1
        else:
            pred, dist = allocation_prediction(post, n_opt, d_opt, jax.random.PRNGKey(seed))
            distance = np.median(dist, axis=0)
            chains = post.num_chains
        p, se = _reach(pred, chains, point, targets)
        out = pd.DataFrame({"C": budgets[point]})
        out["N_opt"] = np.median(n_opt, axis=0)[point]
        out["D_opt"] = np.median(d_opt, axis=0)[point]
        out["distance"] = distance[point]
    out["loss"], out["p_reach"], out["p_reach_se"] = targets, p, se
    out = out[[c for c in out.columns if c != "distance"] + ["distance"]]
    out.attrs["seed"] = seed
    return out
