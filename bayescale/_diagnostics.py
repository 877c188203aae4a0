"""Convergence diagnostics after every fit, with the remedy for each failure."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from arviz_stats.base import array_stats

__all__ = ["ConvergenceWarning", "convergence_table", "check_convergence", "bfmi"]

RHAT_MAX = 1.01
# Vehtari et al. (2021): at least 100 effective draws per chain for reliable R-hat and intervals.
ESS_PER_CHAIN_MIN = 100
BFMI_MIN = 0.3


class ConvergenceWarning(UserWarning):
    """The sampler's output fails a diagnostic; the posterior may be wrong."""


def convergence_table(draws: dict[str, np.ndarray]) -> pd.DataFrame:
    """Rank-normalised split R-hat and bulk/tail ESS of each ``(chain, draw)`` array."""
    rows = {}
    for name, a in draws.items():
        a = np.asarray(a, np.float64)
        if a.ndim != 2:
            continue
        rows[name] = {
            "r_hat": float(array_stats.rhat(a, chain_axis=0, draw_axis=1)),
            "ess_bulk": float(array_stats.ess(a, chain_axis=0, draw_axis=1, method="bulk")),
            "ess_tail": float(
                array_stats.ess(a, chain_axis=0, draw_axis=1, method="tail", prob=0.05)
            ),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def bfmi(energy: np.ndarray) -> np.ndarray:
    """Bayesian fraction of missing information per chain (Betancourt 2016)."""
    energy = np.asarray(energy, np.float64)
    num = np.sum(np.diff(energy, axis=1) ** 2, axis=1) / energy.shape[1]
    den = np.var(energy, axis=1)
    return num / den


def check_convergence(
    table: pd.DataFrame,
    stats: dict[str, np.ndarray],
    *,
    max_tree_depth: int,
    warn: bool = True,
) -> list[str]:
    """Problems found in a NUTS run, each with its remedy; warns once listing them all."""
    problems = []
    num_chains = stats["diverging"].shape[0]
    n_div = int(np.sum(stats["diverging"]))
    if n_div:
        problems.append(
            f"{n_div} divergent transitions after warmup: the sampler missed part of the "
            "posterior. Remedy: raise target_accept_prob (e.g. 0.95-0.99), or use "
            "noise='student_t' if outliers pull the fit, or tighten priors."
        )
    bad_rhat = table.index[~(table["r_hat"] <= RHAT_MAX)].tolist()
    if bad_rhat:
        worst = float(table["r_hat"].max())
        problems.append(
            f"R-hat above {RHAT_MAX} for {bad_rhat} (worst {worst:.3f}): chains disagree. "
            "Remedy: increase num_warmup and num_samples; if chains sit in different modes, "
            "the law may be non-identifiable on this data (check the pair plot, add data or "
            "informative priors)."
        )
    ess_min = ESS_PER_CHAIN_MIN * num_chains
    ess = table[["ess_bulk", "ess_tail"]].min(axis=1)
    low = ess.index[~(ess >= ess_min)].tolist()
    if low:
        problems.append(
            f"effective sample size below {ess_min} for {low} (lowest {float(ess.min()):.0f}): "
            "intervals are noisy. Remedy: increase num_samples."
        )
    saturated = float(np.mean(stats["n_steps"] >= 2**max_tree_depth - 1))
    if saturated > 0.01:
        problems.append(
            f"{saturated:.0%} of transitions hit the maximum tree depth {max_tree_depth}: "
            "the sampler is inefficient. Remedy: raise max_tree_depth or reparameterise."
        )
    low_bfmi = bfmi(stats["energy"])
    if np.any(low_bfmi < BFMI_MIN):
        problems.append(
            f"E-BFMI {np.round(low_bfmi, 2).tolist()} below {BFMI_MIN}: poor exploration of the "
            "energy. Remedy: increase num_warmup or reparameterise."
        )
    if problems and warn:
        warnings.warn(
            "the fit did not converge; do not trust it:\n- " + "\n- ".join(problems),
            ConvergenceWarning,
            stacklevel=3,
        )
    return problems
