"""Accelerator-shaped sampling: ChEES-HMC (BlackJAX), many chains in lock-step, one ``lax.scan``.

NUTS builds a tree per chain with data-dependent ``while`` loops; on an accelerator, and under
``vmap`` over datasets, every step waits for the deepest tree of any chain. ChEES-HMC (Hoffman,
Radul & Sountsov 2021) instead runs plain HMC whose trajectory length is shared by all chains of a
fit and adapted by cross-chain statistics (the ChEES criterion), with a quasi-random jitter of the
number of leapfrog steps. All chains advance the same number of leapfrog steps per iteration:
fixed-shape work, batched over chains and datasets. Warmup (BlackJAX ``chees_adaptation``,
itself a ``lax.scan``) and sampling (a ``lax.scan`` over ``blackjax.dynamic_hmc``) are one
compiled function, with no host round-trip per step.

ChEES adapts a step size and a trajectory length but no dense mass matrix, and the Chinchilla
posterior is strongly correlated. So the sampler runs in whitened coordinates from a Laplace
approximation: ``u = u* + L^{-T} z`` with ``u*`` the MAP in unconstrained space (optax L-BFGS,
several starts) and ``L L^T`` the Hessian of the potential there. That is a dense "mass matrix"
fixed before warmup, and the chains start from ``z ~ Normal(0, I)``, i.e. over-dispersed draws
of the Laplace approximation. If the Hessian is not positive definite the identity is used.

Warmup runs in two stages: ChEES on the Laplace whitening for half of it, then the whitening is
replaced by the empirical mean and covariance of the chains' draws from the second half of that
stage (as Stan's windowed dense-metric adaptation does), which follows the posterior where the
curvature at the MAP does not, and ChEES adapts again for the other half.

Measured (``benchmarks/bench_fit_many.py``, ``tests/test_many.py``): on bootstrap replicates of the
240 Chinchilla points, 10 of 10 fits pass every diagnostic with 8 chains x (500 + 500). Where E and
B are weakly identified (simulated ladders whose B has posterior sd 2-3x its median), NUTS itself
diverges in about half the fits and ChEES fails about as often; the diagnostics flag such fits in
``Posterior.problems`` (use ``method="nuts"`` with a higher ``target_accept_prob``, or priors).

References:
    Hoffman, Radul & Sountsov (2021), An adaptive MCMC scheme for setting trajectory lengths in
    Hamiltonian Monte Carlo, AISTATS.
    Cabezas et al. (2024), BlackJAX: Composable Bayesian inference in JAX, arXiv:2402.10797.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import optax
from jax import lax

from ._approx import _multistart_map, make_target
from ._law import Law
from ._noise import Noise

if TYPE_CHECKING:  # the method classes load this module: annotations only
    from ._methods import MAP, ChEES

__all__ = ["chees_runner"]


def chees_runner(law: Law, noise: Noise, s: ChEES, approx: MAP) -> Callable:
    """``runner(rng_key, x, y, mask) -> (draws, stats)``; draws ``(chain, draw)``; ``approx``
    is the MAP whose mode and curvature set the whitening."""
    import blackjax
    from blackjax.adaptation.base import get_filter_adapt_info_fn

    def run(rng_key, x, y, mask):
        target = make_target(law, noise, x, y, mask)
        k_map, k_init, k_warm, k_sample = jax.random.split(rng_key, 4)
        u_star, _, _, _ = _multistart_map(target, k_map, approx)
        hess = jax.hessian(target.potential)(u_star)
        chol = jnp.linalg.cholesky(0.5 * (hess + hess.T))
        ok = jnp.all(jnp.isfinite(chol))
        chol = jnp.where(ok, chol, jnp.eye(target.dim))

        # The sampler's coordinates w map to u = shift + matrix @ w. The affine map is formed
        # once per stage, so each gradient is one small matvec: a batched triangular solve per
        # leapfrog step is slow on GPUs.
        def density(shift, matrix):
            def logdensity(w):
                value = -target.potential(shift + matrix @ w)
                return jnp.where(jnp.isfinite(value), value, -jnp.inf)

            return logdensity

        def adapt(key, logdensity, positions, step_size, num_steps):
            warmup = blackjax.chees_adaptation(
                logdensity,
                s.num_chains,
                target_acceptance_rate=s.target_accept_prob,
                max_leapfrog_steps=s.max_leapfrog_steps,
                adaptation_info_fn=get_filter_adapt_info_fn(state_keys={"position"}),
            )
            (states, params), info = warmup.run(
                key,
                positions,
                step_size=step_size,
                optim=optax.adam(s.learning_rate),
                num_steps=num_steps,
            )
            return states, params, info.state.position

        # Laplace whitening: u = u* + L^{-T} z
        shift = u_star
        matrix = jax.scipy.linalg.solve_triangular(chol, jnp.eye(target.dim), trans=1, lower=True)
        z0 = s.init_scale * jax.random.normal(k_init, (s.num_chains, target.dim))
        if s.rewhiten:
            # Stage 1 on the Laplace whitening; then re-whiten with the empirical mean and
            # covariance of the chains' second half of stage 1 (Stan's windowed dense metric),
            # which follows the posterior where the curvature at the MAP does not.
            k_warm, k_warm2 = jax.random.split(k_warm)
            n1 = s.num_warmup // 2
            states, params, trace = adapt(k_warm, density(shift, matrix), z0, s.init_step_size, n1)
            window = trace[n1 // 2 :].reshape(-1, target.dim)
            mean = jnp.mean(window, axis=0)
            cov = jnp.cov(window, rowvar=False) + 1e-8 * jnp.eye(target.dim)
            chol2 = jnp.linalg.cholesky(cov)
            ok2 = jnp.all(jnp.isfinite(chol2))
            mean = jnp.where(ok2, mean, 0.0)
            chol2 = jnp.where(ok2, chol2, jnp.eye(target.dim))
            # z = mean + chol2 @ w, so u = (shift + matrix @ mean) + (matrix @ chol2) @ w
            w0 = jax.vmap(lambda z: jax.scipy.linalg.solve_triangular(chol2, z - mean, lower=True))(
                states.position
            )
            shift, matrix = shift + matrix @ mean, matrix @ chol2
            k_adapt, positions, step_size = k_warm2, w0, params["step_size"]
            num_steps = s.num_warmup - n1
        else:
            k_adapt, positions, step_size, num_steps = k_warm, z0, s.init_step_size, s.num_warmup
        logdensity = density(shift, matrix)
        states, params, _ = adapt(k_adapt, logdensity, positions, step_size, num_steps)
        kernel = blackjax.dynamic_hmc(logdensity, **params)

        def step(states, key):
            keys = jax.random.split(key, s.num_chains)
            states, info = jax.vmap(kernel.step)(keys, states)
            return states, (
                states.position,
                info.is_divergent,
                info.num_integration_steps,
                info.acceptance_rate,
                info.energy,
            )

        _, (z, diverging, n_steps, accept, energy) = lax.scan(
            step, states, jax.random.split(k_sample, s.num_samples)
        )
        # scan stacks draws first: (draw, chain, ...) -> (chain, draw, ...)
        z, diverging, n_steps, accept, energy = jax.tree.map(
            lambda a: jnp.swapaxes(a, 0, 1), (z, diverging, n_steps, accept, energy)
        )
        u = shift + z @ matrix.T
        draws = jax.vmap(jax.vmap(target.constrain))(u)
        stats = {
            "diverging": diverging,
            "n_steps": n_steps,
            "acceptance_rate": accept,
            "energy": energy,
            "step_size": jnp.broadcast_to(params["step_size"], diverging.shape),
            "laplace_whitening": jnp.broadcast_to(ok, diverging.shape),
        }
        return draws, stats

    return run
