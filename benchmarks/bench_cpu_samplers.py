"""One Chinchilla fit on the CPU: bayescale's methods beside a hand-written NumPyro NUTS script.

On the bundled 240 points (Epoch's subset), in one process, each run twice (first: compile +
sample; second: new seed, no recompilation):
  * bayescale default: ``bs.fit(chinchilla, df)`` (NUTS, dense mass, 4 x (1000 + 1000))
  * bayescale ``method="chees"`` (ChEES-HMC, 4 chains x (1000 + 1000), Laplace-whitened)
  * bayescale ``method="laplace"`` (approximate, 4000 iid draws)
  * hand-written NumPyro NUTS (../shared/bench/chin.py, dense mass, 4 x (1000 + 1000), the
    whole MCMC under jax.jit as in gpu_anchor.py)
Reported: wall time, minimum bulk ESS over E, alpha, beta, ESS/s, max R-hat, and the posterior
means of alpha and beta. PyMC + nutpie is not run here (see the issue note).

Usage: python benchmarks/bench_cpu_samplers.py [path/to/shared/bench]
"""

from __future__ import annotations

import os
import sys
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from bayescale.models import chinchilla

import bayescale as bs
from bayescale._diagnostics import convergence_table

BENCH = (
    sys.argv[1]
    if len(sys.argv) > 1
    else os.path.join(os.path.dirname(__file__), "..", "..", "shared", "bench")
)


def handwritten():
    sys.path.insert(0, BENCH)
    import chin
    from numpyro.infer import MCMC, NUTS

    def fit(key, logN, logD, logL):
        mcmc = MCMC(
            NUTS(chin.chinchilla, dense_mass=True, target_accept_prob=0.9),
            num_warmup=1000,
            num_samples=1000,
            num_chains=4,
            chain_method="vectorized",
            progress_bar=False,
        )
        mcmc.run(key, logN, logD, logL)
        return mcmc.get_samples(group_by_chain=True)

    return jax.jit(fit)


def row(name, rep, wall, draws):
    table = convergence_table({k: draws[k] for k in ("E", "alpha", "beta")})
    ess = float(table["ess_bulk"].min())
    return {
        "method": name,
        "call": "first (compile)" if rep == 0 else "second",
        "wall_s": round(wall, 2),
        "min_ess_bulk": round(ess),
        "ess_per_s": round(ess / wall, 1),
        "max_rhat": round(float(table["r_hat"].max()), 4),
        "alpha_mean": round(float(np.mean(draws["alpha"])), 4),
        "beta_mean": round(float(np.mean(draws["beta"])), 4),
    }


def main():
    df = bs.datasets.load("chinchilla", variant="epoch")
    rows = []
    for method in ("nuts", "chees", "laplace"):
        for rep in range(2):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t = time.perf_counter()
                post = bs.fit(chinchilla, df, method=method, seed=rep)
                wall = time.perf_counter() - t
            name = f"bayescale {method}" + (" (default)" if method == "nuts" else "")
            rows.append(row(name, rep, wall, post.published_draws))
            print(rows[-1], flush=True)
    fit = handwritten()
    args = [jnp.log(jnp.asarray(df[c].to_numpy())) for c in ("N", "D", "loss")]
    for rep in range(2):
        t = time.perf_counter()
        s = jax.block_until_ready(fit(jax.random.PRNGKey(rep), *args))
        wall = time.perf_counter() - t
        rows.append(
            row("hand-written NumPyro NUTS", rep, wall, {k: np.asarray(v) for k, v in s.items()})
        )
        print(rows[-1], flush=True)
    print()
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
