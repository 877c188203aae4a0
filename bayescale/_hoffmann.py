"""The Hoffmann / Epoch point fit of the Chinchilla law: Huber loss on log residuals, L-BFGS
from Hoffmann's initialisation grid, optionally bootstrapped.

The baseline users run today (Hoffmann et al. 2022, Approach 3; Besiroglu et al. 2024):

.. math::
    \\min_{a, b, e, \\alpha, \\beta} \\sum_i w_i\\, \\mathrm{Huber}_\\delta\\Big(
        \\mathrm{LSE}(a - \\alpha \\log N_i,\\; b - \\beta \\log D_i,\\; e) - \\log L_i\\Big),
    \\qquad \\delta = 10^{-3},

with ``A = exp(a)``, ``B = exp(b)``, ``E = exp(e)``, started by L-BFGS from every point of
Hoffmann's grid ``alpha, beta in {0, 0.5, ..., 2}``, ``e in {-1, -0.5, ..., 1}``,
``a, b in {0, 5, ..., 25}`` (4500 starts), keeping the lowest objective. Here the 4500 L-BFGS
runs are vmapped optax L-BFGS (float64; in batches of 512 on a CPU, see ``grid_batch_size``)
instead of a Python loop over scipy.

With ``num_bootstrap > 0`` the rows are resampled with replacement (multinomial counts as the
weights ``w_i``, so every replicate has the same shape and all replicates are one vmapped
call). Each replicate restarts L-BFGS from the ``bootstrap_starts`` best optima of the full-data
grid fit rather than from the whole grid (Epoch's full-grid bootstrap is timed in
``benchmarks/bench_bootstrap.py``). Polishing and replicates run L-BFGS without scipy's
``ftol`` stop (``ftol=0``): with it, L-BFGS on the Huber kinks (delta = 1e-3) stops close to
its start and the replicates come out under-dispersed (alpha sd 0.004 instead of ~0.018 from
32 replicates; Epoch's interval implies ~0.014).

The returned draws are the point fit (one draw) or the bootstrap replicates: a frequentist
sampling distribution, not a posterior. ``sigma`` is set to the root-mean-square log residual at
the fit so that predictive intervals exist; it is not estimated by the Huber objective.

References:
    Hoffmann et al. (2022), Training Compute-Optimal Large Language Models, arXiv:2203.15556,
    Section 3.3 and Appendix D.2.
    Besiroglu et al. (2024), Chinchilla Scaling: A replication attempt, arXiv:2404.10102.
    Huber (1964), Robust estimation of a location parameter, Ann. Math. Statist. 35.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ._approx import lbfgs_minimize
from ._law import Law

__all__ = [
    "HoffmannSettings",
    "default_grid_batch_size",
    "hoffmann_grid",
    "hoffmann_runner",
    "huber",
]

_REQUIRED = ("log_E", "log_A0", "log_B0", "alpha", "beta")


@dataclasses.dataclass(frozen=True)
class HoffmannSettings:
    """Settings of the Hoffmann point fit (hashable).

    Attributes:
        delta: Huber threshold on log residuals (Hoffmann: 1e-3).
        num_bootstrap: Bootstrap replicates (0: the point fit only).
        bootstrap_starts: L-BFGS starts per replicate, the best optima of the full grid fit.
        grid_iter: Most L-BFGS iterations of each of the 4500 grid starts (stage 1).
        grid_linesearch_steps: Zoom line-search steps per iteration in stage 1.
        max_iter: Most L-BFGS iterations when polishing the best starts (stage 2) and per
            bootstrap start.
        tol: Gradient-norm stopping tolerance.
        ftol: Stop polishing/bootstrap L-BFGS when an iteration lowers the objective by less
            than ``ftol * max(|f|, 1)`` (scipy L-BFGS-B's rule; 0 disables it).
        reduced_grid: Use every start of Hoffmann's grid (False) or a 1-in-``reduced_grid``
            subsample of it (for quick screening).
        grid_batch_size: Grid starts advanced together (vmapped) in stage 1, the batches one
            after another. ``None``: 512 on a CPU, where a vmapped batch waits for its longest
            line search (the full 4500-start fit took 95 s at 512 vs 125 s all at once on 2
            cores, same optimum), and all starts at once on an accelerator.
    """

    delta: float = 1e-3
    num_bootstrap: int = 0
    bootstrap_starts: int = 8
    grid_iter: int = 100
    grid_linesearch_steps: int = 20
    max_iter: int = 1000
    tol: float = 1e-10
    ftol: float = 0.0
    reduced_grid: int = 1
    grid_batch_size: int | None = None


def default_grid_batch_size(platform: str, s: HoffmannSettings) -> int:
    """Stage-1 batch of grid starts on ``platform``: 512 on a CPU, all starts elsewhere."""
    return 512 if platform == "cpu" else len(_grid_starts(s))


def _grid_starts(s: HoffmannSettings) -> np.ndarray:
    """The starts stage 1 runs: Hoffmann's grid, or every ``reduced_grid``-th point of it."""
    return hoffmann_grid()[:: s.reduced_grid]


def hoffmann_grid() -> np.ndarray:
    """Hoffmann's 4500-point initialisation grid, columns ``(e, a, b, alpha, beta)``."""
    alpha = np.arange(0.0, 2.01, 0.5)
    beta = np.arange(0.0, 2.01, 0.5)
    e = np.arange(-1.0, 1.01, 0.5)
    a = np.arange(0.0, 25.01, 5.0)
    b = np.arange(0.0, 25.01, 5.0)
    return np.array(list(itertools.product(e, a, b, alpha, beta)), dtype=np.float64)


def huber(r: jax.Array, delta: float) -> jax.Array:
    """Huber loss: ``r^2/2`` for ``|r| <= delta``, ``delta (|r| - delta/2)`` beyond."""
    ar = jnp.abs(r)
    return jnp.where(ar <= delta, 0.5 * r**2, delta * (ar - 0.5 * delta))


def _check_law(law: Law) -> tuple[float, float]:
    if law.inputs != ("N", "D") or tuple(sorted(law.param_names)) != tuple(sorted(_REQUIRED)):
        raise ValueError(
            f"method='hoffmann' fits the Chinchilla form E + A/N^alpha + B/D^beta with parameters "
            f"{_REQUIRED}; law {law.name!r} has parameters {law.param_names}"
        )
    from bayescale.models._chinchilla import _LOG_D0, _LOG_N0

    return _LOG_N0, _LOG_D0


def hoffmann_runner(law: Law, noise: str, s: HoffmannSettings) -> Callable:
    """``runner(rng_key, x, y, mask) -> (draws, stats)`` of the Hoffmann fit (traceable).

    Draws are shaped ``(1, 1)`` (point fit) or ``(1, num_bootstrap)`` (bootstrap replicates).
    """
    log_n0, log_d0 = _check_law(law)
    grid = _grid_starts(s)
    grid_batch_size = s.grid_batch_size or default_grid_batch_size(jax.default_backend(), s)

    def run(rng_key, x, y, mask):
        log_n = jnp.log(x["N"])
        log_d = jnp.log(x["D"])
        log_l = jnp.log(y)
        w_mask = mask.astype(jnp.float64)

        def objective(p, w):
            e, a, b, alpha, beta = p
            pred = jax.nn.logsumexp(
                jnp.stack([a - alpha * log_n, b - beta * log_d, jnp.broadcast_to(e, log_n.shape)]),
                axis=0,
            )
            return jnp.sum(w * huber(pred - log_l, s.delta))

        def solve(p0, w):
            return lbfgs_minimize(
                lambda p: objective(p, w), p0, max_iter=s.max_iter, tol=s.tol, ftol=s.ftol
            )

        def solve_short(p0, w):
            return lbfgs_minimize(
                lambda p: objective(p, w),
                p0,
                max_iter=s.grid_iter,
                tol=s.tol,
                linesearch_steps=s.grid_linesearch_steps,
            )

        # Stage 1: every grid start, at most grid_iter iterations (vmapped). Stage 2: polish the
        # best `bootstrap_starts` to convergence.
        ps, values, _ = jax.lax.map(
            lambda p0: solve_short(p0, w_mask), jnp.asarray(grid), batch_size=grid_batch_size
        )
        top = jnp.argsort(values)[: s.bootstrap_starts]
        ps, values, _ = jax.vmap(solve, in_axes=(0, None))(ps[top], w_mask)
        order = jnp.argsort(values)
        best = ps[order[0]]
        e, a, b, alpha, beta = best
        pred = jax.nn.logsumexp(
            jnp.stack([a - alpha * log_n, b - beta * log_d, jnp.broadcast_to(e, log_n.shape)]),
            axis=0,
        )
        n = jnp.sum(w_mask)
        sigma = jnp.sqrt(jnp.sum(w_mask * (pred - log_l) ** 2) / n)
        stats = {
            "objective": values[order[0]].reshape(1, 1),
            "polished_at_optimum": jnp.sum(values <= values[order[0]] * (1 + 1e-6)).reshape(1, 1),
        }
        if s.num_bootstrap:
            starts = ps
            # Resample the real (unmasked) rows: categorical draws over rows with p ∝ mask.
            logits = jnp.where(mask, 0.0, -jnp.inf)
            idx = jax.random.categorical(rng_key, logits, shape=(s.num_bootstrap, mask.shape[0]))
            # draw position j counts only for j < n (real rows come first after padding)
            counts = jax.vmap(lambda i: jnp.zeros(mask.shape[0]).at[i].add(w_mask))(idx)

            def replicate(w):
                qs, vals, _ = jax.vmap(solve, in_axes=(0, None))(starts, w)
                return qs[jnp.argmin(vals)]

            params = jax.lax.map(replicate, counts, batch_size=min(64, s.num_bootstrap))
            params = params[None]  # (1, num_bootstrap, 5)
        else:
            params = best[None, None]
        e, a, b, alpha, beta = (params[..., i] for i in range(5))
        draws = {
            "log_E": e,
            "log_A0": a - alpha * log_n0,
            "log_B0": b - beta * log_d0,
            "alpha": alpha,
            "beta": beta,
            "sigma": jnp.broadcast_to(sigma, e.shape),
        }
        if noise == "student_t":
            draws["nu"] = jnp.full(e.shape, math.inf)
        return draws, stats

    return run
