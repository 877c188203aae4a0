r"""Which run to train next: expected information gain about a target, per FLOP.

A candidate run ``c`` at inputs :math:`x_c` will show a loss :math:`y_c`; before it is trained,
:math:`y_c` is uncertain as the posterior predictive says. How much the run tells about a
target quantity :math:`t` (the loss of a planned large run, the compute-optimal loss or model
size at a budget) is the expected information gain (Lindley 1956)

.. math::
    \operatorname{EIG}(c) = I(t; y_c) = \mathbb E_{y_c}\big[H(t) - H(t \mid y_c)\big],

the expected fall in the entropy of the target's posterior. Here it is estimated from the joint
posterior draws of :math:`(t, y_c)` under a Gaussian approximation, on the link scale (log
loss, log model size), where scaling-law posteriors are close to Gaussian:

.. math::
    \operatorname{EIG}(c) = -\tfrac12 \log\big(1 - \rho^2(t, y_c)\big), \qquad
    \operatorname{EIG}(S) = \tfrac12 \log \frac{\operatorname{Var} t}
        {\operatorname{Var} t - \Sigma_{tS}\,\Sigma_{SS}^{-1}\,\Sigma_{St}}

for one run and for a set :math:`S` of runs, with :math:`\Sigma` the draws' covariance of the
law's mean plus the noise variance on the diagonal. Both are exact for a linear-Gaussian model
(Bayesian c-optimal design: Chaloner & Verdinelli 1995, section 2.2). Sets are chosen greedily
by the information each run adds to those chosen before it per FLOP, within a compute budget:
the cost-benefit greedy rule of sensor placement (Krause, Singh & Guestrin 2008).

References:
    Lindley, D. V. (1956). On a measure of the information provided by an experiment. Annals of
    Mathematical Statistics 27(4), 986-1005.
    Chaloner, K. & Verdinelli, I. (1995). Bayesian experimental design: a review. Statistical
    Science 10(3), 273-304.
    Rainforth, T., Cornish, R., Yang, H., Warrington, A. & Wood, F. (2018). On nesting Monte
    Carlo estimators. ICML.
    Krause, A., Singh, A. & Guestrin, C. (2008). Near-optimal sensor placements in Gaussian
    processes: theory, efficient algorithms and empirical studies. JMLR 9, 235-284.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jaxtyping import Float

from ._allocation import allocate_draws, check_nd
from ._compiled import CompiledCache
from ._data import (
    DEFAULT_LEVEL,
    check_flops_per_param_token,
    check_level,
    check_seed,
    is_real_number,
)
from ._errors import InvalidTypeError, InvalidValueError
from ._model import OBS_SITE, build_model

if TYPE_CHECKING:
    from ._posterior import Posterior

__all__ = ["information_gain", "next_runs"]

# Target keys that name a compute-optimal quantity at a FLOP budget (the value).
_BUDGET_TARGETS = {"C": "loss_opt", "N_opt": "N_opt"}
# A correlation this close to 1 is a candidate that determines the target (1 - rho^2 = 0).
_RHO2_MAX = 1.0 - 1e-15


def _as_draws(name: str, value: Any, ndim: int) -> np.ndarray:
    a = np.asarray(value, np.float64)
    if a.ndim != ndim:
        shape = "(draws,)" if ndim == 1 else "(draws, candidates)"
        raise InvalidValueError(f"{name} must be shaped {shape}, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise InvalidValueError(f"{name} holds values that are not finite")
    return a


@dataclasses.dataclass
class _Conditioned:
    """The joint Gaussian of the target and the candidates' observations, conditioned on the
    observations chosen so far (rank-one updates of the draws' covariance)."""

    target_var: float  # Var(t | chosen)
    cross: np.ndarray  # Cov(t, y_c | chosen), (candidates,)
    var: np.ndarray  # Var(y_c | chosen), noise included, (candidates,)
    centred: np.ndarray  # the law's mean draws, centred, (draws, candidates)
    noise_var: np.ndarray  # (candidates,)
    # u_p of each pick p: Cov(y_a, y_b | chosen) = Cov(y_a, y_b) - sum_p u_p[a] u_p[b]
    updates: list[np.ndarray] = dataclasses.field(default_factory=list)

    @classmethod
    def of(cls, target: np.ndarray, mean: np.ndarray, noise_var: np.ndarray) -> _Conditioned:
        s = target.shape[0]
        zt = target - target.mean()
        zm = mean - mean.mean(axis=0)
        return cls(
            target_var=float(zt @ zt) / (s - 1),
            cross=zt @ zm / (s - 1),
            var=np.einsum("sc,sc->c", zm, zm) / (s - 1) + noise_var,
            centred=zm,
            noise_var=noise_var,
        )

    def gains(self) -> np.ndarray:
        """Information (nats) each candidate would add to the chosen set about the target."""
        with np.errstate(divide="ignore", invalid="ignore"):
            rho2 = self.cross**2 / (self.target_var * self.var)
        rho2 = np.where((self.var > 0) & (self.target_var > 0), rho2, 0.0)
        return -0.5 * np.log1p(-np.clip(rho2, 0.0, _RHO2_MAX))

    def condition(self, j: int) -> None:
        """Condition on observing candidate ``j``."""
        s = self.centred.shape[0]
        col = self.centred.T @ self.centred[:, j] / (s - 1)
        col[j] += self.noise_var[j]
        for u in self.updates:  # Cov(y_c, y_j | chosen)
            col -= u * u[j]
        sd = math.sqrt(max(col[j], 0.0))
        if sd == 0.0:  # a candidate the chosen ones determine: nothing left to learn from it
            return
        ut, u = self.cross[j] / sd, col / sd
        self.target_var -= ut**2
        self.cross = self.cross - ut * u
        self.var = self.var - u**2
        self.updates.append(u)


def information_gain(
    target_draws: Float[np.ndarray, " draws"],
    mean_draws: Float[np.ndarray, "draws candidates"],
    noise_var: Float[np.ndarray, " candidates"] | float,
) -> Float[np.ndarray, " candidates"]:
    r"""Expected information gain about a target of each candidate observation, alone.

    The Gaussian approximation on joint posterior draws: per candidate :math:`c`

    .. math::
        \operatorname{EIG}(c) = -\tfrac12 \log\left(1 - \frac{\operatorname{Cov}(t, \mu_c)^2}
            {\operatorname{Var}(t)\,(\operatorname{Var}(\mu_c) + \sigma_c^2)}\right)

    in nats, with :math:`t` the target's draws, :math:`\mu_c` the draws of the law's mean at the
    candidate and :math:`\sigma_c^2` the variance of the noise around it (so
    :math:`y_c = \mu_c + \varepsilon_c`). For a linear-Gaussian model
    (:math:`y = s\,t + \varepsilon`, prior variance :math:`\tau^2`) it is the exact
    :math:`\tfrac12 \log(1 + s^2 \tau^2 / \sigma^2)`; otherwise it is the information of the
    best linear predictor of the target from the observation. Its Monte Carlo error from
    :math:`S` draws is about :math:`|\rho| / \sqrt S` nats, and a candidate independent of the
    target shows about :math:`1 / (2S)`.

    Args:
        target_draws: Draws of the target, on the scale where its posterior is closest to
            Gaussian (e.g. the log of a loss): ``(draws,)``.
        mean_draws: Draws of the law's mean at each candidate, on the link scale, from the
            same posterior draws as the target: ``(draws, candidates)``.
        noise_var: The variance of an observation around the law's mean at each candidate
            (a number, or one per candidate), on the same scale; zero for an exact one.

    Returns:
        The information gain of each candidate, in nats, ``(candidates,)``.

    Raises:
        ValueError: for draws of the wrong shape or not finite, draws of different counts,
            fewer than 2 draws, or a noise variance that is negative or not finite.

    Example:
        >>> theta = np.random.default_rng(0).normal(0.0, 1.0, 4000)
        >>> information_gain(theta, np.outer(theta, [1.0, 2.0]), 0.5)  # ~ 0.5 log(1 + s^2/0.5)

    References:
        Lindley, D. V. (1956). Annals of Mathematical Statistics 27(4), 986-1005.
        Chaloner, K. & Verdinelli, I. (1995). Statistical Science 10(3), 273-304.
    """
    target, mean, noise = _checked_draws(target_draws, mean_draws, noise_var)
    return _Conditioned.of(target, mean, noise).gains()


def _checked_draws(target_draws, mean_draws, noise_var):
    target = _as_draws("target_draws", target_draws, 1)
    mean = _as_draws("mean_draws", mean_draws, 2)
    if mean.shape[0] != target.shape[0]:
        raise InvalidValueError(
            f"target_draws has {target.shape[0]} draws and mean_draws {mean.shape[0]}: give "
            "draws of both from the same posterior draws"
        )
    if target.shape[0] < 2:
        raise InvalidValueError(f"the gain needs at least 2 posterior draws, got {target.shape[0]}")
    noise = np.broadcast_to(np.asarray(noise_var, np.float64), mean.shape[1:]).copy()
    if not np.all(np.isfinite(noise) & (noise >= 0)):
        raise InvalidValueError(f"noise_var must be finite and non-negative, got {noise_var!r}")
    return target, mean, noise


def _greedy(
    target: np.ndarray,
    mean: np.ndarray,
    noise_var: np.ndarray,
    cost: np.ndarray,
    budget: float,
    batch: int | None,
) -> tuple[np.ndarray, list[int], list[float], np.ndarray]:
    """``(gain alone, picks in order, gain of each pick given the earlier ones, gain of the
    rest given all picks)``: picks by gain per unit cost among the affordable candidates, until
    ``batch`` picks or none is affordable."""
    state = _Conditioned.of(target, mean, noise_var)
    alone = state.gains()
    picks: list[int] = []
    picked_gains: list[float] = []
    left = budget
    free = np.ones(len(cost), bool)
    gains = alone
    while batch is None or len(picks) < batch:
        affordable = free & (cost <= left * (1 + 1e-12))
        if not affordable.any():
            break
        score = np.where(affordable, gains / cost, -np.inf)
        j = int(np.argmax(score))
        picks.append(j)
        picked_gains.append(float(gains[j]))
        free[j] = False
        left -= cost[j]
        state.condition(j)
        gains = state.gains()
    return alone, picks, picked_gains, gains


# Jitted draws of the law's mean and of the predictive at the candidates, per law and noise
# model; candidate counts are padded to a power of two, so ranking a shrinking pool (a run
# picked, the rest ranked again) compiles a few programs, not one per pool size.
_DRAWS_AT = CompiledCache()


def _draws_at_fn(law, noise):
    from numpyro.infer import Predictive

    model = build_model(law, noise)

    @jax.jit
    def draws_at(theta, x, rng_key):
        loc = jax.vmap(lambda th: law.mean(th, x))({k: theta[k] for k in law.param_names})
        pred = Predictive(model, posterior_samples=theta, return_sites=[OBS_SITE])(rng_key, x)
        return jnp.broadcast_to(loc, pred[OBS_SITE].shape), pred[OBS_SITE]

    return draws_at


def _draws_at(post: Posterior, x: Mapping[str, np.ndarray], seed: int):
    """Draws of the law's mean (link scale) and of a run's observed target (the law at each
    posterior draw plus one noise draw, as :meth:`Posterior.predictive`) at inputs ``x``:
    ``(draws, points)`` each."""
    n = len(next(iter(x.values())))
    size = max(8, 1 << (n - 1).bit_length())
    padded = {k: jnp.asarray(np.concatenate([v, np.full(size - n, v[0])])) for k, v in x.items()}
    theta = {k: jnp.asarray(v) for k, v in post._theta_flat.items()}
    fn = _DRAWS_AT.get((post.law, post.noise), lambda: _draws_at_fn(post.law, post.noise))
    loc, pred = fn(theta, padded, jax.random.PRNGKey(seed))
    return np.asarray(loc)[:, :n], np.asarray(pred)[:, :n]


def _link(link: str, values: np.ndarray) -> np.ndarray:
    if link == "log":
        return np.log(values)
    if link == "logit":
        v = np.clip(values, 1e-12, 1 - 1e-12)
        return np.log(v) - np.log1p(-v)
    return values


def _one_value(name: str, value: Any) -> float:
    a = np.asarray(value)
    if a.size != 1 or a.dtype.kind not in "iuf":
        raise InvalidValueError(f"target[{name!r}] must be one number, got {value!r}")
    v = float(a.reshape(-1)[0])
    if not (math.isfinite(v) and v > 0):
        raise InvalidValueError(f"target[{name!r}] must be finite and positive, got {value!r}")
    return v


def _target_draws(post: Posterior, target: Any, k: float) -> tuple[np.ndarray, np.ndarray, str]:
    """Draws of the target on the scale of the gain (log loss, log N*), on its own scale, and
    its description."""
    forms = (
        f"{{{', '.join(f'{n!r}: ...' for n in post.law.inputs)}}} (the loss of a run there), "
        "{'C': budget} (the compute-optimal loss at a FLOP budget) or {'N_opt': budget} "
        "(the compute-optimal model size at a budget)"
    )
    if not isinstance(target, Mapping):
        raise InvalidTypeError(f"target must be a dict: {forms}; got {target!r}")
    keys = set(target)
    if len(keys) == 1 and next(iter(keys)) in _BUDGET_TARGETS and keys != set(post.law.inputs):
        key = next(iter(keys))
        c = _one_value(key, target[key])
        theta = {n: jnp.asarray(post._theta_flat[n]) for n in post.law.param_names}
        per_draw = allocate_draws(post.law, theta, np.array([c / k]))
        draws = np.asarray(per_draw[_BUDGET_TARGETS[key]])[:, 0]
        what = "compute-optimal loss" if key == "C" else "compute-optimal N"
        return np.log(draws), draws, f"{what} at C={c:g} FLOPs"
    if keys != set(post.law.inputs):
        raise InvalidValueError(f"target must be one of {forms}; got keys {sorted(map(str, keys))}")
    values = {n: _one_value(n, target[n]) for n in post.law.inputs}
    x = post._x(values, stacklevel=5)
    draws = post._mean_draws(x)[:, 0]
    where = ", ".join(f"{n}={v:g}" for n, v in values.items())
    return _link(post.law.link, draws), draws, f"{post.law.target} at {where}"


def _candidate_inputs(post: Posterior, candidates: Any) -> dict[str, Any]:
    if isinstance(candidates, pd.DataFrame):
        return {n: candidates[n] for n in post.law.inputs if n in candidates.columns}
    if isinstance(candidates, Mapping):
        return {n: candidates[n] for n in post.law.inputs if n in candidates}
    raise InvalidTypeError(
        "candidates must be a DataFrame or a dict of columns "
        f"({', '.join(post.law.inputs)}; arrays that broadcast, N[:, None] with D[None, :] for "
        f"a grid), got {type(candidates).__name__}"
    )


def _checked_budget(budget: Any, cheapest: float) -> float:
    if budget is None:
        return math.inf
    if not (is_real_number(budget) and math.isfinite(budget) and budget > 0):
        raise InvalidValueError(
            f"budget must be a finite positive number of FLOPs or None, got {budget!r}"
        )
    if budget < cheapest * (1 - 1e-12):
        raise InvalidValueError(
            f"budget {budget:g} FLOPs is below the cheapest candidate ({cheapest:g} FLOPs): raise "
            "the budget or add cheaper candidates"
        )
    return float(budget)


def _checked_batch(batch: Any, budget: float) -> int | None:
    if batch is None:
        if math.isinf(budget):
            raise InvalidValueError(
                "batch=None picks runs until the budget is spent: give a budget"
            )
        return None
    if isinstance(batch, bool) or not isinstance(batch, int | np.integer) or batch < 1:
        raise InvalidValueError(
            f"batch must be a whole number of runs, 1 or more (or None), got {batch!r}"
        )
    return int(batch)


def next_runs(
    post: Posterior,
    candidates: Any,
    *,
    target: Mapping[str, Any],
    budget: float | None = None,
    batch: int | None = 1,
    flops_per_param_token: float = 6.0,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> pd.DataFrame:
    """See :meth:`bayescale.Posterior.next_runs`."""
    from ._posterior import _quantiles, _row_index

    check_flops_per_param_token(flops_per_param_token)
    check_level(level)
    check_seed(seed)
    check_nd(
        post.law,
        "next_runs prices a run at C = k N D FLOPs: it needs a law of parameters N and tokens D",
        grouped="plan runs for one group with post.for_group(label).next_runs(...)",
        only_nd=False,
        log_link=False,
    )
    if post.num_draws < 2:
        raise InvalidValueError(
            f"next_runs weighs runs by the posterior's spread, and this {post.method!r} fit has "
            "one draw: fit with method='nuts' or 'laplace'"
        )
    t, t_own, label = _target_draws(post, target, flops_per_param_token)
    inputs = _candidate_inputs(post, candidates)
    x = post._x(inputs, stacklevel=4)
    n_cand = len(x["N"])
    cost = flops_per_param_token * x["N"] * x["D"]
    left = _checked_budget(budget, float(cost.min()))
    batch = _checked_batch(batch, left)
    link_mean, pred = _draws_at(post, x, seed)
    noise_var = np.mean((_link(post.law.link, pred) - link_mean) ** 2, axis=0)
    target_, link_mean, noise_var = _checked_draws(t, link_mean, noise_var)
    alone, picks, picked_gains, rest_gains = _greedy(
        target_, link_mean, noise_var, cost, left, batch
    )

    out = pd.DataFrame(x, index=_row_index(inputs, n_cand))
    out["C"] = cost
    out["eig"] = alone
    out["eig_per_flop"] = alone / cost
    lo, med, hi = _quantiles(pred, level)
    out["pred_median"], out["pred_lower"], out["pred_upper"] = med, lo, hi
    pick = np.zeros(n_cand, np.int64)
    pick[picks] = np.arange(1, len(picks) + 1)
    gain = rest_gains.copy()
    gain[picks] = picked_gains
    cumulative_c = np.full(n_cand, np.nan)
    cumulative_eig = np.full(n_cand, np.nan)
    cumulative_c[picks] = np.cumsum(cost[picks])
    cumulative_eig[picks] = np.cumsum(picked_gains)
    out["pick"] = pick
    out["gain"] = gain
    out["cumulative_C"] = cumulative_c
    out["cumulative_eig"] = cumulative_eig
    # The chosen runs first, in the order picked; the rest by gain per FLOP.
    rest = np.flatnonzero(pick == 0)
    rest = rest[np.argsort(-out["eig_per_flop"].to_numpy()[rest], kind="stable")]
    out = out.iloc[np.concatenate([np.asarray(picks, np.int64), rest])]
    total = float(np.sum(picked_gains))
    t_lo, t_med, t_hi = _quantiles(t_own, level)
    out.attrs.update(
        target=label,
        target_median=float(t_med),
        target_lower=float(t_lo),
        target_upper=float(t_hi),
        eig=total,
        width_ratio=math.exp(-total),
        level=level,
        flops_per_param_token=flops_per_param_token,
    )
    return out
