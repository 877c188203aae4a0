"""NUTS inference: the whole run (init, warmup, sampling, constraining) compiled as one function.

Why one compiled function: ``numpyro.infer.MCMC.run`` re-traces and recompiles for new data
(5-8 s each on 2 cores), while a jitted run is cached by input shape, so a second same-shaped
fit costs only sampling time. Warmup and sampling share one ``lax.scan`` over the NUTS kernel
(numpyro adapts while ``state.i < num_warmup``), so the tree builder compiles once, not twice.
Rows are padded to a multiple of ``_ROW_BUCKET`` and masked, so data sets of slightly different
length share a compiled sampler too.

Chains run one after another (``lax.map``) inside the compiled program, or split over the
local devices (``chain_method="parallel"``, ``jax.shard_map``; on CPU ``import bayescale`` makes
one device per core) and one after another on each: measured on 2 CPU cores (Chinchilla, 240
rows, 4 x (1000+1000)), chains in turn trace ~3x, compile ~1.3x and sample ~2.7x faster than
vectorised chains, which batch every tree-building while-loop and wait for the deepest tree of
any chain; over two devices a refit takes 0.59 s instead of 1.17 s, for ~1.5 s more compilation.

The sampler is numpyro's ``NUTS`` kernel as it is (Stan's windowed adaptation of a dense metric,
each estimate shrunk towards ``1e-3 I``). With ``metric_shrinkage="previous"`` it is numpyro's
NUTS through its functional API (``numpyro.infer.hmc.hmc``) on a potential in coordinates
``z = T w`` re-whitened at the end of each adaptation window, so that numpyro's shrinkage
towards ``1e-3 I`` becomes shrinkage towards the previous window's metric (see ``_rewhiten``).
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.flatten_util import ravel_pytree
from jax.scipy.linalg import solve_triangular
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from numpyro.infer import NUTS as NumpyroNUTS
from numpyro.infer.hmc import hmc
from numpyro.infer.hmc_util import build_adaptation_schedule
from numpyro.infer.initialization import init_to_uniform
from numpyro.infer.util import initialize_model

from ._compiled import CompiledCache
from ._law import Law
from ._model import build_model
from ._noise import Noise
from ._programs import stored_program

if TYPE_CHECKING:  # the method classes load this module: annotations only
    from ._methods import NUTS

__all__ = ["run_nuts", "pad_rows"]

_ROW_BUCKET = 32
# numpyro (like Stan) shrinks each adapted metric towards this multiple of the identity
_SHRINK_TARGET = 1e-3


def pad_rows(x: dict[str, np.ndarray], y: np.ndarray, bucket: int = _ROW_BUCKET):
    """Pad inputs and target to a multiple of ``bucket`` rows; returns ``(x, y, mask)``.

    Padded rows repeat the first row (finite, so gradients stay finite) and are masked out of
    the likelihood.
    """
    n = y.shape[0]
    m = int(math.ceil(n / bucket) * bucket)
    idx = np.concatenate([np.arange(n), np.zeros(m - n, dtype=int)])
    mask = np.arange(m) < n
    return {k: np.asarray(v, np.float64)[idx] for k, v in x.items()}, y[idx], mask


def in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (where a long fit shows progress by default)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def _progress_bar(**kwargs):
    """A tqdm bar: the notebook widget where ipywidgets is installed, else text (tqdm.auto
    without ipywidgets warns in a notebook and falls back to text anyway)."""
    try:
        import ipywidgets  # noqa: F401
        from tqdm.auto import tqdm
    except ImportError:
        from tqdm.std import tqdm
    return tqdm(**kwargs)


class _Progress:
    """Host-side progress bar fed from inside the compiled scan by ``jax.debug.callback``."""

    bar = None
    steps_per_chain = 1
    done: dict[int, int] = {}  # chain -> its steps done

    @classmethod
    def update(cls, position) -> None:
        """``position`` = chain * steps_per_chain + steps done by that chain. Chains on several
        devices report concurrently, so the bar shows the sum over chains (and a vmapped
        report of the same position is harmless)."""
        if cls.bar is not None:
            chain, step = divmod(int(position) - 1, cls.steps_per_chain)
            cls.done[chain] = step + 1
            cls.bar.update(sum(cls.done.values()) - cls.bar.n)

    @staticmethod
    def tick(s: NUTS, i, offset) -> None:
        """Inside the scan: report step ``offset + i + 1`` about 50 times per chain."""
        if s.progress:
            every = max(1, (s.num_warmup + s.num_samples) // 50)
            lax.cond(
                (i + 1) % every == 0,
                lambda: jax.debug.callback(_Progress.update, offset + i + 1),
                lambda: None,
            )


_PROGRAMS = CompiledCache()


def _chain_devices(num_chains: int) -> list:
    """The most local devices (at most ``num_chains``) that split the chains evenly."""
    devices = jax.local_devices()
    n = max(k for k in range(1, min(len(devices), num_chains) + 1) if num_chains % k == 0)
    return devices[:n]


def _whitening_steps(s: NUTS) -> np.ndarray:
    """Per step, whether it ends one of numpyro's metric-adaptation windows (then re-whiten)."""
    is_end = np.zeros(s.num_warmup + s.num_samples, bool)
    if s.metric_shrinkage == "previous" and s.regularize_mass_matrix:
        windows = build_adaptation_schedule(s.num_warmup)
        # numpyro re-estimates the metric only at the ends of the middle windows
        is_end[[w.end for w in windows[1:-1]]] = True
    return is_end


