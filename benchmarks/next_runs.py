"""Which run next: does ranking runs by information gain per FLOP shrink a forecast faster?

    .venv/bin/python benchmarks/next_runs.py [--ladders=30] [--replay=chinchilla,farseer]
        [--methods=laplace,nuts] [--quick] [--out=FILE]

About 7 minutes on 2 CPU cores (``--quick``: 3 ladders, no replay; ``--ladders=0``: the
replays only). Kept results: ``benchmarks/results/next_runs_2026-12-03.txt`` (simulation and
the Chinchilla replay) and ``benchmarks/results/next_runs_farseer_2026-12-03.txt``
(``--ladders=0``: both replays).

Two experiments, each adding runs one at a time to a ladder of 6 small runs, refitting after
each addition (``bs.fit(law, data, method="laplace")``, 4000 draws), and recording the width
of the target's 90% credible interval (the law's mean loss there) against the FLOPs spent:

* Simulation. Ladders drawn from a known Chinchilla law (Hoffmann et al. 2022's E, A, B,
  alpha, beta) with log-normal noise of sd 0.01, all starting from the same 6 small runs
  (N 5e7-1e8, 20 and 80 tokens per parameter). A pool of 35 candidates (5 budgets from 1e19
  to 1e21 FLOPs, 7 model sizes at each, 0.8 to 500 tokens per parameter) is spent up to 2e21
  FLOPs by three strategies: ``ranked`` (the top of ``post.next_runs(pool, target=...,
  budget=left)``), ``random`` (a random affordable run), ``compute`` (the cheapest run first,
  a ladder grown in order of compute). Target: the loss of a Chinchilla-sized run (N = 7e10,
  D = 1.4e12). Every strategy sees the same noisy losses of a ladder (common random numbers).
  A second target: the compute-optimal model size N* at 1e24 FLOPs (``{"N_opt": 1e24}``,
  width in decades). Reported per strategy: the median width at FLOP spend points (after the
  last run that fits within each), and the fraction of ladders where ``ranked`` is narrower
  than ``random`` and than ``compute`` at each.
* Replay. A real ladder: start from its 6 smallest-compute runs, hold out its 5 largest, and
  add existing runs back from the others in ranked order, in compute order and in 5 random
  orders, up to a budget, with Laplace refits and again with short NUTS ones (2 chains x
  (200 + 200)). Target: the loss at the largest run's (N, D). Reported: the width against the
  FLOPs spent, and how the last fit's 90% predictive intervals cover the 5 held-out runs,
  conditional on the law form and with the law's own error beyond the data (the default
  ``discrepancy="auto"``). Two ladders (``--replay``):

  - ``chinchilla``: the bundled Chinchilla ladder (Epoch's 240 runs); 229 in the pool, the
    held-out runs at 3.0e21-1.3e22 FLOPs, budget 3e21.
  - ``farseer``: the bundled Farseer grid (404 runs, loss in bits per character, which the
    Chinchilla form fits as it would nats); 393 in the pool, the held-out runs at
    3.46e21-3.49e21 FLOPs, budget 1e21.

The law is Chinchilla with ``min_rows=6``: its priors are proper, so 6 runs give a posterior
(wide), which the default ``min_rows`` (parameters plus two) refuses as too few to identify.
"""

from __future__ import annotations

import dataclasses
import datetime
import subprocess
import sys
import time
import warnings

import numpy as np
import pandas as pd
from bayescale.models import chinchilla

import bayescale as bs
from bayescale._allocation import allocate_draws

LAW = dataclasses.replace(chinchilla, min_rows=6)
TRUTH = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
SIGMA = 0.01
#: name -> (target of next_runs, unit of the interval's width)
TARGETS = {
    "loss at Chinchilla's size": ({"N": 7e10, "D": 1.4e12}, "nats"),
    "N_opt at 1e24 FLOPs": ({"N_opt": 1e24}, "decades of N"),
}
BUDGET = 2e21
SPEND = (1e20, 3e20, 1e21, 2e21)
LEVEL = 0.9


