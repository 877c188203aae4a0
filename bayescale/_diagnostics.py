"""Convergence diagnostics after every fit, with the remedy for each failure."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ._compiled import MAX_PROGRAMS
from ._errors import BayescaleWarning
from ._law import Law
from ._noise import Noise, noise_of

__all__ = [
    "ConvergenceWarning",
    "convergence_table",
    "convergence_tables",
    "check_convergence",
    "bfmi",
    "PriorWarning",
    "check_prior_conflict",
    "check_finite_draws",
    "check_draws",
]

RHAT_MAX = 1.01
# Vehtari et al. (2021): at least 100 effective draws per chain, i.e. 400 for their four chains,
# for reliable R-hat and intervals. The interval's Monte Carlo error depends on the total ESS, so
# for many-chain samplers (ChEES: 8-64 short chains in lock-step) the bar stays at 400 rather than
# growing with the chain count (Margossian et al. 2023, "Nested R-hat", on many short chains).
ESS_PER_CHAIN_MIN = 100
ESS_CHAINS_CAP = 4
BFMI_MIN = 0.3


class ConvergenceWarning(BayescaleWarning):
    """The sampler's output fails a diagnostic; the posterior may be wrong."""


def _elementwise(draws: Mapping[str, Any], lead: int) -> dict[str, Any]:
    """Arrays with ``lead`` leading axes (e.g. chain, draw) and one more, a vector site such as
    a grouped law's per-group effects, become one entry per element, ``name[i]``; arrays with
    exactly ``lead`` axes are kept, other shapes dropped."""
    out = {}
    for name, a in draws.items():
        if a.ndim == lead:
            out[name] = a
        elif a.ndim == lead + 1:
            out.update({f"{name}[{i}]": a[..., i] for i in range(a.shape[-1])})
    return out


