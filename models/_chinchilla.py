"""Chinchilla / Hoffmann et al. (2022) law: L(N, D) = E + A / N^alpha + B / D^beta."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpyro.distributions as dist

from bayescale._law import Law, Parameter, log_power, logsumexp_terms

# Reference scales that centre the reducible terms: near the middle of a typical ladder of
# runs (1B parameters, 20B tokens). Centring decorrelates the scale terms from the exponents;
# it changes nothing about the law.
N0 = 1e9
D0 = 2e10
_LOG_N0 = math.log(N0)
_LOG_D0 = math.log(D0)


def _mean(theta, x):
    return logsumexp_terms(
        theta["log_E"],
        log_power(jnp.log(x["N"]) - _LOG_N0, theta["log_A0"], theta["alpha"]),
        log_power(jnp.log(x["D"]) - _LOG_D0, theta["log_B0"], theta["beta"]),
    )


def _published(theta):
    return {
        "E": jnp.exp(theta["log_E"]),
        "A": jnp.exp(theta["log_A0"] + theta["alpha"] * _LOG_N0),
        "B": jnp.exp(theta["log_B0"] + theta["beta"] * _LOG_D0),
        "alpha": theta["alpha"],
        "beta": theta["beta"],
    }


def _allocate(p, budget):
    r"""Closed form of :math:`\min_N L(N, budget/N)` (``budget = C / 6``)."""
    alpha, beta = p["alpha"], p["beta"]
    log_g = (jnp.log(alpha * p["A"]) - jnp.log(beta * p["B"])) / (alpha + beta)
    log_n = log_g + beta / (alpha + beta) * jnp.log(budget)
    return {"N": jnp.exp(log_n), "D": jnp.exp(jnp.log(budget) - log_n)}


chinchilla = Law(
    name="chinchilla",
    inputs=("N", "D"),
    params=(
        Parameter(
            "log_E",
            dist.Normal(0.5, 1.0),
            "log irreducible loss; Normal(0.5, 1) puts 95% of E in [0.2, 12] nats.",
        ),
        Parameter(
            "log_A0",
            dist.Normal(-1.0, 2.0),
            "log of the parameter-limited term A/N0^alpha at N0=1e9; Normal(-1, 2) spans "
            "0.007 to 20 nats of reducible loss at 1B parameters.",
        ),
        Parameter(
            "log_B0",
            dist.Normal(-1.0, 2.0),
            "log of the data-limited term B/D0^beta at D0=2e10 tokens; same width as log_A0.",
        ),
        Parameter(
            "alpha",
            dist.TruncatedNormal(0.5, 0.5, low=0.0, high=2.0),
            "parameter exponent; half-normal-like on (0, 2), sd 0.5, wider than every "
            "published value (0.07-0.8).",
        ),
        Parameter(
            "beta",
            dist.TruncatedNormal(0.5, 0.5, low=0.0, high=2.0),
            "data exponent; same prior as alpha so the prior of a = beta/(alpha+beta) is "
            "symmetric about 1/2.",
        ),
    ),
    mean_fn=_mean,
    published_fn=_published,
    published=("E", "A", "B", "alpha", "beta"),
    formula="L = E + A/N^alpha + B/D^beta",
    reference=(
        "Hoffmann et al. (2022), Training Compute-Optimal Large Language Models, "
        "arXiv:2203.15556; Besiroglu et al. (2024), Chinchilla Scaling: A replication "
        "attempt, arXiv:2404.10102"
    ),
    allocate_fn=_allocate,
    doc=r"""Chinchilla (Hoffmann et al. 2022, Approach 3).

.. math::
    L(N, D) = E + \frac{A}{N^\alpha} + \frac{B}{D^\beta}

evaluated in log space as ``logsumexp(log E, log A - alpha log N, log B - beta log D)``
(centred at N0 = 1e9, D0 = 2e10), the parameterisation that keeps the posterior well
conditioned. Compute-optimal allocation for C = 6 N D:
``N* = G (C/6)^a``, ``D* = (C/6)/N*`` with ``G = (alpha A / (beta B))^(1/(alpha+beta))``,
``a = beta/(alpha+beta)``, ``b = alpha/(alpha+beta)``.

References:
    Hoffmann et al. (2022), arXiv:2203.15556.
    Besiroglu et al. (2024), arXiv:2404.10102 (the refit the bundled data reproduces).
""",
)
