"""Noise models as values: how an observed run scatters around the law.

A noise model is a frozen dataclass (hashable: it keys the caches of compiled programs), passed
to :func:`bayescale.fit` as ``noise=bs.StudentT()``, the way numpyro takes a distribution
object. It owns its priors (:meth:`Noise.priors`), builds the observation distribution at the
law's location (:meth:`Noise.distribution`) and says what kind of family it is: a location
family on the link scale (:attr:`Noise.location`, where the law's own error moves a draw by
exactly its size) or a count's probability mass (:attr:`Noise.counts`, whose log likelihood is
on another scale than a density's).

Each has a name (``"normal"``, ``"student_t"``, ``"binomial_2000"``, ...), the alias the
command line takes and a saved fit records; :func:`noise_of` reads a name back into its value.
There is no registry to write to: a name is parsed, and a new noise model is a subclass.
"""

from __future__ import annotations

import abc
import dataclasses
import math
import numbers
import re
from collections.abc import Mapping
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from jaxtyping import Array

from ._errors import InvalidValueError

__all__ = [
    "Beta",
    "BetaBinomial",
    "Binomial",
    "Contaminated",
    "ContaminatedNormal",
    "Noise",
    "Normal",
    "ScaledNormal",
    "StudentT",
    "Undertrained",
    "UndertrainedNormal",
    "binomial_noise",
    "noise_of",
    "scaled_noise",
]

# Noise scale on log-loss: replicate runs and digitised points scatter by 1-5%; HalfNormal(0.1)
# allows up to ~25% scatter and is flat where the data put it.
_SIGMA_PRIOR = dist.HalfNormal(0.1)
# Degrees of freedom of the Student-t: Gamma(2, 0.1) (Juarez & Steel 2010), mean 20, mass from
# very heavy tails (nu ~ 1) to practically Normal (nu > 50).
_NU_PRIOR = dist.Gamma(2.0, 0.1)
# Accuracies: sigma is the approximate sd of logit(y) around logit(mu); cross-model scatter of
# benchmark accuracies is 0.1-1 on the logit scale.
_LOGIT_SIGMA_PRIOR = dist.HalfNormal(1.0)
# Slope of log sigma per unit of log input: Normal(0, 0.3) lets sigma change by up to ~2x per
# decade (2 sd), either way.
_SIGMA_SLOPE_PRIOR = dist.Normal(0.0, 0.3)
# Reference scales of the inputs a noise scale may vary with (the centring of the catalog laws).
_NOISE_INPUT_REF = {"N": 1e9, "D": 2e10, "C": 1.2e20, "U": 2e10}
# A share of runs unlike the rest (undertrained, or scattering more): Beta(1, 4), mean 0.2.
# datablations' runs on 1e8-4e8 tokens are 12 of its 62; clean ladders put the share near 0.03.
_SHARE_PRIOR = dist.Beta(1.0, 4.0)
# Mean one-sided excess of an undertrained run on log-loss: up to ~20% worse loss.
_EXCESS_PRIOR = dist.HalfNormal(0.1)
_EPS = 1e-9


def _location_dist(base: dist.Distribution, link: str) -> dist.Distribution:
    if link == "log":  # noise on log y: y = exp(loc + eps)
        return dist.TransformedDistribution(base, dist.transforms.ExpTransform())
    if link == "identity":
        return base
    raise InvalidValueError(f"noise models for link {link!r} are not defined")


def _positive(owner: Noise, field: str, value: Any, *, integer: bool = False) -> None:
    kind = "a positive integer" if integer else "a positive finite number"
    ok = (
        isinstance(value, numbers.Integral) if integer else isinstance(value, numbers.Real)
    ) and not isinstance(value, bool)
    if not ok or not (0 < value < math.inf):
        raise InvalidValueError(
            f"noise {type(owner).__name__}: {field} must be {kind}, got {value!r}"
        )


