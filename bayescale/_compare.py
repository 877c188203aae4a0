r"""``compare``: which law form do the data support? Several answers, side by side.

For posteriors of different laws fitted to the same rows:

* **PSIS-LOO** (Vehtari, Gelman & Gabry 2017) through arviz-stats: the expected log pointwise
  predictive density :math:`\mathrm{elpd}_{loo} = \sum_i \log p(y_i \mid y_{-i})`, its standard
  error, differences to the best law with the standard error of the paired difference, and the
  Pareto :math:`\hat k` of every row (a warning names the rows with :math:`\hat k` above
  :math:`\min(1 - 1/\log_{10} S, 0.7)` for :math:`S` draws, where the importance-sampling
  estimate is unreliable; Vehtari et al. 2024). The importance ratios' relative efficiency
  (``reff``) is the draws' mean ESS per draw, so autocorrelated chains are accounted for.
* **WAIC** (Watanabe 2010), computed from the pointwise log likelihood
  :math:`\ell_{si} = \log p(y_i \mid \theta_s)`:
  :math:`\mathrm{elpd}_{waic} = \sum_i \big(\log \tfrac1S\sum_s e^{\ell_{si}} -
  \mathrm{Var}_s\, \ell_{si}\big)`.
* **Stacking** (Yao et al. 2018) and **pseudo-BMA** weights of the LOO predictive densities.
* **Log evidence** :math:`\log p(y \mid \text{law})` and Bayes factors, with their Monte Carlo
  error (``bayescale._evidence``). Evidence depends on the priors; LOO and stacking do not, to
  first order. :func:`bayescale.prior_sensitivity` shows how far the Bayes factors move.

References:
    Vehtari, Gelman & Gabry (2017), Practical Bayesian model evaluation using leave-one-out
    cross-validation and WAIC, Statistics and Computing 27.
    Vehtari, Simpson, Gelman, Yao & Gabry (2024), Pareto smoothed importance sampling, JMLR 25.
    Yao, Vehtari, Simpson & Gelman (2018), Using stacking to average Bayesian predictive
    distributions, Bayesian Analysis 13(3).
    Watanabe (2010), Asymptotic equivalence of Bayes cross validation and widely applicable
    information criterion, JMLR 11.
    Kass & Raftery (1995), Bayes factors, JASA 90.
"""

from __future__ import annotations

import dataclasses
import html
import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ._data import DEFAULT_LEVEL, DataError, _label
from ._errors import BayescaleWarning, InvalidTypeError, InvalidValueError
from ._evidence import (
    Evidence,
    SmcSettings,
    check_bridge_draws,
    log_evidence_bridge,
    log_evidence_smc,
)
from ._methods import method_of
from ._posterior import Posterior

__all__ = ["Comparison", "compare", "PRIOR_NOTE", "ParetoKWarning"]

PRIOR_NOTE = (
    "log evidence and Bayes factors depend on the priors' widths (a prior twice as wide on a "
    "well-determined parameter costs ~log 2 nats); elpd_loo, WAIC and the weights do not, to "
    "first order. Check with bayescale.prior_sensitivity(posteriors)."
)


class ParetoKWarning(BayescaleWarning):
    """Rows with a high Pareto k: PSIS-LOO is unreliable for them (``compare``: k above
    ``min(1 - 1/log10(S), 0.7)``), or the posterior depends heavily on them (``fit``: k above
    1)."""


