r"""Data-constrained scaling (Muennighoff et al. 2023) and the tied-exponent Chinchilla law.

Repeated data is worth less than fresh data. With ``U_D = min(U, D)`` unique tokens seen for
``D`` tokens in all (``R_D = D/U_D - 1`` repetitions), the *effective* data is

.. math::
    D' = U_D + U_D R_D^* \left(1 - e^{-R_D / R_D^*}\right),

which grows like ``D`` for few epochs and saturates at ``U (1 + R_D^*)``. Parameters beyond
those that are compute-optimal for ``U`` tokens are likewise worth less:
``U_N = min(N, N_opt(U_D))``, ``R_N = N/U_N - 1`` and
``N' = U_N + U_N R_N^* (1 - e^{-R_N / R_N^*})``, where ``N_opt(D) = G (D G)^{beta/alpha}``,
``G = (alpha A / (beta B))^{1/(alpha+beta)}`` is the Chinchilla optimum for ``D`` tokens. The loss
is Chinchilla's with the effective quantities, ``L = E + A/N'^alpha + B/D'^beta``; the paper ties
``alpha = beta``.

Published (datablations README; the paper fits the base law and the decay constants in
stages, where bayescale fits all seven jointly): ``log A = 6.255414, log B = 7.3049974,
log E = 0.6254804, alpha = beta = 0.3526596, R_D* = 15.387756, R_N* = 5.309743``.

References:
    Muennighoff et al. (2023), Scaling Data-Constrained Language Models, NeurIPS,
    arXiv:2305.16264; code https://github.com/huggingface/datablations.
    Hoffmann et al. (2022), arXiv:2203.15556.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpyro.distributions as dist
from jax import lax
from jaxtyping import Array, ArrayLike

from bayescale._errors import InvalidValueError, UnknownNameError
from bayescale._law import Law, Parameter, log_power, logsumexp_terms

from ._chinchilla import D0, N0, chinchilla

__all__ = [
    "PUBLISHED_DATA_CONSTRAINED",
    "allocate_data_constrained",
    "chinchilla_tied",
    "data_constrained",
    "data_constrained_loss",
]

_LOG_N0 = math.log(N0)
_LOG_D0 = math.log(D0)

#: The published constants (datablations README / paper), published names.
PUBLISHED_DATA_CONSTRAINED: dict[str, float] = {
    "E": math.exp(0.6254804),
    "A": math.exp(6.255414),
    "B": math.exp(7.3049974),
    "alpha": 0.3526596,
    "beta": 0.3526596,
    "R_D_star": 15.387756,
    "R_N_star": 5.309743,
}

_by_name = {p.name: p for p in chinchilla.params}


# ----------------------------------------------------------------------------- tied Chinchilla
def _tied_mean(theta, x):
    return logsumexp_terms(
        theta["log_E"],
        log_power(jnp.log(x["N"]) - _LOG_N0, theta["log_A0"], theta["alpha"]),
        log_power(jnp.log(x["D"]) - _LOG_D0, theta["log_B0"], theta["alpha"]),
    )


def _tied_published(theta):
    a = theta["alpha"]
    return {
        "E": jnp.exp(theta["log_E"]),
        "A": jnp.exp(theta["log_A0"] + a * _LOG_N0),
        "B": jnp.exp(theta["log_B0"] + a * _LOG_D0),
        "alpha": a,
    }


def _tied_allocate(p, budget):
    """Closed form with beta = alpha: N* = (A/B)^(1/(2 alpha)) sqrt(C/6)."""
    log_g = (jnp.log(p["A"]) - jnp.log(p["B"])) / (2.0 * p["alpha"])
    log_n = log_g + 0.5 * jnp.log(budget)
    return {"N": jnp.exp(log_n), "D": jnp.exp(jnp.log(budget) - log_n)}


chinchilla_tied = Law(
    name="chinchilla_tied",
    inputs=("N", "D"),
    params=(_by_name["log_E"], _by_name["log_A0"], _by_name["log_B0"], _by_name["alpha"]),
    mean_fn=_tied_mean,
    published_fn=_tied_published,
    published=("E", "A", "B", "alpha"),
    formula="L = E + A/N^alpha + B/D^alpha",
    reference="Muennighoff et al. (2023), arXiv:2305.16264 (tied alpha = beta); "
    "Hoffmann et al. (2022), arXiv:2203.15556",
    allocate_fn=_tied_allocate,
    doc=r"""Chinchilla with one exponent for parameters and data (alpha = beta).

