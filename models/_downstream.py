r"""Downstream accuracy laws: emergence (sigmoid in log-compute or in loss), exact match, smooth.

All laws here predict an accuracy in [0, 1] (target column ``"accuracy"``) and work on the
logit scale (``link="logit"``: ``mean_fn`` returns ``logit E[accuracy]``). Fit them with an
accuracy noise model: ``noise=bayescale.Beta()`` (number of questions unknown; 0 < accuracy <
1), or a binomial one when the benchmark's size is known, ``noise=bayescale.Binomial(2000)``
(``"binomial_2000"``) or, across heterogeneous models, the overdispersed
``bayescale.BetaBinomial(2000)`` (``"beta_binomial_2000"``), which also accepts accuracies of
exactly 0 and 1.

- :data:`emergence` — ``acc = floor + (ceil - floor) sigmoid(k (log C - c))``: a jump in
  log-compute (the "emergent ability" reading).
- :data:`emergence_loss` — the same sigmoid driven by a (predicted or measured) loss:
  ``acc = floor + (ceil - floor) sigmoid(-k (L - L_mid))``.
- :data:`exact_match` — Schaeffer et al. (2023): per-token loss falls as a smooth power law
  ``L_tok(C) = E + A (C/C0)^-alpha`` and an answer of ``length`` tokens is exactly right with
  probability ``p_token^length = exp(-length L_tok(C))``: a smooth cause seen through a harsh
  metric looks like a jump. :func:`exact_match_law` builds it for a given answer length.
- :data:`logit_linear` — the smooth alternative: ``logit(acc) = a + b log(C/C0)``.

References:
    Wei et al. (2022), Emergent Abilities of Large Language Models, arXiv:2206.07682.
    Schaeffer, Miranda, Koyejo (2023), Are Emergent Abilities of Large Language Models a
    Mirage?, NeurIPS, arXiv:2304.15004.
    Ruan, Maddison, Hashimoto (2024), Observational Scaling Laws, arXiv:2405.10938 (sigmoid
    of log-compute / of capability scores, the bundled ``obsscaling`` data).
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpyro.distributions as dist
from jax.nn import log_sigmoid

from bayescale._errors import InvalidValueError
from bayescale._law import Law, Parameter, logsumexp_terms

__all__ = ["emergence", "emergence_loss", "exact_match", "exact_match_law", "logit_linear"]

#: Reference compute that centres log C (1e21 FLOPs: a 1B model on 170B tokens).
C0 = 1e21
_LOG_C0 = math.log(C0)


def _logit_of_floor_ceil(log_floor, log_span, log_1m_ceil, z):
    """``logit(f + (h - f) sigmoid(z))`` from ``log f``, ``log(h - f)``, ``log(1 - h)``.

    ``acc = f + (h-f) s`` and ``1 - acc = (1-h) + (h-f)(1-s)``; both logs are log-sum-exps, so
    the logit stays accurate when the accuracy is within 1e-12 of its floor or ceiling.
    """
    log_acc = jnp.logaddexp(log_floor, log_span + log_sigmoid(z))
    log_1m_acc = jnp.logaddexp(log_1m_ceil, log_span + log_sigmoid(-z))
    return log_acc - log_1m_acc


def _floor_ceil(theta):
    """floor = f, ceil = f + (1 - f) g with f, g in (0, 1): always 0 < floor < ceil < 1."""
    f, g = theta["floor"], theta["gain"]
    log_floor = jnp.log(f)
    log_span = jnp.log1p(-f) + jnp.log(g)  # h - f = (1 - f) g
    log_1m_ceil = jnp.log1p(-f) + jnp.log1p(-g)  # 1 - h = (1 - f)(1 - g)
    return log_floor, log_span, log_1m_ceil


_FLOOR = Parameter(
    "floor",
    dist.Beta(1.0, 4.0),
    "accuracy far below the transition (chance level for multiple choice, ~0 for exact "
    "match); Beta(1, 4): mean 0.2, 90% below 0.44.",
)
_GAIN = Parameter(
    "gain",
    dist.Beta(2.0, 1.0),
    "share of the headroom above the floor the transition reaches: ceil = floor + (1 - floor) "
    "gain; Beta(2, 1) leans towards a ceiling near 1.",
)


def _published_sigmoid(theta, mid_name, mid_fn):
    f, g = theta["floor"], theta["gain"]
    return {"floor": f, "ceil": f + (1.0 - f) * g, "k": theta["k"], mid_name: mid_fn(theta)}


# ----------------------------------------------------------------------------- emergence (C)
def _emergence_mean(theta, x):
    z = theta["k"] * (jnp.log(x["C"]) - _LOG_C0 - theta["c0"])
    return _logit_of_floor_ceil(*_floor_ceil(theta), z)


emergence = Law(
    name="emergence",
    inputs=("C",),
    params=(
        _FLOOR,
        _GAIN,
        Parameter(
            "k",
            dist.TruncatedNormal(1.0, 1.0, low=0.0, high=20.0),
            "steepness per e-fold of compute; TruncatedNormal(1, 1) on (0, 20): from a "
            "transition spread over many decades (k ~ 0.1) to a near-step (k ~ 3).",
        ),
        Parameter(
            "c0",
            dist.Normal(0.0, 5.0),
            "midpoint, log(C_mid / 1e21); Normal(0, 5) spans 1e17 to 1e25 FLOPs (2 sd).",
        ),
    ),
    mean_fn=_emergence_mean,
    published_fn=lambda t: _published_sigmoid(t, "C_mid", lambda t: jnp.exp(t["c0"]) * C0),
    published=("floor", "ceil", "k", "C_mid"),
    formula="acc = floor + (ceil - floor) * sigmoid(k (log C - log C_mid))",
    reference="Wei et al. (2022), arXiv:2206.07682; Ruan et al. (2024), arXiv:2405.10938",
    target="accuracy",
    link="logit",
    doc=r"""Emergence as a sigmoid in log-compute, between a floor and a ceiling.

