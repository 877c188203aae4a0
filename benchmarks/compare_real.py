"""Law comparison on real published data.

    .venv/bin/python benchmarks/compare_real.py [chinchilla] [bnsl] [datablations] [--smc] [--noise]

* chinchilla: Chinchilla vs Kaplan L(N, D) on Epoch's 240 Chinchilla points; leave-future-out
  on the top 20% of compute.
* bnsl: broken power law (1 break) vs plain power laws (with and without a floor) on the BNSL
  four-digit-addition points; leave-future-out on the paper's 3 extrapolation points.
* datablations: data-constrained (Muennighoff) vs Chinchilla on the 296 datablations runs.

``--smc`` adds the BlackJAX tempered-SMC evidence next to bridge sampling (the independent
cross-check of the evidence), importance sampling from a Student-t fitted to the draws as a
referee, and, on BNSL, a prior-sensitivity check. ``--noise`` repeats the Chinchilla
leave-future-out with Student-t and scale-dependent (``scaled_N``, ``scaled_D``) noise.
Fits: NUTS 4 chains x (1000 + 1000), seed 0, Normal noise on log-loss.
"""

from __future__ import annotations

import sys
import time
import warnings

import pandas as pd

import bayescale as bs
from bayescale import models
from bayescale._evidence import log_evidence_importance

pd.set_option("display.width", 200)
pd.set_option("display.max_columns", 30)
COLS = ["elpd_loo", "se", "elpd_diff", "dse", "elpd_waic", "weight", "weight_pbma", "n_bad_k"]
EV = ["log_evidence", "log_evidence_se", "log_bf", "log_bf_se"]


def fit_all(laws: dict, data: pd.DataFrame) -> dict:
    out = {}
    for name, law in laws.items():
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", bs.ConvergenceWarning)
            post = bs.fit(law, data, seed=0)
        status = "ok" if post.ok else "FAILED: " + "; ".join(post.problems)
        print(f"  fit {name}: {time.perf_counter() - t:.1f} s, diagnostics {status}")
        out[name] = post
    return out


def report(title: str, posts: dict, smc: bool) -> None:
    print(f"\n## {title}")
    t = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", bs.ParetoKWarning)
        cmp = bs.compare(posts, evidence="bridge")
    print(f"(compare with bridge-sampling evidence: {time.perf_counter() - t:.1f} s)")
    print(cmp.table[COLS + EV].to_string(float_format=lambda v: f"{v:.3f}"))
    for w in caught:
        print(f"! {w.message}")
    if smc:
        rows = {}
        for name, post in posts.items():
            t = time.perf_counter()
            e = bs.log_evidence(post, method="smc", seed=0)
            seconds = time.perf_counter() - t
            ref = log_evidence_importance(post, seed=0)
            rows[name] = {
                "smc": e.log_evidence,
                "smc_se": e.se,
                "bridge": cmp.table.loc[name, "log_evidence"],
                "bridge_se": cmp.table.loc[name, "log_evidence_se"],
                "steps": e.details["tempering_steps"][0],
                "seconds": seconds,
                "is": ref.log_evidence,
                "is_se": ref.se,
            }
        ev = pd.DataFrame.from_dict(rows, orient="index")
        ev["z"] = (ev["smc"] - ev["bridge"]) / (ev["smc_se"] ** 2 + ev["bridge_se"] ** 2) ** 0.5
        print(
            "\nEvidence, two independent estimators (z = difference / combined se); is: "
            "importance sampling, 1e6 Student-t proposals fitted to the draws (referee):"
        )
        print(ev.to_string(float_format=lambda v: f"{v:.3f}"))


def lfo(title: str, laws: dict, data: pd.DataFrame, **kw) -> None:
    rows = {}
    for name, law in laws.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", bs.ConvergenceWarning)
            out = bs.leave_future_out(law, data, seed=0, **kw)
        rows[name] = out.attrs["summary"]
    table = pd.DataFrame.from_dict(rows, orient="index")
    print(f"\nLeave-future-out, {title}:")
    cols = ["n_train", "n_test", "elpd_lfo", "mean_lpd", "median_abs_rel_error", "coverage", "ok"]
    print(table[cols].to_string(float_format=lambda v: f"{v:.4g}"))


def chinchilla(smc: bool, noise_models: bool = False) -> None:
    data = bs.datasets.load("chinchilla", variant="epoch")
    laws = {"chinchilla": models.chinchilla, "kaplan_ND": models.kaplan_ND}
    print(f"\n# Chinchilla points ({len(data)} rows, Epoch variant)")
    posts = fit_all(laws, data)
    report("Chinchilla vs Kaplan L(N, D) on the Chinchilla points", posts, smc)
    lfo("top 20% of C = 6ND held out, 90% predictive interval", laws, data, holdout=0.2)
    if noise_models:
        for noise in ("student_t", "scaled_N", "scaled_D"):
            lfo(f"as above, noise={noise!r}", laws, data, holdout=0.2, noise=noise)


def bnsl(smc: bool) -> None:
    data = bs.datasets.load("bnsl_addition")
    x0 = float(data["examples"].median())
    laws = {
        "bnsl_1": models.bnsl(1, "examples", x0=x0),
        "hestness (E + A x^-a)": models.hestness("examples", x0=x0),
        "power_law (A x^-a)": models.power_law("examples", x0=x0),
    }
    print(f"\n# BNSL four-digit addition ({len(data)} rows)")
    posts = fit_all(laws, data[["examples", "loss"]])
    report("broken vs plain power law on the BNSL points", posts, smc)
    cutoff = float(data.loc[data["split"] == "extrapolate", "examples"].min())
    lfo(
        "the paper's 3 extrapolation points held out",
        laws,
        data[["examples", "loss"]],
        by="examples",
        cutoff=cutoff,
    )
    if smc:
        print("\nPrior sensitivity (every law prior 2x wider, SMC):")
        sens = bs.prior_sensitivity(posts, factor=2.0)
        print(sens.to_string(float_format=lambda v: f"{v:.3f}"))


def datablations(smc: bool) -> None:
    data = bs.datasets.load("datablations")
    laws = {"data_constrained": models.data_constrained, "chinchilla": models.chinchilla}
    print(f"\n# datablations ({len(data)} runs)")
    posts = fit_all(laws, data[["N", "D", "U", "loss"]])
    report("data-constrained vs Chinchilla on datablations", posts, smc)


if __name__ == "__main__":
    args = sys.argv[1:]
    smc = "--smc" in args
    which = [a for a in args if not a.startswith("--")] or ["chinchilla", "bnsl", "datablations"]
    for name in which:
        t0 = time.perf_counter()
        if name == "chinchilla":
            chinchilla(smc, noise_models="--noise" in args)
        else:
            {"bnsl": bnsl, "datablations": datablations}[name](smc)
        print(f"({name}: {time.perf_counter() - t0:.0f} s)")
