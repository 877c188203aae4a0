"""How far to trust an extrapolated interval: forecasts of held-out big runs on real ladders.

    .venv/bin/python benchmarks/forecast_truth.py [ladder ...] [--quick] [--cache=DIR]
    .venv/bin/python benchmarks/forecast_truth.py [ladder ...] --noises=normal,contaminated

Each bundled real ladder is split at two cutoffs by the runs' scale (compute N D; N S for the
routing curves): the top 10% and the top 25% of runs are held out, the law is fitted below and
forecasts the runs above. Compared:

* ``no_discrepancy``: today's posterior without the law's own error
  (``bs.fit(law, train).with_discrepancy(None)``);
* ``discrepancy``: the default fit, whose forecasts add the law's error beyond the data, learned
  by nested leave-future-out on the training runs alone (``bs.fit(law, train)``);
* ``stacked``: the ladder's candidate laws mixed by leave-future-out stacking weights computed
  on the training runs alone (``bs.stack(bs.compare(posts, by="future"))``);
* ``hoffmann_boot``: the Hoffmann/Epoch Huber point fit with 200 bootstrap replicates, as Epoch
  reported (``bs.fit(law, train, method="hoffmann", num_bootstrap=200)``, no law error; the
  Chinchilla form only, so not on the routing curves);
* each candidate law alone, with its law error (``law:<name>``), for the median-error check.

Scores over the held-out runs (relative ones are divided by the observed loss, so ladders in
nats and in bits pool): coverage of the central 50/80/90/95% predictive intervals; the 90%
interval score (Gneiting & Raftery 2007, eq. 43) ``(u - l) + (2/a)(l - y)[y < l] +
(2/a)(y - u)[y > u]``, a = 0.1, relative; the CRPS ``E|X - y| - E|X - X'|/2`` of the predictive
draws, relative; the median absolute relative error and the mean signed relative error of the
predictive median (positive: the forecast was too high). Per ladder (both cutoffs pooled) and
pooled over ladders. Fits: NUTS 4 chains x (500 + 500), seed 0, Normal noise on log-loss
(``--quick``: 4 x (300 + 300), chinchilla and datablations only; ``--noise=student_t``: the
Bayesian fits with Student-t noise, the baseline unchanged). ``--cache=DIR`` keeps each ladder's
scores in ``DIR`` and reuses them on a later run. ``--noises=normal,contaminated`` compares noise
models instead: the main law alone with each (and its learned law error) against the bootstrap,
on the ladders of the Chinchilla form.

References:
    Gneiting & Raftery (2007), Strictly proper scoring rules, prediction, and estimation, JASA
    102(477).
    Besiroglu, Erdil, Barnett & You (2024), Chinchilla scaling: a replication attempt,
    arXiv:2404.10102 (the bootstrap baseline).
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import time
import warnings

import numpy as np
import pandas as pd

import bayescale as bs
from bayescale import models
from bayescale._discrepancy import log_scale
from bayescale._stack import forecast_draws

ND_LAWS = ("chinchilla", "chinchilla_tied", "kaplan_ND")
#: name -> (dataset, variant, candidate laws; the first is the main law)
LADDERS = {
    "chinchilla": ("chinchilla", "epoch", ND_LAWS),
    "farseer": ("farseer", None, ND_LAWS),
    "gemstones": ("gemstones", "logspaced", ND_LAWS),
    "datablations": ("datablations", "few_epochs", ND_LAWS),
    "gpt3_curves": ("gpt3_curves", "binned", ND_LAWS),
    "routing": ("routing", None, ("kaplan_NS",)),
}
HOLDOUTS = (0.1, 0.25)
LEVELS = (0.5, 0.8, 0.9, 0.95)
METHODS = ("no_discrepancy", "discrepancy", "stacked", "hoffmann_boot")


def crps(draws: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Sample CRPS per point: ``E|X - y| - E|X - X'| / 2`` from ``(draws, points)``."""
    x = np.sort(draws, axis=0)
    m = x.shape[0]
    spread = (2.0 * np.arange(1, m + 1) - m - 1)[:, None] * x
    return np.abs(x - y).mean(axis=0) - spread.sum(axis=0) / m**2


