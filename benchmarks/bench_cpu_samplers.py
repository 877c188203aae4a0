"""One Chinchilla fit on the CPU: bayescale's methods beside hand-written NumPyro and PyMC + nutpie.

On the bundled 240 points (Epoch's subset), in one process, each run twice (first: compile +
sample; second: new seed, no recompilation):
  * bayescale default: ``bs.fit(chinchilla, df)`` (NUTS, dense mass, 4 x (1000 + 1000);
    chains split over the CPU devices ``import bayescale`` sets up, one per core)
  * bayescale NUTS with the chains one after another on one device (``chain_method=
    "sequential"``), and with each adapted metric shrunk towards the previous window's
    (``metric_shrinkage="previous"``) instead of towards 1e-3 I (Stan's rule, the default)
  * the first fit in a new process with a warm persistent compilation cache
    (``bs.enable_compilation_cache``), NUTS and ChEES
  * bayescale ``method="chees"`` (ChEES-HMC, 4 chains x (1000 + 1000), Laplace-whitened)
  * bayescale ``method="laplace"`` (approximate, 4000 iid draws)
  * hand-written NumPyro NUTS (../shared/bench/chin.py, dense mass, 4 x (1000 + 1000), the
    whole MCMC under jax.jit as in gpu_anchor.py)
  * PyMC + nutpie (the same model as chin.py's ``chinchilla``: centred log space, same priors,
    float64; numba backend; 4 x (1000 + 1000), chains on min(4, cpu_count) threads), with
    nutpie's default diagonal mass adaptation and with ``adaptation="low_rank"`` (low-rank
    modified mass matrix). First call: build the PyMC model + ``nutpie.compile_pymc_model`` +
    sample; second call: new seed, the compiled model reused. Imports of pymc/nutpie are not
    timed (nor are bayescale's or JAX's).
Reported: wall time, minimum bulk ESS over E, alpha, beta, ESS/s, max R-hat, and the posterior
means of alpha and beta (nutpie's divergence counts are printed beside its rows).

PyMC + nutpie are optional (they are not bayescale dependencies): install them with
``pip install -e ".[bench]"`` (better in a separate virtual environment); without them that part
is skipped with a note.

Last, the script a user runs ("import, load the 240 points, fit, print a summary") as whole
processes side by side: bayescale with its compilation cache warm and switched off, and PyMC +
nutpie (low-rank) run by the Python in ``BENCH_PYTHON`` (a virtual environment with pymc and
nutpie), its compile caches warm.

Usage: BENCH_PYTHON=.venv-bench/bin/python python benchmarks/bench_cpu_samplers.py
    [path/to/shared/bench]
"""

from __future__ import annotations

import json
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


def pymc_chinchilla(logN, logD, logL):
    """chin.py's ``chinchilla`` (centred log-space parameterisation, same priors) in PyMC."""
    import pymc as pm
    import pytensor.tensor as pt

    logN0, logD0 = float(np.log(1e9)), float(np.log(5e10))
    with pm.Model() as model:
        e = pm.Normal("e", 0.5, 1.0)
        a0 = pm.Normal("a0", -1.0, 2.0)
        b0 = pm.Normal("b0", -1.0, 2.0)
        alpha = pm.TruncatedNormal("alpha", mu=0.35, sigma=0.25, lower=0.0, upper=2.0)
        beta = pm.TruncatedNormal("beta", mu=0.35, sigma=0.25, lower=0.0, upper=2.0)
        sigma = pm.HalfNormal("sigma", 0.1)
        pm.Deterministic("E", pt.exp(e))
        pm.Deterministic("A", pt.exp(a0 + alpha * logN0))
        pm.Deterministic("B", pt.exp(b0 + beta * logD0))
        terms = pt.stack(
            [
                pt.broadcast_to(e, logN.shape),
                a0 - alpha * (logN - logN0),
                b0 - beta * (logD - logD0),
            ]
        )
        pm.Normal("logL", mu=pt.logsumexp(terms, axis=0), sigma=sigma, observed=logL)
    return model


def nutpie_rows(df):
    try:
        import nutpie
        import pymc  # noqa: F401
    except ImportError as err:
        print(f'PyMC + nutpie skipped ({err}): pip install -e ".[bench]" to run them', flush=True)
        return []
    logN, logD, logL = (np.log(df[c].to_numpy(dtype=np.float64)) for c in ("N", "D", "loss"))
    rows = []
    for adaptation in ("diag", "low_rank"):
        compiled = None
        for rep in range(2):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t = time.perf_counter()
                if compiled is None:
                    compiled = nutpie.compile_pymc_model(pymc_chinchilla(logN, logD, logL))
                trace = nutpie.sample(
                    compiled,
                    draws=1000,
                    tune=1000,
                    chains=4,
                    seed=rep,
                    adaptation=adaptation,
                    progress_bar=False,
                )
                wall = time.perf_counter() - t
            draws = {
                k: trace.posterior[k].transpose("chain", "draw").values
                for k in ("E", "alpha", "beta")
            }
            name = "PyMC + nutpie" + (" (default)" if adaptation == "diag" else " (low-rank mass)")
            rows.append(row(name, rep, wall, draws))
            divergences = int(trace.sample_stats["diverging"].sum())
            print(rows[-1], f"divergences={divergences}", flush=True)
    return rows


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


