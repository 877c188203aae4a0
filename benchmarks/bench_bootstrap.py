"""Time to a 95% interval: bayescale's posterior vs the bootstrap baseline users run today.

Baseline (Epoch / Besiroglu et al. 2024): scipy L-BFGS-B on the Huber (delta 1e-3) objective
from every point of Hoffmann's 4500-point grid, with a jitted JAX gradient, repeated for 4000
bootstrap replicates. That is ~18 million L-BFGS runs; here R_TIME replicates are timed with
G_TIME grid starts each, and the wall time is extrapolated linearly to 4000 x 4500 (the cost per
start does not depend on the replicate). Also timed: the same bootstrap as one vmapped JAX
call (``bs.fit(method="hoffmann", num_bootstrap=B)``, extrapolated linearly from B to 4000),
and the bayescale posterior (NUTS default, ChEES, Laplace), first call (with compilation) and
second call. Intervals (95%, equal-tailed) of E, alpha, beta are printed side by side.

Usage: python benchmarks/bench_bootstrap.py [R_TIME G_TIME B]   (defaults 2 100 200)
"""

from __future__ import annotations

import sys
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from bayescale.models import chinchilla
from scipy.optimize import minimize

import bayescale as bs
from bayescale._hoffmann import hoffmann_grid, huber

R_TIME = int(sys.argv[1]) if len(sys.argv) > 1 else 2
G_TIME = int(sys.argv[2]) if len(sys.argv) > 2 else 100
B = int(sys.argv[3]) if len(sys.argv) > 3 else 200


def scipy_bootstrap(df, reps, starts, seed=0):
    log_n, log_d, log_l = (jnp.asarray(np.log(df[c].to_numpy())) for c in ("N", "D", "loss"))

    @jax.jit
    def value_and_grad(p, w):
        def f(p):
            e, a, b, alpha, beta = p
            pred = jax.nn.logsumexp(
                jnp.stack([a - alpha * log_n, b - beta * log_d, e + 0 * log_n]), axis=0
            )
            return jnp.sum(w * huber(pred - log_l, 1e-3))

        return jax.value_and_grad(f)(p)

    def fun(p, w):
        v, g = value_and_grad(jnp.asarray(p), w)
        return float(v), np.asarray(g)

    grid = hoffmann_grid()
    rng = np.random.default_rng(seed)
    sub = grid[rng.choice(len(grid), starts, replace=False)]
    n = len(df)
    fun(sub[0], jnp.ones(n))  # compile outside the timing
    out = []
    t = time.perf_counter()
    for _ in range(reps):
        w = jnp.asarray(np.bincount(rng.integers(0, n, n), minlength=n), jnp.float64)
        best = min(
            (minimize(fun, p0, args=(w,), jac=True, method="L-BFGS-B") for p0 in sub),
            key=lambda r: r.fun,
        )
        out.append(best.x)
    return time.perf_counter() - t, np.array(out)


def interval(a):
    lo, hi = np.quantile(a, [0.025, 0.975])
    return f"{lo:.3f}-{hi:.3f}"


def main():
    df = bs.datasets.load("chinchilla", variant="epoch")
    rows, intervals = [], {}
    wall, _ = scipy_bootstrap(df, R_TIME, G_TIME)
    per_start = wall / (R_TIME * G_TIME)
    rows.append(
        {
            "method": f"scipy grid bootstrap ({R_TIME} reps x {G_TIME} starts timed)",
            "wall_s": round(wall, 2),
            "extrapolated_4000x4500_s": round(per_start * 4000 * 4500),
        }
    )
    print(rows[-1], flush=True)
    for rep in range(2):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = time.perf_counter()
            post = bs.fit(chinchilla, df, method="hoffmann", num_bootstrap=B, seed=rep)
            w = time.perf_counter() - t
        rows.append(
            {
                "method": f"bayescale hoffmann, vmapped JAX bootstrap B={B}",
                "call": "first (compile)" if rep == 0 else "second",
                "wall_s": round(w, 2),
                "extrapolated_4000_reps_s": round(w * 4000 / B, 1),
            }
        )
        print(rows[-1], flush=True)
    intervals[f"hoffmann bootstrap (B={B})"] = post.samples
    for method in ("nuts", "chees", "laplace"):
        for rep in range(2):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t = time.perf_counter()
                post = bs.fit(chinchilla, df, method=method, seed=rep)
                w = time.perf_counter() - t
            rows.append(
                {
                    "method": f"bayescale {method}",
                    "call": "first (compile)" if rep == 0 else "second",
                    "wall_s": round(w, 2),
                }
            )
            print(rows[-1], flush=True)
        intervals[f"bayescale {method}"] = post.samples
    print()
    print(pd.DataFrame(rows).to_string(index=False))
    print("\n95% intervals")
    print(
        pd.DataFrame(
            {k: {p: interval(v[p]) for p in ("E", "alpha", "beta")} for k, v in intervals.items()}
        ).T.to_string()
    )
    print("Epoch's published bootstrap: E 1.769-1.871, alpha 0.317-0.373, beta 0.331-0.415")


if __name__ == "__main__":
    main()