@dataclasses.dataclass(frozen=True, eq=False)
class Comparison:
    """The result of :func:`compare` (immutable).

    Attributes:
        table: One row per law, best first (by ``elpd_loo``): ``rank``, ``elpd_loo``, ``se``,
            ``elpd_diff``, ``dse`` (standard error of the difference to the best), ``p_loo``,
            ``elpd_waic``, ``waic_se``, ``p_waic``, ``weight`` (stacking), ``weight_pbma``
            (pseudo-BMA), ``n_bad_k`` (rows with Pareto k above ``min(1 - 1/log10 S, 0.7)``),
            and with evidence
            ``log_evidence``, ``log_evidence_se``, ``log_bf`` (log Bayes factor against the
            law of highest evidence) and ``log_bf_se``.
        bayes_factors: Matrix of log Bayes factors :math:`\\log B_{ij} = \\log Z_i - \\log Z_j`
            (rows over columns), or None without evidence.
        bayes_factors_se: Monte Carlo standard errors of ``bayes_factors``.
        pareto_k: Pareto k per law and row (DataFrame, rows of the data x laws).
        evidence: The :class:`Evidence` estimate of each law (empty without evidence).
        notes: Caveats to read with the table (the prior dependence of the evidence, rows with
            a high Pareto k, fits that failed their diagnostics).
        criterion: ``"loo"`` (in-sample: PSIS-LOO, WAIC, evidence) or ``"future"``
            (leave-future-out on the ladder's largest runs). With ``"future"`` the table has
            ``rank``, ``elpd_lfo`` (summed over cutoffs), ``se``, ``elpd_diff``, ``dse``,
            ``weight`` (stacking of the held-out predictive densities), ``coverage`` (of the
            central predictive interval at ``attrs["level"]``), ``median_abs_rel_error``,
            ``n_test`` and ``elpd_lfo_<holdout>`` per cutoff; ``attrs["holdouts"]`` the cutoffs.
        posteriors: The fits compared, by name (what :func:`bayescale.stack` mixes).
        scores: With ``"future"``: one row per law, cutoff and held-out run
            (:func:`bayescale._lfo.future_scores` plus ``law``).
    """

    table: pd.DataFrame
    bayes_factors: pd.DataFrame | None
    bayes_factors_se: pd.DataFrame | None
    pareto_k: pd.DataFrame
    evidence: Mapping[str, Evidence]
    notes: tuple[str, ...] = ()
    criterion: str = "loo"
    posteriors: Mapping[str, Posterior] = dataclasses.field(default_factory=dict)
    scores: pd.DataFrame | None = None

    @property
    def best(self) -> str:
        """Name of the law ranked first (by elpd_loo, or elpd_lfo with ``by="future"``)."""
        return str(self.table.index[0])

    @property
    def criterion_label(self) -> str:
        """What the ranking and the weights are computed from, in words."""
        if self.criterion == "future":
            holdouts = self.table.attrs.get("holdouts", ())
            shown = ", ".join(f"{h:.0%}" for h in holdouts)
            return (
                f"by elpd_lfo: leave-future-out, refitted below and scored on the ladder's "
                f"largest runs (top {shown} by scale); stacking weights from that score"
            )
        return "by elpd_loo: PSIS-LOO, in-sample fit; stacking weights from LOO"

    _COLUMNS = (
        "elpd_lfo",
        "coverage",
        "median_abs_rel_error",
        "elpd_loo",
        "se",
        "elpd_diff",
        "dse",
        "p_loo",
        "elpd_waic",
        "weight",
        "weight_pbma",
        "log_evidence",
        "log_evidence_se",
        "log_bf",
    )

    def _short(self) -> pd.DataFrame:
        return self.table[[c for c in self._COLUMNS if c in self.table.columns]]

    def __repr__(self) -> str:
        with pd.option_context("display.width", 200, "display.max_columns", 30):
            body = self._short().to_string(float_format=lambda v: f"{v:.3f}")
        lines = [f"Comparison of {len(self.table)} laws (best first, {self.criterion_label})", body]
        lines += [f"! {n}" for n in self.notes]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = (
            f"<p><b>Comparison of {len(self.table)} laws</b> (best first, "
            f"{html.escape(self.criterion_label)})</p>"
        )
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return (
            head
            + self._short().to_html(float_format=lambda v: f"{v:.3f}")
            + (f"<ul>{notes}</ul>" if notes else "")
        )

    def to_dict(self) -> dict[str, Any]:
        """The table and notes as plain Python (for JSON)."""
        table = self.table.replace({np.nan: None})
        return {
            "table": {str(k): v for k, v in table.to_dict(orient="index").items()},
            "bayes_factors": None
            if self.bayes_factors is None
            else self.bayes_factors.to_dict(orient="index"),
            "notes": list(self.notes),
            "criterion": self.criterion,
        }

    @property
    def _score(self) -> str:
        return "elpd_lfo" if self.criterion == "future" else "elpd_loo"

    def plot(self, ax: Any = None) -> Any:
        """ELPD differences to the best law (+/- dse) with the stacking weight of each law.

        Args:
            ax: A matplotlib Axes to draw on (a new figure when None).

        Returns:
            The Figure, as every bayescale plot returns.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 0.6 * len(self.table) + 1.6), layout="constrained")
        t = self.table
        pos = np.arange(len(t))[::-1]
        ax.errorbar(
            t["elpd_diff"],
            pos,
            xerr=t["dse"],
            fmt="o",
            color="C0",
            capsize=3,
            label=f"{self._score} difference ± se",
        )
        ax.axvline(0.0, color="grey", lw=0.8, ls="--")
        ax.set_yticks(pos)
        ax.set_yticklabels(
            [f"{name}\nw={w:.2f}" for name, w in zip(t.index, t["weight"], strict=True)]
        )
        ax.set_xlabel(f"{self._score} difference to the best law (nats)")
        what = "leave-future-out" if self.criterion == "future" else "PSIS-LOO"
        ax.set_title(f"Law comparison: {what} and stacking weights (w)")
        # Below the axes: inside, it covers the points of the laws it is meant to explain.
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), fontsize="small", frameon=False)
        return ax.figure


# ----------------------------------------------------------------------------- helpers
def _row_orders(posteriors: Mapping[str, Posterior]) -> dict[str, np.ndarray]:
    """Per posterior, the order of its data rows that matches the first posterior's rows.

    Laws are compared row by row, so every fit must have seen the same rows; the same rows in
    another order are matched up (identical rows are interchangeable).

    Raises:
        DataError: naming the column and row where the data differ.
    """
    names = list(posteriors)
    ref_name = names[0]
    ref = posteriors[ref_name]
    orders = {ref_name: np.arange(len(ref.data))}
    for name in names[1:]:
        post = posteriors[name]
        if post.law.target != ref.law.target:
            raise DataError(
                f"models fitted to different data: {name!r} models {post.law.target!r}, "
                f"{ref_name!r} models {ref.law.target!r}"
            )
        if len(post.data) != len(ref.data):
            raise DataError(
                f"models fitted to different data: {name!r} has {len(post.data)} rows, "
                f"{ref_name!r} has {len(ref.data)}; compare laws fitted to the same rows"
            )
        target = ref.law.target
        columns = [target] + [c for c in post.data.columns if c in ref.data.columns and c != target]
        a = post.data[columns].to_numpy(np.float64)
        b = ref.data[columns].to_numpy(np.float64)
        differs = ~np.isclose(a, b, rtol=1e-12, atol=0.0)
        if not differs.any():
            orders[name] = np.arange(len(a))
            continue
        # The same rows in another order? Sort both lexicographically and compare.
        sort_a, sort_b = np.lexsort(a.T[::-1]), np.lexsort(b.T[::-1])
        if np.allclose(a[sort_a], b[sort_b], rtol=1e-12, atol=0.0):
            order = np.empty(len(a), dtype=int)
            order[sort_b] = sort_a  # row i of the reference is row order[i] of this fit
            orders[name] = order
            continue
        j = int(np.flatnonzero(differs.any(axis=0))[0])  # the first column that differs
        col, diff = columns[j], differs[:, j]
        i = int(np.flatnonzero(diff)[0])
        raise DataError(
            f"models fitted to different data: column {col!r} differs between {name!r} and "
            f"{ref_name!r} at row {_label(post.data.index[i])} ({a[i, j]:g} vs {b[i, j]:g}) "
            f"and {int(diff.sum()) - 1} other row(s), and the rows are not a reordering of "
            "each other"
        )
    return orders


def _waic(ll: np.ndarray) -> tuple[float, float, float]:
    """``(elpd_waic, se, p_waic)`` from a ``(draws, rows)`` pointwise log likelihood."""
    s = ll.shape[0]
    m = ll.max(axis=0)
    lppd_i = m + np.log(np.exp(ll - m).sum(axis=0)) - math.log(s)
    p_i = ll.var(axis=0, ddof=1)
    elpd_i = lppd_i - p_i
    n = elpd_i.size
    return float(elpd_i.sum()), float(math.sqrt(n * elpd_i.var(ddof=1))), float(p_i.sum())


def _loo_tree(ll: np.ndarray, draws: Mapping[str, np.ndarray]):
    """A light DataTree for arviz-stats: ``ll`` is (chain, draw, row); the scalar parameters'
    draws go along because PSIS's relative efficiency (``reff``) is their mean ESS per draw."""
    import arviz_base as azb

    posterior = {k: np.asarray(v) for k, v in draws.items() if np.ndim(v) == 2}
    return azb.from_dict(
        {"posterior": posterior, "log_likelihood": {"obs": ll}}, dims={"obs": ["row"]}
    )


