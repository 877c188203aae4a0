"""From a law and a noise model to a NumPyro model.

The model is a plain function ``model(x, y=None, mask=None)``: with ``y=None`` it is the prior
(or, conditioned on posterior draws, the posterior) predictive; with ``y`` given it is the
likelihood the sampler targets. One function serves prior, fit and prediction.
"""

from __future__ import annotations

from collections.abc import Callable

import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from jaxtyping import Array, Bool, Float

from ._law import Law

__all__ = ["NOISE_MODELS", "build_model", "noise_params", "OBS_SITE"]

OBS_SITE = "obs"

# Noise scale on log-loss: replicate runs and digitised points scatter by 1-5%; HalfNormal(0.1)
# allows up to ~25% scatter and is flat where the data put it.
_SIGMA_PRIOR = dist.HalfNormal(0.1)
# Degrees of freedom of the Student-t: Gamma(2, 0.1) (Juarez & Steel 2010), mean 20, mass from
# very heavy tails (nu ~ 1) to practically Normal (nu > 50).
_NU_PRIOR = dist.Gamma(2.0, 0.1)


def _location_dist(base: dist.Distribution, link: str) -> dist.Distribution:
    if link == "log":  # noise on log y: y = exp(loc + eps)
        return dist.TransformedDistribution(base, dist.transforms.ExpTransform())
    if link == "identity":
        return base
    raise ValueError(f"noise models for link {link!r} are not defined")


def _normal(loc: Array, link: str) -> dist.Distribution:
    sigma = numpyro.sample("sigma", _SIGMA_PRIOR)
    if link == "log":
        return dist.LogNormal(loc, sigma)
    return _location_dist(dist.Normal(loc, sigma), link)


def _student_t(loc: Array, link: str) -> dist.Distribution:
    sigma = numpyro.sample("sigma", _SIGMA_PRIOR)
    nu = numpyro.sample("nu", _NU_PRIOR)
    return _location_dist(dist.StudentT(nu, loc, sigma), link)


NOISE_MODELS: dict[str, tuple[Callable[[Array, str], dist.Distribution], tuple[str, ...]]] = {
    "normal": (_normal, ("sigma",)),
    "student_t": (_student_t, ("sigma", "nu")),
}


def noise_params(noise: str) -> tuple[str, ...]:
    """Names of the parameters a noise model adds."""
    return NOISE_MODELS[check_noise(noise)][1]


def check_noise(noise: str) -> str:
    if noise not in NOISE_MODELS:
        raise ValueError(f"unknown noise model {noise!r}; choose one of {sorted(NOISE_MODELS)}")
    return noise


def build_model(law: Law, noise: str = "normal") -> Callable[..., None]:
    """The NumPyro model of ``law`` observed through ``noise``.

    Args:
        law: The scaling law.
        noise: ``"normal"`` (Normal on log-loss, the default) or ``"student_t"`` (robust).

    Returns:
        ``model(x, y=None, mask=None)`` where ``x`` maps the law's input names to arrays of
        shape ``(n,)``, ``y`` is the observed target (raw scale, e.g. loss in nats) and
        ``mask`` marks real rows when the arrays are padded.
    """
    likelihood = NOISE_MODELS[check_noise(noise)][0]

    def model(
        x: dict[str, Float[Array, " n"]],
        y: Float[Array, " n"] | None = None,
        mask: Bool[Array, " n"] | None = None,
    ) -> None:
        theta = {p.name: numpyro.sample(p.name, p.prior) for p in law.params}
        n = jnp.shape(next(iter(x.values())))[0]
        loc = jnp.broadcast_to(law.mean(theta, x), (n,))
        obs_dist = likelihood(loc, law.link)
        with numpyro.plate("rows", n), numpyro.handlers.mask(mask=True if mask is None else mask):
            numpyro.sample(OBS_SITE, obs_dist, obs=y)

    model.__doc__ = f"NumPyro model: {law.formula}, {noise} noise on the {law.link} scale."
    return model
