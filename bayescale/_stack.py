r"""Stacking over law forms: forecasts and allocations that mix several laws' draws.

:func:`stack` takes a :class:`~bayescale.Comparison` and mixes its fits by the comparison's
stacking weights: the predictive distribution is

.. math::
    p(\tilde y \mid y) = \sum_k w_k\, p_k(\tilde y \mid y),

drawn as a mixture: of ``num_draws`` draws, about :math:`w_k` of them come from law :math:`k`
(resampled from its posterior draws, each with its own noise and, beyond the data, its own law
error). With ``compare(..., by="future")`` the weights are those that best forecast the ladder's
largest runs from its smaller ones, which is what a forecast beyond the data asks for; with the
default in-sample comparison they are LOO stacking weights.

References:
    Yao, Vehtari, Simpson & Gelman (2018), Using stacking to average Bayesian predictive
    distributions, Bayesian Analysis 13(3).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ._data import DEFAULT_LEVEL, check_level
from ._errors import InvalidTypeError, InvalidValueError
from ._posterior import Posterior, _optimal_run_columns, _quantiles

__all__ = ["Stack", "stack"]


@dataclasses.dataclass(frozen=True, eq=False)
class Stack:
    """Several fits of one ladder mixed by stacking weights (immutable).

    Attributes:
        posteriors: The fits, by name (those of weight above the threshold of :func:`stack`).
        weights: Their weights (a Series summing to 1, the same names).
        criterion: Where the weights come from: ``"future"`` (leave-future-out) or ``"loo"``.
    """

    posteriors: Mapping[str, Posterior]
    weights: pd.Series
    criterion: str

    def _counts(self, num_draws: int) -> dict[str, int]:
        w = self.weights.to_numpy()
        counts = np.floor(w * num_draws).astype(int)
        # largest remainders get the draws left over, so the counts add up to num_draws
        for i in np.argsort(-(w * num_draws - counts))[: num_draws - counts.sum()]:
            counts[i] += 1
        return dict(zip(self.weights.index, counts.tolist(), strict=True))

    def _pick(self, rng: np.random.Generator, name: str, count: int) -> np.ndarray:
        return rng.integers(0, self.posteriors[name].num_draws, count)

    def forecast(
        self, *, level: float = DEFAULT_LEVEL, seed: int = 0, num_draws: int = 4000, **inputs: Any
    ) -> pd.DataFrame:
        """The stacked forecast at new inputs: the laws' draws mixed by their weights.

        Args:
            level: Central interval probability (default 0.9).
            seed: Seed of the noise draws and of the mixture's resampling.
            num_draws: Draws of the mixture.
            **inputs: The laws' inputs (scalars or arrays that broadcast), e.g. ``N=70e9``.

        Returns:
            The columns of :meth:`Posterior.forecast` (``median``, ``mean_lower`` and
            ``mean_upper`` of the mixed laws' means; ``pred_*`` of a new run; ``distance``),
            ``attrs["weights"]`` the weights.
        """
        check_level(level)
        x, mean, pred, distance = self.draws(seed=seed, num_draws=num_draws, **inputs)
        m_lo, m_med, m_hi = _quantiles(mean, level)
        p_lo, p_med, p_hi = _quantiles(pred, level)
        out = pd.DataFrame(x)
        out["median"], out["mean_lower"], out["mean_upper"] = m_med, m_lo, m_hi
        out["pred_median"], out["pred_lower"], out["pred_upper"] = p_med, p_lo, p_hi
        out["distance"] = distance
        out.attrs.update(level=level, weights=self.weights.to_dict(), criterion=self.criterion)
        return out

    def draws(
        self, *, seed: int = 0, num_draws: int = 4000, **inputs: Any
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
        """The mixture's draws at new inputs: ``(x, mean, pred, distance)``, ``mean`` and
        ``pred`` shaped ``(num_draws, points)`` (the laws' means and new runs)."""
        rng = np.random.default_rng(seed)
        means, preds, x, distance = [], [], None, None
        for name, count in self._counts(num_draws).items():
            if count == 0:
                continue
            post = self.posteriors[name]
            x = post._x(inputs, stacklevel=4)
            mean, pred, distance = forecast_draws(post, x, seed)
            idx = self._pick(rng, name, count)
            means.append(mean[idx])
            preds.append(pred[idx])
        return x, np.concatenate(means), np.concatenate(preds), distance

    def allocate(
        self,
        C: Any,
        *,
        level: float = DEFAULT_LEVEL,
        flops_per_param_token: float = 6.0,
        seed: int = 0,
        num_draws: int = 4000,
    ) -> pd.DataFrame:
        """The stacked compute-optimal allocation: per-draw optima of the laws, mixed.

        Args:
            C: FLOP budgets (a number or an array).
            level: Central interval probability (default 0.9).
            flops_per_param_token: ``k`` in ``C = k N D`` (default 6).
            seed: Seed of the mixture's resampling and the predictive draws.
            num_draws: Draws of the mixture.

        Returns:
            ``C`` and the median and ``_lower``/``_upper`` bounds of ``N_opt``, ``D_opt``,
            ``tokens_per_param``, ``loss_opt`` and ``loss_pred`` (the predictive loss of a run
            trained at the optimum), ``attrs["weights"]`` the weights.
        """
        from ._posterior import _checked_targets

        C = _checked_targets("C", C, "FLOP budgets", level, flops_per_param_token)
        budget = C / flops_per_param_token
        rng = np.random.default_rng(seed)
        parts: dict[str, list[np.ndarray]] = {"N_opt": [], "loss_opt": [], "loss_pred": []}
        for name, count in self._counts(num_draws).items():
            if count == 0:
                continue
            draws = allocation_draws(self.posteriors[name], budget, seed)
            idx = self._pick(rng, name, count)
            for k in parts:
                parts[k].append(draws[k][idx])
        out = pd.DataFrame({"C": C})
        _optimal_run_columns(out, np.concatenate(parts["N_opt"]), budget, level)
        for k in ("loss_opt", "loss_pred"):
            lo, med, hi = _quantiles(np.concatenate(parts[k]), level)
            out[k], out[f"{k}_lower"], out[f"{k}_upper"] = med, lo, hi
        out.attrs.update(
            level=level,
            flops_per_param_token=flops_per_param_token,
            weights=self.weights.to_dict(),
            criterion=self.criterion,
        )
        return out

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}: {w:.3f}" for k, w in self.weights.items())
        return f"Stack of {len(self.weights)} laws ({self.criterion} weights: {shown})"


def _ungrouped(post: Posterior, what: str) -> None:
    from ._hierarchical import group_spec

    if group_spec(post.law) is not None:
        raise InvalidValueError(
            f"stack: {what} of a grouped fit ({post.law.name!r}): stack each group's fits "
            "(post.for_group(label)) instead"
        )


def forecast_draws(
    post: Posterior, x: Mapping[str, np.ndarray], seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draws ``(mean, pred)`` of one fit at inputs ``x`` (``(draws, points)`` each), as its own
    forecast makes them (the law's error beyond the data included), and the distance."""
    from ._discrepancy import add_discrepancy

    _ungrouped(post, "forecasts")
    key = jax.random.PRNGKey(seed)
    pred = post.predictive(x, seed=seed)  # drawn with the same key
    pred, distance = add_discrepancy(post, x, pred, key)
    return post._mean_draws(x), pred, distance


def allocation_draws(post: Posterior, budget: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Per-draw optimum ``N_opt``, the law's ``loss_opt`` there and the predictive
    ``loss_pred`` of a run trained there (``(draws, budgets)`` each)."""
    from ._allocation import allocate_draws
    from ._discrepancy import allocation_prediction

    _ungrouped(post, "allocations")
    theta = {k: jnp.asarray(post._theta_flat[k]) for k in post.law.param_names}
    per_draw = allocate_draws(post.law, theta, budget)
    n_opt = np.asarray(per_draw["N_opt"])
    pred, _ = allocation_prediction(post, n_opt, budget / n_opt, jax.random.PRNGKey(seed + 1))
    return {"N_opt": n_opt, "loss_opt": np.asarray(per_draw["loss_opt"]), "loss_pred": pred}


def stack(comparison: Any, *, min_weight: float = 1e-3) -> Stack:
    """Mix the fits of a :func:`bayescale.compare` result by its stacking weights.

    Args:
        comparison: A :class:`~bayescale.Comparison`; ``compare(posts, by="future")`` gives
            weights by how well each law forecast the ladder's largest runs.
        min_weight: Laws below this weight are left out (the rest renormalised).

    Returns:
        A :class:`Stack`, whose ``forecast`` and ``allocate`` mix the laws' draws.

    Example:
        >>> cmp = bs.compare({"chinchilla": p1, "kaplan_ND": p2}, by="future")
        >>> bs.stack(cmp).forecast(N=70e9, D=1.4e12)
    """
    from ._compare import Comparison

    if not isinstance(comparison, Comparison):
        raise InvalidTypeError(
            f"stack needs a bayescale.Comparison, got {type(comparison).__name__}"
        )
    if not comparison.posteriors:
        raise InvalidValueError(
            "this Comparison holds no fits to mix; make it with bayescale.compare"
        )
    weights = comparison.table["weight"].astype(float)
    weights = weights[weights >= min_weight]
    if weights.empty:
        raise InvalidValueError(f"no law has a weight of at least min_weight={min_weight}")
    weights = weights / weights.sum()
    return Stack(
        posteriors={k: comparison.posteriors[k] for k in weights.index},
        weights=weights,
        criterion=comparison.criterion,
    )
