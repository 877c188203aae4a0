"""Prior-vs-posterior plot: what the data added to what was assumed."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from ._errors import InvalidValueError, UnknownNameError
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


def narrowing(ratio: float) -> str:
    """The posterior-to-prior sd ratio as a reader takes it in: a percentage and a factor.

    Args:
        ratio: Posterior sd divided by prior sd.

    Returns:
        e.g. ``"posterior sd / prior sd = 4% (25x narrower)"``; ratios under 0.1% read
        ``"<0.1%"``, with the factor in thousands (``"4,760x narrower"``) or as a power of ten
        in mathtext, so no title shows ``3.1e-14``.
    """
    if not np.isfinite(ratio):
        return "prior sd is 0: no ratio"
    head = "posterior sd / prior sd = "
    if ratio >= 0.95:
        wider = f", {ratio:.2g}x wider" if ratio > 1.05 else ""
        return f"{head}{ratio:.0%}{wider}: the data added little"
    pct = f"{ratio:.0%}" if ratio >= 0.01 else f"{ratio:.1%}" if ratio >= 0.001 else "<0.1%"
    factor = 1.0 / ratio
    if factor < 100:
        times = f"{factor:.2g}"
    elif factor < 1e4:
        times = f"{round(factor, -1):,.0f}"
    else:  # mathtext: 3.2x10^13 rather than 32,258,064,516,129
        from .plot import _plain_number

        times = _plain_number(factor, digits=2)
    return f"{head}{pct} ({times}x narrower)"


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
    The title reports the posterior-to-prior sd ratio (the share of prior uncertainty left) as a
    percentage and a factor. A scale parameter (``A``, ``B``: positive, its draws spread over
    more than two decades) is shown on a log axis with densities per decade, and its ratio is
    that of the sds of its logarithm: on the linear scale the prior's heavy tail would make
    any posterior look ``1e13`` times narrower.

    Args:
        post: A fitted :class:`Posterior`.
        param: A published parameter name, e.g. ``"alpha"``.
        ax: A matplotlib Axes to draw on (a new figure's when None).
        num_prior: Number of prior draws.
        seed: Seed of the prior draws.
        bins: Bins of each histogram: the prior's over the plotted range, the posterior's over
            its own.
        log: Log x-axis; default: True for parameters whose draws span over two decades.
        reference: Optional value to mark (e.g. a published estimate).

    Returns:
        The matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    from .plot import formula_mathtext, plain_log_ticks

    prior = prior_draws(post, num_prior, seed=seed)
    if param not in prior or param not in post.samples:
        raise UnknownNameError(
            f"no published parameter {param!r}; the law has {tuple(post.law.published)}"
        )
    pr = np.asarray(prior[param], np.float64).reshape(-1)
    po = np.asarray(post.samples[param], np.float64).reshape(-1)
    pr = pr[np.isfinite(pr)]
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.4), layout="constrained")
    both = np.concatenate([pr, po])
    positive = bool(np.all(both > 0))
    if log is None:
        log = bool(positive and np.quantile(both, 0.99) / np.quantile(both, 0.01) > 100)
    if log and not positive:
        raise InvalidValueError(f"log=True needs positive draws; {param!r} has draws <= 0")
    # On a log axis the histograms are of log10 values: equal-width bins there, and a density
    # per decade, so the prior's mass at large values is drawn as large as it is.
    t_pr, t_po = (np.log10(pr), np.log10(po)) if log else (pr, po)
    lo, hi = np.quantile(t_pr, [0.005, 0.995])
    lo, hi = min(lo, t_po.min()), max(hi, t_po.max())
    # The posterior gets bins of its own over its own range: in the prior's bins a posterior
    # 40x narrower fills one or two bars and shows no shape.
    for values, label, color, alpha, (a, b) in (
        (t_pr, "prior", "0.55", 0.45, (lo, hi)),
        (t_po, "posterior", "C0", 0.65, (t_po.min(), t_po.max())),
    ):
        edges = np.linspace(a, b, bins + 1) if b > a else np.array([a - 0.5, a + 0.5])
        density, _ = np.histogram(values, bins=edges, density=True)
        shown = 10.0**edges if log else edges
        ax.stairs(density, shown, fill=True, alpha=alpha, color=color, label=label)
    if reference is not None:
        ax.axvline(reference, color="C3", ls="--", lw=1, label="reference")
    name = formula_mathtext(param)
    if log:
        ax.set_xscale("log")
        plain_log_ticks(ax)
    ratio = float(np.std(t_po) / np.std(t_pr)) if np.std(t_pr) > 0 else float("nan")
    ax.set_xlabel(f"{name} (log scale)" if log else name)
    ax.set_ylabel("density per decade" if log else "density")
    ax.set_title(f"{'log10 ' if log else ''}{param}: {narrowing(ratio)}", fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    return ax.figure
