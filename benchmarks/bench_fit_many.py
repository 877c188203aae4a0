"""fit_many throughput: fits/s for K = 1, 10, 100 (, 1000) simulated Chinchilla datasets.

Each dataset (DATA=boot, the default): a bootstrap replicate of the 240 real Chinchilla points
(Epoch's extraction), the fit_many use case of Epoch's bootstrap. DATA=sim: 250 points simulated
like ../shared/bench/chin.py (E=1.82, A=482, B=2085, alpha=0.35, beta=0.37, lognormal noise 0.02);
there E and B are weakly identified and NUTS itself diverges in about half the fits.
Each fit: ChEES-HMC, 8 chains x (500 + 500) in
lock-step (bayescale.fit_many(method="chees")), and for comparison the Laplace approximation.
For each K the first call includes compilation; the second call (new datasets, same shape) does
not recompile. "wall" is what the user waits for, Posterior objects and diagnostics included.

"steps_mean" is the mean number of leapfrog steps per sampling iteration; "steps_lockstep" the
mean over iterations of the largest number among the fits, which vmapped fits all wait for.
PROFILE=1 prints a cProfile of the largest K's second call (host Python vs waiting for the
device: the time inside ``jax.Array._value``/``block_until_ready`` is device work). CHAINS=4 sets
ChEES's chains per fit (default 8), SAMPLES=1000 its draws per chain (default
500); KS=100,1000 runs only those K. Measured on 2 CPU cores (40 replicates, vmapped): 4 chains x
(500 + 500) left R-hat 1.010-1.014 in 1-3 of 40 fits, 4 x (500 + 1000) none.

Usage: python benchmarks/bench_fit_many.py [MAX_K] [METHODS]
  e.g. python benchmarks/bench_fit_many.py 100 chees,laplace   (JAX_PLATFORMS=cpu for the CPU)
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import time
import warnings

import numpy as np
import pandas as pd
from bayescale.models import chinchilla

import bayescale as bs
from bayescale._diagnostics import convergence_tables

TRUE = {"E": 1.82, "A": 482.0, "B": 2085.0, "alpha": 0.35, "beta": 0.37}


def simulate(seed: int, n: int = 250, sigma: float = 0.02) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(np.log(7e7), np.log(1.6e10), n))
    D = np.exp(rng.uniform(np.log(5e9), np.log(5e11), n))
    L = TRUE["E"] + TRUE["A"] / N ** TRUE["alpha"] + TRUE["B"] / D ** TRUE["beta"]
    return pd.DataFrame({"N": N, "D": D, "loss": L * np.exp(sigma * rng.standard_normal(n))})


def dataset(seed: int) -> pd.DataFrame:
    if os.environ.get("DATA", "boot") == "sim":
        return simulate(seed)
    df = bs.datasets.load("chinchilla", variant="epoch")
    rng = np.random.default_rng(seed)
    return df.iloc[rng.integers(0, len(df), len(df))].reset_index(drop=True)


CHAINS = int(os.environ.get("CHAINS", 8))  # ChEES chains per fit (the goal names 4)
SAMPLES = int(os.environ.get("SAMPLES", 500))  # ChEES draws per chain
OPTIONS = {
    "chees": {"num_chains": CHAINS, "num_warmup": 500, "num_samples": SAMPLES},
    "laplace": {"num_chains": 4, "num_samples": 500},
    "nuts": {"num_chains": 4, "num_warmup": 500, "num_samples": 500},
}


def run_table(ks, methods, *, guard_s: float = 420.0, reps: int = 2) -> list[dict]:
    """Time fit_many for each method and K; returns the rows (and prints them as it goes)."""
    import jax

    t0 = time.perf_counter()
    rows = []
    for method in methods:
        for k in ks:
            if time.perf_counter() - t0 > guard_s:
                print(f"# guard {guard_s:.0f}s reached: skipping {method} K={k}", flush=True)
                continue
            for rep in range(reps):
                frames = [dataset(1000 * rep + i) for i in range(k)]
                profile = os.environ.get("PROFILE") and rep == 1 and k == max(ks)
                profiler = cProfile.Profile() if profile else None
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    t = time.perf_counter()
                    if profiler:
                        profiler.enable()
                    posts = bs.fit_many(
                        chinchilla, frames, method=method, seed=rep, **OPTIONS[method]
                    )
                    if profiler:
                        profiler.disable()
                    wall = time.perf_counter() - t
                if profiler:  # where the wall time goes: device wait vs host-side Python
                    print(f"# profile of {method} K={k}, second call", flush=True)
                    pstats.Stats(profiler).sort_stats("cumulative").print_stats(18)
                # R-hat of the published parameters, all fits in one batched call (ArviZ's
                # estimator; per-fit ArviZ calls would take minutes of the GPU session here)
                published = {
                    k: np.stack([p.published_draws[k] for p in posts])
                    for k in posts[0].published_draws
                }
                rhat = np.array([t["r_hat"].max() for t in convergence_tables(published)])
                div = int(sum(int(np.sum(p.stats.get("diverging", 0))) for p in posts))
                # Leapfrog steps per sampling iteration: all chains of a fit take the same
                # number, and fits vmapped together wait for the largest ("lockstep").
                steps = np.stack(
                    [np.asarray(p.stats.get("n_steps", np.zeros((1, 1))))[0] for p in posts]
                )
                row = {
                    "device": jax.devices()[0].platform,
                    "n_devices": len(jax.local_devices()),
                    "method": method,
                    "K": k,
                    "call": "first (compile)" if rep == 0 else "second",
                    "wall_s": round(wall, 2),
                    "fits_per_s": round(k / wall, 2),
                    "frac_rhat_le_1.01": round(float(np.mean(rhat <= 1.01)), 3),
                    "divergences": div,
                    "steps_mean": round(float(steps.mean()), 1),
                    "steps_lockstep": round(float(steps.max(axis=0).mean()), 1),
                    "frac_all_diagnostics_ok": round(float(np.mean([p.ok for p in posts])), 3),
                    "median_alpha": round(
                        float(np.median([p.samples["alpha"].mean() for p in posts])), 4
                    ),
                }
                rows.append(row)
                print(row, flush=True)
    return rows


def main():
    max_k = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    methods = (sys.argv[2] if len(sys.argv) > 2 else "chees,laplace").split(",")
    ks = [k for k in (1, 10, 100, 1000) if k <= max_k]
    if os.environ.get("KS"):  # e.g. KS=1000: only these K
        ks = [int(k) for k in os.environ["KS"].split(",")]
    rows = run_table(ks, methods, guard_s=float(os.environ.get("GUARD", 900)))
    print()
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
