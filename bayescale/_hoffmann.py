"""The Hoffmann / Epoch point fit of the Chinchilla law: Huber loss on log residuals, L-BFGS
from a variable-projection search (default) or from Hoffmann's initialisation grid, optionally
bootstrapped.

The baseline users run today (Hoffmann et al. 2022, Approach 3; Besiroglu et al. 2024):

.. math::
    \\min_{e, a, b, \\alpha, \\beta} \\sum_i w_i\\, \\mathrm{Huber}_\\delta\\Big(
        \\mathrm{LSE}(a - \\alpha \\log N_i,\\; b - \\beta \\log D_i,\\; e) - \\log L_i\\Big),
    \\qquad \\delta = 10^{-3},

with ``A = exp(a)``, ``B = exp(b)``, ``E = exp(e)``. Two searches find the starts of the final
L-BFGS polish of this 5-parameter objective:

* ``search="vpnls"`` (default; variable projection, Golub & Pereyra 1973, as in VPNLS): for
  fixed exponents the law ``L = E + A N^{-alpha} + B D^{-beta}`` is linear in ``(E, A, B)``,
  so these are profiled out on a ``profile_size x profile_size`` grid of ``(alpha, beta)``
  over Hoffmann's range ``(0, 2]``. Each cell minimises the Huber loss of the relative
  residuals ``r_i = (x_i^T c - L_i) / L_i ~ log(x_i^T c) - log L_i`` over ``c = (E, A, B) >= 0``
  by ``profile_iter`` IRLS steps (the majorise-minimise iteration of the Huber loss, weights
  ``u_i = w_i min(1, delta / |r_i|)``), each an exact non-negative least squares
  ``min_{c >= 0} sum_i u_i r_i^2`` solved in closed form by enumerating the 7 supports of
  ``c`` (3x3 normal equations). The ``polish_starts`` cells with the lowest exact objective
  start L-BFGS. On Epoch's 240 points this finds the optimum of the 4500-start grid fit in
  under a second on 2 CPU cores (the grid: about 9 s).
* ``search="grid"``: Hoffmann's published procedure, L-BFGS from every point of the grid
  ``alpha, beta in {0, 0.5, ..., 2}``, ``e in {-1, -0.5, ..., 1}``, ``a, b in {0, 5, ..., 25}``
  (4500 starts, ``grid_iter`` iterations each, optax L-BFGS, one start after another on a CPU
  and vmapped on an accelerator, see ``grid_batch_size``), the best ``polish_starts`` polished
  to convergence.

With ``num_bootstrap > 0`` the rows are resampled with replacement (multinomial counts as the
weights ``w_i``, so every replicate has the same shape and all replicates are one compiled
call: one after another on a CPU, vmapped on an accelerator, see ``batch_size``). Each
replicate restarts L-BFGS from the ``bootstrap_starts`` best polished optima of the full-data
fit (by default the optimum alone under ``"vpnls"``, 8 under ``"grid"``) rather than searching
again: Epoch's 4000 replicates take 7-10 s on 2 CPU cores, and their 95% intervals of alpha
and beta, (0.317, 0.372) and (0.335, 0.414), are Epoch's full-grid ones, (0.317, 0.373) and
(0.331, 0.415) (``benchmarks/bench_bootstrap.py``).
Polishing and replicates run L-BFGS without scipy's ``ftol`` stop (``ftol=0``): with it, L-BFGS
on the Huber kinks (delta = 1e-3) stops close to its start and the replicates come out
under-dispersed (alpha sd 0.004 instead of ~0.018 from 32 replicates; Epoch's interval implies
~0.014).

The returned draws are the point fit (one draw) or the bootstrap replicates: a frequentist
sampling distribution, not a posterior. ``sigma`` is set to the root-mean-square log residual at
the fit so that predictive intervals exist; it is not estimated by the Huber objective.

References:
    Hoffmann et al. (2022), Training Compute-Optimal Large Language Models, arXiv:2203.15556,
    Section 3.3 and Appendix D.2.
    Besiroglu et al. (2024), Chinchilla Scaling: A replication attempt, arXiv:2404.10102.
    Variable projection for scaling-law fits (VPNLS), arXiv:2603.22339.
    Golub & Pereyra (1973), The differentiation of pseudo-inverses and nonlinear least squares
    problems whose variables separate, SIAM J. Numer. Anal. 10.
    Huber (1964), Robust estimation of a location parameter, Ann. Math. Statist. 35.
    Lawson & Hanson (1974), Solving Least Squares Problems, Ch. 23 (NNLS).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np

from ._approx import lbfgs_minimize
from ._errors import InvalidValueError
from ._law import Law
from ._noise import Noise

if TYPE_CHECKING:  # the method classes load this module: annotations only
    from ._methods import Hoffmann

__all__ = [
    "default_grid_batch_size",
    "for_platform",
    "hoffmann_grid",
    "hoffmann_runner",
    "huber",
    "nnls3",
    "profile_grid",
    "profile_linear",
]

_REQUIRED = ("log_E", "log_A0", "log_B0", "alpha", "beta")
# Floor of a profiled coefficient (E, A or B) before its log starts L-BFGS: a cell whose
# non-negative least squares drops a term starts with that term negligible, not at log 0.
_LOG_FLOOR = -30.0


def default_grid_batch_size(platform: str, s: Hoffmann) -> int:
    """Stage-1 batch of grid starts on ``platform``: 1 on a CPU, all starts elsewhere."""
    return 1 if platform == "cpu" else len(_grid_starts(s))


def for_platform(platform: str, s: Hoffmann) -> Hoffmann:
    """``s`` with its ``None`` batch sizes set for a run on ``platform`` (``"cpu"``, ...)."""
    grid = s.grid_batch_size or default_grid_batch_size(platform, s)
    runs = s.batch_size or (1 if platform == "cpu" else max(s.num_bootstrap, s.polish_starts))
    return dataclasses.replace(s, grid_batch_size=grid, batch_size=runs)


def _grid_starts(s: Hoffmann) -> np.ndarray:
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


def profile_grid(size: int) -> np.ndarray:
    """The ``(alpha, beta)`` cells of the variable-projection search, shape ``(size**2, 2)``.

    Each exponent takes the ``size`` values ``2k/size``, ``k = 1..size`` (Hoffmann's range
    ``[0, 2]`` without 0, where ``N^-alpha`` is the constant column of ``E``).
    """
    axis = 2.0 * np.arange(1, size + 1) / size
    return np.array(list(itertools.product(axis, axis)), dtype=np.float64)


def huber(r: jax.Array, delta: float) -> jax.Array:
    """Huber loss: ``r^2/2`` for ``|r| <= delta``, ``delta (|r| - delta/2)`` beyond."""
    ar = jnp.abs(r)
    return jnp.where(ar <= delta, 0.5 * r**2, delta * (ar - 0.5 * delta))


_SUPPORTS = np.array(list(itertools.product((0.0, 1.0), repeat=3))[1:])  # the 7 non-empty


def nnls3(gram: jax.Array, rhs: jax.Array) -> jax.Array:
    """Exact non-negative least squares in 3 unknowns from its normal equations.

    Solves

    .. math::
        \\min_{c \\ge 0}\\; c^\\top G c - 2 h^\\top c

    (``G = X^T U X``, ``h = X^T U y`` of ``min_{c >= 0} ||U^{1/2}(X c - y)||^2``) by solving the
    unconstrained problem on each of the 7 non-empty supports ``S`` of ``c``,
    ``G_SS c_S = h_S``, and keeping the feasible (``c_S >= 0``) solution of lowest value; ``c = 0``
    if none is feasible. The optimum is the unconstrained solution on its own support (KKT),
    which is feasible, so the minimum over feasible candidates is the optimum.

    Args:
        gram: ``G``, ``(3, 3)`` symmetric positive semi-definite.
        rhs: ``h``, ``(3,)``.

    Returns:
        ``c``, ``(3,)``, non-negative.

    References:
        Lawson & Hanson (1974), Solving Least Squares Problems, Ch. 23.
    """

    def on(m):
        g = gram * jnp.outer(m, m) + jnp.diag(1.0 - m)
        c = jnp.linalg.solve(g, rhs * m)
        value = c @ gram @ c - 2.0 * rhs @ c
        ok = jnp.all(c >= 0.0) & jnp.isfinite(value)
        return c, jnp.where(ok, value, jnp.inf)

    cs, values = jax.vmap(on)(jnp.asarray(_SUPPORTS))
    i = jnp.argmin(values)
    return jnp.where(values[i] < 0.0, cs[i], 0.0)


def profile_linear(
    alpha: jax.Array,
    beta: jax.Array,
    log_n: jax.Array,
    log_d: jax.Array,
    log_l: jax.Array,
    w: jax.Array,
    *,
    delta: float,
    num_iter: int,
    log_n0: float = 0.0,
    log_d0: float = 0.0,
) -> jax.Array:
    """Profile the linear coefficients ``(E, A, B)`` of the Chinchilla law at fixed exponents.

    With ``x_i = (1, N_i^{-alpha}, D_i^{-beta})`` and relative residuals
    ``r_i(c) = (x_i^T c - L_i) / L_i`` (the first-order expansion of the log residual), it runs
    ``num_iter`` IRLS steps of

    .. math::
        \\min_{c \\ge 0} \\sum_i w_i\\, \\mathrm{Huber}_\\delta(r_i(c)),

    from the weighted least-squares start (``num_iter = 0`` returns that start):
    ``c^{k+1} = argmin_{c >= 0} sum_i u_i r_i(c)^2`` with ``u_i = w_i min(1, delta/|r_i(c^k)|)``,
    which never raises the objective (majorise-minimise). Each step is :func:`nnls3` on
    column-scaled normal equations; ``log_n0``/``log_d0`` centre the powers
    (``(N/N_0)^{-alpha}``) so that their columns stay well scaled at every exponent.

    Returns:
        ``(E, A, B)``, non-negative, in the units of ``L = E + A N^{-alpha} + B D^{-beta}``.
    """
    inv_l = jnp.exp(-log_l)
    cols = jnp.stack(
        [
            inv_l,
            jnp.exp(-alpha * (log_n - log_n0)) * inv_l,
            jnp.exp(-beta * (log_d - log_d0)) * inv_l,
        ],
        axis=1,
    )
    scale = jnp.sqrt(jnp.sum(w[:, None] * cols**2, axis=0) / jnp.sum(w))
    z = cols / scale

    def solve(u):
        return nnls3(z.T @ (u[:, None] * z), z.T @ u)

    def step(_, c):
        r = z @ c - 1.0
        u = w * jnp.minimum(1.0, delta / jnp.maximum(jnp.abs(r), 1e-300))
        return solve(u)

    c = jax.lax.fori_loop(0, num_iter, step, solve(w))
    c = c / scale
    return c * jnp.array([1.0, jnp.exp(alpha * log_n0), jnp.exp(beta * log_d0)])


def _check_law(law: Law) -> tuple[float, float]:
    if law.inputs != ("N", "D") or tuple(sorted(law.param_names)) != tuple(sorted(_REQUIRED)):
        raise InvalidValueError(
            f"method='hoffmann' fits the Chinchilla form E + A/N^alpha + B/D^beta with parameters "
            f"{_REQUIRED}; law {law.name!r} has parameters {law.param_names}"
        )
    from bayescale.models._chinchilla import _LOG_D0, _LOG_N0

    return _LOG_N0, _LOG_D0


def hoffmann_runner(law: Law, noise: Noise, s: Hoffmann) -> Callable:
    """``runner(rng_key, x, y, mask) -> (draws, stats)`` of the Hoffmann fit (traceable).

    Draws are shaped ``(1, 1)`` (point fit) or ``(1, num_bootstrap)`` (bootstrap replicates).
    """
    log_n0, log_d0 = _check_law(law)
    normal_limit = noise.normal_limit
    if normal_limit is None or "sigma" not in noise.params:
        raise InvalidValueError(
            f"method 'hoffmann' fits one Normal to the log-loss residuals, which noise "
            f"'{noise}' does not reduce to; fit it with noise='normal', 'student_t', "
            "'contaminated' or 'scaled_<input>', or with another method"
        )
    s = for_platform(jax.default_backend(), s)
    if s.search == "grid":
        grid = _grid_starts(s)
        bootstrap_starts = 8 if s.bootstrap_starts is None else s.bootstrap_starts
    else:
        cells = profile_grid(s.profile_size)
        bootstrap_starts = 1 if s.bootstrap_starts is None else s.bootstrap_starts
    polish_starts = max(s.polish_starts, bootstrap_starts)

    def run(rng_key, x, y, mask):
        log_n = jnp.log(x["N"])
        log_d = jnp.log(x["D"])
        log_l = jnp.log(y)
        w_mask = mask.astype(jnp.float64)

        def log_pred(p):
            e, a, b, alpha, beta = p
            return jax.nn.logsumexp(
                jnp.stack([a - alpha * log_n, b - beta * log_d, jnp.broadcast_to(e, log_n.shape)]),
                axis=0,
            )

        def objective(p, w):
            return jnp.sum(w * huber(log_pred(p) - log_l, s.delta))

        def solve(p0, w):
            return lbfgs_minimize(
                lambda p: objective(p, w), p0, max_iter=s.max_iter, tol=s.tol, ftol=s.ftol
            )

        if s.search == "grid":
            # Stage 1: every grid start, at most grid_iter iterations (batches vmapped).
            def solve_short(p0):
                return lbfgs_minimize(
                    lambda p: objective(p, w_mask),
                    p0,
                    max_iter=s.grid_iter,
                    tol=s.tol,
                    linesearch_steps=s.grid_linesearch_steps,
                )

            ps, values, _ = jax.lax.map(
                solve_short, jnp.asarray(grid), batch_size=s.grid_batch_size
            )
        else:
            # Variable projection: (E, A, B) profiled out on the (alpha, beta) grid.
            def cell(ab):
                c = profile_linear(
                    ab[0],
                    ab[1],
                    log_n,
                    log_d,
                    log_l,
                    w_mask,
                    delta=s.delta,
                    num_iter=s.profile_iter,
                    log_n0=log_n0,
                    log_d0=log_d0,
                )
                logs = jnp.maximum(jnp.log(c), _LOG_FLOOR)
                p = jnp.array([logs[0], logs[1], logs[2], ab[0], ab[1]])
                return p, objective(p, w_mask)

            ps, values = jax.vmap(cell)(jnp.asarray(cells))
        # Polish the best `polish_starts` to convergence.
        top = jnp.argsort(values)[:polish_starts]
        ps, values, _ = jax.lax.map(
            lambda p0: solve(p0, w_mask), ps[top], batch_size=min(s.batch_size, polish_starts)
        )
        order = jnp.argsort(values)
        best = ps[order[0]]
        n = jnp.sum(w_mask)
        sigma = jnp.sqrt(jnp.sum(w_mask * (log_pred(best) - log_l) ** 2) / n)
        stats = {
            "objective": values[order[0]].reshape(1, 1),
            "polished_at_optimum": jnp.sum(values <= values[order[0]] * (1 + 1e-6)).reshape(1, 1),
        }
        if s.num_bootstrap:
            starts = ps[order[:bootstrap_starts]]
            # Resample the real rows (they come first; padding follows): uniform row indices
            # below n, each draw position j counting only for j < n. (Not a categorical over
            # the rows: its Gumbel noise is num_bootstrap x rows x rows, 30 s for 4000.)
            idx = jax.random.randint(
                rng_key, (s.num_bootstrap, mask.shape[0]), 0, jnp.sum(mask).astype(jnp.int32)
            )
            counts = jax.vmap(lambda i: jnp.zeros(mask.shape[0]).at[i].add(w_mask))(idx)

            def replicate(w):
                qs, vals, _ = jax.lax.map(lambda p0: solve(p0, w), starts)
                return qs[jnp.argmin(vals)]

            params = jax.lax.map(replicate, counts, batch_size=min(s.batch_size, s.num_bootstrap))
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
        # the Huber fit's noise is one Normal: the noise model at its Normal limit
        draws.update({k: jnp.full(e.shape, v) for k, v in normal_limit.items()})
        return draws, stats

    return run
