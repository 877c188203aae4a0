r"""Named informative prior sets from published fits.

A lab with six runs cannot separate :math:`\alpha` from :math:`\beta`; a published fit of the
same law on other data can lend it strength. A prior set maps a law's sampling-space parameters
to distributions built from a published point estimate and its uncertainty:

* ``"epoch"`` — Besiroglu et al. (2024)'s refit of Hoffmann et al.'s Approach 3 on the 240
  digitised Chinchilla points, with the spread of their bootstrap (95% intervals from
  4000 bootstrap fits): :math:`E = 1.817\ [1.769, 1.871]`, :math:`A = 482\ [285, 744]`,
  :math:`B = 2085\ [1042, 5810]`, :math:`\alpha = 0.348\ [0.317, 0.373]`,
  :math:`\beta = 0.366\ [0.331, 0.415]`.

Each interval becomes a Normal on the sampling scale (``log E``, ``log A0 = log A - alpha log
N0``, ``log B0``, ``alpha``, ``beta``) with sd = (interval width)/(2 * 1.96) times ``inflate``.
The parameters are taken independent: the bootstrap correlation of :math:`\log A` and
:math:`\alpha` is not published; independence over-states the spread of ``log_A0`` (the two
are positively correlated), so the set errs wide. ``inflate`` > 1 widens every prior, for a lab
whose data, tokenizer or architecture differ from Chinchilla's (a transfer the bootstrap spread
does not cover). ``"epoch_wide"`` is the same set with every sd tripled.

References:
    Besiroglu, Erdil, Barnett, You (2024), Chinchilla Scaling: A replication attempt,
    arXiv:2404.10102, Table 1 / Sec. 3.
    Hoffmann et al. (2022), arXiv:2203.15556.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpyro.distributions as dist

from ._errors import InvalidTypeError, InvalidValueError, UnknownNameError
from ._law import Law

__all__ = [
    "PUBLISHED_FITS",
    "apply_priors",
    "describe_prior_set",
    "prior_set",
    "prior_sets",
    "with_prior_set",
]

_Z95 = 1.959964

# Published point estimates and 95% intervals (published parameter names), per law.
PUBLISHED_FITS: dict[str, dict] = {
    "epoch": {
        "law": "chinchilla",
        "reference": "Besiroglu et al. (2024), arXiv:2404.10102 (bootstrap 95% intervals)",
        "estimates": {
            "E": (1.817, 1.769, 1.871),
            "A": (482.01, 285.2, 743.6),
            "B": (2085.43, 1042.4, 5810.3),
            "alpha": (0.348, 0.317, 0.373),
            "beta": (0.366, 0.331, 0.415),
        },
    },
}


# Named sets: (published fit, factor on its spread).
_SETS = {"epoch": ("epoch", 1.0), "epoch_wide": ("epoch", 3.0)}


def prior_sets() -> list[str]:
    """Names of the available prior sets."""
    return sorted(_SETS)


def _log_sd(lo: float, hi: float) -> float:
    return (math.log(hi) - math.log(lo)) / (2 * _Z95)


def _sd(lo: float, hi: float) -> float:
    return (hi - lo) / (2 * _Z95)


def prior_set(name: str, law: Law, *, inflate: float = 1.0) -> dict[str, dist.Distribution]:
    """The sampling-space priors of prior set ``name`` for ``law``.

    Args:
        name: One of :func:`prior_sets` (``"epoch"``, ``"epoch_wide"``).
        law: The law the set is for (``bayescale.models.chinchilla`` for ``"epoch"``, or a law
            with the same parameters ``log_E, log_A0, log_B0, alpha, beta``).
        inflate: Factor on every prior sd (1: the published bootstrap spread).

    Returns:
        ``{sampling-space name: distribution}``, ready for ``fit(..., priors=...)`` or
        :meth:`Law.with_priors`.

    Raises:
        KeyError: for an unknown set; ValueError when the law lacks the set's parameters.
    """
    if name not in _SETS:
        raise UnknownNameError(f"unknown prior set {name!r}; available: {prior_sets()}")
    if not inflate > 0:
        raise InvalidValueError(f"inflate must be positive, got {inflate}")
    fit_name, factor = _SETS[name]
    inflate = inflate * factor
    entry = PUBLISHED_FITS[fit_name]
    needed = ("log_E", "log_A0", "log_B0", "alpha", "beta")
    missing = [p for p in needed if p not in law.param_names]
    if missing:
        raise InvalidValueError(
            f"prior set {name!r} is for the {entry['law']} law (parameters {needed}); law "
            f"{law.name!r} lacks {missing}"
        )
    from bayescale.models._chinchilla import _LOG_D0, _LOG_N0

    est = entry["estimates"]
    a, a_lo, a_hi = est["alpha"]
    b, b_lo, b_hi = est["beta"]
    sd_a, sd_b = _sd(a_lo, a_hi), _sd(b_lo, b_hi)
    # log A0 = log A - alpha log N0: independent parts, variances add.
    sd_la0 = math.hypot(_log_sd(*est["A"][1:]), _LOG_N0 * sd_a)
    sd_lb0 = math.hypot(_log_sd(*est["B"][1:]), _LOG_D0 * sd_b)
    k = inflate
    law_alpha = law.prior("alpha")
    low = float(getattr(law_alpha, "low", 0.0))
    high = float(getattr(law_alpha, "high", 2.0))
    return {
        "log_E": dist.Normal(math.log(est["E"][0]), k * _log_sd(*est["E"][1:])),
        "log_A0": dist.Normal(math.log(est["A"][0]) - a * _LOG_N0, k * sd_la0),
        "log_B0": dist.Normal(math.log(est["B"][0]) - b * _LOG_D0, k * sd_lb0),
        # Same support as the default priors, so any other code (pooling) sees the same space.
        "alpha": dist.TruncatedNormal(a, k * sd_a, low=low, high=high),
        "beta": dist.TruncatedNormal(b, k * sd_b, low=low, high=high),
    }


_MEMO: dict[tuple, Law] = {}


def with_prior_set(law: Law, name: str, *, inflate: float = 1.0) -> Law:
    """``law`` with prior set ``name`` (the same object for the same arguments, so the
    compiled sampler is reused across fits)."""
    key = (law, name, inflate)
    if key not in _MEMO:
        informed = law.with_priors(**prior_set(name, law, inflate=inflate))
        # A proper informative prior on every law parameter identifies the law with any
        # number of rows; keep two (one for the noise scale, one to learn anything).
        _MEMO[key] = dataclasses.replace(informed, min_rows=2)
    return _MEMO[key]


def apply_priors(law: Law, priors: Mapping[str, dist.Distribution] | str | None) -> Law:
    """``law`` with ``priors`` applied: a named prior set, replacement priors, or none."""
    if priors is None:
        return law
    if isinstance(priors, str):
        return with_prior_set(law, priors)
    if not isinstance(priors, Mapping):
        raise InvalidTypeError(
            "priors must be a dict of numpyro distributions or the name of a prior set "
            f"({prior_sets()}), got {type(priors).__name__}"
        )
    return law.with_priors(**priors) if priors else law


def describe_prior_set(name: str) -> Mapping[str, tuple[float, float, float]]:
    """The published estimates (point, 95% low, 95% high) behind a prior set."""
    if name not in _SETS:
        raise UnknownNameError(f"unknown prior set {name!r}; available: {prior_sets()}")
    return dict(PUBLISHED_FITS[_SETS[name][0]]["estimates"])
