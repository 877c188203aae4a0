"""From a law and a noise model to a NumPyro model.

The model is a plain function ``model(x, y=None, mask=None)``: with ``y=None`` it is the prior
(or, conditioned on posterior draws, the posterior) predictive; with ``y`` given it is the
likelihood the sampler targets. One function serves prior, fit and prediction.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from jaxtyping import Array, Bool, Float

from ._law import Law

__all__ = ["NOISE_MODELS", "build_model", "noise_params", "OBS_SITE", "binomial_noise"]

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


# --- Accuracy-type targets in [0, 1] (downstream benchmarks): Beta and (beta-)binomial noise. ---
# The law's location is mapped to a mean accuracy mu (sigmoid for link="logit", clipped identity
# for "identity"). Dispersion is parameterised by ``sigma``, the approximate standard deviation of
# logit(y) around logit(mu): the Beta concentration is phi = 1/(sigma^2 mu (1-mu)), so that
# Var(y) = mu(1-mu)/(1+phi) = (sigma mu(1-mu))^2 / (1 + sigma^2 mu(1-mu)), i.e. sd(logit y) ~ sigma
# for small sigma (the delta method) and a smooth approach to the Bernoulli limit for large sigma.
# Scatter is then multiplicative near a floor or ceiling, as benchmark accuracies across models are.
# HalfNormal(1) on sigma: cross-model scatter of benchmark accuracies is 0.1-1 on the logit scale.
_LOGIT_SIGMA_PRIOR = dist.HalfNormal(1.0)
_EPS = 1e-9


def _mean_accuracy(loc: Array, link: str) -> Array:
    if link == "logit":
        mu = jax.nn.sigmoid(loc)
    elif link == "identity":
        mu = loc
    elif link == "log":
        mu = jnp.exp(loc)
    else:
        raise ValueError(f"accuracy noise models for link {link!r} are not defined")
    return jnp.clip(mu, _EPS, 1.0 - _EPS)


def _beta_concentration(mu: Array, sigma: Array) -> Array:
    return 1.0 / (sigma**2 * mu * (1.0 - mu))


def _beta(loc: Array, link: str) -> dist.Distribution:
    """Beta on the accuracy itself (0 < y < 1 strictly): the likelihood when the number of
    questions is unknown. Mean mu = inverse-link(loc); dispersion ``sigma`` (see above)."""
    sigma = numpyro.sample("sigma", _LOGIT_SIGMA_PRIOR)
    mu = _mean_accuracy(loc, link)
    phi = _beta_concentration(mu, sigma)
    return dist.Beta(mu * phi, (1.0 - mu) * phi)


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


def binomial_noise(n_questions: int, *, overdispersed: bool = False) -> str:
    """Register a binomial (or beta-binomial) noise model for a benchmark of ``n_questions``.

    The observed target is the accuracy ``k / n_questions`` (so forecasts stay on the accuracy
    scale, comparable with ``"beta"``); its likelihood is ``Binomial(n_questions, mu)`` of the
    count ``k``. With ``overdispersed=True`` the count is ``BetaBinomial`` with the Beta
    dispersion ``sigma`` of ``"beta"`` — the right choice across heterogeneous models, where the
    binomial's sampling noise alone (sd ~ 1/sqrt(n)) is far smaller than the scatter. Accuracies
    of exactly 0 or 1 are fine here (not with ``"beta"``).

    The engine's noise interface sees only the law's location, so the count is part of the noise
    model's name: one count per fit (one benchmark). ``"binomial_<n>"`` and
    ``"beta_binomial_<n>"`` for the common sizes 100, 1000 and 2000 are pre-registered; call this
    function before loading a saved fit that used another size.

    Args:
        n_questions: Number of questions of the benchmark (positive integer).
        overdispersed: Beta-binomial instead of binomial.

    Returns:
        The noise model's name, to pass as ``fit(..., noise=name)``.
    """
    n = int(n_questions)
    if n != n_questions or n < 1:
        raise ValueError(f"n_questions must be a positive integer, got {n_questions!r}")

    if overdispersed:
        name = f"beta_binomial_{n}"

        def likelihood(loc: Array, link: str) -> dist.Distribution:
            sigma = numpyro.sample("sigma", _LOGIT_SIGMA_PRIOR)
            mu = _mean_accuracy(loc, link)
            phi = _beta_concentration(mu, sigma)
            return _FractionOf(dist.BetaBinomial(mu * phi, (1.0 - mu) * phi, n), n)

        NOISE_MODELS[name] = (likelihood, ("sigma",))
    else:
        name = f"binomial_{n}"

        def likelihood(loc: Array, link: str) -> dist.Distribution:
            mu = _mean_accuracy(loc, link)
            return _FractionOf(dist.Binomial(n, probs=mu), n)

        NOISE_MODELS[name] = (likelihood, ())
    return name


NOISE_MODELS["beta"] = (_beta, ("sigma",))
for _n in (100, 1000, 2000):
    binomial_noise(_n)
    binomial_noise(_n, overdispersed=True)


def noise_params(noise: str) -> tuple[str, ...]:
    """Names of the parameters a noise model adds."""
    return NOISE_MODELS[check_noise(noise)][1]


def is_count_noise(noise: str) -> bool:
    """Whether ``noise`` scores a count's probability mass (binomial families) rather than a
    density of the target: the two log likelihoods are on different scales."""
    return noise.startswith(("binomial_", "beta_binomial_"))


def check_noise(noise: str) -> str:
    if noise not in NOISE_MODELS:
        raise ValueError(f"unknown noise model {noise!r}; choose one of {sorted(NOISE_MODELS)}")
    return noise


def build_model(law: Law, noise: str = "normal") -> Callable[..., None]:
    """The NumPyro model of ``law`` observed through ``noise``.

    Args:
        law: The scaling law.
        noise: ``"normal"`` (Normal on log-loss, the default), ``"contaminated"`` or
            ``"student_t"`` (robust), or another registered model.

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
        # Noise models that read inputs (scale-dependent variance) set ``uses_inputs``.
        if getattr(likelihood, "uses_inputs", False):
            obs_dist = likelihood(loc, law.link, x)
        else:
            obs_dist = likelihood(loc, law.link)
        with numpyro.plate("rows", n), numpyro.handlers.mask(mask=True if mask is None else mask):
            numpyro.sample(OBS_SITE, obs_dist, obs=y)

    model.__doc__ = f"NumPyro model: {law.formula}, {noise} noise on the {law.link} scale."
    return model