@dataclasses.dataclass(frozen=True)
class Noise(abc.ABC):
    """A noise model (abstract: use :class:`Normal`, :class:`StudentT`, :class:`Contaminated`,
    :class:`Undertrained`, :class:`ScaledNormal`, :class:`Beta`, :class:`Binomial` or
    :class:`BetaBinomial`, or subclass it).

    A subclass defines :attr:`name`, :meth:`priors` and :meth:`distribution`; ``str(noise)``
    is its name.

    Attributes:
        location: A location family on the law's link scale: the law's error beyond the data
            moves a predictive draw by exactly its size there.
        counts: Scores a count's probability mass, not a density of the target: its log
            likelihood is not comparable with a density's.
    """

    location: ClassVar[bool] = True
    counts: ClassVar[bool] = False

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """The alias of this value (:func:`noise_of` reads it back)."""

    @abc.abstractmethod
    def priors(self) -> dict[str, dist.Distribution]:
        """The priors of the parameters the noise model adds, by site name."""

    @abc.abstractmethod
    def distribution(
        self,
        loc: Array,
        link: str,
        theta: Mapping[str, Array],
        x: Mapping[str, Array] | None = None,
    ) -> dist.Distribution:
        """The distribution of the observed target at the law's location ``loc`` (link scale),
        given the noise parameters ``theta`` and the inputs ``x`` (None: at their reference)."""

    @property
    def params(self) -> tuple[str, ...]:
        """Names of the parameters the noise model adds."""
        return tuple(self.priors())

    @property
    def normal_limit(self) -> dict[str, float] | None:
        """Values of :attr:`params` beyond ``sigma`` at which the model is one Normal on the
        link scale (how a point fit with Normal residuals fills them), or None if it has none."""
        return None

    def likelihood(self, loc: Array, link: str, x: Mapping[str, Array] | None = None):
        """Sample the noise parameters from their priors (NumPyro sites) and return
        :meth:`distribution` at them."""
        theta = {k: numpyro.sample(k, prior) for k, prior in self.priors().items()}
        return self.distribution(loc, link, theta, x)

    def __str__(self) -> str:
        return self.name


@dataclasses.dataclass(frozen=True)
class Normal(Noise):
    r"""Normal noise on the link scale (log-normal on the loss for ``link="log"``), the default.

    .. math:: g(y_i) \sim \mathcal N(\mu_i, \sigma^2), \qquad \sigma \sim \text{HalfNormal}(0.1)
    """

    @property
    def name(self) -> str:
        return "normal"

    def priors(self):
        return {"sigma": _SIGMA_PRIOR}

    def distribution(self, loc, link, theta, x=None):
        if link == "log":
            return dist.LogNormal(loc, theta["sigma"])
        return _location_dist(dist.Normal(loc, theta["sigma"]), link)

    @property
    def normal_limit(self):
        return {}


@dataclasses.dataclass(frozen=True)
class StudentT(Noise):
    r"""Student-t noise on the link scale: robust to outliers.

    .. math:: g(y_i) \sim t_\nu(\mu_i, \sigma), \qquad \nu \sim \text{Gamma}(2, 0.1)

    Args:
        df: Fixed degrees of freedom; None (default) learns :math:`\nu` with the Gamma(2, 0.1)
            prior of Juarez & Steel (2010).

    References:
        Juarez & Steel (2010), Model-based clustering of non-Gaussian panel data based on
        skew-t distributions, JBES 28(1).
    """

    df: float | None = None

    def __post_init__(self):
        if self.df is not None:
            _positive(self, "df", self.df)
            object.__setattr__(self, "df", float(self.df))

    @property
    def name(self) -> str:
        return "student_t" if self.df is None else f"student_t_{self.df:g}"

    def priors(self):
        if self.df is None:
            return {"sigma": _SIGMA_PRIOR, "nu": _NU_PRIOR}
        return {"sigma": _SIGMA_PRIOR}

    def distribution(self, loc, link, theta, x=None):
        nu = theta["nu"] if self.df is None else self.df
        return _location_dist(dist.StudentT(nu, loc, theta["sigma"]), link)

    @property
    def normal_limit(self):
        return {"nu": math.inf} if self.df is None else None


