"""A Posterior made without sampling, for tests of files and verdicts (no compilation).

Its draws are independent prior draws of the Chinchilla law's parameters in four chains, with
sampler statistics of a healthy NUTS run (no divergences, short trees, independent energies),
so its diagnostics pass: R-hat near 1, ESS near the number of draws.
"""

from __future__ import annotations

import jax
import numpy as np
import pandas as pd
from bayescale.models import chinchilla

import bayescale as bs


def synthetic_posterior(
    data: pd.DataFrame,
    *,
    num_chains: int = 4,
    num_draws: int = 200,
    seed: int = 0,
    chain_shift: float = 0.0,
    problems: tuple[str, ...] = (),
) -> bs.Posterior:
    """A "NUTS" posterior of prior draws on ``data`` (columns N, D, loss).

    ``chain_shift`` moves each chain's ``alpha`` by that many prior sd per chain index, which
    makes R-hat fail; ``problems`` is what the object claims (it is not recomputed here).
    """
    key = jax.random.PRNGKey(seed)
    shape = (num_chains, num_draws)
    draws = {
        p.name: np.asarray(p.prior.sample(jax.random.fold_in(key, i), shape))
        for i, p in enumerate(chinchilla.params)
    }
    rng = np.random.default_rng(seed)
    draws["sigma"] = rng.uniform(0.04, 0.06, shape)
    if chain_shift:
        sd = float(np.std(draws["alpha"]))
        draws["alpha"] = draws["alpha"] + chain_shift * sd * np.arange(num_chains)[:, None]
    stats = {
        "diverging": np.zeros(shape, bool),
        "n_steps": np.full(shape, 7, np.int64),
        "energy": rng.normal(0.0, 1.0, shape),
        "acceptance_rate": np.full(shape, 0.9),
    }
    return bs.Posterior(
        law=chinchilla,
        noise="normal",
        data=data,
        draws=draws,
        stats=stats,
        method="nuts",
        seed=seed,
        settings={"num_chains": num_chains, "num_samples": num_draws, "max_tree_depth": 10},
        problems=problems,
    )