.. math::
    L(N, D) = E + A N^{-\alpha} + B D^{-\alpha}

Muennighoff et al. (2023) fit this form to their runs with at most 2.5 epochs (the data are
then nearly "fresh") and report ``[log A, log B, log E, alpha] = [6.4526, 8.0230, 0.6399,
0.3595]`` (datablations ``utils/parametric_fit.ipynb``). The compute-optimal split is then
``N* = (A/B)^{1/(2 alpha)} sqrt(C/6)``: parameters and tokens grow equally with compute.
Priors: those of :data:`bayescale.models.chinchilla`.

References:
    Muennighoff et al. (2023), arXiv:2305.16264. Hoffmann et al. (2022), arXiv:2203.15556.
""",
)


# ----------------------------------------------------------------------------- data-constrained
def _log_effective(log_unique, log_total, log_r_star):
    """``log(U + U R* (1 - exp(-R/R*)))`` with ``R = max(total/U - 1, 0)``, in log space."""
    r = jnp.maximum(jnp.expm1(log_total - log_unique), 0.0)
    r_star = jnp.exp(log_r_star)
    return log_unique + jnp.log1p(r_star * -jnp.expm1(-r / r_star))


def _log_n_opt(log_d, log_a, log_b, alpha, beta):
    """Chinchilla's compute-optimal ``log N`` for ``D`` tokens: ``G (D G)^{beta/alpha}``."""
    log_g = (jnp.log(alpha) + log_a - jnp.log(beta) - log_b) / (alpha + beta)
    return log_g + beta / alpha * (log_d + log_g)


def _dc_log_loss(log_e, log_a, log_b, alpha, beta, log_rd, log_rn, log_n, log_d, log_u):
    # Unique tokens actually seen: U_D = min(U, D) (a run shorter than one epoch repeats nothing).
    log_u = jnp.minimum(log_u, log_d)
    log_d_eff = _log_effective(log_u, log_d, log_rd)
    log_un = jnp.minimum(log_n, _log_n_opt(log_u, log_a, log_b, alpha, beta))
    log_n_eff = _log_effective(log_un, log_n, log_rn)
    return logsumexp_terms(log_e, log_a - alpha * log_n_eff, log_b - beta * log_d_eff)


def _dc_mean(theta, x):
    a = theta["alpha"]
    return _dc_log_loss(
        theta["log_E"],
        theta["log_A0"] + a * _LOG_N0,
        theta["log_B0"] + a * _LOG_D0,
        a,
        a,
        theta["log_R_D_star"],
        theta["log_R_N_star"],
        jnp.log(x["N"]),
        jnp.log(x["D"]),
        jnp.log(x["U"]),
    )


def _dc_published(theta):
    out = _tied_published(theta)
    out["R_D_star"] = jnp.exp(theta["log_R_D_star"])
    out["R_N_star"] = jnp.exp(theta["log_R_N_star"])
    return out