def scores(pred: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    """Per held-out run: coverage at each level, relative 90% interval score, relative CRPS,
    relative error of the predictive median."""
    out = pd.DataFrame({"y": y})
    for level in LEVELS:
        lo, hi = np.quantile(pred, [(1 - level) / 2, (1 + level) / 2], axis=0)
        out[f"cov{int(level * 100)}"] = (y >= lo) & (y <= hi)
        if level == 0.9:
            a = 1 - level
            score = (hi - lo) + 2 / a * (lo - y) * (y < lo) + 2 / a * (y - hi) * (y > hi)
            out["is90"] = score / y
    out["crps"] = crps(pred, y) / y
    out["rel_err"] = (np.median(pred, axis=0) - y) / y
    return out


def summarise(rows: pd.DataFrame) -> dict:
    s = {f"cov{int(v * 100)}": rows[f"cov{int(v * 100)}"].mean() for v in LEVELS}
    s.update(
        is90=rows["is90"].mean(),
        crps=rows["crps"].mean(),
        mdape=rows["rel_err"].abs().median(),
        mse=rows["rel_err"].mean(),
        n=len(rows),
    )
    return s


def splits(name: str, law_names: tuple[str, ...]):
    """Per holdout fraction ``h`` of ladder ``name``: ``(h, train, x, y)``, the runs below the
    ``1 - h`` quantile of the first law's scale and the held-out runs' inputs and losses."""
    dataset, variant, _ = LADDERS[name]
    laws = [getattr(models, n) for n in law_names]
    main = laws[0]
    df = bs.datasets.load(dataset, variant=variant)
    cols = list(dict.fromkeys(c for law in laws for c in law.inputs)) + ["loss"]
    df = df[cols].reset_index(drop=True)
    scale = log_scale(main, {k: df[k].to_numpy() for k in main.inputs})
    for h in HOLDOUTS:
        cut = np.quantile(scale, 1 - h)
        train, test = df[scale < cut], df[scale >= cut]
        x = {k: test[k].to_numpy(np.float64) for k in main.inputs}
        yield h, train, x, test["loss"].to_numpy(np.float64)


def bootstrap_draws(main, train: pd.DataFrame, x: dict) -> np.ndarray | None:
    """Predictive draws of the Hoffmann/Epoch Huber fit with 200 bootstrap replicates (no law
    error), or None for a law not of the Chinchilla form, the only one it exists for."""
    if {p.name for p in main.params} != {p.name for p in models.chinchilla.params}:
        return None
    boot = bs.fit(main, train, seed=0, method="hoffmann", num_bootstrap=200)
    return forecast_draws(boot.with_discrepancy(None), x, 1)[1]


def run_ladder(name: str, *, settings: dict) -> tuple[pd.DataFrame, list[str]]:
    law_names = LADDERS[name][2]
    laws = {n: getattr(models, n) for n in law_names}
    main = laws[law_names[0]]
    frames, log = [], []
    for h, train, x, y in splits(name, law_names):
        posts, preds, times = {}, {}, {}
        for law_name, law in laws.items():
            t = time.perf_counter()
            posts[law_name] = bs.fit(law, train, seed=0, **settings)
            times[f"fit {law_name}"] = time.perf_counter() - t
            t = time.perf_counter()
            cal = posts[law_name].calibration
            times[f"calibration {law_name}"] = time.perf_counter() - t
            if law_name == law_names[0]:
                log.append(f"  {name} top {h:.0%}: {len(train)} train, {len(y)} held out; {cal}")
            preds[f"law:{law_name}"] = forecast_draws(posts[law_name], x, 1)[1]
        first = posts[law_names[0]]
        preds["discrepancy"] = preds[f"law:{law_names[0]}"]
        preds["no_discrepancy"] = forecast_draws(first.with_discrepancy(None), x, 1)[1]
        if len(laws) > 1:
            t = time.perf_counter()
            cmp = bs.compare(posts, by="future", holdouts=(0.1, 0.25))
            stacked = bs.stack(cmp)
            preds["stacked"] = stacked.draws(seed=1, **x)[2]
            times["compare(by=future)"] = time.perf_counter() - t
            weights = ", ".join(f"{k} {w:.2f}" for k, w in cmp.table["weight"].items())
            log.append(f"    future stacking weights: {weights}")
        else:
            preds["stacked"] = preds["discrepancy"]
        t = time.perf_counter()
        boot = bootstrap_draws(main, train, x)
        if boot is not None:
            preds["hoffmann_boot"] = boot
            times["hoffmann 200 bootstraps"] = time.perf_counter() - t
        log.append("    seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in times.items()))
        d = forecast_draws(first, x, 1)[2]
        log.append(f"    distance of held-out runs: {d.min():.2f}-{d.max():.2f} decades")
        for method, pred in preds.items():
            frames.append(scores(pred, y).assign(ladder=name, holdout=h, method=method))
    return pd.concat(frames, ignore_index=True), log


def run_noises(name: str, noises: list[str], *, settings: dict) -> tuple[pd.DataFrame, list[str]]:
    """The main law alone with each noise model (its default law error), and the bootstrap:
    methods ``noise:<name>`` and ``hoffmann_boot``."""
    main_name = LADDERS[name][2][0]
    main = getattr(models, main_name)
    frames, log = [], []
    for h, train, x, y in splits(name, (main_name,)):
        preds = {}
        for noise in noises:
            t = time.perf_counter()
            post = bs.fit(main, train, seed=0, **{**settings, "noise": noise})
            preds[f"noise:{noise}"] = forecast_draws(post, x, 1)[1]
            extra = ", ".join(
                f"{k} {float(np.median(post.draws[k])):.3g}"
                for k in ("sigma", "p_bad", "nu", "sigma_slope")
                if k in post.draws
            )
            log.append(
                f"  {name} top {h:.0%} {noise}: ok={post.ok}, {extra}, "
                f"{time.perf_counter() - t:.1f} s; {post.calibration}"
            )
        boot = bootstrap_draws(main, train, x)
        if boot is not None:
            preds["hoffmann_boot"] = boot
        for method, pred in preds.items():
            frames.append(scores(pred, y).assign(ladder=name, holdout=h, method=method))
    return pd.concat(frames, ignore_index=True), log


def table(rows: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    t = pd.DataFrame({m: summarise(g) for m, g in rows.groupby("method")}).T
    return t.loc[[m for m in order if m in t.index]]


def main(argv: list[str]) -> None:
    quick = "--quick" in argv
    names = [a for a in argv if not a.startswith("--")] or (
        ["chinchilla", "datablations"] if quick else list(LADDERS)
    )
    draws = 300 if quick else 500
    settings = {"num_warmup": draws, "num_samples": draws}
    noise = next((a.split("=", 1)[1] for a in argv if a.startswith("--noise=")), None)
    if noise is not None:
        settings["noise"] = noise
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    print(
        f"forecast_truth {datetime.date.today()} (commit {commit}); NUTS 4 x ({draws}+{draws})"
        + (f", noise {noise}" if noise else "")
    )
    print(f"held out: top {', '.join(f'{h:.0%}' for h in HOLDOUTS)} of each ladder by scale")
    cache = next((a.split("=", 1)[1] for a in argv if a.startswith("--cache=")), None)
    noises = next((a.split("=", 1)[1] for a in argv if a.startswith("--noises=")), None)
    if noises is not None:
        main_noises([n for n in names if n != "routing"], noises.split(","), settings)
        return
    all_rows = []
    for name in names:
        t = time.perf_counter()
        path = None if cache is None else os.path.join(cache, f"forecast_truth_{name}.csv")
        if path is not None and os.path.exists(path):  # scores of an earlier run
            rows, log = pd.read_csv(path), ["  (scores read from an earlier run)"]
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rows, log = run_ladder(name, settings=settings)
            if path is not None:
                rows.to_csv(path, index=False)
        print(f"\n== {name} ({time.perf_counter() - t:.0f} s)")
        print("\n".join(log), flush=True)
        order = list(METHODS) + sorted(m for m in rows["method"].unique() if m.startswith("law:"))
        print(table(rows, order).to_string(float_format=lambda v: f"{v:.4f}"))
        all_rows.append(rows)
    rows = pd.concat(all_rows, ignore_index=True)
    order = list(METHODS) + sorted(m for m in rows["method"].unique() if m.startswith("law:"))
    print("\n== pooled over ladders (every held-out run of every cutoff counts once)")
    print(table(rows, order).to_string(float_format=lambda v: f"{v:.4f}"))
    print("\n== per ladder, interval score and CRPS against the bootstrap baseline")
    with_boot = [n for n in names if (rows[rows["ladder"] == n]["method"] == "hoffmann_boot").any()]
    for method in ("discrepancy", "stacked"):
        wins_is = wins_crps = 0
        for name in with_boot:
            t = table(rows[rows["ladder"] == name], list(METHODS))
            wins_is += t.loc[method, "is90"] < t.loc["hoffmann_boot", "is90"]
            wins_crps += t.loc[method, "crps"] < t.loc["hoffmann_boot", "crps"]
        print(
            f"{method}: interval score better on {wins_is}/{len(with_boot)} ladders, "
            f"CRPS better on {wins_crps}/{len(with_boot)} (ladders of the Chinchilla form)"
        )


def main_noises(names: list[str], noises: list[str], settings: dict) -> None:
    """``--noises=a,b``: the main law with each noise model, per ladder and pooled, and how
    many ladders each beats the bootstrap on."""
    methods = [f"noise:{n}" for n in noises] + ["hoffmann_boot"]
    all_rows = []
    for name in names:
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows, log = run_noises(name, noises, settings=settings)
        print(f"\n== {name} ({time.perf_counter() - t:.0f} s)")
        print("\n".join(log))
        print(table(rows, methods).to_string(float_format=lambda v: f"{v:.4f}"), flush=True)
        all_rows.append(rows)
    rows = pd.concat(all_rows, ignore_index=True)
    print("\n== pooled over ladders")
    print(table(rows, methods).to_string(float_format=lambda v: f"{v:.4f}"))
    for method in methods[:-1]:
        wins = [0, 0]
        for name in names:
            t = table(rows[rows["ladder"] == name], methods)
            wins[0] += t.loc[method, "is90"] < t.loc["hoffmann_boot", "is90"]
            wins[1] += t.loc[method, "crps"] < t.loc["hoffmann_boot", "crps"]
        print(
            f"{method}: interval score better than the bootstrap on {wins[0]}/{len(names)} "
            f"ladders, CRPS on {wins[1]}/{len(names)}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