.. math::
    \mathrm{acc}(C) = f + (h - f)\,\sigma\!\left(k(\log C - \log C_{mid})\right)

computed as an exact logit (log-sum-exps) so accuracies near the floor or ceiling keep their
precision. Inputs: ``C`` (training FLOPs). Fit with ``noise="beta"`` or a binomial noise.
""",
)


# ----------------------------------------------------------------------------- emergence (loss)
def _emergence_loss_mean(theta, x):
    z = -theta["k"] * (x["loss"] - theta["L_mid"])
    return _logit_of_floor_ceil(*_floor_ceil(theta), z)


emergence_loss = Law(
    name="emergence_loss",
    inputs=("loss",),
    params=(
        _FLOOR,
        _GAIN,
        Parameter(
            "k",
            dist.TruncatedNormal(5.0, 5.0, low=0.0, high=100.0),
            "steepness per nat of loss; TruncatedNormal(5, 5): the transition spans ~0.1-2 "
            "nats of pre-training loss.",
        ),
        Parameter(
            "L_mid",
            dist.TruncatedNormal(2.5, 1.0, low=0.0),
            "loss at the midpoint (nats/token); TruncatedNormal(2.5, 1) covers LM losses 0.5-4.5.",
        ),
    ),
    mean_fn=_emergence_loss_mean,
    published_fn=lambda t: _published_sigmoid(t, "L_mid", lambda t: t["L_mid"]),
    published=("floor", "ceil", "k", "L_mid"),
    formula="acc = floor + (ceil - floor) * sigmoid(-k (loss - L_mid))",
    reference="Du et al. (2024), Understanding Emergent Abilities from the Loss Perspective, "
    "arXiv:2403.15796; Schaeffer et al. (2023), arXiv:2304.15004",
    target="accuracy",
    link="logit",
    doc=r"""Accuracy as a sigmoid of the pre-training loss (a loss law's forecast, or measured).

.. math::
    \mathrm{acc}(L) = f + (h - f)\,\sigma\!\left(-k(L - L_{mid})\right)

Chain it with a loss law: forecast the loss of a planned model, then its accuracy. Inputs:
``loss`` (nats/token).
""",
)


# ----------------------------------------------------------------------------- exact match
def exact_match_law(length: int = 1) -> Law:
    r"""The Schaeffer et al. (2023) exact-match law for answers of ``length`` tokens.

    .. math::
        L_{tok}(C) = E + A\,(C / C_0)^{-\alpha}, \qquad
        \mathrm{acc}(C) = p_{tok}^{\ell} = e^{-\ell L_{tok}(C)}

    The per-token loss improves smoothly; the probability that all ``length`` answer tokens are
    right is its ``length``-th power, which stays near 0 and then rises steeply. Only ``length
    E`` and ``length A`` are identified by accuracies, so ``length`` is fixed, not fitted; with
    ``length=1`` (the catalog's :data:`exact_match`) ``E`` and ``A`` are per answer.

    Args:
        length: Answer length in tokens (positive integer).

    Returns:
        A :class:`~bayescale.Law` named ``exact_match`` (``length=1``) or
        ``exact_match_<length>``.
    """
    ell = int(length)
    if ell != length or ell < 1:
        raise InvalidValueError(f"length must be a positive integer, got {length!r}")

    def mean(theta, x):
        log_l_tok = logsumexp_terms(
            theta["log_E"], theta["log_A"] - theta["alpha"] * (jnp.log(x["C"]) - _LOG_C0)
        )
        nll = ell * jnp.exp(log_l_tok)  # -log acc
        return -nll - jnp.log(-jnp.expm1(-nll))  # logit(exp(-nll))

    return Law(
        name="exact_match" if ell == 1 else f"exact_match_{ell}",
        inputs=("C",),
        params=(
            Parameter(
                "log_E",
                dist.Normal(-3.0, 2.0),
                "log irreducible per-token loss of the answer; Normal(-3, 2): the ceiling "
                "exp(-length E) of a one-token answer spans 0.08 to 0.999 (95%), lower for "
                "longer answers.",
            ),
            Parameter(
                "log_A",
                dist.Normal(0.0, 2.0),
                "log per-token reducible loss at C0 = 1e21 FLOPs; Normal(0, 2).",
            ),
            Parameter(
                "alpha",
                dist.TruncatedNormal(0.3, 0.3, low=0.0, high=2.0),
                "compute exponent of the per-token loss; TruncatedNormal(0.3, 0.3) on (0, 2).",
            ),
        ),
        mean_fn=mean,
        published_fn=lambda t: {
            "E": jnp.exp(t["log_E"]),
            "A": jnp.exp(t["log_A"]),
            "alpha": t["alpha"],
        },
        published=("E", "A", "alpha"),
        formula=f"acc = exp(-{ell} (E + A (C/1e21)^-alpha))",
        reference="Schaeffer, Miranda, Koyejo (2023), Are Emergent Abilities of Large Language "
        "Models a Mirage?, arXiv:2304.15004",
        target="accuracy",
        link="logit",
        doc=exact_match_law.__doc__ or "",
    )


exact_match = exact_match_law(1)


# ----------------------------------------------------------------------------- smooth
def _logit_linear_mean(theta, x):
    return theta["a"] + theta["b"] * (jnp.log(x["C"]) - _LOG_C0)


logit_linear = Law(
    name="logit_linear",
    inputs=("C",),
    params=(
        Parameter("a", dist.Normal(0.0, 3.0), "logit accuracy at C0 = 1e21 FLOPs; Normal(0, 3)."),
        Parameter(
            "b",
            dist.Normal(0.3, 1.0),
            "logit slope per e-fold of compute; Normal(0.3, 1) allows flat or declining tasks.",
        ),
    ),
    mean_fn=_logit_linear_mean,
    published=("a", "b"),
    formula="logit(acc) = a + b log(C / 1e21)",
    reference="Ruan et al. (2024), arXiv:2405.10938 (sigmoidal link of log-compute); "
    "Schaeffer et al. (2023), arXiv:2304.15004 (smooth metrics)",
    target="accuracy",
    link="logit",
    doc=r"""The smooth alternative: linear in log-compute on the logit scale.

.. math::
    \mathrm{logit}\,\mathrm{acc}(C) = a + b \log(C / C_0), \quad C_0 = 10^{21}

No floor, ceiling or break: compare its evidence with :data:`emergence` to ask whether a task
"emerges" or merely improves smoothly.
""",
)
