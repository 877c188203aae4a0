"""The law abstraction: a deterministic mean function plus named parameters with priors.

A :class:`Law` is an immutable value. The engine (``_model.py``) turns a law and a noise model
into a NumPyro model; nothing in the engine special-cases a particular law.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import jax.numpy as jnp
import numpyro.distributions as dist
from jax.nn import logsumexp
from jaxtyping import Array, Float

from ._errors import InvalidTypeError, InvalidValueError, UnknownNameError

Params = Mapping[str, Float[Array, "..."]]
Inputs = Mapping[str, Float[Array, " n"]]

__all__ = ["Law", "Parameter"]


@dataclasses.dataclass(frozen=True)
class Parameter:
    """One sampled parameter of a law.

    Attributes:
        name: Site name in the NumPyro model (the sampling-space name, e.g. ``"log_E"``).
        prior: A NumPyro distribution; its support is the parameter's constraint.
        description: What the parameter means and why the prior is what it is.
    """

    name: str
    prior: dist.Distribution
    description: str = ""


def _identity(theta: Params) -> dict[str, Array]:
    return dict(theta)


@dataclasses.dataclass(frozen=True, eq=False)
class Law:
    """A scaling law: ``link(m(x)) = mean_fn(theta, x)`` with priors on ``theta``.

    ``m(x)`` is the law's curve: the median of ``y`` under Normal or Student-t noise on the link
    scale (for a loss, log-normal noise: its mean is larger by ``exp(sigma^2 / 2)``, under 0.01%
    at Chinchilla's sigma of 0.007), the mean of ``y`` under Beta or binomial noise.

    Laws are final values: build a new one with :func:`dataclasses.replace` or
    :meth:`with_priors`, never by subclassing. Equality is identity, so a law can key caches of
    compiled samplers.

    Attributes:
        name: Short name, e.g. ``"chinchilla"``.
        inputs: Names of the data columns the law reads (raw counts, e.g. ``("N", "D")``).
        params: The sampled parameters, in sampling space, with their default priors.
        mean_fn: ``mean_fn(theta, x) -> location`` where ``theta`` maps parameter names to
            scalars (or broadcastable arrays) and ``x`` maps input names to arrays. For a loss
            law the location is the log of the law's loss.
        published_fn: Maps sampling-space parameters to the law's published parameters (e.g.
            ``log_E -> E``). Reports and ``Posterior.samples`` use these names.
        published: Names returned by ``published_fn``, in reporting order.
        formula: The law in plain text math.
        reference: The paper the law comes from.
        target: Name of the observed column (``"loss"``).
        link: Space of ``mean_fn``'s output: ``"log"`` for a positive target like loss.
        allocate_fn: Optional closed-form compute-optimal allocation,
            ``allocate_fn(published, C) -> {"N": N*, "D": D*}`` for the FLOPs model C = 6 N D.
        min_rows: Fewest data rows the law can be fitted to.
    """

    name: str
    inputs: tuple[str, ...]
    params: tuple[Parameter, ...]
    mean_fn: Callable[[Params, Inputs], Array]
    published_fn: Callable[[Params], dict[str, Array]] = _identity
    published: tuple[str, ...] = ()
    formula: str = ""
    reference: str = ""
    target: str = "loss"
    link: str = "log"
    allocate_fn: Callable[[Params, Array], dict[str, Array]] | None = None
    min_rows: int = 0
    doc: str = ""

    def __post_init__(self) -> None:
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise InvalidValueError(f"law {self.name!r}: duplicate parameter names {names}")
        if not self.published:
            object.__setattr__(self, "published", tuple(names))
        if self.min_rows <= 0:
            # One more point than parameters (plus the noise scale) is the least that can
            # identify the law at all; fewer makes the posterior the prior.
            object.__setattr__(self, "min_rows", len(names) + 2)
        if self.link not in ("log", "identity", "logit"):
            raise InvalidValueError(f"law {self.name!r}: unknown link {self.link!r}")

    @property
    def param_names(self) -> tuple[str, ...]:
        """Sampling-space parameter names."""
        return tuple(p.name for p in self.params)

    def prior(self, name: str) -> dist.Distribution:
        """The prior of sampling-space parameter ``name``."""
        for p in self.params:
            if p.name == name:
                return p.prior
        raise UnknownNameError(
            f"law {self.name!r} has no parameter {name!r}; it has {self.param_names}"
        )

    def with_priors(self, **priors: dist.Distribution) -> Law:
        """A copy of the law with some default priors replaced.

        Args:
            **priors: ``name=distribution`` for sampling-space parameters.

        Returns:
            A new :class:`Law`; the original is unchanged.
        """
        unknown = set(priors) - set(self.param_names)
        if unknown:
            raise UnknownNameError(
                f"law {self.name!r} has no parameter(s) {sorted(unknown)}; "
                f"its parameters are {self.param_names}"
            )
        for name, prior in priors.items():
            if not isinstance(prior, dist.Distribution):
                raise InvalidTypeError(
                    f"the prior of {name!r} must be a numpyro distribution (e.g. "
                    f"numpyro.distributions.Normal(0.3, 0.1)), got {prior!r}"
                )
        params = tuple(
            dataclasses.replace(p, prior=priors[p.name]) if p.name in priors else p
            for p in self.params
        )
        return dataclasses.replace(self, params=params)

    def mean(self, theta: Params, x: Inputs) -> Array:
        """The law's location at inputs ``x`` (log-loss for a loss law)."""
        return self.mean_fn(theta, x)

    def to_published(self, theta: Params) -> dict[str, Array]:
        """Sampling-space parameters -> the law's published parameters."""
        return self.published_fn(theta)

    def describe(self) -> dict[str, Any]:
        """One row of the catalog table."""
        return {
            "formula": self.formula,
            "inputs": ", ".join(self.inputs),
            "parameters": ", ".join(self.published),
            "reference": self.reference,
        }

    def __repr__(self) -> str:
        return f"Law({self.name!r}: {self.formula}; inputs={self.inputs})"


def log_power(log_x: Array, log_scale: Array, exponent: Array) -> Array:
    """``log(scale * x**-exponent)`` computed in log space."""
    return log_scale - exponent * log_x


def logsumexp_terms(*terms: Array) -> Array:
    """``log(sum(exp(terms)))`` over broadcast terms: the log of a sum of positive parts."""
    return logsumexp(jnp.stack(jnp.broadcast_arrays(*terms)), axis=0)