# --- Scale-dependent variance and one-sided "undertrained run" noise. ---
# Reference scales of the inputs a noise scale may vary with (the centring of the catalog laws).
_NOISE_INPUT_REF = {"N": 1e9, "D": 2e10, "C": 1.2e20, "U": 2e10}
# Slope of log sigma per unit of log input: Normal(0, 0.3) lets sigma change by up to ~2x per
# decade (2 sd), either way.
_SIGMA_SLOPE_PRIOR = dist.Normal(0.0, 0.3)
# One-sided excess of an undertrained run on log-loss: P(undertrained) ~ Beta(1, 4) (mean 0.2),
# mean excess ~ HalfNormal(0.1) (up to ~20% worse loss).
_P_UNDER_PRIOR = dist.Beta(1.0, 4.0)
_EXCESS_PRIOR = dist.HalfNormal(0.1)


def scaled_noise(input_name: str) -> str:
    r"""Register Normal noise whose scale varies with the input ``input_name``.

    .. math::
        \log y_i \sim \mathcal N\big(\mu_i,\ \sigma\,(x_i / x_0)^{\gamma}\big),
        \qquad \gamma \sim \mathcal N(0, 0.3)

    (``sigma_slope`` is :math:`\gamma`; :math:`x_0` is 1e9 for ``N``, 2e10 for ``D``, 1.2e20
    for ``C``, else 1), so small runs may scatter more (or less) than large ones. ``"scaled_N"``,
    ``"scaled_D"`` and ``"scaled_C"`` are pre-registered.

    Returns:
        The noise model's name, ``"scaled_<input_name>"``.
    """
    name = f"scaled_{input_name}"
    ref = _NOISE_INPUT_REF.get(input_name, 1.0)

    def likelihood(loc: Array, link: str, x=None) -> dist.Distribution:
        if x is None:  # traced without inputs (e.g. to read the noise priors): at x = x0
            x = {input_name: jnp.full(jnp.shape(loc), ref)}
        if input_name not in x:
            raise ValueError(
                f"noise {name!r} varies with input {input_name!r}, which the law does not "
                f"read (its inputs: {tuple(x)})"
            )
        sigma = numpyro.sample("sigma", _SIGMA_PRIOR)
        slope = numpyro.sample("sigma_slope", _SIGMA_SLOPE_PRIOR)
        scale = sigma * jnp.exp(slope * (jnp.log(x[input_name]) - jnp.log(ref)))
        return _location_dist(dist.Normal(loc, scale), link)

    likelihood.uses_inputs = True
    NOISE_MODELS[name] = (likelihood, ("sigma", "sigma_slope"))
    return name


