r"""Power laws in one variable: the pure power law (GPT-3 / Kaplan) and Hestness's E + A x^-alpha.

Two factories build a :class:`~bayescale.Law` for any positive input column, and the catalog holds
one instance per input where the form is used in the literature (parameters ``N``, tokens ``D``,
training FLOPs ``C``):

* :func:`power_law` -- :math:`L(x) = (x_c / x)^{\alpha_x}`, no irreducible term. This is Kaplan
  et al. (2020) eqs. (1.1)-(1.3) (L(N), L(D), L(C_min)) and the GPT-3 compute law
  :math:`L = 2.57\, C^{-0.048}` (Brown et al. 2020, Fig. 3.1).
* :func:`hestness` -- :math:`L(x) = E + A\, x^{-\alpha}`: the power-law region plus the
  irreducible-error region of Hestness et al. (2017). Their third, "small-data" region (loss near
  the best guess before the power law sets in) is not modelled: fit the power-law part only, or
  use a broken power law (:mod:`bayescale.models._bnsl`).

Both are sampled in a centred parameterisation: the scale parameter is the (reducible) loss at a
reference value ``x0`` near the middle of a typical ladder of runs, which decorrelates it from the
exponent (the raw ``x_c`` or ``A`` is a near-deterministic function of the exponent when the data
sit far from ``x = 1``). Reports use the published names (``N_c``, ``alpha_N``; ``E``, ``A``,
``alpha``).
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpyro.distributions as dist

from bayescale._errors import InvalidValueError
from bayescale._law import Law, Parameter, log_power, logsumexp_terms

__all__ = [
    "REFERENCE_SCALES",
    "hestness",
    "hestness_C",
    "hestness_D",
    "hestness_N",
    "power_law",
    "power_law_C",
    "power_law_D",
    "power_law_N",
]

# Reference scales (centring points) per input column: 1B parameters, 20B tokens, the FLOPs of
# that run (6 N D = 1.2e20), 10k optimizer steps. The law does not depend on them; the posterior
# geometry does.
REFERENCE_SCALES: dict[str, float] = {"N": 1e9, "D": 2e10, "C": 1.2e20, "S": 1e4}

_KAPLAN = (
    "Kaplan et al. (2020), Scaling Laws for Neural Language Models, arXiv:2001.08361 "
    "(eqs. 1.1-1.3); Brown et al. (2020), Language Models are Few-Shot Learners, "
    "arXiv:2005.14165 (Fig. 3.1)"
)
_HESTNESS = (
    "Hestness et al. (2017), Deep Learning Scaling is Predictable, Empirically, arXiv:1712.00409"
)
_UNIT = {"N": "parameters", "D": "tokens", "C": "FLOPs", "S": "steps"}


def _reference(input: str, x0: float | None) -> float:
    if x0 is None:
        if input not in REFERENCE_SCALES:
            raise InvalidValueError(
                f"no default reference scale for input {input!r}; pass x0= (a value near the "
                f"geometric middle of your data). Defaults exist for {sorted(REFERENCE_SCALES)}"
            )
        x0 = REFERENCE_SCALES[input]
    if not (math.isfinite(x0) and x0 > 0):
        raise InvalidValueError(f"reference scale x0 must be finite and positive, got {x0}")
    return float(x0)


def power_law(input: str = "N", *, x0: float | None = None, name: str | None = None) -> Law:
    r"""A pure power law in one input, :math:`L(x) = (x_c / x)^{\alpha}`.

    Evaluated as :math:`\log L = \ell_0 - \alpha (\log x - \log x_0)`, where
    :math:`\ell_0 = \log L(x_0)` is the log-loss at the reference scale; the published
    :math:`x_c = x_0\, e^{\ell_0/\alpha}`.

    Args:
        input: The input column (``"N"``, ``"D"``, ``"C"``, ``"S"`` or any positive column).
        x0: Reference scale for centring; defaults per input (:data:`REFERENCE_SCALES`),
            required for other columns.
        name: Law name; defaults to ``"power_law_<input>"``.

    Returns:
        The :class:`~bayescale.Law` with parameters ``log_L0``, ``alpha`` (sampling space) and
        published ``<input>_c``, ``alpha_<input>``.

    Example:
        >>> from bayescale.models import power_law
        >>> law = power_law("examples", x0=500.0)

    References:
        Kaplan et al. (2020), arXiv:2001.08361, eqs. (1.1)-(1.3).
        Brown et al. (2020), arXiv:2005.14165, Fig. 3.1.
    """
    x0 = _reference(input, x0)
    log_x0 = math.log(x0)
    xc, alpha = f"{input}_c", f"alpha_{input}"

    def mean(theta, x):
        return log_power(jnp.log(x[input]) - log_x0, theta["log_L0"], theta["alpha"])

    def published(theta):
        return {xc: jnp.exp(log_x0 + theta["log_L0"] / theta["alpha"]), alpha: theta["alpha"]}

    return Law(
        name=name or f"power_law_{input}",
        inputs=(input,),
        params=(
            Parameter(
                "log_L0",
                dist.Normal(1.0, 1.0),
                f"log loss at the reference scale {input}={x0:.3g}; Normal(1, 1) puts 95% of "
                "L(x0) in [0.4, 19] nats, around the 1.5-4 nats of language models.",
            ),
            Parameter(
                "alpha",
                dist.TruncatedNormal(0.2, 0.3, low=0.0, high=2.0),
                "exponent; TruncatedNormal(0.2, 0.3) on (0, 2): a law without an irreducible "
                "term has small exponents (Kaplan 0.05-0.1, Hestness 0.07-0.35), the prior "
                "stays weak up to ~0.8.",
            ),
        ),
        mean_fn=mean,
        published_fn=published,
        published=(xc, alpha),
        formula=f"L = ({xc}/{input})^{alpha}",
        reference=_KAPLAN,
        doc=power_law.__doc__ or "",
    )


def hestness(input: str = "N", *, x0: float | None = None, name: str | None = None) -> Law:
    r"""Irreducible term plus a power law, :math:`L(x) = E + A\, x^{-\alpha}`.

    Evaluated as ``logsumexp(log E, log A0 - alpha (log x - log x0))`` with
    :math:`A_0 = A\, x_0^{-\alpha}` the reducible loss at the reference scale.

    Args:
        input: The input column (``"N"``, ``"D"``, ``"C"``, ``"S"`` or any positive column).
        x0: Reference scale for centring; defaults per input (:data:`REFERENCE_SCALES`).
        name: Law name; defaults to ``"hestness_<input>"``.

    Returns:
        The :class:`~bayescale.Law` with parameters ``log_E``, ``log_A0``, ``alpha`` and
        published ``E``, ``A``, ``alpha``.

    References:
        Hestness et al. (2017), arXiv:1712.00409 (power-law and irreducible-error regions).
    """
    x0 = _reference(input, x0)
    log_x0 = math.log(x0)

    def mean(theta, x):
        return logsumexp_terms(
            theta["log_E"],
            log_power(jnp.log(x[input]) - log_x0, theta["log_A0"], theta["alpha"]),
        )

    def published(theta):
        return {
            "E": jnp.exp(theta["log_E"]),
            "A": jnp.exp(theta["log_A0"] + theta["alpha"] * log_x0),
            "alpha": theta["alpha"],
        }

    return Law(
        name=name or f"hestness_{input}",
        inputs=(input,),
        params=(
            Parameter(
                "log_E",
                dist.Normal(0.5, 1.0),
                "log irreducible loss; Normal(0.5, 1) puts 95% of E in [0.2, 12] nats.",
            ),
            Parameter(
                "log_A0",
                dist.Normal(-1.0, 2.0),
                f"log reducible loss A x0^-alpha at {input}={x0:.3g}; Normal(-1, 2) spans "
                "0.007 to 20 nats.",
            ),
            Parameter(
                "alpha",
                dist.TruncatedNormal(0.5, 0.5, low=0.0, high=2.0),
                "exponent; TruncatedNormal(0.5, 0.5) on (0, 2), wider than the published "
                "0.07-0.8 (Hestness 2017, Hoffmann 2022).",
            ),
        ),
        mean_fn=mean,
        published_fn=published,
        published=("E", "A", "alpha"),
        formula=f"L = E + A/{input}^alpha",
        reference=_HESTNESS,
        doc=hestness.__doc__ or "",
    )


power_law_N = power_law("N")
"""Kaplan's L(N) = (N_c/N)^alpha_N (published alpha_N = 0.076, N_c = 8.8e13 non-embedding
parameters)."""
power_law_D = power_law("D")
"""Kaplan's L(D) = (D_c/D)^alpha_D (published alpha_D = 0.095, D_c = 5.4e13 tokens)."""
power_law_C = power_law("C")
"""Kaplan's L(C_min) = (C_c/C)^alpha_C with C in FLOPs (published alpha_C = 0.050,
C_c = 3.1e8 PF-days = 2.7e28 FLOPs); GPT-3's L = 2.57 C^-0.048 with C in PF-days."""
hestness_N = hestness("N")
hestness_D = hestness("D")
hestness_C = hestness("C")
