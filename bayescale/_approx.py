"""Fast approximate inference through optax: MAP (L-BFGS), Laplace and SVI.

All three work on the NumPyro potential energy ``U(u) = -log p(theta(u), y) - log|J(u)|`` in the
unconstrained space ``u`` (the space NUTS samples), flattened to one vector:

* **MAP**: ``u* = argmin U(u)`` by L-BFGS (optax, zoom line search) from ``num_inits`` random
  starts ``u0 ~ Uniform(-2, 2)`` (NumPyro's ``init_to_uniform``), vmapped; the best optimum is
  kept. The result is a single draw. Note: the mode in unconstrained space includes the
  log-Jacobian, so it is not exactly the mode of the constrained posterior.
* **Laplace**: ``u ~ Normal(u*, H^{-1})`` with ``H = nabla^2 U(u*)``, draws pushed through the
  constraining transforms (Laplace 1774; Tierney & Kadane 1986).
* **SVI**: a full-rank Gaussian guide in unconstrained space (NumPyro ``AutoMultivariateNormal``)
  fitted by maximising the ELBO with Adam (Kucukelbir et al. 2017, ADVI), started at the
  Laplace approximation (so a short run refines it rather than finding it).

Each is a pure function ``runner(rng_key, x, y, mask) -> (draws, stats)`` with draws shaped
``(chain, draw)``: the same runner is jitted for :func:`bayescale.fit` and vmapped over datasets
by :func:`bayescale.fit_many`. These are approximations for screening and initialisation, and
the resulting :class:`Posterior` says so (``approximate`` is True).

References:
    Liu & Nocedal (1989), On the limited memory BFGS method, Math. Programming 45.
    Tierney & Kadane (1986), Accurate approximations for posterior moments, JASA 81.
    Kucukelbir et al. (2017), Automatic differentiation variational inference, JMLR 18.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import optax
from jax import lax
from jax.flatten_util import ravel_pytree
from numpyro.distributions.transforms import biject_to
from numpyro.handlers import seed, trace
from numpyro.infer.util import constrain_fn, potential_energy

from ._law import Law
from ._model import build_model
from ._noise import Noise

if TYPE_CHECKING:  # the method classes load this module: annotations only
    from ._methods import MAP, SVI, Laplace

__all__ = [
    "Target",
    "make_target",
    "lbfgs_minimize",
    "map_runner",
    "laplace_runner",
    "svi_runner",
]


@dataclasses.dataclass(frozen=True)
class Target:
    """The potential of a law + noise model + data as a function of one flat vector."""

    dim: int
    potential: Callable[[jax.Array], jax.Array]
    constrain: Callable[[jax.Array], dict[str, jax.Array]]
    model: Callable
    kwargs: dict


def make_target(law: Law, noise: Noise, x, y, mask) -> Target:
    """Flatten the unconstrained latent sites of the model into one vector (traceable)."""
    model = build_model(law, noise)
    kwargs = {"x": x, "y": y, "mask": mask}
    tr = trace(seed(model, 0)).get_trace(**kwargs)
    proto = {
        name: biject_to(site["fn"].support).inv(site["value"])
        for name, site in tr.items()
        if site["type"] == "sample" and not site["is_observed"]
    }
    flat, unravel = ravel_pytree(proto)

    def potential(u):
        return potential_energy(model, (), kwargs, unravel(u))

    def constrain(u):
        return constrain_fn(model, (), kwargs, unravel(u))

    return Target(flat.size, potential, constrain, model, kwargs)


def lbfgs_minimize(
    fun: Callable[[jax.Array], jax.Array],
    u0: jax.Array,
    *,
    max_iter: int,
    tol: float,
    ftol: float = 2.2e-9,
    linesearch_steps: int = 20,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Minimise ``fun`` from ``u0`` with optax L-BFGS (zoom line search); traceable, vmappable.

    Stops at ``max_iter``, when ``||grad|| < tol``, or (scipy L-BFGS-B's ``ftol`` rule) when an
    iteration lowers ``fun`` by less than ``ftol * max(|f|, 1)``; a non-finite step stops the
    loop and keeps the last finite point.

    ``linesearch_steps`` caps the zoom line search per iteration (optax's default is 20); under
    ``vmap`` every start waits for the longest line search, so a screening pass over many
    starts runs faster with fewer.

    Returns:
        ``(u, fun(u), iterations)``.
    """
    opt = optax.lbfgs(
        linesearch=optax.scale_by_zoom_linesearch(
            max_linesearch_steps=linesearch_steps, initial_guess_strategy="one"
        )
    )
    value_and_grad = optax.value_and_grad_from_state(fun)

    def step(carry):
        u, state, i, _ = carry
        value, grad = value_and_grad(u, state=state)
        updates, new_state = opt.update(grad, state, u, value=value, grad=grad, value_fn=fun)
        new_u = optax.apply_updates(u, updates)
        new_value = optax.tree.get(new_state, "value")
        finite = jnp.all(jnp.isfinite(new_u)) & jnp.isfinite(new_value)
        stalled = (value - new_value) <= ftol * jnp.maximum(jnp.abs(new_value), 1.0)
        u = jnp.where(finite, new_u, u)
        new_state = jax.tree.map(lambda a, b: jnp.where(finite, a, b), new_state, state)
        return u, new_state, i + 1, ~finite | (stalled & (i > 0))

    def cond(carry):
        _, state, i, done = carry
        grad = optax.tree.get(state, "grad")
        err = optax.tree.norm(grad)
        return ~done & ((i == 0) | ((i < max_iter) & (err >= tol)))

    u, _, iters, _ = lax.while_loop(cond, step, (u0, opt.init(u0), jnp.asarray(0), False))
    value = fun(u)
    return u, jnp.where(jnp.isfinite(value), value, jnp.inf), iters


