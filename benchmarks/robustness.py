"""Robustness battery: does the default fit pass its own diagnostics on real ladders?

Every bundled ladder with the catalog laws that fit it, and the subsets users really have (a few
models over one decade of N, random 20-40-run subsets, isoFLOP grids with runs far from the
optimum, learning-curve rows). Each (ladder, seed) pair is fitted with ``bs.fit(law, df,
seed=seed, **settings)`` and the table reports whether every diagnostic passed, the worst
R-hat, the lowest bulk ESS, divergences, the share of draws at the maximum tree depth, the
escalation steps the fit took and the wall time.

Usage:
    .venv/bin/python benchmarks/robustness.py [--seeds 5] [--quick] [--only NAME ...]
        [--set key=value ...]

``--quick`` is the fast subset the test suite also asserts. ``--set`` passes fit settings
(e.g. ``--set num_warmup=500``) to compare a candidate default against today's.
"""

from __future__ import annotations

import argparse
import ast
import time
import warnings

import numpy as np
import pandas as pd
from bayescale.models import chinchilla, kaplan_NS

import bayescale as bs
from bayescale._diagnostics import convergence_table


def _one_decade(df: pd.DataFrame, n_models: int, seed: int) -> pd.DataFrame:
    """All runs of ``n_models`` model sizes drawn within one decade of N."""
    sizes = np.sort(df["N"].unique())
    rng = np.random.default_rng(seed)
    lo = rng.choice(sizes[sizes <= sizes.max() / 10])
    window = sizes[(sizes >= lo) & (sizes <= 10 * lo)]
    pick = rng.choice(window, size=min(n_models, len(window)), replace=False)
    return df[df["N"].isin(pick)]


def _random_runs(df: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    return df.sample(n=n, random_state=seed)


def ladders(quick: bool = False) -> dict[str, tuple]:
    """name -> (law, data): the battery's ladders (the quick subset with ``quick``)."""
    epoch = bs.datasets.load("chinchilla", variant="epoch")
    farseer = bs.datasets.load("farseer")
    out = {
        "chinchilla_epoch": (chinchilla, epoch),
        "farseer": (chinchilla, farseer),
        "farseer_8_models_1_decade": (chinchilla, _one_decade(farseer, 8, 0)),
        "chinchilla_30_random": (chinchilla, _random_runs(epoch, 30, 1)),
    }
    if quick:
        return out
    gem = bs.datasets.load("gemstones", variant="logspaced")
    out.update(
        {
            "chinchilla_all_245": (chinchilla, bs.datasets.load("chinchilla")),
            "datablations_few_epochs": (
                chinchilla,
                bs.datasets.load("datablations", variant="few_epochs"),
            ),
            "gemstones_logspaced": (chinchilla, gem),
            "gemstones_6_models_1_decade": (chinchilla, _one_decade(gem, 6, 2)),
            "farseer_40_random": (chinchilla, _random_runs(farseer, 40, 3)),
            "farseer_20_random": (chinchilla, _random_runs(farseer, 20, 4)),
            "chinchilla_6_models_1_decade": (chinchilla, _one_decade(epoch, 6, 5)),
            "routing_dense_curves": (kaplan_NS, bs.datasets.load("routing")),
            "gpt3_curves_binned": (kaplan_NS, bs.datasets.load("gpt3_curves", variant="binned")),
        }
    )
    return out


def run_battery(names, seeds, settings) -> pd.DataFrame:
    rows = []
    table = ladders()
    for name in names:
        law, df = table[name]
        for seed in seeds:
            t = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                post = bs.fit(law, df, seed=seed, **settings)
            wall = time.perf_counter() - t
            tab = convergence_table({k: v for k, v in post.draws.items() if v.ndim == 2})
            steps = np.asarray(post.stats["n_steps"])
            max_depth = int(post.settings.get("max_tree_depth", 10))
            rows.append(
                {
                    "ladder": name,
                    "law": law.name,
                    "rows": len(df),
                    "seed": seed,
                    "ok": post.ok,
                    "r_hat": tab["r_hat"].max(),
                    "ess_bulk": tab["ess_bulk"].min(),
                    "divergent": int(np.asarray(post.stats["diverging"]).sum()),
                    "at_max_depth": float(np.mean(steps >= 2**max_depth - 1)),
                    "mean_steps": float(steps.mean()),
                    "notes": "; ".join(getattr(post, "notes", ()) or ()),
                    "problems": "; ".join(p.split(":")[0] for p in post.problems),
                    "wall_s": wall,
                }
            )
            print(pd.DataFrame(rows[-1:]).to_string(header=len(rows) == 1, index=False))
    return pd.DataFrame(rows)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only", nargs="*")
    p.add_argument("--set", nargs="*", default=[], help="fit settings, key=value")
    a = p.parse_args(argv)
    settings = {}
    for kv in a.set:
        k, v = kv.split("=", 1)
        try:
            settings[k] = ast.literal_eval(v)
        except ValueError:
            settings[k] = v  # a string setting, e.g. init=uniform
    names = a.only or list(ladders(a.quick))
    res = run_battery(names, range(a.seeds), settings)
    pd.set_option("display.width", 200)
    print()
    print(res.drop(columns=["notes"]).to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    by = res.groupby("ladder")["ok"].mean()
    print()
    print(by.to_string())
    print(f"\npassed every diagnostic: {res['ok'].sum()} of {len(res)} (ladder, seed) pairs")


if __name__ == "__main__":
    main()
