r"""Kaplan et al. (2020): the joint L(N, D), the learning curve L(N, S) and the critical batch size.

Kaplan's single-variable laws L(N), L(D), L(C_min) are the pure power laws of
:mod:`bayescale.models._power` (``power_law_N``, ``power_law_D``, ``power_law_C``; also importable
here as ``kaplan_N``, ``kaplan_D``, ``kaplan_C``). This module adds:

* ``kaplan_ND`` -- :math:`L(N, D) = [(N_c/N)^{\alpha_N/\alpha_D} + D_c/D]^{\alpha_D}` (eq. 1.5),
* ``kaplan_NS`` -- :math:`L(N, S) = (N_c/N)^{\alpha_N} + (S_c/S)^{\alpha_S}` (eq. 1.6),
* ``kaplan_bcrit`` -- :math:`B_{crit}(L) = B_* / L^{1/\alpha_B}` (eq. 1.4).

Kaplan's raw runs are not public. The tests therefore check that each form recovers Kaplan's
published constants (Table 2 / Section 1.2) from data simulated at his scales (N from 1e3 to
1.5e9 non-embedding parameters, D from 2.2e7 to 2.3e10 tokens, S up to 2.5e5 steps, losses
2.5-6 nats); they do not reproduce his fits from his data.

Conventions: N counts non-embedding parameters as in Kaplan (the law does not check), D counts
tokens, S counts optimizer steps (Kaplan's S_min: steps at batch size well above B_crit), loss is
in nats per token. The critical batch size law has target column ``"B"`` (critical batch size
in tokens) and input column ``"loss"`` (the training loss in nats at which B_crit is measured).
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpyro.distributions as dist

from bayescale._law import Law, Parameter, log_power, logsumexp_terms

from ._power import REFERENCE_SCALES, power_law_C, power_law_D, power_law_N

__all__ = ["kaplan_C", "kaplan_D", "kaplan_N", "kaplan_ND", "kaplan_NS", "kaplan_bcrit"]

#: Kaplan's single-variable laws are the catalog's pure power laws.
kaplan_N = power_law_N
kaplan_D = power_law_D
kaplan_C = power_law_C

_REF = "Kaplan et al. (2020), Scaling Laws for Neural Language Models, arXiv:2001.08361"
N0 = REFERENCE_SCALES["N"]
D0 = REFERENCE_SCALES["D"]
S0 = REFERENCE_SCALES["S"]
#: Reference loss (nats) centring the critical-batch-size law.
L_REF = 3.0
_LOG_N0, _LOG_D0, _LOG_S0, _LOG_L_REF = map(math.log, (N0, D0, S0, L_REF))

_ELL_N = Parameter(
    "ell_N",
    dist.Normal(0.5, 1.0),
    "log of the parameter-limited loss (N_c/N0)^alpha_N at N0=1e9 (infinite data / steps); "
    "Normal(0.5, 1) puts 95% of it in [0.2, 12] nats (Kaplan's value: 2.3 nats).",
)
_ALPHA_N = Parameter(
    "alpha_N",
    dist.TruncatedNormal(0.2, 0.3, low=0.0, high=2.0),
    "parameter exponent; TruncatedNormal(0.2, 0.3) on (0, 2): no irreducible term, so "
    "exponents are small (Kaplan 0.076), the prior stays weak up to ~0.8.",
)


def _nd_mean(theta, x):
    a_d = theta["alpha_D"]
    n_term = (theta["ell_N"] - theta["alpha_N"] * (jnp.log(x["N"]) - _LOG_N0)) / a_d
    d_term = (theta["ell_D"] - a_d * (jnp.log(x["D"]) - _LOG_D0)) / a_d
    return a_d * logsumexp_terms(n_term, d_term)


def _nd_published(theta):
    return {
        "N_c": jnp.exp(_LOG_N0 + theta["ell_N"] / theta["alpha_N"]),
        "D_c": jnp.exp(_LOG_D0 + theta["ell_D"] / theta["alpha_D"]),
        "alpha_N": theta["alpha_N"],
        "alpha_D": theta["alpha_D"],
    }


kaplan_ND = Law(
    name="kaplan_ND",
    inputs=("N", "D"),
    params=(
        _ELL_N,
        Parameter(
            "ell_D",
            dist.Normal(0.5, 1.0),
            "log of the data-limited loss (D_c/D0)^alpha_D at D0=2e10 tokens (infinite N); "
            "same prior as ell_N (Kaplan's value: 2.0 nats).",
        ),
        _ALPHA_N,
        Parameter(
            "alpha_D",
            dist.TruncatedNormal(0.2, 0.3, low=0.0, high=2.0),
            "data exponent, also the outer exponent of the sum; same prior as alpha_N "
            "(Kaplan 0.103).",
        ),
    ),
    mean_fn=_nd_mean,
    published_fn=_nd_published,
    published=("N_c", "D_c", "alpha_N", "alpha_D"),
    formula="L = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D",
    reference=_REF + " (eq. 1.5, Table 2)",
    doc=r"""Kaplan et al. (2020) joint law of parameters and data (eq. 1.5).

.. math::
    L(N, D) = \left[\left(\frac{N_c}{N}\right)^{\alpha_N/\alpha_D} + \frac{D_c}{D}\right]^{\alpha_D}

Sampled as :math:`\ell_N = \log L(N_0, \infty)`, :math:`\ell_D = \log L(\infty, D_0)`,
:math:`\alpha_N`, :math:`\alpha_D` and evaluated as
``alpha_D * logsumexp((ell_N - alpha_N dlogN)/alpha_D, (ell_D - alpha_D dlogD)/alpha_D)``.
Published (Table 2): alpha_N = 0.076, alpha_D = 0.103, N_c = 6.4e13, D_c = 1.8e13. Compute-optimal
allocation (inputs N and D) is numeric per draw. Along ``C = 6 N D`` this law gives
``N* ~ C^(alpha_D/(alpha_N+alpha_D)) = C^0.575`` at Table 2's constants, not Kaplan's headline
``N ~ C^0.73``: that comes from L(N, S_min) and the critical batch size (Section 6), a different
question (training to a fixed loss at the optimal batch), not from this law.