data_constrained = Law(
    name="data_constrained",
    inputs=("N", "D", "U"),
    params=(
        _by_name["log_E"],
        _by_name["log_A0"],
        _by_name["log_B0"],
        _by_name["alpha"],
        Parameter(
            "log_R_D_star",
            dist.Normal(2.0, 1.5),
            "log of R_D*, the repetitions after which repeated data is worth ~1/e of fresh "
            "data; Normal(2, 1.5) puts 95% of R_D* in [0.4, 140] epochs.",
        ),
        Parameter(
            "log_R_N_star",
            dist.Normal(2.0, 1.5),
            "log of R_N*, the same decay for parameters in excess of N_opt(U); same prior.",
        ),
    ),
    mean_fn=_dc_mean,
    published_fn=_dc_published,
    published=("E", "A", "B", "alpha", "R_D_star", "R_N_star"),
    formula="L = E + A/N'^alpha + B/D'^alpha, D' = U + U R_D*(1-exp(-R_D/R_D*)), "
    "N' = U_N + U_N R_N*(1-exp(-R_N/R_N*))",
    reference="Muennighoff et al. (2023), Scaling Data-Constrained Language Models, "
    "arXiv:2305.16264",
    doc=__doc__ or "",
)


def data_constrained_loss(params: Mapping[str, ArrayLike], N, D, U) -> Array:
    """The data-constrained loss from published-name parameters (NumPy-friendly, broadcasts).

    Args:
        params: ``E, A, B, alpha, R_D_star, R_N_star`` and optionally ``beta`` (defaults to
            ``alpha``), e.g. :data:`PUBLISHED_DATA_CONSTRAINED` or ``Posterior.samples``.
        N: Parameters. D: Total training tokens. U: Unique tokens (``U <= D``).

    Returns:
        The loss (nats/token).
    """
    p = {k: jnp.asarray(v, jnp.float64) for k, v in params.items()}
    beta = p.get("beta", p["alpha"])
    return jnp.exp(
        _dc_log_loss(
            jnp.log(p["E"]),
            jnp.log(p["A"]),
            jnp.log(p["B"]),
            p["alpha"],
            beta,
            jnp.log(p["R_D_star"]),
            jnp.log(p["R_N_star"]),
            jnp.log(jnp.asarray(N, jnp.float64)),
            jnp.log(jnp.asarray(D, jnp.float64)),
            jnp.log(jnp.asarray(U, jnp.float64)),
        )
    )


_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
_PLATEAU_TOL = 1e-13  # in log loss: ~1000 float64 ulps of log 2


@jax.jit
def _allocate(p, log_budget, log_u):
    """Grid scan then golden-section in log N along N D = budget, vectorised over everything."""
    beta = p.get("beta", p["alpha"])
    args = (
        jnp.log(p["E"]),
        jnp.log(p["A"]),
        jnp.log(p["B"]),
        p["alpha"],
        beta,
        jnp.log(p["R_D_star"]),
        jnp.log(p["R_N_star"]),
    )
    shape = jnp.broadcast_shapes(log_budget.shape, log_u.shape, *(jnp.shape(a) for a in args))
    log_budget = jnp.broadcast_to(log_budget, shape)
    log_u = jnp.broadcast_to(log_u, shape)
    args = tuple(jnp.broadcast_to(a, shape) for a in args)

    def f(log_n):
        return _dc_log_loss(*args, log_n, log_budget - log_n, log_u)

    # Coarse grid over 1e-8..1e8 x sqrt(budget) (the loss along the iso-FLOP line has one
    # minimum, but U_N's min() makes it only piecewise smooth), then golden section in the
    # bracket around the best grid point.
    grid = jnp.linspace(-18.0, 18.0, 145)
    centre = 0.5 * log_budget
    vals = jax.vmap(lambda g: f(centre + g))(grid)
    best = jnp.argmin(vals, axis=0)
    step = grid[1] - grid[0]
    lo = centre + grid[best] - step
    hi = centre + grid[best] + step

    def body(_, bracket):
        lo, hi = bracket
        x1 = hi - _GOLDEN * (hi - lo)
        x2 = lo + _GOLDEN * (hi - lo)
        left = f(x1) < f(x2)
        return jnp.where(left, lo, x1), jnp.where(left, x2, hi)

    lo, hi = lax.fori_loop(0, 80, body, (lo, hi))
    log_n = 0.5 * (lo + hi)
    # Under heavy repetition both N' and D' saturate and the loss is flat (to float precision)
    # over a wide band of N, so the minimiser is arbitrary there. On such a plateau (1% less N
    # costs under _PLATEAU_TOL) report the smallest N within _PLATEAU_TOL of the minimum, found
    # by bisection (a unimodal f is monotone left of it); a curved optimum is left as it is.
    ceiling = f(log_n) + _PLATEAU_TOL
    left = centre + grid[0]

    def bisect(_, bracket):
        lo, hi = bracket  # f(hi) <= ceiling; f(lo) > ceiling unless lo is the grid's edge
        mid = 0.5 * (lo + hi)
        ok = f(mid) <= ceiling
        return jnp.where(ok, lo, mid), jnp.where(ok, mid, hi)

    _, smallest = lax.fori_loop(0, 80, bisect, (left, log_n))
    smallest = jnp.where(f(left) <= ceiling, left, smallest)
    log_n = jnp.where(f(log_n - 0.01) <= ceiling, smallest, log_n)
    return log_n, log_budget - log_n, f(log_n)