class _TwoComponentNormal(dist.Distribution):
    """A Normal at ``loc`` with scale ``scale`` that, for a share ``p`` of runs, is replaced by
    a second component set by one more positive argument, named by ``_second`` (the
    subclasses' public field name)."""

    support = dist.constraints.real
    _second: ClassVar[str]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.arg_constraints = {
            "loc": dist.constraints.real,
            "scale": dist.constraints.positive,
            "p": dist.constraints.unit_interval,
            cls._second: dist.constraints.positive,
        }
        cls.reparametrized_params = ["loc", "scale", cls._second]

    def __init__(self, loc, scale, p, second, *, validate_args=None):
        self.loc, self.scale, self.p, second = jnp.broadcast_arrays(loc, scale, p, second)
        setattr(self, self._second, second)
        super().__init__(batch_shape=jnp.shape(self.loc), validate_args=validate_args)


class ContaminatedNormal(_TwoComponentNormal):
    r"""Tukey's contaminated Normal: a run scatters by :math:`\sigma` with probability
    :math:`1 - p` and by a broader :math:`\tau` with probability :math:`p`.

    .. math::
        f(r) = (1 - p)\,\phi(r/\sigma)/\sigma + p\,\phi(r/\tau)/\tau

    A scale mixture with Normal tails: the noisier runs pull the law far less than under one
    Normal, but unlike a Student-t with small degrees of freedom the predictive has every
    moment, so exponentiated draws (a loss from a log-loss) stay finite.

    References:
        Tukey (1960), A survey of sampling from contaminated distributions, in Contributions to
        Probability and Statistics, Stanford University Press.
        Box & Tiao (1968), A Bayesian approach to some outlier problems, Biometrika 55(1).
    """

    _second = "bad_scale"

    def sample(self, key, sample_shape=()):
        k_bad, k_z = jax.random.split(key)
        shape = sample_shape + self.batch_shape
        bad = jax.random.bernoulli(k_bad, self.p, shape)
        z = jax.random.normal(k_z, shape)
        return self.loc + z * jnp.where(bad, self.bad_scale, self.scale)

    def log_prob(self, value):
        good = dist.Normal(self.loc, self.scale).log_prob(value)
        bad = dist.Normal(self.loc, self.bad_scale).log_prob(value)
        return jnp.logaddexp(jnp.log1p(-self.p) + good, jnp.log(self.p) + bad)

    def widened(self, extra_sd) -> ContaminatedNormal:
        """The mixture with its location blurred by ``N(0, extra_sd^2)``: both components'
        variances grow by ``extra_sd^2`` (exact)."""
        return ContaminatedNormal(
            self.loc,
            jnp.sqrt(self.scale**2 + extra_sd**2),
            self.p,
            jnp.sqrt(self.bad_scale**2 + extra_sd**2),
        )

    @property
    def mean(self):
        return self.loc

    @property
    def variance(self):
        return (1.0 - self.p) * self.scale**2 + self.p * self.bad_scale**2


@dataclasses.dataclass(frozen=True)
class Contaminated(Noise):
    r"""A contaminated Normal on the link scale: most runs scatter by :math:`\sigma`, a share
    :math:`p` (diverged, in the early plateau, badly tuned) by ``bad_scale`` times more.

    .. math::
        g(y_i) \sim (1 - p)\,\mathcal N(\mu_i, \sigma^2) + p\,\mathcal N(\mu_i, (r\sigma)^2),
        \qquad p \sim \text{Beta}(1, 4)

    Args:
        bad_scale: The noisier runs' scale relative to :math:`\sigma`, :math:`r > 1`, fixed.
            Tukey's contaminated Normal takes 3; 4 (the default) measured a little better on the
            forecast-truth ladders (``benchmarks/forecast_truth.py``). A learned ratio is
            identified by nothing on a clean ladder, and its funnel with the share slows the
            sampler.

    References:
        Tukey (1960); Box & Tiao (1968) (see :class:`ContaminatedNormal`).
    """

    bad_scale: float = 4.0

    def __post_init__(self):
        _positive(self, "bad_scale", self.bad_scale)
        if not self.bad_scale > 1:
            raise InvalidValueError(
                f"noise Contaminated: bad_scale must exceed 1 (the noisier runs' scale "
                f"relative to sigma), got {self.bad_scale!r}"
            )
        object.__setattr__(self, "bad_scale", float(self.bad_scale))

    @property
    def name(self) -> str:
        return "contaminated" if self.bad_scale == 4.0 else f"contaminated_{self.bad_scale:g}"

    def priors(self):
        return {"sigma": _SIGMA_PRIOR, "p_bad": _SHARE_PRIOR}

    def distribution(self, loc, link, theta, x=None):
        sigma = theta["sigma"]
        base = ContaminatedNormal(loc, sigma, theta["p_bad"], self.bad_scale * sigma)
        return _location_dist(base, link)

    @property
    def normal_limit(self):
        return {"p_bad": 0.0}