def _loo(ll: np.ndarray, draws: Mapping[str, np.ndarray]):
    import arviz_stats as azs

    with warnings.catch_warnings():
        # We raise our own warning that names the rows.
        warnings.simplefilter("ignore")
        return azs.loo(_loo_tree(ll, draws), pointwise=True)


def _bad_rows(k: np.ndarray, good_k: float, index: pd.Index) -> list:
    return index[np.flatnonzero(k > good_k)].tolist()  # plain Python labels


# Fit-time model check. Above this Pareto k the importance ratios of a row have no finite mean:
# the posterior moves a lot without it (Vehtari et al. 2024). compare reports the lower bar,
# min(1 - 1/log10 S, 0.7), at which PSIS-LOO itself becomes unreliable.
INFLUENTIAL_K = 1.0
# Rows checked at fit time, at most: the check evaluates draws x rows log-likelihood values and
# runs PSIS on each row (~0.35 s for 245 rows and 4000 draws on 2 cores, about a refit's time
# there). Ladders of runs have tens to hundreds of rows; learning curves, with thousands, go
# unchecked (compare reports their Pareto k).
MAX_CHECKED_ROWS = 1000


def influence_note(post: Posterior) -> str | None:
    """The fit-time model check: a note naming the rows the posterior depends on heavily
    (Pareto k of PSIS-LOO above :data:`INFLUENTIAL_K`), with the remedy, or None.

    Such rows are often data errors or runs unlike the rest (a diverged or undertrained run);
    a Normal likelihood lets one of them pull the exponents. Skipped (None) for a fit that
    failed its diagnostics (its draws say nothing about the rows), above
    :data:`MAX_CHECKED_ROWS` rows and for fewer than 100 draws.

    References:
        Vehtari, Simpson, Gelman, Yao, Gabry (2024), Pareto smoothed importance sampling,
        JMLR 25.
    """
    if not post.ok or len(post.data) > MAX_CHECKED_ROWS or post.num_draws < 100:
        return None
    loo = _loo(post._pointwise_log_likelihood(), post.draws)
    k = np.asarray(loo.pareto_k).reshape(-1)
    order = np.argsort(-k)
    high = [i for i in order if k[i] > INFLUENTIAL_K]
    if not high:
        return None
    rows = ", ".join(f"{_label(post.data.index[i])} (k {k[i]:.1f})" for i in high[:10])
    more = f" and {len(high) - 10} more" if len(high) > 10 else ""
    return (
        f"influential rows: the posterior depends heavily on row(s) {rows}{more}, Pareto k "
        f"above {INFLUENTIAL_K:g}: check them for data errors or runs unlike the rest, refit "
        "without them to see how much the answer moves, or use noise='student_t'"
    )