def convergence_table(draws: dict[str, np.ndarray]) -> pd.DataFrame:
    """Rank-normalised split R-hat and bulk/tail ESS of each ``(chain, draw)`` array, and of
    each element of ``(chain, draw, k)`` arrays (vector sites: group effects) as ``name[i]``."""
    # imported here: ArviZ's statistics load SciPy's (~1 s), which a loaded fit seldom needs
    from arviz_stats.base import array_stats

    rows = {}
    arrays = {k: np.asarray(v, np.float64) for k, v in draws.items()}
    for name, a in _elementwise(arrays, 2).items():
        rows[name] = {
            "r_hat": float(array_stats.rhat(a, chain_axis=0, draw_axis=1)),
            "ess_bulk": float(array_stats.ess(a, chain_axis=0, draw_axis=1, method="bulk")),
            "ess_tail": float(
                array_stats.ess(a, chain_axis=0, draw_axis=1, method="tail", prob=0.05)
            ),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


@jax.jit
def _device_diagnostics(stacked: jax.Array) -> jax.Array:
    """``(n, chain, draw)`` -> ``(n, 3)``: R-hat, bulk ESS, tail ESS of each of ``n`` arrays."""
    from blackjax import diagnostics as bd

    def one(a):  # (chain, draw) -> [r_hat, ess_bulk, ess_tail]
        return jnp.stack([bd.rhat(a), bd.ess_bulk(a), bd.ess_tail(a, prob=0.9)])

    return jax.vmap(one)(stacked)


# A device value this close to a threshold is recomputed on the host with ArviZ, so that pass or
# fail never depends on which implementation ran (BlackJAX's ESS truncates Geyer's sequence one
# term differently from ArviZ's and reads about 1% lower; its R-hat is the same estimator).
_RHAT_MARGIN = 1e-3
_ESS_MARGIN = (0.95, 1.05)


def convergence_tables(draws: dict[str, np.ndarray | jax.Array]) -> list[pd.DataFrame]:
    """:func:`convergence_table` for many fits at once: draws shaped ``(fit, chain, draw)``.

    Host-side ArviZ diagnostics cost ~10 ms per parameter and fit (rank normalisation and an FFT
    per array), which dominates a 1000-fit :func:`bayescale.fit_many` call on a GPU. Here all fits
    are diagnosed in one compiled, batched call on the arrays' device with BlackJAX's
    implementations of the same estimators (rank-normalised split R-hat, bulk and tail ESS;
    Vehtari et al. 2021). Fits whose R-hat or ESS lies within a small margin of the
    thresholds of :func:`check_convergence` (or is not finite) are recomputed with ArviZ, so every
    pass/fail verdict is the one :func:`convergence_table` would give.

    Args:
        draws: Parameter name -> array ``(fit, chain, draw)``, or ``(fit, chain, draw, k)``
            for a vector site (one entry per element, as in :func:`convergence_table`).

    Returns:
        One table per fit, indexed by parameter, columns ``r_hat``, ``ess_bulk``, ``ess_tail``.
    """
    batched = _elementwise(draws, 3)
    if not batched:
        n_fit = len(next(iter(draws.values())))
        return [pd.DataFrame(columns=["r_hat", "ess_bulk", "ess_tail"])] * n_fit
    names = list(batched)
    n_fit, num_chains, num_draws = batched[names[0]].shape
    # One (fit * param, chain, draw) array: one small program compiled per shape, not per param.
    flat = jnp.stack([jnp.asarray(batched[k], jnp.float64) for k in names], axis=1)
    flat = flat.reshape(n_fit * len(names), num_chains, num_draws)
    # On one device: the draws are small, and with jax 0.11 on several CPU devices the sharded
    # FFTs of the ESS deadlocked (500 draws per chain; 100 ran).
    flat = jax.device_put(flat, next(iter(flat.devices())))
    stacked = np.asarray(_device_diagnostics(flat)).reshape(n_fit, len(names), 3)
    ess_min = ESS_PER_CHAIN_MIN * min(num_chains, ESS_CHAINS_CAP)
    rhat, ess = stacked[..., 0], stacked[..., 1:]
    near = (
        ~np.all(np.isfinite(stacked), axis=(1, 2))
        | np.any(np.abs(rhat - RHAT_MAX) < _RHAT_MARGIN, axis=1)
        | np.any((ess > _ESS_MARGIN[0] * ess_min) & (ess < _ESS_MARGIN[1] * ess_min), axis=(1, 2))
    )
    tables = []
    for i, a in enumerate(stacked):
        if near[i]:
            tables.append(convergence_table({k: np.asarray(batched[k][i]) for k in names}))
        else:
            tables.append(pd.DataFrame(a, index=names, columns=["r_hat", "ess_bulk", "ess_tail"]))
    return tables


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
    # Names sorted: the verdict must not depend on the order the draws were stored in.
    bad_rhat = sorted(table.index[~(table["r_hat"] <= RHAT_MAX)])
    if bad_rhat and num_chains < 2:
        problems.append(
            "R-hat needs at least 2 chains (this fit ran 1): convergence cannot be checked. "
            "Remedy: num_chains=4 (the default)."
        )
    elif bad_rhat:
        worst = float(table["r_hat"].max())
        problems.append(
            f"R-hat above {RHAT_MAX} for {bad_rhat} (worst {worst:.3f}): chains disagree. "
            "Remedy: increase num_warmup and num_samples; if chains sit in different modes, "
            "the law may be non-identifiable on this data (check the pair plot, add data or "
            "informative priors)."
        )
    ess_min = ESS_PER_CHAIN_MIN * min(num_chains, ESS_CHAINS_CAP)
    ess = table[["ess_bulk", "ess_tail"]].min(axis=1)
    low = sorted(ess.index[~(ess >= ess_min)])
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
        warn_not_converged(problems, stacklevel=4)
    return problems


def warn_not_converged(problems: list[str], *, stacklevel: int) -> None:
    """One :class:`ConvergenceWarning` listing a fit's diagnostic failures, each with its
    remedy (``stacklevel`` counts this function's frame)."""
    warnings.warn(
        "the fit did not converge; do not trust it:\n- " + "\n- ".join(problems),
        ConvergenceWarning,
        stacklevel=stacklevel,
    )


# ------------------------------------------------------------------ before and after sampling
# (non-finite log density at initialisation, priors that exclude the data, non-finite draws)


class PriorWarning(BayescaleWarning):
    """The data lie where the priors put (almost) no predictive mass."""


def check_finite_draws(
    draws: dict[str, np.ndarray], stats: dict[str, np.ndarray] | None = None
) -> list[str]:
    """A problem when any posterior draw is NaN/inf, or when the sampler never moved from a
    point of non-finite log density (non-finite energy, or every transition divergent with
    constant chains): NUTS could not be initialised."""
    remedy = (
        "Remedy: check the data's units and range against the law (e.g. a log of a negative "
        "number), restrict the priors to the region where the law is defined, or reparameterise."
    )
    bad = [k for k, v in draws.items() if not np.all(np.isfinite(np.asarray(v, np.float64)))]
    if bad:
        return [
            f"non-finite draws of {bad}: the log density was not finite at initialisation or "
            f"became non-finite during sampling. {remedy}"
        ]
    if stats:
        energy = np.asarray(stats.get("energy", 0.0), np.float64)
        diverging = np.asarray(stats.get("diverging", False))
        frozen = all(
            np.all(np.ptp(np.asarray(v, np.float64), axis=1) == 0)
            for v in draws.values()
            if np.ndim(v) == 2
        )
        if not np.all(np.isfinite(energy)) or (bool(np.all(diverging)) and frozen):
            return [
                "non-finite log density at initialisation: every transition diverged and the "
                f"chains never moved from their starting point. {remedy}"
            ]
    return []


# A posterior median this many prior standard deviations from the prior mean: the data pull the
# parameter where the prior puts (almost) no mass (beyond 5 sd a Normal prior holds < 3e-7).
PRIOR_CONFLICT_Z = 5.0


def _moments(prior, median):
    import jax.numpy as jnp

    return prior.mean, jnp.sqrt(prior.variance), prior.support(median)


def _all_moments_impl(priors: dict, medians: dict) -> dict:
    return {k: _moments(priors[k], medians[k]) for k in priors}


@functools.lru_cache(maxsize=MAX_PROGRAMS)
def _moments_program(priors: tuple[tuple[str, Any], ...]):
    """:func:`_moments` of every prior in one jitted program that holds the priors as
    constants. Passed as arguments instead, a distribution's fields flatten in the order of a
    ``set`` inside numpyro, which changes with ``PYTHONHASHSEED``: the program's signature, and
    with it the persistent compilation cache's key, differed in every new process (a saved
    fit's load compiled it anew each time)."""
    fixed = dict(priors)
    return jax.jit(lambda medians: _all_moments_impl(fixed, medians))


def _all_moments(priors: dict, medians: dict) -> dict:
    """:func:`_moments` of every prior (the same prior objects reuse one compiled program)."""
    return _moments_program(tuple(sorted(priors.items(), key=lambda item: item[0])))(medians)


def _prior_moments(priors: dict, medians: dict[str, float]) -> dict[str, tuple]:
    """``name -> (mean, sd, median inside the support)`` of each prior, in one compiled call.

    Eagerly, each JAX operation of a prior's moments compiles on its own (a TruncatedNormal's
    mean and variance: ~100 small programs, ~1 s in a new process); traced together they are one
    program. Priors without a mean or variance are left out.
    """
    import jax
    import jax.numpy as jnp

    usable = {}
    for name, prior in priors.items():
        try:  # tracing tells which priors have moments
            jax.eval_shape(_moments, prior, jnp.asarray(medians[name]))
        except (NotImplementedError, TypeError, ValueError):
            continue
        usable[name] = prior
    if not usable:
        return {}
    out = _all_moments(usable, {k: jnp.asarray(medians[k]) for k in usable})
    return {k: (float(m), float(sd), bool(inside)) for k, (m, sd, inside) in out.items()}


def check_prior_conflict(law: Law, noise: Noise | str, draws: dict[str, np.ndarray]) -> list[str]:
    """Priors that exclude the data: a posterior median more than :data:`PRIOR_CONFLICT_Z`
    prior standard deviations from the prior mean (or outside the prior's support).

    A tight prior in the wrong place holds its parameter and pushes the misfit elsewhere (most
    often into the noise scale, whose posterior then sits far in its prior's tail); either way
    some parameter ends in a region its prior all but excludes. Heavy-tailed priors without a
    finite variance are not checked.
    """

    priors = {p.name: p.prior for p in law.params} | noise_of(noise).priors()
    medians = {}
    for name in priors:
        a = np.asarray(draws.get(name, np.empty(0)), np.float64)
        if a.ndim == 2 and np.all(np.isfinite(a)):
            medians[name] = float(np.median(a))
    moments = _prior_moments({k: priors[k] for k in medians}, medians)
    conflicts = []
    for name, (mean, sd, inside) in moments.items():
        med = medians[name]
        if not inside:
            conflicts.append(f"{name} (median {med:.4g} outside the prior's support)")
        elif np.isfinite(sd) and sd > 0 and abs(med - mean) > PRIOR_CONFLICT_Z * sd:
            conflicts.append(
                f"{name} (median {med:.4g}, {abs(med - mean) / sd:.0f} prior sd from the prior "
                f"mean {mean:.4g})"
            )
    if not conflicts:
        return []
    return [
        "the priors exclude the data: the posterior sits where the prior puts almost no mass "
        f"for {', '.join(conflicts)}. Remedy: widen or re-centre the priors you set, or check "
        "the units of the target and the inputs (raw counts, loss in nats)."
    ]


def check_draws(
    law: Law,
    noise: Noise | str,
    draws: dict[str, np.ndarray],
    stats: dict[str, np.ndarray] | None = None,
    *,
    warn: bool = True,
) -> list[str]:
    """The checks on the draws themselves, after :func:`check_convergence`: non-finite draws
    (:func:`check_finite_draws`) and priors that exclude the data
    (:func:`check_prior_conflict`); warns once (:class:`PriorWarning` or
    :class:`ConvergenceWarning`) listing them."""
    finite = check_finite_draws(draws, stats)
    conflict = [] if finite else check_prior_conflict(law, noise, draws)
    problems = finite + conflict
    if problems and warn:
        category = PriorWarning if conflict else ConvergenceWarning
        warnings.warn("do not trust this fit:\n- " + "\n- ".join(problems), category, stacklevel=3)
    return problems


# A parameter whose posterior sd is at least this share of its prior's: the data barely
# constrain it (a well-identified parameter of a real ladder has a ratio of 0.01-0.1).
WEAK_IDENTIFICATION_RATIO = 0.5


def identification_hints(law, draws: dict[str, np.ndarray], data) -> list[str]:
    """After a fit that failed its diagnostics: which parameters the data barely constrain
    (posterior sd at least :data:`WEAK_IDENTIFICATION_RATIO` of the prior sd), how many
    decades each input spans, and which runs would pin them.

    Weakly identified parameters are the usual cause of divergences and slow mixing on small
    ladders: the posterior then follows the prior into regions (an irreducible loss near
    zero, an exponent near its bound) where the law's terms trade off against each other.
    """
    weak = []
    for p in law.params:
        if p.name not in draws:
            continue
        a = np.asarray(draws[p.name], np.float64)
        try:
            prior_sd = float(np.sqrt(np.asarray(p.prior.variance)))
        except (NotImplementedError, TypeError, ValueError):
            continue
        if a.ndim != 2 or not np.isfinite(prior_sd) or prior_sd <= 0:
            continue
        ratio = float(np.std(a)) / prior_sd
        if ratio >= WEAK_IDENTIFICATION_RATIO:
            weak.append(f"{p.name} (posterior sd {ratio:.0%} of the prior's)")
    if not weak:
        return []
    spans = {}
    for name in law.inputs:
        x = np.asarray(data[name], np.float64)
        x = x[np.isfinite(x) & (x > 0)]
        if x.size:
            spans[name] = (float(np.log10(x.max() / x.min())), float(x.max()))
    if not spans:
        return []
    narrow = min(spans, key=lambda k: spans[k][0])
    span_text = ", ".join(f"{k} {s:.1f} decades" for k, (s, _) in spans.items())
    return [
        f"not identified by the data: {', '.join(weak)}; the ladder spans {span_text}. "
        f"Remedy: add runs beyond the data, e.g. at 10x the largest {narrow} "
        f"({10 * spans[narrow][1]:.3g}), or set an informative prior (priors='epoch' for "
        "Chinchilla-like laws, or priors={...})."
    ]