def _rewhiten(dense: bool, carry):
    """Change coordinates so the metric just adapted becomes ``_SHRINK_TARGET * I``.

    With ``z = T w`` and the adapted inverse metric ``C`` in ``w``, the new coordinates are
    ``w' = S^-1 w`` with ``S = chol(C) / sqrt(c)``. Positions and gradients transform with ``S``
    (numpyro draws fresh momenta each step), and HMC with metric ``c I`` in ``w'`` is the same
    dynamics as with ``C`` in ``w`` at the same step size. What changes is the next window's
    shrinkage: numpyro regularises its estimate towards ``c I`` in the coordinates it samples
    in, which now is the previous metric.

    References:
        Stan Reference Manual, "HMC algorithm parameters" (windowed adaptation and its
        regularisation of the metric towards ``1e-3 I``).
    """
    state, transform = carry
    a = state.adapt_state
    c = _SHRINK_TARGET
    d = state.z.shape[-1]
    if dense:
        scale = jnp.linalg.cholesky(a.inverse_mass_matrix) / math.sqrt(c)
        scale_inv = solve_triangular(scale, jnp.eye(d), lower=True)
        eye = jnp.eye(d)
    else:
        scale_diag = jnp.sqrt(a.inverse_mass_matrix / c)
        scale, scale_inv = jnp.diag(scale_diag), jnp.diag(1.0 / scale_diag)
        eye = jnp.ones(d)
    a = a._replace(
        inverse_mass_matrix=c * eye,
        mass_matrix_sqrt=eye / math.sqrt(c),
        mass_matrix_sqrt_inv=math.sqrt(c) * eye,
    )
    state = state._replace(
        z=scale_inv @ state.z,
        z_grad=scale.T @ state.z_grad,
        adapt_state=a,
    )
    return state, transform @ scale


def _sample_stats(diverging, num_steps, accept_prob, energy) -> dict:
    """Per-draw NUTS statistics under ArviZ's ``sample_stats`` names."""
    return {
        "diverging": diverging,
        "n_steps": num_steps,
        "acceptance_rate": accept_prob,
        "energy": energy,
    }


# Smallest curvature kept in the Laplace covariance (unconstrained units): a flat or negative
# direction of the Hessian at an unconverged mode gets sd 10 rather than an infinite one.
_MIN_CURVATURE = 1e-2
_NEWTON_STEPS = 4