class UndertrainedNormal(_TwoComponentNormal):
    r"""Normal noise plus, with probability ``p``, a one-sided exponential excess.

    .. math::
        r = \varepsilon + b\,u, \quad \varepsilon \sim \mathcal N(0, \sigma^2),\
        b \sim \text{Bernoulli}(p),\ u \sim \text{Exponential}(\text{mean}=s)

    so on the log scale a run is the law plus noise, or (an undertrained run: too short a
    schedule, a bad learning rate) strictly worse by an excess of mean ``s``; never better. The
    density is the two-component mixture of a Normal and an exponentially modified Gaussian
    (EMG, rate :math:`\lambda = 1/s`):
    :math:`f(r) = (1-p)\,\phi(r/\sigma)/\sigma + p\,\lambda
    e^{\lambda^2\sigma^2/2 - \lambda r}\,\Phi(r/\sigma - \lambda\sigma)`.

    References:
        Grushka (1972), Characterization of exponentially modified Gaussian peaks,
        Anal. Chem. 44(11).
    """

    _second = "excess"

    def sample(self, key, sample_shape=()):
        k1, k2, k3 = jax.random.split(key, 3)
        shape = sample_shape + self.batch_shape
        eps = jax.random.normal(k1, shape) * self.scale
        under = jax.random.bernoulli(k2, self.p, shape)
        u = jax.random.exponential(k3, shape) * self.excess
        return self.loc + eps + jnp.where(under, u, 0.0)

    def log_prob(self, value):
        r = value - self.loc
        s, lam = self.scale, 1.0 / self.excess
        log_normal = dist.Normal(0.0, s).log_prob(r)
        log_emg = (
            jnp.log(lam)
            + 0.5 * (lam * s) ** 2
            - lam * r
            + jax.scipy.special.log_ndtr(r / s - lam * s)
        )
        return jnp.logaddexp(jnp.log1p(-self.p) + log_normal, jnp.log(self.p) + log_emg)

    @property
    def mean(self):
        return self.loc + self.p * self.excess


@dataclasses.dataclass(frozen=True)
class Undertrained(Noise):
    r"""Normal noise plus a one-sided excess for a share of runs (undertrained: too short a
    schedule, a bad learning rate), never better than the law (:class:`UndertrainedNormal`).

    .. math::
        p_\text{under} \sim \text{Beta}(1, 4), \qquad \text{excess} \sim \text{HalfNormal}(0.1)
    """

    @property
    def name(self) -> str:
        return "undertrained"

    def priors(self):
        return {"sigma": _SIGMA_PRIOR, "p_under": _SHARE_PRIOR, "excess": _EXCESS_PRIOR}

    def distribution(self, loc, link, theta, x=None):
        base = UndertrainedNormal(loc, theta["sigma"], theta["p_under"], theta["excess"])
        return _location_dist(base, link)


@dataclasses.dataclass(frozen=True)
class ScaledNormal(Noise):
    r"""Normal noise whose scale varies with the input ``input``.

    .. math::
        g(y_i) \sim \mathcal N\big(\mu_i,\ \sigma\,(x_i / x_0)^{\gamma}\big),
        \qquad \gamma \sim \mathcal N(0, 0.3)

    (``sigma_slope`` is :math:`\gamma`; :math:`x_0` is 1e9 for ``N``, 2e10 for ``D`` and
    ``U``, 1.2e20 for ``C``, else 1), so small runs may scatter more (or less) than large ones.

    Args:
        input: The law's input the scale varies with (``"N"``, ``"D"``, ``"C"``, ...).
    """

    input: str

    def __post_init__(self):
        if not (isinstance(self.input, str) and self.input.isidentifier()):
            raise InvalidValueError(
                f"noise ScaledNormal: input must be the name of one of the law's inputs, "
                f"got {self.input!r}"
            )

    @property
    def name(self) -> str:
        return f"scaled_{self.input}"

    def priors(self):
        return {"sigma": _SIGMA_PRIOR, "sigma_slope": _SIGMA_SLOPE_PRIOR}

    def distribution(self, loc, link, theta, x=None):
        ref = _NOISE_INPUT_REF.get(self.input, 1.0)
        if x is None:  # no inputs given (e.g. to read the noise priors): at x = x0
            x = {self.input: jnp.full(jnp.shape(loc), ref)}
        if self.input not in x:
            raise InvalidValueError(
                f"noise {self.name!r} varies with input {self.input!r}, which the law does not "
                f"read (its inputs: {tuple(x)})"
            )
        log_ratio = jnp.log(x[self.input]) - jnp.log(ref)
        scale = theta["sigma"] * jnp.exp(theta["sigma_slope"] * log_ratio)
        return _location_dist(dist.Normal(loc, scale), link)

    @property
    def normal_limit(self):
        return {"sigma_slope": 0.0}