_NEW_PROCESS = """
import json, sys, time, warnings
import bayescale as bs
from bayescale.models import chinchilla
bs.enable_compilation_cache(sys.argv[1])
df = bs.datasets.load("chinchilla", variant="epoch")
warnings.simplefilter("ignore")
t = time.perf_counter()
post = bs.fit(chinchilla, df, method=sys.argv[2], seed=0)
wall = time.perf_counter() - t
print(json.dumps({"wall": wall, "draws": {k: v.tolist() for k, v in post.published_draws.items()
                                         if k in ("E", "alpha", "beta")}}))
"""


def warm_disk_cache_rows() -> list[dict]:
    """First fit in a new Python process whose persistent compilation cache is warm (as nutpie's
    first call below runs with pytensor's on-disk cache warm): one process fills the cache,
    a second one is timed (imports not timed, as everywhere here)."""
    import subprocess
    import tempfile

    out = []
    for method in ("nuts", "chees"):
        with tempfile.TemporaryDirectory() as cache:
            for _ in range(2):
                res = subprocess.run(
                    [sys.executable, "-c", _NEW_PROCESS, cache, method],
                    capture_output=True,
                    text=True,
                    check=True,
                )
            got = json.loads(res.stdout.strip().splitlines()[-1])
        draws = {k: np.asarray(v) for k, v in got["draws"].items()}
        name = f"bayescale {method}, new process, warm disk cache"
        out.append(row(name, 0, got["wall"], draws))
        print(out[-1], flush=True)
    return out


# The script a user runs, as a whole process: import, load the 240 points, fit, print a summary.
_WHOLE_BAYESCALE = """
import bayescale as bs
from bayescale.models import chinchilla
post = bs.fit(chinchilla, bs.datasets.load("chinchilla", variant="epoch"), seed=0)
print(post.summary())
"""

_WHOLE_NUTPIE = """
import sys
import numpy as np, pandas as pd, nutpie
sys.path.insert(0, {here!r})
from bench_cpu_samplers import pymc_chinchilla
df = pd.read_csv({csv!r})
logN, logD, logL = (np.log(df[c].to_numpy(dtype=np.float64)) for c in ("N", "D", "loss"))
trace = nutpie.sample(nutpie.compile_pymc_model(pymc_chinchilla(logN, logD, logL)), draws=1000,
                      tune=1000, chains=4, seed=0, adaptation="low_rank", progress_bar=False)
import arviz as az
print(az.summary(trace, var_names=["E", "alpha", "beta"]))
"""


def whole_process_rows(bench_python: str | None) -> list[dict]:
    """Wall time of the whole script (interpreter start to exit), each run three times in a
    row; the first run fills the on-disk caches (bayescale's compilation cache in a fresh
    folder, pytensor's compile cache), the best of the other two is reported."""
    import subprocess
    import tempfile

    out = []
    with tempfile.TemporaryDirectory() as cache:
        csv = os.path.join(cache, "chinchilla_epoch.csv")  # the same 240 points, for PyMC
        bs.datasets.load("chinchilla", variant="epoch")[["N", "D", "loss"]].to_csv(csv)
        scripts = [
            (
                "bayescale fit, whole process (cache warm)",
                sys.executable,
                _WHOLE_BAYESCALE,
                {"BAYESCALE_COMPILATION_CACHE": cache},
            ),
            (
                "bayescale fit, whole process (no cache)",
                sys.executable,
                _WHOLE_BAYESCALE,
                {"BAYESCALE_COMPILATION_CACHE": "0"},
            ),
        ]
        if bench_python:
            here = os.path.dirname(os.path.abspath(__file__))
            code = _WHOLE_NUTPIE.format(here=here, csv=csv)
            scripts.append(("PyMC + nutpie low-rank, whole process", bench_python, code, {}))
        for name, python, code, env in scripts:
            walls = []
            for _ in range(3):
                t = time.perf_counter()
                subprocess.run(
                    [python, "-c", code],
                    env={**os.environ, **env},
                    capture_output=True,
                    text=True,
                    check=True,
                )
                walls.append(time.perf_counter() - t)
            out.append(
                {
                    "method": name,
                    "call": "whole process",
                    "wall_s": round(min(walls[1:]), 2),
                    "first_wall_s": round(walls[0], 2),
                }
            )
            print(out[-1], flush=True)
    return out


def main():
    df = bs.datasets.load("chinchilla", variant="epoch")
    rows = []
    variants = [
        ("bayescale nuts (default)", {"method": "nuts"}),
        ("bayescale nuts, chains in turn", {"method": "nuts", "chain_method": "sequential"}),
        (
            "bayescale nuts, metric shrunk to previous",
            {"method": "nuts", "metric_shrinkage": "previous"},
        ),
        ("bayescale chees", {"method": "chees"}),
        ("bayescale laplace", {"method": "laplace"}),
    ]
    for name, kwargs in variants:
        for rep in range(2):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t = time.perf_counter()
                post = bs.fit(chinchilla, df, seed=rep, **kwargs)
                wall = time.perf_counter() - t
            rows.append(row(name, rep, wall, post.published_draws))
            print(rows[-1], flush=True)
    rows += warm_disk_cache_rows()
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
    rows += nutpie_rows(df)
    rows += whole_process_rows(os.environ.get("BENCH_PYTHON"))
    print()
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
