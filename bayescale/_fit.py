"""``fit``: data and a law in, a Posterior out."""

from __future__ import annotations

from collections.abc import Mapping

import jax
import numpyro.distributions as dist
import pandas as pd

from ._data import validate
from ._diagnostics import check_convergence, check_draws, convergence_table
from ._inference import NutsSettings, run_nuts
from ._law import Law
from ._model import check_noise
from ._posterior import Posterior

__all__ = ["fit"]


def fit(
    law: Law,
    data: pd.DataFrame,
    *,
    seed: int = 0,
    noise: str = "normal",
    priors: Mapping[str, dist.Distribution] | None = None,
    method: str = "nuts",
    num_chains: int = 4,
    num_warmup: int = 1000,
    num_samples: int = 1000,
    target_accept_prob: float = 0.9,
    dense_mass: bool = True,
    max_tree_depth: int = 10,
    progress: bool = False,
) -> Posterior:
    """Fit a scaling law to measurements by NUTS and return its posterior.

    The run (initialisation, warmup, sampling) is one compiled function cached per law, noise
    model, settings and (padded) data shape: a second fit of same-shaped data does not
    recompile. Diagnostics (divergences, R-hat, bulk/tail ESS, tree depth, E-BFMI) are checked
    after every fit; failures raise a :class:`ConvergenceWarning` with the remedy and set
    ``Posterior.ok`` to False.

    Args:
        law: A :class:`Law`, e.g. ``bayescale.models.chinchilla``.
        data: A DataFrame with the law's input columns (raw counts) and its target column.
        seed: Seed of the PRNG key; the same seed gives the same draws on the same machine.
        noise: ``"normal"`` (Normal on log-loss) or ``"student_t"`` (robust to outliers).
        priors: Replacement priors for sampling-space parameters, e.g.
            ``{"alpha": dist.Uniform(0, 1)}``.
        method: Inference method; ``"nuts"``.
        num_chains: Independent chains (vectorised on one device).
        num_warmup: Adaptation steps per chain.
        num_samples: Kept draws per chain.
        target_accept_prob: NUTS step-size target; 0.9 avoids the occasional divergence a dense
            mass matrix shows at 0.8 on these posteriors.
        dense_mass: Adapt a dense mass matrix (the posterior is strongly correlated).
        max_tree_depth: NUTS tree depth limit.
        progress: Show a progress bar while sampling.

    Returns:
        The :class:`Posterior`.

    Example:
        >>> import bayescale as bs
        >>> from bayescale.models import chinchilla
        >>> post = bs.fit(chinchilla, bs.datasets.load("chinchilla", variant="epoch"))
        >>> post.forecast(N=70e9, D=1.4e12)
    """
    if not isinstance(law, Law):
        raise TypeError(
            f"law must be a bayescale.Law (e.g. bayescale.models.chinchilla), "
            f"got {type(law).__name__}"
        )
    check_noise(noise)
    if method != "nuts":
        raise ValueError(f"unknown method {method!r}; available: 'nuts'")
    if priors:
        law = law.with_priors(**priors)
    clean = validate(
        data, law.inputs, law.target, min_rows=law.min_rows, target_positive=law.link == "log"
    )
    settings = NutsSettings(
        num_chains=num_chains,
        num_warmup=num_warmup,
        num_samples=num_samples,
        target_accept_prob=target_accept_prob,
        dense_mass=dense_mass,
        max_tree_depth=max_tree_depth,
        progress=progress,
    )
    x = {k: clean[k].to_numpy() for k in law.inputs}
    y = clean[law.target].to_numpy()
    draws, stats = run_nuts(jax.random.PRNGKey(seed), law, noise, x, y, settings)
    problems = check_convergence(convergence_table(draws), stats, max_tree_depth=max_tree_depth)
    problems += check_draws(law, noise, draws)  # non-finite draws, priors excluding the data
    settings_dict = {k: v for k, v in vars(settings).items() if k != "progress"}
    return Posterior(
        law=law,
        noise=noise,
        data=clean,
        draws=draws,
        stats=stats,
        method=method,
        seed=seed,
        settings=settings_dict,
        problems=tuple(problems),
    )