def _multistart_map(target: Target, rng_key, s: MAP | Laplace | SVI):
    u0 = jax.random.uniform(rng_key, (s.num_inits, target.dim), minval=-2.0, maxval=2.0)
    us, values, iters = jax.vmap(
        lambda u: lbfgs_minimize(target.potential, u, max_iter=s.max_iter, tol=s.tol)
    )(u0)
    best = jnp.argmin(values)
    # Restarts that reached the best optimum (within 1e-6 nats): a check that it is global.
    agree = jnp.sum(values <= values[best] + 1e-6)
    return us[best], values[best], iters[best], agree


def _constrain_draws(target: Target, u: jax.Array, shape: tuple[int, int]):
    flat = u.reshape(-1, target.dim)
    draws = jax.vmap(target.constrain)(flat)
    return {k: v.reshape(shape + v.shape[1:]) for k, v in draws.items()}


def map_runner(law: Law, noise: Noise, s: MAP) -> Callable:
    """``runner(rng_key, x, y, mask)`` of the MAP: one draw shaped ``(1, 1)``."""

    def run(rng_key, x, y, mask):
        target = make_target(law, noise, x, y, mask)
        u, value, iters, agree = _multistart_map(target, rng_key, s)
        draws = _constrain_draws(target, u, (1, 1))
        stats = {
            "potential": value.reshape(1, 1),
            "lbfgs_iterations": iters.reshape(1, 1),
            "restarts_at_optimum": agree.reshape(1, 1),
        }
        return draws, stats

    return run


def laplace_runner(law: Law, noise: Noise, s: Laplace) -> Callable:
    """``runner(rng_key, x, y, mask)`` of the Laplace approximation at the MAP."""

    def run(rng_key, x, y, mask):
        target = make_target(law, noise, x, y, mask)
        k_map, k_draw = jax.random.split(rng_key)
        u, value, iters, agree = _multistart_map(target, k_map, s)
        hess = jax.hessian(target.potential)(u)
        hess = 0.5 * (hess + hess.T)
        chol = jnp.linalg.cholesky(hess)  # NaN when H is not positive definite
        z = jax.random.normal(k_draw, (s.num_chains, s.num_samples, target.dim))
        # u = u* + L^{-T} z has covariance (L L^T)^{-1} = H^{-1}
        eps = jax.scipy.linalg.solve_triangular(
            chol, z.reshape(-1, target.dim).T, trans=1, lower=True
        )
        draws = _constrain_draws(target, u + eps.T, (s.num_chains, s.num_samples))
        stats = {
            "potential": value.reshape(1, 1),
            "lbfgs_iterations": iters.reshape(1, 1),
            "restarts_at_optimum": agree.reshape(1, 1),
            "hessian_pd": jnp.all(jnp.isfinite(chol)).reshape(1, 1),
        }
        return draws, stats

    return run


def svi_runner(law: Law, noise: Noise, s: SVI) -> Callable:
    """``runner(rng_key, x, y, mask)`` of SVI, full-rank Gaussian guide started at Laplace."""
    from numpyro.infer import SVI, Trace_ELBO
    from numpyro.infer.autoguide import AutoMultivariateNormal
    from numpyro.infer.initialization import init_to_value
    from numpyro.optim import optax_to_numpyro

    def run(rng_key, x, y, mask):
        target = make_target(law, noise, x, y, mask)
        k_map, k_svi, k_draw = jax.random.split(rng_key, 3)
        u, _, _, _ = _multistart_map(target, k_map, s)
        start = target.constrain(u)
        # Start the guide at the Laplace approximation: loc u*, scale_tril chol(H^-1).
        hess = jax.hessian(target.potential)(u)
        cov_chol = jnp.linalg.cholesky(jnp.linalg.inv(0.5 * (hess + hess.T)))
        cov_chol = jnp.where(jnp.all(jnp.isfinite(cov_chol)), cov_chol, 0.1 * jnp.eye(target.dim))
        guide = AutoMultivariateNormal(target.model, init_loc_fn=init_to_value(values=start))
        # Adam with a cosine-decayed step: the single-particle ELBO gradient is noisy, and the
        # decay lets the guide settle instead of jittering at the step size.
        schedule = optax.cosine_decay_schedule(s.svi_lr, s.svi_steps)
        svi = SVI(target.model, guide, optax_to_numpyro(optax.adam(schedule)), Trace_ELBO())
        state = svi.init(
            k_svi, init_params={"auto_loc": u, "auto_scale_tril": cov_chol}, **target.kwargs
        )

        def step(state, _):
            state, loss = svi.update(state, **target.kwargs)
            return state, loss

        state, losses = lax.scan(step, state, None, length=s.svi_steps)
        params = svi.get_params(state)
        post = guide.get_posterior(params)
        # AutoContinuous flattens the latent sites in the same order as ravel_pytree of the
        # model's unconstrained sites (sorted by name), i.e. the Target's order.
        z = post.sample(k_draw, (s.num_chains * s.num_samples,))
        draws = _constrain_draws(target, z, (s.num_chains, s.num_samples))
        tail = max(1, s.svi_steps // 10)
        stats = {
            "elbo_loss": jnp.mean(losses[-tail:]).reshape(1, 1),
            "elbo_loss_change": (
                jnp.mean(losses[-tail:]) - jnp.mean(losses[-2 * tail : -tail])
            ).reshape(1, 1),
        }
        return draws, stats

    return run
