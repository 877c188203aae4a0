r"""Leave-future-out: fit on the small runs, score the forecasts of the large ones.

Scaling laws exist to extrapolate, so the score that matters is how well a law fitted on runs
below a size or compute cutoff predicts the runs above it. For each held-out row :math:`i`
(:math:`x_i \ge` cutoff) with the posterior :math:`p(\theta \mid y_{<})` of the runs below:

* log predictive density :math:`\mathrm{lpd}_i = \log \frac1S \sum_s p(y_i \mid \theta_s)`
  (the elpd of the future, summed over held-out rows);
* absolute relative error :math:`|\tilde y_i - y_i| / y_i` of the posterior median
  :math:`\tilde y_i` of the law's mean;
* whether :math:`y_i` falls in the central predictive interval (parameters and noise).

References:
    Burkner, Gabry & Vehtari (2020), Approximate leave-future-out cross-validation for
    Bayesian time series models, J. Stat. Comput. Simul. 90(14).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np
import pandas as pd

from ._data import DEFAULT_LEVEL, DataError
from ._errors import InvalidTypeError, InvalidValueError
from ._fit import fit
from ._hierarchical import group_spec
from ._law import Law
from ._methods import NUTS, recorded_method
from ._noise import Noise
from ._posterior import Posterior

__all__ = ["leave_future_out"]


def _by_column(data: pd.DataFrame, by: str, flops_per_param_token: float) -> pd.Series:
    if by in data.columns:
        return pd.to_numeric(data[by], errors="raise").astype(float)
    if by == "C" and {"N", "D"} <= set(data.columns):
        return flops_per_param_token * data["N"].astype(float) * data["D"].astype(float)
    hint = " (C is computed as 6 N D when the table has N and D)" if by == "C" else ""
    raise DataError(f"leave_future_out: no column {by!r} to split on{hint}; got {list(data)}")


def leave_future_out(
    law: Law,
    data: pd.DataFrame,
    *,
    cutoff: float | None = None,
    by: str = "C",
    holdout: float = 0.2,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
    noise: Noise | str = "normal",
    flops_per_param_token: float = 6.0,
    discrepancy: Any = "auto",
    **fit_kwargs: Any,
) -> pd.DataFrame:
    """Fit ``law`` on the rows with ``by < cutoff`` and score the rows at or above it.

    The forecasts and densities of the held-out rows include the law's own error beyond the
    training rows (:attr:`bayescale.Posterior.calibration`, learned on the training rows alone
    by nested leave-future-out), as every forecast of a default fit does; ``discrepancy=None``
    scores the law's posterior without it.

    Args:
        law: The law to evaluate.
        data: All measurements (the law's inputs and target, plus ``by`` unless ``by="C"``
            and the table has ``N`` and ``D``: then ``C = 6 N D``).
        cutoff: Rows with ``data[by] >= cutoff`` are held out. Default: the ``1 - holdout``
            quantile of ``by``.
        by: The column that orders runs by scale (``"C"``, ``"N"``, ``"D"``...).
        holdout: Fraction held out when ``cutoff`` is None.
        level: Probability of the predictive interval whose coverage is scored.
        seed: Seed of the fit and of the predictive draws.
        noise: The noise model.
        flops_per_param_token: FLOPs per parameter per token when ``C`` is computed.
        discrepancy: The law-error setting of the training fit (``"auto"``, None or a
            :class:`~bayescale.Discrepancy`; see :meth:`bayescale.Posterior.with_discrepancy`).
        **fit_kwargs: Passed to :func:`bayescale.fit` (``num_warmup``, ``num_samples``...).

    Returns:
        One row per held-out run, in the data's index: the ``by`` column, the law's inputs,
        the observed target, ``median`` (of the law's mean), ``pred_lower``/``pred_upper``
        (predictive interval), ``lpd``, ``abs_rel_error``, ``covered`` and
        ``extrapolation`` (decades beyond the training range of any input) and ``distance``
        (the same, also in the runs' scale, e.g. compute). ``attrs["summary"]`` holds
        ``elpd_lfo`` (sum of lpd), ``mean_lpd``, ``median_abs_rel_error``, ``coverage`` (NaN,
        with a warning, when an interval is undefined),
        ``level``, ``cutoff``, ``by``, ``n_train``, ``n_test`` and ``ok`` (diagnostics of
        the fit on the training rows).

    Raises:
        DataError: if ``by`` is missing or the cutoff leaves too few rows on either side.
    """
    if not isinstance(law, Law):
        raise InvalidTypeError(f"law must be a bayescale.Law, got {type(law).__name__}")
    if not 0.0 < level < 1.0:
        raise InvalidValueError(f"level must be in (0, 1), got {level}")
    scale = _by_column(data, by, flops_per_param_token)
    if cutoff is None:
        if not 0.0 < holdout < 1.0:
            raise InvalidValueError(f"holdout must be in (0, 1), got {holdout}")
        cutoff = float(np.quantile(scale, 1.0 - holdout))
    test_mask = (scale >= cutoff).to_numpy()
    n_test, n_train = int(test_mask.sum()), int((~test_mask).sum())
    if n_test == 0:
        raise DataError(
            f"leave_future_out: no row has {by} >= cutoff {cutoff:g} (largest {scale.max():g})"
        )
    if n_train < law.min_rows:
        raise DataError(
            f"leave_future_out: only {n_train} row(s) have {by} < cutoff {cutoff:g}; law "
            f"{law.name!r} needs at least {law.min_rows} to fit"
        )
    train, test = data.loc[~test_mask], data.loc[test_mask]
    post = fit(law, train, seed=seed, noise=noise, **fit_kwargs).with_discrepancy(discrepancy)
    law = post.law  # priors may have been replaced through fit_kwargs
    spec = group_spec(law)
    if spec is not None and spec.column not in test:  # fit(groups=...): the test rows' codes
        label_column = spec.label_column
        try:
            codes = spec.codes(test[label_column].tolist())
        except KeyError as err:
            raise DataError(
                f"leave_future_out: {label_column}: {err.args[0]} (a group seen only among the "
                "held-out rows has no fitted effects; forecast it as a new group instead)"
            ) from None
        test = test.assign(**{spec.column: codes})
    x = {k: test[k].to_numpy(np.float64) for k in law.inputs}
    y = test[law.target].to_numpy(np.float64)
    fc = post.forecast(level=level, seed=seed + 1, **x)

    # Pointwise log predictive density of the held-out rows under the training posterior.
    lpd, _ = held_out_lpd(post, x, y, seed=seed + 2)

    out = pd.DataFrame(index=test.index)
    out[by] = scale[test_mask].to_numpy()
    for k in law.inputs:
        if k != by:
            out[k] = x[k]
    out[law.target] = y
    out["median"] = fc["median"].to_numpy()
    out["pred_lower"] = fc["pred_lower"].to_numpy()
    out["pred_upper"] = fc["pred_upper"].to_numpy()
    out["lpd"] = lpd
    out["abs_rel_error"] = np.abs(out["median"] - y) / np.abs(y)
    out["covered"] = (y >= out["pred_lower"]) & (y <= out["pred_upper"])
    # A NaN bound (predictive draws that overflow, e.g. a chain stuck at tiny Student-t nu in a
    # fit that failed its diagnostics) leaves coverage undefined, not 0.
    undefined = int((out["pred_lower"].isna() | out["pred_upper"].isna()).sum())
    if undefined:
        warnings.warn(
            f"leave_future_out: the predictive interval of {undefined} held-out row(s) is "
            "undefined (NaN bounds); coverage is reported as NaN"
            + ("" if post.ok else " (the fit failed its diagnostics)"),
            RuntimeWarning,
            stacklevel=2,
        )
    out["extrapolation"] = fc["extrapolation"].to_numpy()
    out["distance"] = fc["distance"].to_numpy()
    out = out.sort_values(by, kind="stable")
    out.attrs["summary"] = {
        "law": law.name,
        "elpd_lfo": float(lpd.sum()),
        "mean_lpd": float(lpd.mean()),
        "median_abs_rel_error": float(np.median(out["abs_rel_error"])),
        "coverage": float("nan") if undefined else float(out["covered"].mean()),
        "level": level,
        "cutoff": float(cutoff),
        "by": by,
        "n_train": n_train,
        "n_test": n_test,
        "ok": post.ok,
    }
    return out


def held_out_lpd(
    post: Posterior, x: Mapping[str, np.ndarray], y: np.ndarray, *, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    r"""Log predictive density of runs ``(x, y)`` under ``post``, the law's own error beyond
    the data integrated out, and their distance beyond it.

    :math:`\mathrm{lpd}_i = \log \frac1S \sum_s p(y_i \mid \theta_s, b_s, \kappa_s)`, with
    :math:`(b_s, \kappa_s)` drawn from :attr:`Posterior.calibration` (zero inside the data or
    without a discrepancy) and :math:`\delta_i` integrated out per draw
    (:func:`bayescale._discrepancy.log_density`).
    """
    from ._discrepancy import log_density, training_distance

    d = training_distance(post, x)
    disc = post.calibration if np.any(d > 0) else None
    drift = kappa = 0.0
    if disc is not None:
        drift, kappa = disc.sample(jax.random.PRNGKey(seed), post.num_draws)
    ll = log_density(post.law, post.noise, post._theta_flat, x, y, d, drift, kappa)
    return np.asarray(jax.nn.logsumexp(ll, axis=0)) - np.log(ll.shape[0]), d


def refit_masked(post: Posterior, train: np.ndarray) -> Posterior:
    """The fit ``post`` again on its rows where ``train`` is True.

    Same law, priors, noise, method, settings and seed, and the same padded arrays (the other
    rows masked out of the likelihood), so the compiled sampler of the original fit is reused:
    nothing recompiles. The law-error setting is kept (``"auto"`` learns it again on the
    training rows).
    """
    from ._inference import _compiled_runner, pad_rows
    from ._many import jitted_runner

    law, data = post.law, post.data
    x = {k: data[k].to_numpy(np.float64) for k in law.inputs}
    y = data[law.target].to_numpy(np.float64)
    xp, yp, mask = pad_rows(x, y)
    mask[: len(y)] = np.asarray(train, bool)
    method = recorded_method(post.method, post.settings)
    if isinstance(method, NUTS):  # the fit's own compiled sampler, its chains as it ran them
        fn = _compiled_runner(law, post.noise, method)
    else:
        fn = jitted_runner(method, law, post.noise)
    draws, stats = fn(jax.random.PRNGKey(post.seed), xp, yp, mask)
    draws = {k: np.asarray(v) for k, v in draws.items()}
    stats = {k: np.asarray(v) for k, v in stats.items()}
    return Posterior(
        law=law,
        noise=post.noise,
        data=data.loc[np.asarray(train, bool)],
        draws=draws,
        stats=stats,
        method=post.method,
        seed=post.seed,
        settings=dict(post.settings),
        problems=tuple(method.problems(draws, stats, warn=False)),
        discrepancy=post.discrepancy,
    )


def future_scores(
    post: Posterior,
    *,
    holdouts: tuple[float, ...] = (0.1, 0.25),
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> pd.DataFrame:
    """Leave-future-out scores of a fit's law on its own largest runs, at several cutoffs.

    For each holdout fraction ``h`` the fit is repeated (:func:`refit_masked`) on the runs below
    the ``1 - h`` quantile of the runs' scale (compute ``N D`` for a law of ``N`` and ``D``;
    :func:`bayescale._discrepancy.scale_inputs`) and the runs at or above it are scored.

    Returns:
        One row per (holdout, held-out run): ``holdout``, ``row`` (position in ``post.data``),
        ``lpd``, ``pred_median``, ``pred_lower``, ``pred_upper``, ``covered``,
        ``abs_rel_error`` (of the predictive median), ``distance``, and ``ok`` (the refit
        passed its diagnostics).
    """
    from ._discrepancy import log_scale

    law, data = post.law, post.data
    x_all = {k: data[k].to_numpy(np.float64) for k in law.inputs}
    y_all = data[law.target].to_numpy(np.float64)
    scale = log_scale(law, x_all)
    frames = []
    for h in holdouts:
        cut = np.quantile(scale, 1.0 - h)
        train = scale < cut
        if train.sum() < law.min_rows or train.all():
            raise DataError(
                f"future scores: holding out the top {h:.0%} of {len(y_all)} runs leaves "
                f"{int(train.sum())} to fit law {law.name!r} (it needs {law.min_rows})"
            )
        sub = refit_masked(post, train)
        rows = np.flatnonzero(~train)
        x = {k: v[rows] for k, v in x_all.items()}
        y = y_all[rows]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a refit that failed is flagged in "ok"
            fc = sub._forecast(x, level=level, seed=seed + 1, stacklevel=2)
        lpd, d = held_out_lpd(sub, x, y, seed=seed + 2)
        lo, hi = fc["pred_lower"].to_numpy(), fc["pred_upper"].to_numpy()
        frames.append(
            pd.DataFrame(
                {
                    "holdout": h,
                    "row": rows,
                    "lpd": lpd,
                    "pred_median": fc["pred_median"].to_numpy(),
                    "pred_lower": lo,
                    "pred_upper": hi,
                    "covered": (y >= lo) & (y <= hi),
                    "abs_rel_error": np.abs(fc["pred_median"].to_numpy() - y) / np.abs(y),
                    "distance": d,
                    "ok": sub.ok,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