def _laplace_start(potential: Callable, z0: jax.Array, rng_key: jax.Array, num_inits: int):
    """Posterior mode by multi-start L-BFGS and the Cholesky-like factor of the Laplace
    covariance there: ``(centre, scale)`` with ``H^-1 ~= scale @ scale.T``.

    Starts: ``z0`` and ``num_inits - 1`` draws of numpyro's ``init_to_uniform`` (Uniform(-2, 2)
    in unconstrained space); the lowest potential wins. The Hessian's eigenvalues are floored at
    ``_MIN_CURVATURE`` so the factor exists even where the optimiser stopped short of the mode.
    If the mode or its Hessian is not finite, the start is ``z0`` with ``scale = I`` (the
    sampler then whitens nothing: numpyro's own initialisation).

    References:
        Zhang, Carpenter, Gelman, Vehtari (2022), Pathfinder: Parallel quasi-Newton
        variational inference, JMLR 23 (quasi-Newton mode finding to initialise HMC).
    """
    from ._approx import lbfgs_minimize  # the same L-BFGS as method="map"

    d = z0.shape[0]
    starts = jnp.concatenate(
        [z0[None], jax.random.uniform(rng_key, (num_inits - 1, d), minval=-2.0, maxval=2.0)]
    )
    us, values, _ = jax.vmap(lambda u: lbfgs_minimize(potential, u, max_iter=1000, tol=1e-6))(
        starts
    )
    best = jnp.argmin(values)

    def curvature(u):  # eigen-decomposition of the Hessian, small curvatures floored
        hess = jax.hessian(potential)(u)
        evals, evecs = jnp.linalg.eigh(0.5 * (hess + hess.T))
        return evecs, jnp.maximum(evals, _MIN_CURVATURE)

    def newton(carry, _):
        # L-BFGS can stop short on posteriors whose scales span many decades (a big ladder's
        # exponents have sds of 1e-4, its scale terms of 1): Newton steps with the floored
        # Hessian finish the job near the mode; a step is kept only if it lowers the potential.
        u, value = carry
        evecs, evals = curvature(u)
        step = evecs @ ((evecs.T @ jax.grad(potential)(u)) / evals)
        new_u = u - step
        new_value = potential(new_u)
        better = jnp.isfinite(new_value) & (new_value < value)
        return (jnp.where(better, new_u, u), jnp.where(better, new_value, value)), None

    (centre, value), _ = lax.scan(newton, (us[best], values[best]), None, length=_NEWTON_STEPS)
    evecs, evals = curvature(centre)
    scale = evecs / jnp.sqrt(evals)
    good = jnp.isfinite(value) & jnp.all(jnp.isfinite(centre)) & jnp.all(jnp.isfinite(scale))
    return jnp.where(good, centre, z0), jnp.where(good, scale, jnp.eye(d))


