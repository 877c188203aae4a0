r"""Compute-optimal allocation per posterior draw.

For a budget of :math:`C` FLOPs with :math:`C = k N D` (``k = 6`` by default), the optimal model
size minimises the law along the iso-FLOP line, :math:`N^*(C) = \arg\min_N L(N, C/(kN))`. Laws with
a closed form provide ``Law.allocate_fn``; any other law with inputs ``N`` and ``D`` is minimised
numerically (golden-section search in ``log N``, vectorised over draws and budgets).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, Float

from ._errors import InvalidValueError
from ._law import Law

__all__ = [
    "check_nd",
    "optimal_allocation",
    "numeric_allocation",
    "compute_for_loss",
    "optimal_runs",
]

_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
# Search half-width in log N around sqrt(budget): e^18 ~ 7e7-fold either side.
_HALF_WIDTH = 18.0


_ALLOCATES = "allocation splits a FLOP budget between parameters N and tokens D"


def check_nd(
    law: Law,
    need: str = _ALLOCATES,
    *,
    grouped: str | None = None,
    only_nd: bool = True,
    log_link: bool = True,
) -> None:
    """Refuse a law that cannot be priced or allocated in parameters ``N`` and tokens ``D``.

    One checker for every caller that reads a run as ``C = k N D`` FLOPs; each passes its own
    wording, so the message says what the caller needed.

    Args:
        law: The law to check.
        need: What the caller does with ``N`` and ``D``; the message reads
            ``"<need>; law '<name>' has inputs [...]"``.
        grouped: The remedy for a grouped law (``"law '<name>' is grouped: <grouped>"``), or
            None to let grouped laws through.
        only_nd: Whether ``N`` and ``D`` must be the law's only inputs, rather than among them.
        log_link: Whether the law must model the loss on the log scale (``link='log'``).

    Raises:
        ValueError: If the law is grouped (when ``grouped`` is given), lacks ``N`` or ``D`` (or
            has other inputs, with ``only_nd``), or has another link (with ``log_link``).
    """
    if grouped is not None:
        from ._hierarchical import group_spec

        if group_spec(law) is not None:
            raise InvalidValueError(f"law {law.name!r} is grouped: {grouped}")
    inputs = set(law.inputs)
    if not {"N", "D"} <= inputs or (only_nd and len(inputs) != 2):
        raise InvalidValueError(f"{need}; law {law.name!r} has inputs {list(law.inputs)}")
    if log_link and law.link != "log":
        # The optimum and the target comparison below read mean_fn as the log of the loss.
        raise InvalidValueError(
            f"allocation minimises a positive loss modelled on the log scale (link='log'); "
            f"law {law.name!r} has link {law.link!r}"
        )


def _log_loss_along(law: Law, theta, log_budget, log_n):
    return law.mean(theta, {"N": jnp.exp(log_n), "D": jnp.exp(log_budget - log_n)})


def numeric_allocation(
    law: Law, theta: dict[str, Array], budget: Float[Array, ...], num_iter: int = 90
) -> dict[str, Array]:
    """``N*`` and ``D*`` minimising ``law`` on ``N * D = budget`` by golden-section search.

    ``theta`` values and ``budget`` broadcast against each other. 90 iterations shrink the
    bracket by 0.618^90 ~ 1e-19 of its width: far below float64 resolution of ``log N``.
    """
    log_budget = jnp.log(budget)
    lo = 0.5 * log_budget - _HALF_WIDTH
    hi = 0.5 * log_budget + _HALF_WIDTH
    lo, hi = jnp.broadcast_arrays(lo, hi, *theta.values())[:2]

    def body(_, bracket):
        lo, hi = bracket
        x1 = hi - _GOLDEN * (hi - lo)
        x2 = lo + _GOLDEN * (hi - lo)
        f1 = _log_loss_along(law, theta, log_budget, x1)
        f2 = _log_loss_along(law, theta, log_budget, x2)
        left = f1 < f2
        return jnp.where(left, lo, x1), jnp.where(left, x2, hi)

    lo, hi = lax.fori_loop(0, num_iter, body, (lo, hi))
    log_n = 0.5 * (lo + hi)
    return {"N": jnp.exp(log_n), "D": jnp.exp(log_budget - log_n)}


def optimal_allocation(
    law: Law, theta: dict[str, Array], budget: Float[Array, ...]
) -> dict[str, Array]:
    """``N*``, ``D*`` for ``N * D = budget`` (closed form where the law has one)."""
    check_nd(law)
    if law.allocate_fn is not None:
        return law.allocate_fn(law.to_published(theta), budget)
    return numeric_allocation(law, theta, budget)


@functools.partial(jax.jit, static_argnums=(0,))
def _allocate_draws(law: Law, theta: dict[str, Array], budget: Array) -> dict[str, Array]:
    theta = {k: v[:, None] for k, v in theta.items()}
    budget = budget[None, :]
    opt = optimal_allocation(law, theta, budget)
    loss = jnp.exp(law.mean(theta, opt))
    # Local scaling exponents a = dlog N*/dlog C, b = dlog D*/dlog C by a central difference
    # (exact for power-law optima, where they are constant).
    h = 0.5
    up = optimal_allocation(law, theta, budget * math.exp(h))
    down = optimal_allocation(law, theta, budget * math.exp(-h))
    a = (jnp.log(up["N"]) - jnp.log(down["N"])) / (2 * h)
    b = (jnp.log(up["D"]) - jnp.log(down["D"])) / (2 * h)
    return {
        "N_opt": opt["N"],
        "D_opt": opt["D"],
        "tokens_per_param": opt["D"] / opt["N"],
        "loss_opt": loss,
        "a": a,
        "b": b,
    }


def allocate_draws(law: Law, theta: dict[str, Array], budget: Array) -> dict[str, Array]:
    """Allocation quantities per draw and budget, each shaped ``(draws, budgets)``."""
    check_nd(law)
    return _allocate_draws(law, theta, jnp.asarray(budget, jnp.float64))


@functools.partial(jax.jit, static_argnums=(0,))
def _compute_for(law, theta, log_target, lo, hi):
    theta = {k: v[:, None] for k, v in theta.items()}

    def log_loss_opt(log_budget):
        opt = optimal_allocation(law, theta, jnp.exp(log_budget))
        return law.mean(theta, opt)

    shape = jnp.broadcast_shapes(log_target[None, :].shape, theta[next(iter(theta))].shape)
    lo = jnp.full(shape, lo)
    hi = jnp.full(shape, hi)
    reachable = log_loss_opt(hi) <= log_target[None, :]

    def body(_, bracket):
        lo, hi = bracket
        mid = 0.5 * (lo + hi)
        above = log_loss_opt(mid) > log_target[None, :]
        return jnp.where(above, mid, lo), jnp.where(above, hi, mid)

    lo, hi = lax.fori_loop(0, 60, body, (lo, hi))
    log_budget = jnp.where(reachable, 0.5 * (lo + hi), jnp.inf)
    return log_budget, reachable


def compute_for_loss(
    law: Law, theta: dict[str, Array], loss: Array, *, log_budget_range=(10.0, 100.0)
) -> tuple[Array, Array]:
    """Per draw, the smallest budget ``N*D`` whose compute-optimal loss reaches ``loss``.

    Returns ``(budget, reachable)`` shaped ``(draws, targets)``; unreachable targets (below the
    irreducible loss, or beyond e^100) give ``inf``. Bisection in log budget: the optimal loss
    falls monotonically with compute.
    """
    check_nd(law)
    log_budget, reachable = _compute_for(
        law, theta, jnp.log(jnp.asarray(loss, jnp.float64)), *log_budget_range
    )
    return jnp.exp(log_budget), reachable


@functools.partial(jax.jit, static_argnums=(0,))
def _optimal_runs(law, theta, log_budget):
    theta = {k: v[:, None] for k, v in theta.items()}
    opt = optimal_allocation(law, theta, jnp.exp(log_budget))
    return opt["N"], opt["D"], law.mean(theta, opt)


def optimal_runs(
    law: Law, theta: dict[str, Array], log_budget: Array
) -> tuple[Array, Array, Array]:
    """Per draw, the compute-optimal run at each log budget ``log(N*D)`` (``(draws, k)``, or
    ``(k,)`` shared by every draw): ``N*``, ``D*`` and the law's log loss there, each shaped
    ``(draws, k)``."""
    check_nd(law)
    return _optimal_runs(law, theta, jnp.asarray(log_budget, jnp.float64))
