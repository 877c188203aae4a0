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
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ._data import DataError
from ._fit import fit
from ._hierarchical import group_spec
from ._law import Law
from ._model import OBS_SITE, build_model

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
    level: float = 0.9,
    seed: int = 0,
    noise: str = "normal",
    flops_per_param_token: float = 6.0,
    **fit_kwargs: Any,
) -> pd.DataFrame:
    """Fit ``law`` on the rows with ``by < cutoff`` and score the rows at or above it.

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
        **fit_kwargs: Passed to :func:`bayescale.fit` (``num_warmup``, ``num_samples``...).

    Returns:
        One row per held-out run, in the data's index: the ``by`` column, the law's inputs,
        the observed target, ``median`` (of the law's mean), ``pred_lower``/``pred_upper``
        (predictive interval), ``lpd``, ``abs_rel_error``, ``covered`` and
        ``extrapolation`` (decades beyond the training range). ``attrs["summary"]`` holds
        ``elpd_lfo`` (sum of lpd), ``mean_lpd``, ``median_abs_rel_error``, ``coverage`` (NaN,
        with a warning, when an interval is undefined),
        ``level``, ``cutoff``, ``by``, ``n_train``, ``n_test`` and ``ok`` (diagnostics of
        the fit on the training rows).

    Raises:
        DataError: if ``by`` is missing or the cutoff leaves too few rows on either side.
    """
    if not isinstance(law, Law):
        raise TypeError(f"law must be a bayescale.Law, got {type(law).__name__}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    scale = _by_column(data, by, flops_per_param_token)
    if cutoff is None:
        if not 0.0 < holdout < 1.0:
            raise ValueError(f"holdout must be in (0, 1), got {holdout}")
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
    post = fit(law, train, seed=seed, noise=noise, **fit_kwargs)
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
    from numpyro.infer import log_likelihood

    model = build_model(law, post.noise)
    samples = {k: jnp.asarray(v) for k, v in post._theta_flat.items()}  # (draws, ...)
    ll = log_likelihood(
        model,
        samples,
        x={k: jnp.asarray(v) for k, v in x.items()},
        y=jnp.asarray(y),
    )[OBS_SITE]
    ll = np.asarray(ll)
    lpd = np.asarray(jax.nn.logsumexp(ll, axis=0)) - np.log(ll.shape[0])

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
