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

Limitations (measured, see ``benchmarks/bench_fit_many.py`` and ``tests/test_many.py``): on the
240 Chinchilla points and on 250-row simulated datasets the posterior is close to Gaussian and
ChEES converges (9 of 10 simulated fits R-hat <= 1.01 with 8 chains); on 120-row datasets, where
E and beta are weakly identified, it fails (R-hat ~1.2). The diagnostics flag such fits in
``Posterior.problems``; use ``method="nuts"`` for them.

References:
    Hoffman, Radul & Sountsov (2021), An adaptive MCMC scheme for setting trajectory lengths in
    Hamiltonian Monte Carlo, AISTATS.
    Cabezas et al. (2024), BlackJAX: Composable Bayesian inference in JAX, arXiv:2402.10797.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax
from jax import lax

from ._approx import ApproxSettings, _multistart_map, make_target
from ._law import Law

__all__ = ["CheesSettings", "chees_runner"]


@dataclasses.dataclass(frozen=True)
class CheesSettings:
    """ChEES-HMC settings (hashable).

    Attributes:
        num_chains: Chains per fit, advanced in lock-step (ChEES adapts from cross-chain
            statistics: more chains adapt better; 8-64 is typical).
        num_warmup: Adaptation steps.
        num_samples: Kept draws per chain.
        target_accept_prob: Target acceptance rate of the step-size adaptation (ChEES paper:
            0.651; 0.9 here, as for NUTS: at 0.75 a few divergences appeared with 4 chains).
        learning_rate: Adam learning rate of the trajectory-length adaptation.
        init_step_size: Initial leapfrog step size (in whitened coordinates, so ~0.5 is sane).
        max_leapfrog_steps: Cap on leapfrog steps per iteration.
        num_inits: L-BFGS starts of the MAP that sets the whitening.
        init_scale: Scale of the initial positions around the MAP, in posterior sds.
    """

    num_chains: int = 8
    num_warmup: int = 500
    num_samples: int = 500
    target_accept_prob: float = 0.9
    learning_rate: float = 0.025
    init_step_size: float = 0.5
    max_leapfrog_steps: int = 256
    num_inits: int = 4
    init_scale: float = 1.0


def chees_runner(law: Law, noise: str, s: CheesSettings) -> Callable:
    """``runner(rng_key, x, y, mask) -> (draws, stats)``; draws ``(chain, draw)``."""
    import blackjax

    approx = ApproxSettings(num_inits=s.num_inits)

    def run(rng_key, x, y, mask):
        target = make_target(law, noise, x, y, mask)
        k_map, k_init, k_warm, k_sample = jax.random.split(rng_key, 4)
        u_star, _, _, _ = _multistart_map(target, k_map, approx)
        hess = jax.hessian(target.potential)(u_star)
        chol = jnp.linalg.cholesky(0.5 * (hess + hess.T))
        ok = jnp.all(jnp.isfinite(chol))
        chol = jnp.where(ok, chol, jnp.eye(target.dim))

        def to_u(z):
            return u_star + jax.scipy.linalg.solve_triangular(chol, z, trans=1, lower=True)

        def logdensity(z):
            value = -target.potential(to_u(z))
            return jnp.where(jnp.isfinite(value), value, -jnp.inf)

        z0 = s.init_scale * jax.random.normal(k_init, (s.num_chains, target.dim))
        warmup = blackjax.chees_adaptation(
            logdensity,
            s.num_chains,
            target_acceptance_rate=s.target_accept_prob,
            max_leapfrog_steps=s.max_leapfrog_steps,
        )
        (states, params), _ = warmup.run(
            k_warm,
            z0,
            step_size=s.init_step_size,
            optim=optax.adam(s.learning_rate),
            num_steps=s.num_warmup,
        )
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
        u = jax.vmap(jax.vmap(to_u))(z)
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