def true_loss(n, d):
    t = TRUTH
    return t["E"] + t["A"] / np.asarray(n) ** t["alpha"] + t["B"] / np.asarray(d) ** t["beta"]


def start_runs() -> pd.DataFrame:
    n = np.array([5e7, 7e7, 1e8, 5e7, 7e7, 1e8])
    return pd.DataFrame({"N": n, "D": n * np.repeat([20.0, 80.0], 3)})


def candidate_pool() -> pd.DataFrame:
    rows = []
    for c in np.geomspace(1e19, 1e21, 5):
        n20 = np.sqrt(c / (6 * 20))  # 20 tokens per parameter
        for f in (0.2, 0.35, 0.6, 1.0, 1.7, 3.0, 5.0):
            rows.append({"N": n20 * f, "D": c / (6 * n20 * f)})
    return pd.DataFrame(rows)


#: refit settings: Laplace (4000 draws), or a short NUTS run as a check of the approximation
METHODS = {
    "laplace": {"method": "laplace"},
    "nuts": {"method": "nuts", "num_warmup": 200, "num_samples": 200, "num_chains": 2},
}


def fit(data: pd.DataFrame, seed: int, method: str):
    return bs.fit(LAW, data[["N", "D", "loss"]], seed=seed, **METHODS[method])


def width(post, target) -> float:
    """The width of the target's 90% credible interval: in nats for a loss, in decades for
    N_opt."""
    q = [(1 - LEVEL) / 2, (1 + LEVEL) / 2]
    if "N_opt" in target:
        theta = {k: post._theta_flat[k] for k in LAW.param_names}
        n_opt = np.asarray(allocate_draws(LAW, theta, np.array([target["N_opt"] / 6]))["N_opt"])
        lo, hi = np.quantile(np.log10(n_opt[:, 0]), q)
    else:
        draws = post._mean_draws({k: np.array([v]) for k, v in target.items()})[:, 0]
        lo, hi = np.quantile(draws, q)
    return float(hi - lo)


def grow(start, pool, strategy, *, target, budget, seed, rng=None, method="laplace"):
    """Add runs from ``pool`` (with observed ``loss``) by ``strategy`` until the budget is spent:
    ``[(FLOPs spent, width, rows)]`` after each refit, and the last posterior."""
    with warnings.catch_warnings():
        # short chains on a few runs fail their diagnostics: the widths are the point here
        warnings.simplefilter("ignore")
        return _grow(start, pool, strategy, target, budget, seed, rng, method)


def _grow(start, pool, strategy, target, budget, seed, rng, method):
    data, left, spent = start.copy(), budget, 0.0
    pool = pool.copy()
    post = fit(data, seed, method)
    path = [(0.0, width(post, target), len(data))]
    while True:
        cost = 6 * pool["N"] * pool["D"]
        affordable = pool[cost <= left]
        if affordable.empty:
            break
        if strategy == "ranked":
            table = post.next_runs(affordable, target=target, budget=left, seed=len(path))
            pick = table.index[0]
        elif strategy == "random":
            pick = affordable.index[rng.integers(len(affordable))]
        else:  # compute order
            pick = cost[affordable.index].idxmin()
        run = pool.loc[[pick]]
        pool = pool.drop(index=pick)
        data = pd.concat([data, run], ignore_index=True)
        spent += float(6 * run["N"].iloc[0] * run["D"].iloc[0])
        left = budget - spent
        post = fit(data, seed, method)
        path.append((spent, width(post, target), len(data)))
    return path, post


def width_at(path, spend) -> float:
    """The width after the last run that fits within ``spend`` FLOPs."""
    return [w for c, w, _ in path if c <= spend * (1 + 1e-9)][-1]