def _evidence_of(post: Posterior, method: str, seed: int, settings: SmcSettings | None):
    if method == "bridge":
        return log_evidence_bridge(post, seed=seed)
    return log_evidence_smc(post.law, post.data, noise=post.noise, seed=seed, settings=settings)


# ----------------------------------------------------------------------------- compare
def compare(
    posteriors: Mapping[str, Posterior],
    *,
    by: str = "loo",
    evidence: bool | str = True,
    seed: int = 0,
    smc_settings: SmcSettings | None = None,
    holdouts: tuple[float, ...] = (0.1, 0.25),
    level: float = DEFAULT_LEVEL,
) -> Comparison:
    r"""Compare laws fitted to the same data by PSIS-LOO, WAIC, stacking and evidence, or by
    how well each forecasts the ladder's own largest runs.

    In-sample criteria (``by="loo"``, the default: LOO, WAIC, evidence) answer "which law
    describes these runs"; ``by="future"`` answers "which law forecasts the next, bigger runs",
    the question a scaling law is for. They can disagree: on public ladders LOO and the evidence
    preferred ``kaplan_ND``, the worst extrapolator.

    With ``by="future"`` each fit is repeated on the runs below the ``1 - h`` quantile of the
    runs' scale (compute ``N D`` for laws of ``N`` and ``D``), for each holdout fraction ``h``
    (same method, settings and padded shape, the other rows masked: no recompilation), and the
    held-out runs are scored by their log predictive density, the law's own error beyond the
    training rows included: :math:`\mathrm{elpd}_{lfo} = \sum_h \sum_{i \in h} \log p(y_i \mid
    y_{<h})`. Stacking weights maximise :math:`\sum_{h,i} \log \sum_k w_k\, p_k(y_i \mid y_{<h})`
    over the simplex (Yao et al. 2018, with leave-future-out in place of leave-one-out).

    Args:
        posteriors: ``{name: Posterior}``, at least two, all fitted to the same rows.
        by: ``"loo"`` (default) or ``"future"``.
        evidence: ``"bridge"``: log evidence by bridge sampling on each fit's draws (cheap, no
            new sampling; it needs draws from the exact posterior, so not Laplace or SVI fits);
            ``"smc"``: by tempered SMC from a Student-t at the posterior mode (BlackJAX;
            independent of the fit's draws, ~40 s per law on 2 cores, mostly compilation);
            ``True`` (default): bridge for MCMC fits, SMC for approximate ones (noted);
            ``False``: skip it.
        seed: Seed of the evidence estimator.
        smc_settings: Settings for ``evidence="smc"``.
        holdouts: ``by="future"``: fractions of the largest runs held out, one cutoff each.
        level: ``by="future"``: probability of the predictive interval whose coverage is shown.

    Returns:
        A :class:`Comparison`; ``.table`` sorted best first.

    Raises:
        DataError: if the posteriors were fitted to different data.
        TypeError: if a value is not a :class:`Posterior`.

    Example:
        >>> cmp = bayescale.compare({"chinchilla": p1, "kaplan": p2})
        >>> cmp.table[["elpd_loo", "se", "weight", "log_evidence"]]
    """
    import arviz_stats as azs

    if not isinstance(posteriors, Mapping) or len(posteriors) < 2:
        raise InvalidValueError(
            "compare needs a dict of at least two posteriors: {name: Posterior}"
        )
    for name, post in posteriors.items():
        if not isinstance(post, Posterior):
            raise InvalidTypeError(
                f"posteriors[{name!r}] is a {type(post).__name__}, not a bayescale.Posterior"
            )
    for name, post in posteriors.items():
        if method_of(post.method).point or post.num_draws < 2:
            raise InvalidValueError(
                f"compare needs posterior draws: {name!r} is a {post.method!r} point fit "
                f"({post.num_draws} draw(s)); fit it with method='nuts' (or 'laplace' for a "
                "quick approximate comparison)"
            )
    counts = {name: post.noise.counts for name, post in posteriors.items()}
    if len(set(counts.values())) > 1:
        mass = next(n for n, c in counts.items() if c)
        density = next(n for n, c in counts.items() if not c)
        raise InvalidValueError(
            f"{mass!r} (noise '{posteriors[mass].noise}') scores the probability of each count "
            f"while {density!r} (noise '{posteriors[density].noise}') scores a density of the "
            "accuracy: their log likelihoods differ by about log(n_questions) per row whatever "
            "the fit, so neither LOO nor evidence can compare them. Fit both with a binomial "
            "noise or both with a continuous one"
        )
    orders = _row_orders(posteriors)
    if by == "future":
        return _compare_future(posteriors, orders, holdouts=holdouts, level=level, seed=seed)
    if by != "loo":
        raise InvalidValueError(
            f"by must be 'loo' (in-sample) or 'future' (leave-future-out), got {by!r}"
        )
    if evidence not in (True, False, "bridge", "smc"):
        raise InvalidValueError(f"unknown evidence method {evidence!r}; choose 'bridge' or 'smc'")
    if evidence == "bridge":
        for name, post in posteriors.items():
            check_bridge_draws(post, repr(name))  # before the LOO work, not after it

    notes: list[str] = []
    index = next(iter(posteriors.values())).data.index
    loos, rows, ks = {}, {}, {}
    for name, post in posteriors.items():
        ll = post.log_likelihood[..., orders[name]]  # (chain, draw, row), rows aligned
        loo = _loo(ll, post.draws)
        loos[name] = loo
        k = np.asarray(loo.pareto_k).reshape(-1)
        ks[name] = k
        # Vehtari et al. (2024): k above min(1 - 1/log10 S, 0.7) is unreliable for S draws.
        bad = _bad_rows(k, float(loo.good_k), index)
        if bad:
            shown = ", ".join(repr(b) for b in bad[:10]) + (" ..." if len(bad) > 10 else "")
            msg = (
                f"{name}: PSIS-LOO unreliable at {len(bad)} row(s) with Pareto k > "
                f"{float(loo.good_k):.2f} (rows {shown}); these points are influential: refit "
                "without them (exact LOO) or use noise='student_t'"
            )
            warnings.warn(msg, ParetoKWarning, stacklevel=2)
            notes.append(msg)
        if not post.ok:
            notes.append(f"{name}: the fit failed its diagnostics; its numbers are unreliable")
        elpd_w, se_w, p_w = _waic(ll.reshape(-1, ll.shape[-1]))
        rows[name] = {
            "elpd_loo": float(loo.elpd),
            "se": float(loo.se),
            "p_loo": float(loo.p),
            "elpd_waic": elpd_w,
            "waic_se": se_w,
            "p_waic": p_w,
            "n_bad_k": len(bad),
        }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stack = azs.compare(loos, method="stacking", round_to="none")
        pbma = azs.compare(loos, method="pseudo-BMA", round_to="none")
    table = pd.DataFrame.from_dict(rows, orient="index")
    table["elpd_diff"] = stack["elpd_diff"].reindex(table.index)
    table["dse"] = stack["dse"].reindex(table.index)
    table["weight"] = stack["weight"].reindex(table.index)
    table["weight_pbma"] = pbma["weight"].reindex(table.index)

    estimates: dict[str, Evidence] = {}
    bf = bf_se = None
    if evidence:
        for name, post in posteriors.items():
            method = evidence
            if evidence is True:
                method = "smc" if post.approximate else "bridge"
            estimates[name] = _evidence_of(post, method, seed, smc_settings)
        table["log_evidence"] = [estimates[n].log_evidence for n in table.index]
        table["log_evidence_se"] = [estimates[n].se for n in table.index]
        top = table["log_evidence"].idxmax()
        table["log_bf"] = table["log_evidence"] - table.loc[top, "log_evidence"]
        table["log_bf_se"] = np.sqrt(
            table["log_evidence_se"] ** 2 + table.loc[top, "log_evidence_se"] ** 2
        )
        table.loc[top, "log_bf_se"] = 0.0
        z = table["log_evidence"].to_numpy()
        e = table["log_evidence_se"].to_numpy()
        bf = pd.DataFrame(z[:, None] - z[None, :], index=table.index, columns=table.index)
        bf_se = pd.DataFrame(
            np.sqrt(e[:, None] ** 2 + e[None, :] ** 2), index=table.index, columns=table.index
        )
        used = {n: e.method for n, e in estimates.items()}
        if len(set(used.values())) == 1:
            notes.append(f"{PRIOR_NOTE} Evidence estimator: {next(iter(used.values()))}.")
        else:
            listed = ", ".join(f"{n}: {m}" for n, m in used.items())
            notes.append(
                f"{PRIOR_NOTE} Evidence estimators: {listed} (SMC for approximate fits, whose "
                "draws bridge sampling cannot use)."
            )
    table = table.sort_values(["elpd_loo"], ascending=False, kind="stable")
    table.insert(0, "rank", np.arange(len(table)))
    if bf is not None:
        bf = bf.loc[table.index, table.index]
        bf_se = bf_se.loc[table.index, table.index]
    table.index.name = "law"
    pareto_k = pd.DataFrame(ks, index=index)
    return Comparison(
        table=table,
        bayes_factors=bf,
        bayes_factors_se=bf_se,
        pareto_k=pareto_k,
        evidence=estimates,
        notes=tuple(notes),
        criterion="loo",
        posteriors=dict(posteriors),
    )


