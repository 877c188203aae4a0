"""Prior-vs-posterior plot: what the data added to what was assumed."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from ._posterior import Posterior

__all__ = ["plot_prior_posterior", "prior_draws"]


def prior_draws(
    post: Posterior, num_samples: int = 4000, *, seed: int = 0
) -> dict[str, np.ndarray]:
    """Draws of the published parameters under the fitted law's prior.

    Every sampling-space parameter is drawn from its prior (the priors the fit used) and mapped
    through the law's ``published_fn``, so the prior of e.g. ``A`` is the induced one.
    """
    keys = jax.random.split(jax.random.PRNGKey(seed), len(post.law.params))
    theta = {
        p.name: p.prior.sample(k, (num_samples,))
        for k, p in zip(keys, post.law.params, strict=True)
    }
    return {k: np.asarray(v) for k, v in post.law.to_published(theta).items()}


def plot_prior_posterior(
    post: Posterior,
    param: str,
    *,
    ax: Any = None,
    num_prior: int = 4000,
    seed: int = 0,
    bins: int = 60,
    log: bool | None = None,
    reference: float | None = None,
) -> Any:
    """Overlay the prior and the posterior of one published parameter.

    The prior is drawn from the law's priors (as used in the fit: a named prior set shows up
    here); the posterior from ``post.samples``. Where the two coincide, the data added nothing.
    The title reports the posterior-to-prior sd ratio (the share of prior uncertainty left).

    Args:
        post: A fitted :class:`Posterior`.
        param: A published parameter name, e.g. ``"alpha"``.
        ax: A matplotlib Axes to draw on (a new figure's when None).
        num_prior: Number of prior draws.
        seed: Seed of the prior draws.
        bins: Histogram bins (shared by both).
        log: Log x-axis; default: True for parameters whose draws span over two decades.
        reference: Optional value to mark (e.g. a published estimate).

    Returns:
        The matplotlib Axes.
    """
    import matplotlib.pyplot as plt

    prior = prior_draws(post, num_prior, seed=seed)
    if param not in prior or param not in post.samples:
        raise KeyError(f"no published parameter {param!r}; the law has {tuple(post.law.published)}")
    pr = np.asarray(prior[param], np.float64).reshape(-1)
    po = np.asarray(post.samples[param], np.float64).reshape(-1)
    pr = pr[np.isfinite(pr)]
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2))
    both = np.concatenate([pr, po])
    if log is None:
        positive = np.all(both > 0)
        log = bool(positive and np.quantile(both, 0.99) / np.quantile(both, 0.01) > 100)
    lo, hi = np.quantile(pr, [0.005, 0.995])
    lo, hi = min(lo, po.min()), max(hi, po.max())
    edges = np.geomspace(lo, hi, bins + 1) if log else np.linspace(lo, hi, bins + 1)
    ax.hist(pr, bins=edges, density=True, alpha=0.45, color="0.55", label="prior")
    ax.hist(po, bins=edges, density=True, alpha=0.65, color="C0", label="posterior")
    if reference is not None:
        ax.axvline(reference, color="C3", ls="--", lw=1, label="reference")
    if log:
        ax.set_xscale("log")
    ratio = float(np.std(po) / np.std(pr)) if np.std(pr) > 0 else float("nan")
    ax.set_xlabel(param)
    ax.set_ylabel("density")
    ax.set_title(f"{param}: posterior sd / prior sd = {ratio:.2g}")
    ax.legend(frameon=False)
    return ax
