"""Time to an interval: the Hoffmann/Epoch baseline (point fit and bootstrap) vs bayescale's
posterior, in one run on Epoch's 240 Chinchilla points.

Timed (wall clock of ``bs.fit``; the first call compiles or loads the program from the
persistent compilation cache, the later calls are repeated and their minimum reported):

* ``method="hoffmann"`` point fit, variable-projection search (the default, ``search="vpnls"``);
* the same point fit from Hoffmann's 4500-start grid (``search="grid"``, the published
  procedure);
* Epoch's bootstrap, ``num_bootstrap=4000`` replicates, each restarted from the full-data
  optimum;
* bayescale's NUTS posterior (the default ``bs.fit``) and its Laplace approximation;
* for scale, Epoch's own procedure (scipy L-BFGS-B from Hoffmann's grid for every replicate):
  ``R_TIME`` replicates with ``G_TIME`` grid starts each, extrapolated linearly to 4000 x 4500
  runs (the cost per start does not depend on the replicate).

Ratios are to the NUTS fit (its minimum). The 95% equal-tailed intervals of E, alpha, beta are
printed beside Epoch's published bootstrap intervals (``data.attrs["reference"]``).

Usage: python benchmarks/bench_bootstrap.py [R_TIME G_TIME REPEATS]   (defaults 2 100 3)
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
REPEATS = int(sys.argv[3]) if len(sys.argv) > 3 else 3
NUM_BOOTSTRAP = 4000


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
    t = time.perf_counter()
    for _ in range(reps):
        w = jnp.asarray(np.bincount(rng.integers(0, n, n), minlength=n), jnp.float64)
        min(
            (minimize(fun, p0, args=(w,), jac=True, method="L-BFGS-B") for p0 in sub),
            key=lambda r: r.fun,
        )
    return time.perf_counter() - t


def timed(label, repeats, **kwargs):
    """``bs.fit`` once to compile, then ``repeats`` times; the row and the last posterior."""
    walls = []
    for rep in range(1 + repeats):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = time.perf_counter()
            post = bs.fit(chinchilla, DATA, seed=rep, **kwargs)
            walls.append(time.perf_counter() - t)
    row = {
        "fit": label,
        "first_call_s": round(walls[0], 2),
        "min_s": round(min(walls[1:]), 3),
        "max_s": round(max(walls[1:]), 3),
        "repeats": repeats,
    }
    print(row, flush=True)
    return row, post


def interval(a):
    lo, hi = np.quantile(a, [0.025, 0.975])
    return f"{lo:.3f}-{hi:.3f}"


DATA = bs.datasets.load("chinchilla", variant="epoch")


def main():
    print(f"jax {jax.__version__}, {jax.devices()}, {len(DATA)} points", flush=True)
    rows, posts = [], {}
    for label, repeats, kwargs in (
        ("hoffmann point, search='vpnls'", REPEATS, {"method": "hoffmann"}),
        ("hoffmann point, search='grid'", REPEATS, {"method": "hoffmann", "search": "grid"}),
        (
            f"hoffmann bootstrap B={NUM_BOOTSTRAP}, vpnls",
            max(1, REPEATS - 1),
            {"method": "hoffmann", "num_bootstrap": NUM_BOOTSTRAP},
        ),
        ("bayescale nuts", max(1, REPEATS - 1), {}),
        ("bayescale laplace", REPEATS, {"method": "laplace"}),
    ):
        row, posts[label] = timed(label, repeats, **kwargs)
        rows.append(row)
    wall = scipy_bootstrap(DATA, R_TIME, G_TIME)
    per_start = wall / (R_TIME * G_TIME)
    rows.append(
        {
            "fit": f"Epoch's scipy bootstrap B={NUM_BOOTSTRAP} (extrapolated)",
            "min_s": round(per_start * NUM_BOOTSTRAP * 4500),
        }
    )
    print(
        f"scipy L-BFGS-B: {R_TIME} replicates x {G_TIME} grid starts in {wall:.1f} s, "
        f"{per_start:.3f} s a start; x {NUM_BOOTSTRAP} x 4500 starts: {rows[-1]}",
        flush=True,
    )
    table = pd.DataFrame(rows)
    nuts = table.loc[table["fit"] == "bayescale nuts", "min_s"].item()
    vpnls = table.loc[table["fit"] == "hoffmann point, search='vpnls'", "min_s"].item()
    table["x_nuts"] = (table["min_s"] / nuts).round(3)
    table["x_vpnls_point"] = (table["min_s"] / vpnls).round(1)
    print()
    print(table.to_string(index=False))

    vp, grid = posts["hoffmann point, search='vpnls'"], posts["hoffmann point, search='grid'"]
    print("\npoint fits (vpnls vs grid), relative difference:")
    for name in ("E", "A", "B", "alpha", "beta"):
        a, b = float(vp.samples[name][0]), float(grid.samples[name][0])
        print(f"  {name:5s} vpnls {a:.6g}  grid {b:.6g}  rel {abs(a / b - 1):.1e}")

    print("\n95% intervals")
    rng = {k: v for k, v in posts.items() if v.num_draws > 1}
    table = pd.DataFrame(
        {k: {p: interval(v.samples[p]) for p in ("E", "alpha", "beta")} for k, v in rng.items()}
    ).T
    ref = DATA.attrs["reference"]
    table.loc["Epoch (published bootstrap)"] = {
        p: f"{ref[p][1]:.3f}-{ref[p][2]:.3f}" for p in ("E", "alpha", "beta")
    }
    print(table.to_string())
    print("\nsd of alpha, beta")
    for k, v in rng.items():
        print(f"  {k}: {v.samples['alpha'].std(ddof=1):.4f}, {v.samples['beta'].std(ddof=1):.4f}")


if __name__ == "__main__":
    main()
