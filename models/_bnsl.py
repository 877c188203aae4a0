r"""Broken neural scaling law (Caballero et al. 2023): a smoothly broken power law, n breaks.

.. math::
    y(x) = a + b\, x^{-c_0} \prod_{i=1}^{n}
        \left(1 + \left(\frac{x}{d_i}\right)^{1/f_i}\right)^{-c_i f_i}

``a`` is the floor, ``c_0`` the slope (in log-log) before the first break, ``c_i`` the change of
slope at break ``i``, ``d_i`` its location and ``f_i`` its sharpness (small ``f`` = sharp break).

Evaluated in log space: since :math:`\log(1 + (x/d)^{1/f}) = \mathrm{softplus}((\log x - \log
d)/f)`, the reducible part is linear in log x plus softplus terms, and the floor enters through
``logsumexp``. Sampled centred at a reference scale ``x0``: ``log_y0`` is the log of the whole
law at ``x0`` and ``floor`` the logit of the floor's share ``a / y(x0)`` (so the reducible
part at ``x0``, breaks included, is ``y(x0) - a``), break locations are ``log(d_1/x0)`` and, for
later breaks, positive gaps ``log(d_i/d_{i-1})`` (which orders the breaks and removes label
switching).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpyro.distributions as dist

from bayescale._errors import InvalidValueError
from bayescale._law import Law, Parameter, logsumexp_terms

from ._power import _reference

__all__ = ["bnsl", "bnsl_1"]

_REF = "Caballero et al. (2023), Broken Neural Scaling Laws, ICLR 2023, arXiv:2210.14891 (eq. 1)"


def _split(theta):
    """``log a`` and ``log b0`` (reducible part at x0) from ``log_y0`` and the floor logit."""
    return (
        theta["log_y0"] + jax.nn.log_sigmoid(theta["floor"]),
        theta["log_y0"] + jax.nn.log_sigmoid(-theta["floor"]),
    )


def bnsl(n_breaks: int = 1, input: str = "D", *, x0: float | None = None) -> Law:
    r"""A smoothly broken power law with ``n_breaks`` breaks in one input.

    .. math::
        y(x) = a + b\, x^{-c_0} \prod_{i=1}^{n}
            \left(1 + \left(\frac{x}{d_i}\right)^{1/f_i}\right)^{-c_i f_i}

    Args:
        n_breaks: Number of breaks (1 or more).
        input: The input column (``"D"``, ``"N"``, ``"C"``, ``"S"`` or any positive column).
        x0: Reference scale (centring point and origin of the break-location prior); defaults
            per input for N, D, C, S, required for other columns. Put it near the geometric
            middle of the data.

    Returns:
        The :class:`~bayescale.Law` ``bnsl_<n>`` (``bnsl_<n>_<input>`` for inputs other than D)
        with sampling parameters ``log_y0``, ``floor``, ``c0``, ``c1..cn``, ``log_d1``,
        ``gap2..gapn``, ``log_f1..log_fn`` and published ``a``, ``b``, ``c0``, ``c_i``,
        ``d_i``, ``f_i``.

    Example:
        >>> from bayescale.models import bnsl
        >>> law = bnsl(1, input="examples", x0=500.0)   # 4-digit addition, Caballero Fig. 4

    References:
        Caballero et al. (2023), arXiv:2210.14891.
    """
    if not isinstance(n_breaks, int) or n_breaks < 1:
        raise InvalidValueError(f"n_breaks must be a positive integer, got {n_breaks!r}")
    x0 = _reference(input, x0)
    log_x0 = math.log(x0)
    idx = range(1, n_breaks + 1)

    def log_breaks(theta):
        out = [log_x0 + theta["log_d1"]]
        for i in idx[1:]:
            out.append(out[-1] + theta[f"gap{i}"])
        return out

    def mean(theta, x):
        log_x = jnp.log(x[input])
        log_a, log_b0 = _split(theta)
        reducible = log_b0 - theta["c0"] * (log_x - log_x0)
        for i, log_d in zip(idx, log_breaks(theta), strict=True):
            f = jnp.exp(theta[f"log_f{i}"])
            bend = jax.nn.softplus((log_x - log_d) / f) - jax.nn.softplus((log_x0 - log_d) / f)
            reducible = reducible - theta[f"c{i}"] * f * bend
        return logsumexp_terms(log_a, reducible)

    def published(theta):
        log_a, log_b0 = _split(theta)
        log_b = log_b0 + theta["c0"] * log_x0
        out = {"a": jnp.exp(log_a), "c0": theta["c0"]}
        ds = {}
        for i, log_d in zip(idx, log_breaks(theta), strict=True):
            f = jnp.exp(theta[f"log_f{i}"])
            log_b = log_b + theta[f"c{i}"] * f * jax.nn.softplus((log_x0 - log_d) / f)
            out[f"c{i}"] = theta[f"c{i}"]
            ds[f"d{i}"] = jnp.exp(log_d)
            ds[f"f{i}"] = f
        return {"a": out.pop("a"), "b": jnp.exp(log_b), **out, **ds}

    params = [
        Parameter(
            "log_y0",
            dist.Normal(0.5, 1.5),
            f"log of the whole law at the reference {input}={x0:.3g}, floor and breaks "
            "included; Normal(0.5, 1.5) spans 0.09 to 31 at 95%.",
        ),
        Parameter(
            "floor",
            dist.Normal(0.0, 1.5),
            "logit of the floor's share a / y(x0); Normal(0, 1.5) spans shares of 5% to 95%. "
            "Data pin y(x0) = a + reducible tightly; splitting it by a share instead of "
            "sampling log a and log b removes the curved ridge a + b = y(x0).",
        ),
        Parameter(
            "c0",
            dist.Normal(0.3, 0.5),
            "log-log slope before the first break; Normal(0.3, 0.5) covers flat starts (c0~0) "
            "to the steep 1.3 seen on vision tasks.",
        ),
    ]
    for i in idx:
        params.append(
            Parameter(
                f"c{i}",
                dist.Normal(0.0, 3.0),
                f"change of slope at break {i}; Normal(0, 3) allows bends either way up to "
                "+-6, which sharp algorithmic tasks need (4-digit addition: ~5.7).",
            )
        )
    params.append(
        Parameter(
            "log_d1",
            dist.Normal(0.0, 2.0),
            f"log(d1/x0), first break relative to the reference {input}={x0:.3g}; Normal(0, 2) "
            "puts it within a factor 50 of x0 at 95%.",
        )
    )
    for i in idx[1:]:
        params.append(
            Parameter(
                f"gap{i}",
                dist.LogNormal(0.0, 1.0),
                f"log(d{i}/d{i - 1}) > 0, the distance between breaks in e-folds; LogNormal(0, 1) "
                "has median 1 (x2.7) and keeps breaks ordered.",
            )
        )
    for i in idx:
        params.append(
            Parameter(
                f"log_f{i}",
                dist.Normal(-1.0, 1.5),
                f"log sharpness of break {i} (width in e-folds of x); Normal(-1, 1.5) spans "
                "sharp (f=0.02) to very smooth (f=7) breaks.",
            )
        )

    published_names = (
        "a",
        "b",
        "c0",
        *[f"c{i}" for i in idx],
        *[f"d{i}" for i in idx],
        *[f"f{i}" for i in idx],
    )
    name = f"bnsl_{n_breaks}" + ("" if input == "D" else f"_{input}")
    formula = f"y = a + b {input}^-c0 " + " ".join(
        f"(1 + ({input}/d{i})^(1/f{i}))^(-c{i} f{i})" for i in idx
    )
    return Law(
        name=name,
        inputs=(input,),
        params=tuple(params),
        mean_fn=mean,
        published_fn=published,
        published=published_names,
        formula=formula,
        reference=_REF,
        doc=bnsl.__doc__ or "",
    )


bnsl_1 = bnsl(1, "D")
"""The one-break BNSL in tokens D (reference scale 2e10 tokens)."""