def stacking_weights(lpd: np.ndarray) -> np.ndarray:
    r"""Stacking weights of ``K`` predictive distributions from pointwise log densities
    ``lpd`` (``(rows, K)``): :math:`\arg\max_{w \in \Delta} \sum_i \log \sum_k w_k
    e^{\mathrm{lpd}_{ik}}` (Yao et al. 2018), by L-BFGS on a softmax parameterisation."""
    from scipy.optimize import minimize
    from scipy.special import logsumexp, softmax

    lpd = np.asarray(lpd, np.float64)
    k = lpd.shape[1]
    lpd = np.where(np.isfinite(lpd), lpd, -1e10)

    def objective(z):
        log_w = z - logsumexp(z)
        mix = logsumexp(lpd + log_w, axis=1)
        r = np.exp(lpd + log_w - mix[:, None])  # responsibilities
        grad = -(r.sum(axis=0) - len(lpd) * np.exp(log_w))
        return -mix.sum(), grad

    res = minimize(objective, np.zeros(k), jac=True, method="L-BFGS-B")
    return softmax(res.x)


def _compare_future(posteriors, orders, *, holdouts, level, seed) -> Comparison:
    """``compare(by="future")``: leave-future-out scores, differences and stacking weights."""
    from ._lfo import future_scores

    if not 0.0 < level < 1.0:
        raise InvalidValueError(f"level must be in (0, 1), got {level}")
    holdouts = tuple(float(h) for h in holdouts)
    if len(holdouts) < 1 or not all(0.0 < h < 1.0 for h in holdouts):
        raise InvalidValueError(f"holdouts must be fractions in (0, 1), got {holdouts}")
    frames, notes = {}, []
    for name, post in posteriors.items():
        scores = future_scores(post, holdouts=holdouts, level=level, seed=seed)
        # rows in the first fit's order (compare's row matching)
        back = np.empty(len(orders[name]), int)
        back[orders[name]] = np.arange(len(orders[name]))
        scores["row"] = back[scores["row"].to_numpy()]
        scores = scores.sort_values(["holdout", "row"], kind="stable").reset_index(drop=True)
        frames[name] = scores
        if not scores["ok"].all():
            notes.append(f"{name}: a leave-future-out refit failed its diagnostics")
    names = list(posteriors)
    ref = frames[names[0]][["holdout", "row"]].to_numpy()
    for name in names[1:]:
        if not np.array_equal(frames[name][["holdout", "row"]].to_numpy(), ref):
            raise DataError(
                f"{name!r} and {names[0]!r} hold out different runs at the same cutoffs: their "
                "laws order runs by different inputs; compare laws of the same inputs"
            )
    lpd = np.column_stack([frames[n]["lpd"].to_numpy() for n in names])
    n = len(lpd)
    weights = stacking_weights(lpd)
    table = pd.DataFrame(index=pd.Index(names, name="law"))
    table["elpd_lfo"] = lpd.sum(axis=0)
    table["se"] = np.sqrt(n * lpd.var(axis=0, ddof=1)) if n > 1 else np.nan
    best = int(np.argmax(table["elpd_lfo"].to_numpy()))
    diff = lpd - lpd[:, [best]]
    table["elpd_diff"] = diff.sum(axis=0)
    table["dse"] = np.sqrt(n * diff.var(axis=0, ddof=1)) if n > 1 else np.nan
    table["weight"] = weights
    table["coverage"] = [frames[n_]["covered"].mean() for n_ in names]
    table["median_abs_rel_error"] = [frames[n_]["abs_rel_error"].median() for n_ in names]
    table["n_test"] = n
    for h in holdouts:
        table[f"elpd_lfo_{h:g}"] = [
            frames[n_].loc[frames[n_]["holdout"] == h, "lpd"].sum() for n_ in names
        ]
    table = table.sort_values("elpd_lfo", ascending=False, kind="stable")
    table.insert(0, "rank", np.arange(len(table)))
    table.attrs.update(holdouts=holdouts, level=level, criterion="future")
    scores = pd.concat([f.assign(law=k) for k, f in frames.items()], ignore_index=True)
    notes.append(
        "ranked by how well each law, refitted on the smaller runs, forecast the ladder's "
        f"largest (top {', '.join(f'{h:.0%}' for h in holdouts)} by scale); in-sample "
        "criteria (by='loo') answer which law describes these runs instead"
    )
    return Comparison(
        table=table,
        bayes_factors=None,
        bayes_factors_se=None,
        pareto_k=pd.DataFrame(index=next(iter(posteriors.values())).data.index),
        evidence={},
        notes=tuple(notes),
        criterion="future",
        posteriors=dict(posteriors),
        scores=scores,
    )