def _affine_runner(law: Law, noise: Noise, s: NUTS) -> Callable:
    """numpyro's NUTS (functional API) on ``z = centre + transform @ w``.

    With ``init="laplace"`` the chains start at Laplace draws around the posterior mode and
    sample in coordinates whitened by the Laplace covariance (``transform`` its factor): the
    posterior is then near ``N(0, I)`` in ``w``, so the first warmup window runs with a sensible
    metric and step size instead of max-depth trees from a random start, and numpyro's
    shrinkage of each metric estimate towards ``1e-3 I`` is negligible whatever the posterior's
    own scale (it shrinks Chinchilla's variances of 1e-5, and a big ladder's far smaller ones,
    towards a metric hundreds of times too wide). With ``metric_shrinkage="previous"`` the
    coordinates are re-whitened again at each window end (``_rewhiten``).
    """
    model = build_model(law, noise)
    total = s.num_warmup + s.num_samples
    is_end = jnp.asarray(_whitening_steps(s))
    rewhiten = functools.partial(_rewhiten, s.dense_mass)

    def one_chain(rng_key, kwargs, offset, start, model_info):
        """Init + warmup + sampling of one chain in one scan (vmapped for vectorised chains).

        ``model_info``: the model's ``initialize_model`` result shared by the chains that start
        at Laplace draws (their numpyro initial point is not used); None: initialise per chain.
        """
        # the key split of numpyro's HMC.init: same seed, same chains as numpyro's NUTS class
        kernel_key, init_key = jax.random.split(rng_key)
        info = model_info
        if info is None:
            info = initialize_model(
                init_key,
                model,
                init_strategy=init_to_uniform,
                dynamic_args=True,
                model_kwargs=kwargs,
            )
        z0, unravel = ravel_pytree(info.param_info.z)
        if start is None:
            centre, transform = jnp.zeros_like(z0), jnp.eye(z0.shape[0])
            w0 = z0
        else:
            centre, transform = start
            w0 = jax.random.normal(jax.random.fold_in(init_key, 2), z0.shape)  # a Laplace draw

        def potential_fn_gen(transform, **data):
            potential = info.potential_fn(**data)
            return lambda w: potential(unravel(centre + transform @ w))

        init_kernel, sample_kernel = hmc(potential_fn_gen=potential_fn_gen, algo="NUTS")
        state = init_kernel(
            w0,
            s.num_warmup,
            dense_mass=s.dense_mass,
            target_accept_prob=s.target_accept_prob,
            max_tree_depth=s.max_tree_depth,
            regularize_mass_matrix=s.regularize_mass_matrix,
            model_kwargs={**kwargs, "transform": transform},
            rng_key=kernel_key,
        )

        def step(carry, i):
            state, transform = carry
            state = sample_kernel(state, model_kwargs={**kwargs, "transform": transform})
            # the step index is not batched, so under vmap this stays a branch, not a select
            state, transform = lax.cond(is_end[i], rewhiten, lambda c: c, (state, transform))
            _Progress.tick(s, i, offset)
            return (state, transform), (
                centre + transform @ state.z,
                state.diverging,
                state.num_steps,
                state.accept_prob,
                state.energy,
            )

        _, trace = lax.scan(step, (state, transform), jnp.arange(total))
        trace = jax.tree.map(lambda a: a[s.num_warmup :], trace)
        z = trace[0]
        constrain = info.postprocess_fn(**kwargs)
        return (jax.vmap(lambda z: constrain(unravel(z)))(z), *trace[1:])

    def mode_and_scale(rng_key, kwargs):
        info = initialize_model(
            rng_key, model, init_strategy=init_to_uniform, dynamic_args=True, model_kwargs=kwargs
        )
        z0, unravel = ravel_pytree(info.param_info.z)
        potential = info.potential_fn(**kwargs)
        return _laplace_start(lambda u: potential(unravel(u)), z0, rng_key, s.num_inits), info

    def run(rng_key, x, y, mask):
        kwargs = {"x": x, "y": y, "mask": mask}
        if s.init == "laplace":
            # one mode for all chains; the chain keys are those of init="uniform"
            start, info = mode_and_scale(jax.random.fold_in(rng_key, 1), kwargs)
        else:
            start, info = None, None
        keys = jax.random.split(rng_key, s.num_chains)

        def chains_in_turn(keys, chain_ids):
            return lax.map(
                lambda a: one_chain(a[0], kwargs, a[1] * total, start, info), (keys, chain_ids)
            )

        if s.chain_method == "vectorized":
            trace = jax.vmap(lambda k: one_chain(k, kwargs, 0, start, info))(keys)
        else:
            trace = _over_devices(chains_in_turn, s, keys)
        draws, *stats = trace
        return draws, _sample_stats(*stats)

    return run


def _numpyro_runner(law: Law, noise: Noise, s: NUTS) -> Callable:
    """numpyro's ``NUTS`` kernel as it is (Stan's shrinkage of the metric, or none)."""
    model = build_model(law, noise)
    total = s.num_warmup + s.num_samples

    kernel = NumpyroNUTS(
        model,
        dense_mass=s.dense_mass,
        target_accept_prob=s.target_accept_prob,
        max_tree_depth=s.max_tree_depth,
        init_strategy=init_to_uniform,
        regularize_mass_matrix=s.regularize_mass_matrix,
    )

    def sample(init_keys, kwargs, offset):
        """Init + warmup + sampling in one scan; ``init_keys`` batched for vectorised chains."""
        state = kernel.init(init_keys, s.num_warmup, None, (), kwargs)

        def step(state, i):
            state = kernel.sample(state, (), kwargs)
            _Progress.tick(s, i, offset)
            return state, (
                state.z,
                state.diverging,
                state.num_steps,
                state.accept_prob,
                state.energy,
            )

        _, trace = lax.scan(step, state, jnp.arange(total))
        return jax.tree.map(lambda a: a[s.num_warmup :], trace)

    def run(rng_key, x, y, mask):
        kwargs = {"x": x, "y": y, "mask": mask}
        keys = jax.random.split(rng_key, s.num_chains)
        if s.chain_method == "vectorized":
            trace = sample(keys, kwargs, 0)
            # scan stacks draws first: (draw, chain, ...) -> (chain, draw, ...)
            trace = jax.tree.map(lambda a: jnp.swapaxes(a, 0, 1), trace)
        else:  # one chain at a time inside the same compiled program (on each device)

            def chains_in_turn(keys, chain_ids):
                return lax.map(lambda a: sample(a[0], kwargs, a[1] * total), (keys, chain_ids))

            trace = _over_devices(chains_in_turn, s, keys)
        z, diverging, num_steps, accept_prob, energy = trace
        constrain = kernel.postprocess_fn((), kwargs)
        draws = jax.vmap(jax.vmap(constrain))(z)
        return draws, _sample_stats(diverging, num_steps, accept_prob, energy)

    return run


