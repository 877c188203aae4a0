"""Time one default Chinchilla fit (first: compile + sample; second: new same-shaped data, which
must not recompile) beside the hand-written NumPyro baseline (../shared/bench/chin.py, whole MCMC
under jax.jit as in gpu_anchor.py), in one process on the bundled 240 points.

Usage: python benchmarks/bench_fit.py [path/to/shared/bench]
"""

import os
import sys
import time

T_START = time.perf_counter()
from bayescale.models import chinchilla  # noqa: E402

import bayescale as bs  # noqa: E402

T_IMPORT = time.perf_counter() - T_START

import jax  # noqa: E402
import numpy as np  # noqa: E402
from numpyro.diagnostics import effective_sample_size  # noqa: E402
from numpyro.infer import MCMC, NUTS  # noqa: E402

BENCH = (
    sys.argv[1]
    if len(sys.argv) > 1
    else os.path.join(os.path.dirname(__file__), "..", "..", "shared", "bench")
)
sys.path.insert(0, BENCH)
import chin  # noqa: E402


def baseline_fit():
    def fit(key, logN, logD, logL):
        mcmc = MCMC(
            NUTS(chin.chinchilla),
            num_warmup=1000,
            num_samples=1000,
            num_chains=4,
            chain_method="vectorized",
            progress_bar=False,
        )
        mcmc.run(key, logN, logD, logL)
        return mcmc.get_samples(group_by_chain=True)

    return jax.jit(fit)


def min_ess(draws):
    return min(
        float(effective_sample_size(np.asarray(v))) for v in draws.values() if np.ndim(v) == 2
    )


def main():
    df = bs.datasets.load("chinchilla", variant="epoch")
    rng = np.random.default_rng(0)
    rows = []

    for rep in range(3):
        data = (
            df
            if rep == 0
            else df.assign(loss=df.loss * np.exp(0.002 * rng.standard_normal(len(df))))
        )
        t = time.perf_counter()
        post = bs.fit(chinchilla, data, seed=rep)
        wall = time.perf_counter() - t
        rows.append(("bayescale", rep, wall, min_ess(post.draws), post.ok))

    base = baseline_fit()
    logN, logD, logL = (
        np.log(df.N.to_numpy()),
        np.log(df.D.to_numpy()),
        np.log(df.loss.to_numpy()),
    )
    for rep in range(3):
        t = time.perf_counter()
        s = jax.block_until_ready(base(jax.random.PRNGKey(rep), logN, logD, logL + 0.0 * rep))
        wall = time.perf_counter() - t
        rows.append(("hand-written NumPyro (chin.py, jit)", rep, wall, min_ess(s), True))

    print(f"import bayescale: {T_IMPORT:.1f} s   (jax {jax.__version__}, {os.cpu_count()} cpus)")
    print(f"{'sampler':38s} {'run':>3s} {'wall s':>7s} {'min ESS':>8s} {'ESS/s':>7s}  ok")
    for name, rep, wall, ess, ok in rows:
        label = "first (compile+sample)" if rep == 0 else "refit, same shape"
        print(f"{name:38s} {rep:3d} {wall:7.2f} {ess:8.0f} {ess / wall:7.0f}  {ok}  {label}")
    b = [r for r in rows if r[0] == "bayescale"]
    h = [r for r in rows if r[0] != "bayescale"]
    print(f"ratio first fit  baseline/bayescale: {h[0][2] / b[0][2]:.2f}x")
    refit_ratio = np.mean([r[2] for r in h[1:]]) / np.mean([r[2] for r in b[1:]])
    print(f"ratio refit      baseline/bayescale: {refit_ratio:.2f}x")


if __name__ == "__main__":
    main()