# --- Accuracy-type targets in [0, 1] (downstream benchmarks): Beta and (beta-)binomial noise. ---
# The law's location is mapped to a mean accuracy mu (sigmoid for link="logit", clipped identity
# for "identity"). Dispersion is parameterised by ``sigma``, the approximate standard deviation of
# logit(y) around logit(mu): the Beta concentration is phi = 1/(sigma^2 mu (1-mu)), so that
# Var(y) = mu(1-mu)/(1+phi) = (sigma mu(1-mu))^2 / (1 + sigma^2 mu(1-mu)), i.e. sd(logit y) ~ sigma
# for small sigma (the delta method) and a smooth approach to the Bernoulli limit for large sigma.
# Scatter is then multiplicative near a floor or ceiling, as benchmark accuracies across models are.


def _mean_accuracy(loc: Array, link: str) -> Array:
    if link == "logit":
        mu = jax.nn.sigmoid(loc)
    elif link == "identity":
        mu = loc
    elif link == "log":
        mu = jnp.exp(loc)
    else:
        raise InvalidValueError(f"accuracy noise models for link {link!r} are not defined")
    return jnp.clip(mu, _EPS, 1.0 - _EPS)


def _beta_concentration(mu: Array, sigma: Array) -> Array:
    return 1.0 / (sigma**2 * mu * (1.0 - mu))


class _FractionOf(dist.Distribution):
    """A count distribution over ``0..n`` observed as the fraction ``k / n`` (an accuracy).

    ``log_prob(y) = base.log_prob(round(y * n))``: the probability mass of the count, with no
    Jacobian (the fraction is a relabelling of the count, not a change of density).
    """

    support = dist.constraints.unit_interval

    def __init__(self, base: dist.Distribution, n: int, *, validate_args=None):
        self.base, self.n = base, n
        super().__init__(batch_shape=base.batch_shape, validate_args=validate_args)

    def sample(self, key, sample_shape=()):
        return self.base.sample(key, sample_shape) / self.n

    def log_prob(self, value):
        return self.base.log_prob(jnp.round(value * self.n))

    @property
    def mean(self):
        return self.base.mean / self.n


@dataclasses.dataclass(frozen=True)
class Beta(Noise):
    """Beta noise on an accuracy (0 < y < 1 strictly): the likelihood when the number of
    questions is unknown. Mean ``mu`` = inverse link of the law's location; dispersion
    ``sigma``, the approximate sd of ``logit(y)`` around ``logit(mu)``, HalfNormal(1)."""

    location: ClassVar[bool] = False

    @property
    def name(self) -> str:
        return "beta"

    def priors(self):
        return {"sigma": _LOGIT_SIGMA_PRIOR}

    def distribution(self, loc, link, theta, x=None):
        mu = _mean_accuracy(loc, link)
        phi = _beta_concentration(mu, theta["sigma"])
        return dist.Beta(mu * phi, (1.0 - mu) * phi)