def _over_devices(chains_in_turn: Callable, s: NUTS, keys: jax.Array):
    """``chains_in_turn(keys, chain_ids)`` on one device, or split over the local devices
    (``chain_method="parallel"``), the chains on each device one after another."""
    chain_ids = jnp.arange(s.num_chains)
    if s.chain_method != "parallel":
        return chains_in_turn(keys, chain_ids)
    mesh = Mesh(np.array(_chain_devices(s.num_chains)), ("chain",))
    spec = PartitionSpec("chain")
    return jax.shard_map(chains_in_turn, mesh=mesh, in_specs=spec, out_specs=spec, check_vma=False)(
        keys, chain_ids
    )


def _split_rows(x: dict[str, np.ndarray], y: np.ndarray, mask: np.ndarray):
    """``chain_method="split_rows"``: the padded rows sharded over the local devices, so that
    XLA partitions every evaluation of the likelihood (the chains run one after another).

    Memory stays flat (24,000 rows: 0.92 GB peak, as on one device), but each gradient then ends
    in a cross-device sum: on 2 CPU devices a fit of 2,400 rows took 19.9 s against 0.89 s for
    the chains over the devices, so ``chain_method="auto"`` never picks it on CPU.
    """
    devices = jax.local_devices()
    m = y.shape[0]
    k = max(c for c in range(1, len(devices) + 1) if m % c == 0)
    sharding = NamedSharding(Mesh(np.array(devices[:k]), ("rows",)), PartitionSpec("rows"))
    return jax.device_put((x, y, mask), sharding)


def _compiled_runner(law: Law, noise: Noise, s: NUTS) -> Callable:
    """The jitted NUTS run for these settings (cached): numpyro's kernel as it is, or
    re-whitened at window ends for ``metric_shrinkage="previous"``."""

    def build():
        affine = s.init == "laplace" or _whitening_steps(s).any()
        make = _affine_runner if affine else _numpyro_runner
        return jax.jit(make(law, noise, s))

    return _PROGRAMS.get((law, noise, s), build)


def run_nuts(
    rng_key: jax.Array,
    law: Law,
    noise: Noise,
    x: dict[str, np.ndarray],
    y: np.ndarray,
    settings: NUTS,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Run NUTS and return ``(draws, stats)`` as NumPy arrays shaped ``(chain, draw, ...)``."""
    xp, yp, mask = pad_rows(x, np.asarray(y, np.float64))
    if settings.chain_method == "split_rows":
        xp, yp, mask = _split_rows(xp, yp, mask)
    fn = _compiled_runner(law, noise, settings)
    # with the compilation cache on, a catalog law's program is also stored traced (_programs)
    fn = stored_program(law, noise, settings, fn, (rng_key, xp, yp, mask)) or fn
    if settings.progress:
        # compile before the bar starts, so that its rate and ETA time sampling alone
        stream = sys.stdout if in_notebook() else sys.stderr
        print(f"compiling NUTS for {law.name} ({len(y)} rows)...", file=stream, flush=True)
        fn = fn.lower(rng_key, xp, yp, mask).compile()
        steps = settings.num_warmup + settings.num_samples
        _Progress.steps_per_chain, _Progress.done = steps, {}
        _Progress.bar = _progress_bar(
            total=steps * (1 if settings.chain_method == "vectorized" else settings.num_chains),
            desc=f"NUTS {settings.num_chains} chains (warmup {settings.num_warmup})",
            file=stream,
        )
    try:
        draws, stats = fn(rng_key, xp, yp, mask)
        jax.block_until_ready(draws)
    finally:
        if _Progress.bar is not None:
            _Progress.bar.close()
            _Progress.bar = None
    draws = {k: np.asarray(v) for k, v in draws.items()}
    stats = {k: np.asarray(v) for k, v in stats.items()}
    return draws, stats
