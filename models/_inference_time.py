r"""Inference-time laws: serving cost and test-time compute.

- :data:`throughput_batch` — tokens/s vs batch size, saturating (Michaelis-Menten):
  ``T(B) = T_max B / (B + B_half)``.
- :data:`latency_N` — per-token decode latency vs parameters: ``t(N) = t0 + a (N/1e9)^gamma``
  (``gamma ~ 1`` when decoding is memory-bandwidth bound: every weight is read once per token).
- :data:`memory_N` — serving memory vs parameters: ``M(N) = M0 + b (N/1e9)^gamma``
  (``b`` ~ bytes per parameter, ``gamma ~ 1``).
- :data:`utilisation_batch` — hardware utilisation (MFU) vs batch: ``u(B) = u_max B/(B + B_half)``
  with ``0 < u_max < 1``.
- :data:`temperature_quality` — output quality vs sampling temperature, peaked:
  ``q(tau) = q_max exp(-(tau - tau_opt)^2 / (2 w^2))``.
- :data:`test_time_compute` — accuracy vs test-time compute (e.g. chain-of-thought tokens or
  samples): log-linear with a ceiling, ``acc = ceil * sigmoid(b (log C_test - log C_half))``,
  the logistic in log compute (equivalently ``ceil C^b / (C^b + C_half^b)``). ``C_half`` is the
  compute at half the ceiling, a scale the data usually brackets, so its prior does not depend on
  the unit of ``C_test`` the way an intercept at ``C_test = 1`` would.
- :data:`train_test_tradeoff` — Jones (2021): the test-time compute that reaches a fixed
  performance falls as a power of train-time compute, ``C_test = C_min + K (C_train/1e15)^-m``
  (Jones: 10x train compute is worth ~15x test compute, ``m ~ 1.2``).

All are positive quantities modelled in log space (``link="log"``, Normal noise on the log) except
:data:`test_time_compute`, an accuracy on the logit scale (fit it with ``noise="beta"`` or a
binomial noise, see :mod:`bayescale.models._downstream`).

References:
    Pope et al. (2022), Efficiently Scaling Transformer Inference, arXiv:2211.05102 (latency,
    memory, utilisation vs batch and model size).
    Kwon et al. (2023), Efficient Memory Management for LLM Serving with PagedAttention
    (vLLM), arXiv:2309.06180 (throughput saturating with batch size).
    Renze & Guven (2024), The Effect of Sampling Temperature on Problem Solving in LLMs,
    arXiv:2402.05201.
    Snell et al. (2024), Scaling LLM Test-Time Compute Optimally, arXiv:2408.03314;
    Brown et al. (2024), Large Language Monkeys, arXiv:2407.21787.
    Jones (2021), Scaling Scaling Laws with Board Games, arXiv:2104.03113.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpyro.distributions as dist
from jax.nn import log_sigmoid

from bayescale._law import Law, Parameter, logsumexp_terms

__all__ = [
    "latency_N",
    "memory_N",
    "temperature_quality",
    "test_time_compute",
    "throughput_batch",
    "train_test_tradeoff",
    "utilisation_batch",
]

_LOG_N0 = math.log(1e9)
_LOG_CTRAIN0 = math.log(1e15)


def _exp_published(*names):
    def fn(theta):
        out = {}
        for n in names:
            out[n] = jnp.exp(theta[f"log_{n}"]) if f"log_{n}" in theta else theta[n]
        return out

    return fn


# ----------------------------------------------------------------------------- throughput
def _saturating(log_max, log_half, x):
    """``log(max * x / (x + half))``."""
    log_x = jnp.log(x)
    return log_max + log_x - jnp.logaddexp(log_x, log_half)


throughput_batch = Law(
    name="throughput_batch",
    inputs=("B",),
    params=(
        Parameter(
            "log_T_max",
            dist.Normal(8.0, 4.0),
            "log of the saturation throughput (tokens/s); Normal(8, 4): 1 to 1e7 tokens/s.",
        ),
        Parameter(
            "log_B_half",
            dist.Normal(3.0, 2.0),
            "log of the batch size at half the saturation throughput; Normal(3, 2): 1-1000.",
        ),
    ),
    mean_fn=lambda t, x: _saturating(t["log_T_max"], t["log_B_half"], x["B"]),
    published_fn=_exp_published("T_max", "B_half"),
    published=("T_max", "B_half"),
    formula="throughput = T_max * B / (B + B_half)",
    reference="Kwon et al. (2023), arXiv:2309.06180; Pope et al. (2022), arXiv:2211.05102",
    target="throughput",
    doc="Throughput vs batch size, saturating: linear while memory-bound at small B, flat once "
    "compute-bound. ``throughput = T_max B / (B + B_half)``.",
)

utilisation_batch = Law(
    name="utilisation_batch",
    inputs=("B",),
    params=(
        Parameter(
            "u_max",
            dist.Beta(2.0, 2.0),
            "utilisation (MFU) reached at large batch, in (0, 1); Beta(2, 2).",
        ),
        Parameter(
            "log_B_half",
            dist.Normal(3.0, 2.0),
            "log of the batch size at half of u_max; Normal(3, 2).",
        ),
    ),
    mean_fn=lambda t, x: _saturating(jnp.log(t["u_max"]), t["log_B_half"], x["B"]),
    published_fn=_exp_published("u_max", "B_half"),
    published=("u_max", "B_half"),
    formula="utilisation = u_max * B / (B + B_half)",
    reference="Pope et al. (2022), Efficiently Scaling Transformer Inference, arXiv:2211.05102",
    target="utilisation",
    doc="Hardware (model-FLOPs) utilisation vs batch size, saturating below 1.",
)


# ----------------------------------------------------------------------------- latency, memory
def _offset_power(theta, x, prefix):
    return logsumexp_terms(
        theta[f"log_{prefix}0"],
        theta["log_a"] + theta["gamma"] * (jnp.log(x["N"]) - _LOG_N0),
    )


def _offset_power_law(name, target, prefix, unit, a_prior, a_doc, reference, doc):
    return Law(
        name=name,
        inputs=("N",),
        params=(
            Parameter(
                f"log_{prefix}0",
                dist.Normal(a_prior[0] - 3.0, 3.0),
                f"log of the size-independent part ({unit}); Normal({a_prior[0] - 3.0:g}, 3).",
            ),
            Parameter("log_a", dist.Normal(*a_prior), a_doc),
            Parameter(
                "gamma",
                dist.TruncatedNormal(1.0, 0.5, low=0.0, high=3.0),
                "exponent in N; TruncatedNormal(1, 0.5): ~1 when every weight is touched once.",
            ),
        ),
        mean_fn=lambda t, x: _offset_power(t, x, prefix),
        published_fn=lambda t: {
            f"{prefix}0": jnp.exp(t[f"log_{prefix}0"]),
            "a": jnp.exp(t["log_a"]),
            "gamma": t["gamma"],
        },
        published=(f"{prefix}0", "a", "gamma"),
        formula=f"{target} = {prefix}0 + a (N/1e9)^gamma",
        reference=reference,
        target=target,
        doc=doc,
    )


latency_N = _offset_power_law(
    "latency_N",
    "latency",
    "t",
    "seconds/token",
    (-5.0, 3.0),
    "log of the latency of a 1B model above t0 (s/token); Normal(-5, 3): 0.02 ms to 3 s.",
    "Pope et al. (2022), Efficiently Scaling Transformer Inference, arXiv:2211.05102",
    "Per-token decode latency vs parameter count, ``t0 + a (N/1e9)^gamma`` (seconds/token).",
)

memory_N = _offset_power_law(
    "memory_N",
    "memory",
    "M",
    "bytes",
    (21.0, 3.0),
    "log of the memory of a 1B model above M0 (bytes); Normal(21, 3): 4 MB to 0.5 TB.",
    "Pope et al. (2022), arXiv:2211.05102; Kwon et al. (2023), arXiv:2309.06180",
    "Serving memory vs parameter count, ``M0 + a (N/1e9)^gamma`` (bytes; ``a`` ~ 1e9 x bytes "
    "per parameter when gamma = 1).",
)


# ----------------------------------------------------------------------------- temperature
def _temperature_mean(theta, x):
    w = jnp.exp(theta["log_width"])
    return theta["log_q_max"] - 0.5 * ((x["temperature"] - theta["tau_opt"]) / w) ** 2


temperature_quality = Law(
    name="temperature_quality",
    inputs=("temperature",),
    params=(
        Parameter(
            "log_q_max",
            dist.Normal(-1.0, 2.0),
            "log of the best quality (e.g. pass rate); Normal(-1, 2).",
        ),
        Parameter(
            "tau_opt",
            dist.TruncatedNormal(0.7, 0.5, low=0.0, high=3.0),
            "temperature of the peak; TruncatedNormal(0.7, 0.5) on (0, 3).",
        ),
        Parameter(
            "log_width",
            dist.Normal(-0.5, 1.0),
            "log of the peak's width (temperature units); Normal(-0.5, 1): 0.08 to 4.",
        ),
    ),
    mean_fn=_temperature_mean,
    published_fn=lambda t: {
        "q_max": jnp.exp(t["log_q_max"]),
        "tau_opt": t["tau_opt"],
        "width": jnp.exp(t["log_width"]),
    },
    published=("q_max", "tau_opt", "width"),
    formula="quality = q_max * exp(-(temperature - tau_opt)^2 / (2 width^2))",
    reference="descriptive form; temperature effects studied by Renze & Guven (2024), "
    "arXiv:2402.05201",
    target="quality",
    doc="Output quality vs sampling temperature: a Gaussian peak on the log scale (quality "
    "falls as the temperature moves off its best value in either direction). Temperatures must "
    "be positive (greedy decoding, temperature 0, is outside the law's inputs).",
)


# ----------------------------------------------------------------------------- test-time compute
def _ttc_mean(theta, x):
    z = theta["b"] * (jnp.log(x["C_test"]) - theta["log_C_half"])
    log_acc = jnp.log(theta["ceil"]) + log_sigmoid(z)
    # 1 - ceil*s = (1 - ceil) + ceil*(1 - s)
    log_1m_acc = jnp.logaddexp(jnp.log1p(-theta["ceil"]), jnp.log(theta["ceil"]) + log_sigmoid(-z))
    return log_acc - log_1m_acc


test_time_compute = Law(
    name="test_time_compute",
    inputs=("C_test",),
    params=(
        Parameter(
            "ceil",
            dist.Beta(3.0, 1.0),
            "accuracy ceiling that more test-time compute approaches; Beta(3, 1).",
        ),
        Parameter(
            "log_C_half",
            dist.Normal(6.0, 4.0),
            "log of the test-time compute at which accuracy is half its ceiling, in the unit "
            "of C_test; Normal(6, 4): 0.2 to 1e6 (samples: ~1-1e3, reasoning tokens: ~1e2-1e5).",
        ),
        Parameter(
            "b",
            dist.TruncatedNormal(0.5, 0.5, low=0.0, high=5.0),
            "slope per e-fold of test-time compute; TruncatedNormal(0.5, 0.5) on (0, 5).",
        ),
    ),
    mean_fn=_ttc_mean,
    published_fn=lambda t: {"ceil": t["ceil"], "C_half": jnp.exp(t["log_C_half"]), "b": t["b"]},
    published=("ceil", "C_half", "b"),
    formula="acc = ceil * sigmoid(b (log C_test - log C_half))",
    reference="descriptive form; motivated by Snell et al. (2024), arXiv:2408.03314 and "
    "Brown et al. (2024), arXiv:2407.21787",
    target="accuracy",
    link="logit",
    doc="Accuracy vs test-time compute (tokens of reasoning, samples): log-linear in the middle, "
    "saturating at a ceiling below 1. ``C_test`` is in the user's unit (tokens, samples...).",
)


# ----------------------------------------------------------------------------- Jones 2021
train_test_tradeoff = Law(
    name="train_test_tradeoff",
    inputs=("C_train",),
    params=(
        Parameter(
            "log_C_min",
            dist.Normal(10.0, 5.0),
            "log of the least test-time compute that reaches the target at any train compute.",
        ),
        Parameter(
            "log_K",
            dist.Normal(15.0, 5.0),
            "log of the reducible test-time compute at C_train = 1e15 FLOPs.",
        ),
        Parameter(
            "m",
            dist.TruncatedNormal(1.0, 0.5, low=0.0, high=5.0),
            "trade-off exponent; TruncatedNormal(1, 0.5). Jones: 10x train ~ 15x test, m ~ 1.2.",
        ),
    ),
    mean_fn=lambda t, x: logsumexp_terms(
        t["log_C_min"], t["log_K"] - t["m"] * (jnp.log(x["C_train"]) - _LOG_CTRAIN0)
    ),
    published_fn=lambda t: {
        "C_min": jnp.exp(t["log_C_min"]),
        "K": jnp.exp(t["log_K"]),
        "m": t["m"],
    },
    published=("C_min", "K", "m"),
    formula="C_test = C_min + K (C_train/1e15)^-m",
    reference="Jones (2021), Scaling Scaling Laws with Board Games, arXiv:2104.03113",
    target="C_test",
    doc=r"""The train-/test-compute frontier (Jones 2021, Hex): the test-time compute needed to
reach a fixed performance (Elo) falls as a power of train-time compute,

.. math::
    C_{test} = C_{min} + K\,(C_{train} / 10^{15})^{-m},

so along the frontier ``m`` is the number of decades of test compute one decade of train compute
buys (Jones: ~1.2, i.e. 10x train for 15x test).
""",
)