@dataclasses.dataclass(frozen=True)
class Binomial(Noise):
    """Binomial noise on a benchmark of ``n`` questions: the observed target is the accuracy
    ``k / n`` (forecasts stay on the accuracy scale, comparable with :class:`Beta`), its
    likelihood ``Binomial(n, mu)`` of the count ``k``. Accuracies of exactly 0 or 1 are fine.

    Across heterogeneous models the binomial's sampling noise alone (sd ~ 1/sqrt(n)) is far
    smaller than the scatter: :class:`BetaBinomial` is then the right choice.

    Args:
        n: Number of questions of the benchmark.
    """

    n: int
    location: ClassVar[bool] = False
    counts: ClassVar[bool] = True

    def __post_init__(self):
        _positive(self, "n", self.n, integer=True)
        object.__setattr__(self, "n", int(self.n))

    @property
    def name(self) -> str:
        return f"binomial_{self.n}"

    def priors(self):
        return {}

    def distribution(self, loc, link, theta, x=None):
        return _FractionOf(dist.Binomial(self.n, probs=_mean_accuracy(loc, link)), self.n)


@dataclasses.dataclass(frozen=True)
class BetaBinomial(Binomial):
    """Beta-binomial noise on a benchmark of ``n`` questions: :class:`Binomial` with the
    :class:`Beta` dispersion ``sigma`` (overdispersed counts, as across heterogeneous models)."""

    @property
    def name(self) -> str:
        return f"beta_binomial_{self.n}"

    def priors(self):
        return {"sigma": _LOGIT_SIGMA_PRIOR}

    def distribution(self, loc, link, theta, x=None):
        mu = _mean_accuracy(loc, link)
        phi = _beta_concentration(mu, theta["sigma"])
        return _FractionOf(dist.BetaBinomial(mu * phi, (1.0 - mu) * phi, self.n), self.n)


# Aliases: exact names, then the parametrised ones, each with the constructor of its argument.
_NAMED = {
    "normal": Normal,
    "student_t": StudentT,
    "contaminated": Contaminated,
    "undertrained": Undertrained,
    "beta": Beta,
}
_PATTERNS = (
    (re.compile(r"student_t_(.+)"), lambda v: StudentT(df=float(v))),
    (re.compile(r"contaminated_(.+)"), lambda v: Contaminated(bad_scale=float(v))),
    (re.compile(r"scaled_(\w+)"), ScaledNormal),
    (re.compile(r"binomial_(\d+)"), lambda v: Binomial(int(v))),
    (re.compile(r"beta_binomial_(\d+)"), lambda v: BetaBinomial(int(v))),
)
#: The aliases :func:`noise_of` reads (``<df>``, ``<ratio>``, ``<input>``, ``<n>`` filled in).
NOISE_NAMES = (
    *_NAMED,
    "student_t_<df>",
    "contaminated_<ratio>",
    "scaled_<input>",
    "binomial_<n>",
    "beta_binomial_<n>",
)


def noise_of(noise: Noise | str) -> Noise:
    """The noise model ``noise`` names (a :class:`Noise` is returned as it is).

    Args:
        noise: A :class:`Noise`, or an alias: ``"normal"``, ``"student_t"``,
            ``"student_t_<df>"``, ``"contaminated"``, ``"contaminated_<ratio>"``,
            ``"undertrained"``, ``"scaled_<input>"``, ``"beta"``, ``"binomial_<n>"`` or
            ``"beta_binomial_<n>"``.

    Raises:
        ValueError: For a name that is none of these, listing the choices.
    """
    if isinstance(noise, Noise):
        return noise
    if isinstance(noise, str):
        if noise in _NAMED:
            return _NAMED[noise]()
        for pattern, make in _PATTERNS:
            match = pattern.fullmatch(noise)
            if match:
                try:
                    return make(match.group(1))
                except ValueError:
                    break
    raise InvalidValueError(
        f"unknown noise model {noise!r}; choose a bayescale.Noise value (bs.Normal(), "
        f"bs.StudentT(), ...) or one of the names {', '.join(NOISE_NAMES)}"
    )


def binomial_noise(n_questions: int, *, overdispersed: bool = False) -> Binomial:
    """:class:`Binomial` (or, with ``overdispersed=True``, :class:`BetaBinomial`) noise for a
    benchmark of ``n_questions``: shorthand for ``bs.Binomial(n)`` / ``bs.BetaBinomial(n)``."""
    return (BetaBinomial if overdispersed else Binomial)(n_questions)


def scaled_noise(input_name: str) -> ScaledNormal:
    """:class:`ScaledNormal` noise varying with ``input_name``: shorthand for
    ``bs.ScaledNormal(input_name)``."""
    return ScaledNormal(input_name)