def simulate(num_ladders: int, name: str, out) -> None:
    target, unit = TARGETS[name]
    start, pool = start_runs(), candidate_pool()
    widths = {s: np.zeros((num_ladders, len(SPEND))) for s in ("ranked", "random", "compute")}
    steps = {s: [] for s in widths}
    w0 = []
    t0 = time.time()
    for i in range(num_ladders):
        rng = np.random.default_rng(1000 + i)
        obs_start = start.assign(
            loss=true_loss(start["N"], start["D"]) * np.exp(SIGMA * rng.standard_normal(6))
        )
        obs_pool = pool.assign(
            loss=true_loss(pool["N"], pool["D"]) * np.exp(SIGMA * rng.standard_normal(len(pool)))
        )
        for strategy in widths:
            path, _ = grow(
                obs_start, obs_pool, strategy, target=target, budget=BUDGET, seed=i, rng=rng
            )
            widths[strategy][i] = [width_at(path, s) for s in SPEND]
            steps[strategy].append(len(path) - 1)
        w0.append(path[0][1])
        print(f"  ladder {i + 1}/{num_ladders} ({time.time() - t0:.0f} s)", file=sys.stderr)
    print(
        f"\nsimulation, target {name} ({target}): {num_ladders} ladders; {time.time() - t0:.0f} s",
        file=out,
    )
    print(f"median 90% interval width at the start (6 runs): {np.median(w0):.4f} {unit}", file=out)
    cols = [f"{s:.0e}" for s in SPEND]
    table = pd.DataFrame({s: np.median(w, axis=0) for s, w in widths.items()}, index=cols).T.round(
        4
    )
    table["runs added (median)"] = [int(np.median(steps[s])) for s in widths]
    print(f"median 90% interval width ({unit}) by FLOPs spent on added runs:", file=out)
    print(table.to_string(), file=out)
    beats = pd.DataFrame(
        {
            f"ranked < {other}": (widths["ranked"] < widths[other]).mean(axis=0)
            for other in ("random", "compute")
        },
        index=cols,
    ).T.round(2)
    print("fraction of ladders where ranked is narrower, by FLOPs spent:", file=out)
    print(beats.to_string(), file=out)


#: name -> (label, loader, unit of the loss, budget for added runs, FLOP spend points)
REPLAYS = {
    "chinchilla": (
        "Chinchilla (Epoch)",
        lambda: bs.datasets.load("chinchilla", variant="epoch"),
        "nats",
        3e21,
        (1e19, 3e19, 1e20, 3e20, 1e21, 3e21),
    ),
    "farseer": (
        "Farseer",
        lambda: bs.datasets.load("farseer"),
        "bits per character",
        1e21,
        (1e19, 3e19, 1e20, 3e20, 1e21),
    ),
}