def allocate_data_constrained(
    params: Mapping[str, ArrayLike],
    C: ArrayLike,
    U: ArrayLike,
    *,
    flops_per_param_token: float = 6.0,
) -> dict[str, Array]:
    r"""Compute-optimal model size and tokens for a FLOP budget when only ``U`` tokens are unique.

    Minimises the data-constrained loss along ``C = k N D`` (``k = 6``): there is no closed form
    (repetition and excess parameters decay exponentially), so the minimum is found numerically
    (a grid in ``log N`` then golden-section search), vectorised over every argument. Pass
    ``Posterior.samples`` of a :data:`data_constrained` fit to get the allocation per posterior
    draw; pass :data:`PUBLISHED_DATA_CONSTRAINED` for the paper's. With the published constants,
    ``C = 1e22`` and ``U = 25e9`` give ``N* = 7.03e9`` and ``D* = 2.37e11`` (the datablations
    README example: about 7.0B parameters and 237B tokens, i.e. ~9.5 epochs). Under very heavy
    repetition (thousands of epochs) the loss is flat to float precision over a band of ``N``;
    ``N*`` is then the smallest model within ``1e-13`` (in log loss) of that floor.

    Args:
        params: Published-name parameters ``E, A, B, alpha, R_D_star, R_N_star`` (and optionally
            ``beta``), scalars or arrays (one entry per draw).
        C: FLOP budget(s).
        U: Unique tokens available.
        flops_per_param_token: ``k`` in ``C = k N D``.

    Returns:
        ``{"N": N*, "D": D*, "epochs": D*/U, "loss": L(N*, D*, U)}``, broadcast over the
        inputs.

    References:
        Muennighoff et al. (2023), arXiv:2305.16264, Section 3 and the datablations README.
    """
    missing = {"E", "A", "B", "alpha", "R_D_star", "R_N_star"} - set(params)
    if missing:
        raise UnknownNameError(
            f"allocate_data_constrained needs parameters {sorted(missing)} "
            "(published names, e.g. Posterior.samples of a data_constrained fit)"
        )
    C = jnp.asarray(C, jnp.float64)
    U = jnp.asarray(U, jnp.float64)
    if not (bool(jnp.all(C > 0)) and bool(jnp.all(U > 0))):
        raise InvalidValueError("C and U must be positive (raw FLOPs and raw token counts)")
    p = {k: jnp.asarray(v, jnp.float64) for k, v in params.items()}
    log_n, log_d, log_loss = _allocate(p, jnp.log(C / flops_per_param_token), jnp.log(U))
    n, d = jnp.exp(log_n), jnp.exp(log_d)
    return {"N": n, "D": d, "epochs": d / U, "loss": jnp.exp(log_loss)}