Kaplan's raw runs are not public: the tests check that this form recovers his published
constants from data simulated at his scales, not that it reproduces his fit to his data.

References:
    Kaplan et al. (2020), arXiv:2001.08361.
""",
)


def _ns_mean(theta, x):
    return logsumexp_terms(
        log_power(jnp.log(x["N"]) - _LOG_N0, theta["ell_N"], theta["alpha_N"]),
        log_power(jnp.log(x["S"]) - _LOG_S0, theta["ell_S"], theta["alpha_S"]),
    )


def _ns_published(theta):
    return {
        "N_c": jnp.exp(_LOG_N0 + theta["ell_N"] / theta["alpha_N"]),
        "S_c": jnp.exp(_LOG_S0 + theta["ell_S"] / theta["alpha_S"]),
        "alpha_N": theta["alpha_N"],
        "alpha_S": theta["alpha_S"],
    }


kaplan_NS = Law(
    name="kaplan_NS",
    inputs=("N", "S"),
    params=(
        _ELL_N,
        Parameter(
            "ell_S",
            dist.Normal(-1.0, 1.5),
            "log of the step-limited excess loss (S_c/S0)^alpha_S at S0=1e4 steps; "
            "Normal(-1, 1.5) spans 0.02 to 7 nats (Kaplan's value: 0.3 nats).",
        ),
        _ALPHA_N,
        Parameter(
            "alpha_S",
            dist.TruncatedNormal(0.5, 0.5, low=0.0, high=3.0),
            "step exponent; TruncatedNormal(0.5, 0.5) on (0, 3) covers Kaplan's 0.76 and the "
            "steeper early-training curves.",
        ),
    ),
    mean_fn=_ns_mean,
    published_fn=_ns_published,
    published=("N_c", "S_c", "alpha_N", "alpha_S"),
    formula="L = (N_c/N)^alpha_N + (S_c/S)^alpha_S",
    reference=_REF + " (eq. 1.6, Table 3)",
    doc=r"""Kaplan et al. (2020) learning-curve law (eq. 1.6).

.. math::
    L(N, S) = \left(\frac{N_c}{N}\right)^{\alpha_N} + \left(\frac{S_c}{S}\right)^{\alpha_S}

S counts optimizer steps (Kaplan's S_min, steps at a batch far above the critical one). Sampled
as ``ell_N = log (N_c/N0)^alpha_N``, ``ell_S = log (S_c/S0)^alpha_S`` (N0 = 1e9, S0 = 1e4) and
evaluated by ``logsumexp``. Published (Table 3): alpha_N = 0.077, N_c = 6.5e13, S_c = 2.1e3,
alpha_S = 0.76. No irreducible term: the law predicts L -> 0 as N, S -> infinity.

Kaplan's raw runs are not public: the tests check that this form recovers his published
constants from data simulated at his scales, not that it reproduces his fit to his data.

References:
    Kaplan et al. (2020), arXiv:2001.08361.
""",
)


def _bcrit_mean(theta, x):
    return theta["log_B_ref"] - (jnp.log(x["loss"]) - _LOG_L_REF) / theta["alpha_B"]


def _bcrit_published(theta):
    return {
        "B_star": jnp.exp(theta["log_B_ref"] + _LOG_L_REF / theta["alpha_B"]),
        "alpha_B": theta["alpha_B"],
    }


kaplan_bcrit = Law(
    name="kaplan_bcrit",
    inputs=("loss",),
    params=(
        Parameter(
            "log_B_ref",
            dist.Normal(math.log(1e6), 3.0),
            "log critical batch size (tokens) at loss 3 nats; Normal(log 1e6, 3) spans 3e3 to "
            "4e8 tokens (Kaplan's value: 1.1e6).",
        ),
        Parameter(
            "alpha_B",
            dist.TruncatedNormal(0.25, 0.25, low=0.02, high=2.0),
            "exponent: B_crit scales as L^(-1/alpha_B); TruncatedNormal(0.25, 0.25) on "
            "(0.02, 2) keeps 1/alpha_B below 50 and covers Kaplan's 0.21.",
        ),
    ),
    mean_fn=_bcrit_mean,
    published_fn=_bcrit_published,
    published=("B_star", "alpha_B"),
    formula="B = B_star / loss^(1/alpha_B)",
    reference=_REF + " (eq. 1.4, Section 5.1)",
    target="B",
    doc=r"""Kaplan et al. (2020) critical batch size as a function of the loss (eq. 1.4).

.. math::
    B_{crit}(L) = \frac{B_*}{L^{1/\alpha_B}}

Target column ``"B"``: the critical batch size in tokens. Input column ``"loss"``: the training
loss (nats per token) at which it is measured. Sampled as the log critical batch at the
reference loss 3 nats, ``log_B_ref``, and ``alpha_B``; published ``B_star`` =
``B_ref * 3^(1/alpha_B)``. Kaplan: B_* = 2e8 tokens, alpha_B = 0.21. Noise is multiplicative
(Normal on log B), the usual assumption for batch-size measurements that span decades.

Kaplan's raw runs are not public: the tests check that this form recovers his published
constants from data simulated at his scales, not that it reproduces his fit to his data.

References:
    Kaplan et al. (2020), arXiv:2001.08361; McCandlish et al. (2018), arXiv:1812.06162.
""",
)