def replay(out, name: str = "chinchilla", *, method: str = "laplace", num_random: int = 5) -> None:
    label, load, unit, budget, points = REPLAYS[name]
    data = load().sort_values("C", kind="stable").reset_index(drop=True)
    start, held, pool = data.iloc[:6], data.iloc[-5:], data.iloc[6:-5]
    big = held.iloc[-1]
    target = {"N": float(big["N"]), "D": float(big["D"])}
    t0 = time.time()
    kw = {"target": target, "budget": budget, "seed": 0, "method": method}
    paths = {s: grow(start, pool, s, **kw) for s in ("ranked", "compute")}
    for r in range(num_random):
        paths[f"random{r}"] = grow(start, pool, "random", rng=np.random.default_rng(r), **kw)
    print(
        f"\nreplay ({method} refits): {label}, the 6 smallest-compute runs to start "
        f"(C {start['C'].min():.2g}-{start['C'].max():.2g}), {len(pool)} in the pool, the "
        f"{len(held)} largest held out (C {held['C'].min():.3g}-{held['C'].max():.3g}); target: "
        f"loss at N={target['N']:.3g}, D={target['D']:.3g} (C={6 * target['N'] * target['D']:.3g}"
        f", observed {big['loss']:.4f}); budget {budget:g} FLOPs; {time.time() - t0:.0f} s",
        file=out,
    )
    rows = {}
    for strategy in ("ranked", "compute"):
        path = paths[strategy][0]
        rows[strategy] = [width_at(path, s) for s in points] + [path[-1][2] - 6]
    rand = [paths[f"random{r}"][0] for r in range(num_random)]
    rows[f"random (median of {num_random})"] = [
        *np.median([[width_at(p, s) for s in points] for p in rand], axis=0),
        int(np.median([p[-1][2] - 6 for p in rand])),
    ]
    table = pd.DataFrame(rows, index=[f"{p:.0e}" for p in points] + ["runs added"]).T
    w0 = paths["ranked"][0][0][1]
    print(
        f"90% interval width ({unit}) of the forecast by FLOPs spent on added runs (at the "
        f"start, 6 runs: {w0:.4f}; a strategy that has added no run by a spend point shows it):",
        file=out,
    )
    table = table.round(4).astype(object)
    table["runs added"] = table["runs added"].astype(int)
    print(table.to_string(), file=out)
    held_x = {k: held[k].to_numpy() for k in ("N", "D")}
    y = held["loss"].to_numpy()
    for strategy in ("ranked", "compute"):
        path, post = paths[strategy]
        first = ", ".join(f"{c:.2g}" for c, _, _ in path[1:6])
        print(f"  {strategy}: first 5 picks at C = {first}", file=out)
        for what, p in (("law form only", post.with_discrepancy(None)), ("with law error", post)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                f = p.forecast(**held_x, level=LEVEL)
            inside = (f["pred_lower"].to_numpy() <= y) & (y <= f["pred_upper"].to_numpy())
            print(
                f"    final 90% predictive intervals ({what}) cover {int(inside.sum())}/{len(y)} "
                f"held-out runs; median width {(f['pred_upper'] - f['pred_lower']).median():.4f}"
                f", median forecast {f['pred_median'].median():.4f} (observed {np.median(y):.4f})",
                file=out,
            )


def main(argv: list[str]) -> None:
    opts = dict(a.lstrip("-").split("=", 1) if "=" in a else (a.lstrip("-"), "1") for a in argv)
    num_ladders = int(opts.get("ladders", 3 if "quick" in opts else 30))
    replays = [
        r for r in opts.get("replay", "" if "quick" in opts else ",".join(REPLAYS)).split(",") if r
    ]
    methods = [m for m in opts.get("methods", ",".join(METHODS)).split(",") if m]
    unknown = sorted(set(replays) - set(REPLAYS)) + sorted(set(methods) - set(METHODS))
    if unknown:
        raise SystemExit(
            f"unknown replay or method {unknown}: choose from {list(REPLAYS)}, {list(METHODS)}"
        )
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], capture_output=True, text=True
    ).stdout.strip()
    refits = " and ".join(
        {"laplace": "Laplace (4000 draws)", "nuts": "NUTS 2 x (200 + 200)"}[m] for m in methods
    )
    header = (
        f"next_runs {datetime.date.today()} (commit {commit}); simulated ladders: {num_ladders} "
        f"(Laplace refits, 4000 draws); replays: {', '.join(replays) or 'none'} ({refits} refits)"
    )
    lines = []

    class Tee:
        def write(self, s):
            sys.stdout.write(s)
            lines.append(s)

    out = Tee()
    print(header, file=out)
    t0 = time.time()
    if num_ladders:
        print(
            f"simulated ladders: L = {TRUTH['E']} + {TRUTH['A']}/N^{TRUTH['alpha']} + "
            f"{TRUTH['B']}/D^{TRUTH['beta']}, log-normal noise sd {SIGMA}; the same 6 start runs "
            f"(C {6 * 5e7 * 1e9:.1g}-{6 * 1e8 * 8e9:.1g}); a pool of {len(candidate_pool())} "
            f"(C 1e19-1e21, 0.8-500 tokens per parameter); budget {BUDGET:g} FLOPs",
            file=out,
        )
        for name in TARGETS:
            simulate(num_ladders, name, out)
    for name in replays:
        for method in methods:
            replay(out, name, method=method)
    print(f"\ntotal {time.time() - t0:.0f} s", file=out)
    if "out" in opts:
        with open(opts["out"], "w") as f:
            f.write("".join(lines))


if __name__ == "__main__":
    main(sys.argv[1:])
