"""From a law and a noise model to a NumPyro model.

The model is a plain function ``model(x, y=None, mask=None)``: with ``y=None`` it is the prior
(or, conditioned on posterior draws, the posterior) predictive; with ``y`` given it is the
likelihood the sampler targets. One function serves prior, fit and prediction.
"""

from __future__ import annotations

from collections.abc import Callable

import jax.numpy as jnp
import numpyro
from jaxtyping import Array, Bool, Float

from ._law import Law
from ._noise import Noise, noise_of

__all__ = ["OBS_SITE", "build_model"]

OBS_SITE = "obs"


def build_model(law: Law, noise: Noise | str = "normal") -> Callable[..., None]:
    """The NumPyro model of ``law`` observed through ``noise``.

    Args:
        law: The scaling law.
        noise: A :class:`~bayescale.Noise` (``bs.Normal()``, the default, on log-loss;
            ``bs.Contaminated()`` or ``bs.StudentT()``, robust; ...) or its name.

    Returns:
        ``model(x, y=None, mask=None)`` where ``x`` maps the law's input names to arrays of
        shape ``(n,)``, ``y`` is the observed target (raw scale, e.g. loss in nats) and
        ``mask`` marks real rows when the arrays are padded.
    """
    noise = noise_of(noise)

    def model(
        x: dict[str, Float[Array, " n"]],
        y: Float[Array, " n"] | None = None,
        mask: Bool[Array, " n"] | None = None,
    ) -> None:
        theta = {p.name: numpyro.sample(p.name, p.prior) for p in law.params}
        n = jnp.shape(next(iter(x.values())))[0]
        loc = jnp.broadcast_to(law.mean(theta, x), (n,))
        obs_dist = noise.likelihood(loc, law.link, x)
        with numpyro.plate("rows", n), numpyro.handlers.mask(mask=True if mask is None else mask):
            numpyro.sample(OBS_SITE, obs_dist, obs=y)

    model.__doc__ = f"NumPyro model: {law.formula}, {noise} noise on the {law.link} scale."
    return model