for _inp in ("N", "D", "C"):
    scaled_noise(_inp)


class UndertrainedNormal(dist.Distribution):
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

    support = dist.constraints.real
    arg_constraints = {
        "loc": dist.constraints.real,
        "scale": dist.constraints.positive,
        "p": dist.constraints.unit_interval,
        "excess": dist.constraints.positive,
    }
    reparametrized_params = ["loc", "scale", "excess"]

    def __init__(self, loc, scale, p, excess, *, validate_args=None):
        self.loc, self.scale, self.p, self.excess = jnp.broadcast_arrays(loc, scale, p, excess)
        super().__init__(batch_shape=jnp.shape(self.loc), validate_args=validate_args)

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


def _undertrained(loc: Array, link: str) -> dist.Distribution:
    sigma = numpyro.sample("sigma", _SIGMA_PRIOR)
    p = numpyro.sample("p_under", _P_UNDER_PRIOR)
    excess = numpyro.sample("excess", _EXCESS_PRIOR)
    return _location_dist(UndertrainedNormal(loc, sigma, p, excess), link)


NOISE_MODELS["undertrained"] = (_undertrained, ("sigma", "p_under", "excess"))


# --- Contaminated Normal: most runs scatter around the law by sigma, a few (diverged, in the
# early plateau, badly tuned) by several times more. ---
# Share of the noisier runs ~ Beta(1, 4) (mean 0.2, as the undertrained share above): datablations'
# runs on 1e8-4e8 tokens are 12 of its 62, and clean ladders put the share near 0.03.
_P_BAD_PRIOR = dist.Beta(1.0, 4.0)
# Their scale relative to sigma, fixed: Tukey's contaminated Normal takes 3; 4 measured a little
# better on the forecast-truth ladders (benchmarks/forecast_truth.py). A learned ratio is
# identified by nothing on a clean ladder, and its funnel with the share slows the sampler.
BAD_SCALE_RATIO = 4.0


class ContaminatedNormal(dist.Distribution):
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

    support = dist.constraints.real
    arg_constraints = {
        "loc": dist.constraints.real,
        "scale": dist.constraints.positive,
        "p": dist.constraints.unit_interval,
        "bad_scale": dist.constraints.positive,
    }
    reparametrized_params = ["loc", "scale", "bad_scale"]

    def __init__(self, loc, scale, p, bad_scale, *, validate_args=None):
        self.loc, self.scale, self.p, self.bad_scale = jnp.broadcast_arrays(
            loc, scale, p, bad_scale
        )
        super().__init__(batch_shape=jnp.shape(self.loc), validate_args=validate_args)

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


def _contaminated(loc: Array, link: str) -> dist.Distribution:
    sigma = numpyro.sample("sigma", _SIGMA_PRIOR)
    p = numpyro.sample("p_bad", _P_BAD_PRIOR)
    return _location_dist(ContaminatedNormal(loc, sigma, p, BAD_SCALE_RATIO * sigma), link)


NOISE_MODELS["contaminated"] = (_contaminated, ("sigma", "p_bad"))
