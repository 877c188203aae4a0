r"""The law's own error beyond the data: a discrepancy that widens with extrapolation.

A posterior conditional on a law form carries the noise's uncertainty and the parameters', but
none of the form's own misspecification, and that is what grows with distance beyond the data:
measured on public ladders (Chinchilla, Farseer, Gemstones, datablations; fit below a compute
cutoff, forecast above), the log-loss residuals of held-out runs grow roughly linearly with the
decades of compute beyond the largest training run, by 0.02-0.06 per decade, and share a sign
on each ladder, while the fitted noise scale is 0.005-0.02. The forecast model is therefore

.. math::
    \log y = \mu(x; \theta) + \delta(x) + \varepsilon, \qquad
    \delta(x) \mid b, \kappa \sim \mathcal N\big(b\, d(x),\ (\kappa\, d(x))^2\big),

with :math:`\varepsilon` the fitted noise and :math:`d(x)` the distance of :math:`x` beyond the
training data in decades (:func:`distance`): the largest of the decades outside the data's range
of each input, above its largest or below its smallest value, and of the decades outside the
range of the runs' scale :math:`s(x)` (compute :math:`N D` for a law of ``N`` and ``D``;
:math:`N S` for ``N`` and ``S``; ``C`` itself; otherwise the product of the inputs). Inside the
data :math:`d = 0` and the model is the fitted one: the training likelihood and the sampler do
not change, the discrepancy only widens (and re-centres) forecasts beyond the data.

The drift :math:`b` and the spread :math:`\kappa` (link-scale units, log-loss for a loss law,
per decade) are learned from the training ladder itself by nested leave-future-out: for each
inner holdout fraction :math:`h` the law is refitted (Laplace approximation at the mode found by
L-BFGS from the outer fit's posterior medians, on the fit's own padded rows, masked, so every
fold reuses one compiled function) to the runs below the :math:`1 - h` quantile of :math:`s`,
and the runs above it are scored by their log predictive density on a grid of
:math:`(b, \kappa)`:

.. math::
    \log p(b, \kappa \mid \text{folds}) = \log p(b) + \log p(\kappa) + \sum_f w_f
    \sum_{i \in f} \log \frac1S \sum_s p\big(y_i \mid \theta_s^{(f)}, b, \kappa\big) + c,

with priors :math:`b \sim \mathcal N(0, 0.03)`, :math:`\kappa \sim \text{HalfNormal}(0.05)` and
fold weights :math:`w_f = \min(1, 30 / n_f)`: neighbouring runs share the law's error (a smooth
function of :math:`x`), so a fold's :math:`n_f` rows count as at most 30 independent ones and the
posterior does not collapse on one ladder's particular bend. Forecast draws mix over this
posterior: draw :math:`s` gets :math:`(b_s, \kappa_s)` and one standard normal :math:`z_s`, and
:math:`\delta_s(x) = (b_s + \kappa_s z_s)\, d(x)` (one smooth bend per draw; the marginal
intervals do not depend on that choice). The density of a held-out run integrates
:math:`\delta` analytically for Normal noise on the link scale, with the Student-t scale widened
the same way for Student-t noise (an approximation), and by Gauss-Hermite quadrature for any
other noise model.

The inner holdouts (0.1, 0.3), the fold weight cap and the priors were chosen on Laplace fits of
splits of four ladders (Chinchilla, Farseer, Gemstones, datablations). ``benchmarks/
forecast_truth.py`` measures the result on six (README, "How far to trust an extrapolated
interval"): pooled 90% coverage of held-out runs 0.87 (0.45 without the law's error), better
interval scores than Epoch's bootstrap on Chinchilla, Farseer and Gemstones, worse on
datablations and the GPT-3 learning curves, where the learned drift over-corrects.

Why not a Gaussian process over :math:`(\log N, \log D)`: conditioned jointly with the law it
changes the training likelihood (cubic in rows: a 24,000-row ladder is out of reach, and the
sampler slows everywhere), and a stationary kernel's variance saturates at its prior variance
outside the data instead of growing with distance, which is what held-out residuals do.

References:
    Kennedy & O'Hagan (2001), Bayesian calibration of computer models, JRSS B 63(3) (the model
    discrepancy term).
    Burkner, Gabry & Vehtari (2020), Approximate leave-future-out cross-validation for Bayesian
    time series models, J. Stat. Comput. Simul. 90(14).
    Tierney & Kadane (1986), Accurate approximations for posterior moments and marginal
    densities, JASA 81 (the Laplace approximation).
    Gneiting & Raftery (2007), Strictly proper scoring rules, prediction, and estimation, JASA
    102 (the log score as the criterion).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from numpyro import handlers

from ._allocation import optimal_runs
from ._compiled import MAX_PROGRAMS
from ._data import PLAUSIBLE_MAX
from ._errors import InvalidValueError
from ._law import Law, Parameter
from ._model import OBS_SITE, build_model
from ._noise import ContaminatedNormal, Noise

__all__ = [
    "Discrepancy",
    "calibrate",
    "distance",
    "log_density",
    "log_scale",
    "scale_inputs",
]

#: Inner holdout fractions of the nested leave-future-out (one inner fold each).
DEFAULT_HOLDOUTS = (0.1, 0.3)
#: Prior scale of kappa (log-loss per decade of extrapolation): HalfNormal(0.05) puts half its
#: mass below 0.034 per decade (3.4% of loss per decade) and 95% below 0.11.
PRIOR_SCALE = 0.05
#: Prior sd of the drift b (log-loss per decade): Normal(0, 0.03).
DRIFT_SCALE = 0.03
#: Most independent rows one inner fold counts as (its log density is tempered beyond that).
FOLD_WEIGHT_CAP = 30
#: Grids of kappa and b on which their posterior is computed.
KAPPA_GRID = np.geomspace(1e-3, 0.5, 46)
DRIFT_GRID = np.linspace(-0.12, 0.12, 49)
#: Laplace draws per inner fold, and the most held-out rows scored per fold (evenly spaced in
#: scale: a 24,000-row ladder's learning curves are dense and strongly correlated).
NUM_DRAWS = 200
MAX_SCORED = 256
_GH_NODES = 32  # Gauss-Hermite nodes for noise models without a closed-form widening
_MIN_CURVATURE = 1e-2  # floor on the Hessian's eigenvalues at an inner fold's mode

_SHIFT = "_discrepancy_shift"  # per draw: kappa_s * z_s (log-loss per decade)
_DIST = "_discrepancy_distance"  # per point: d(x) in decades


# ----------------------------------------------------------------------------- distance
def _base_inputs(law: Law) -> tuple[str, ...]:
    """The law's inputs that have a range (a grouped law's group codes do not)."""
    from ._hierarchical import group_spec

    spec = group_spec(law)
    return spec.base.inputs if spec is not None else law.inputs


def scale_inputs(law: Law) -> tuple[str, ...]:
    """The inputs whose product orders runs by scale: ``C``; ``N, D`` (compute); ``N, S``;
    else all the law's inputs (one input: that input)."""
    inputs = _base_inputs(law)
    if "C" in inputs:
        return ("C",)
    for pair in (("N", "D"), ("N", "S")):
        if set(pair) <= set(inputs):
            return pair
    return inputs


def log_scale(law: Law, x: Mapping[str, Any]) -> np.ndarray:
    """``log10`` of the runs' scale :math:`s(x)` (see :func:`scale_inputs`)."""
    return sum(np.log10(np.asarray(x[k], np.float64)) for k in scale_inputs(law))


def distance(law: Law, reference: Mapping[str, Any], x: Mapping[str, Any]) -> np.ndarray:
    """Decades by which inputs ``x`` lie beyond the runs ``reference`` (0 inside their ranges).

    The largest of: for each input with a range, the decades above its largest or below its
    smallest value in ``reference``; and the same for the scale :math:`s(x)`
    (:func:`log_scale`), so a run of large ``N`` and large ``D`` that no training run reached
    in compute is beyond the data even when each input alone is inside its range.
    """
    n = len(np.atleast_1d(next(iter(x.values()))))
    d = np.zeros(n)
    for k in _base_inputs(law):
        a = np.log10(np.asarray(x[k], np.float64))
        r = np.log10(np.asarray(reference[k], np.float64))
        d = np.maximum.reduce([d, a - r.max(), r.min() - a])
    s, r = log_scale(law, x), log_scale(law, reference)
    return np.maximum.reduce([d, s - r.max(), r.min() - s])


# ----------------------------------------------------------------------------- the value
@dataclasses.dataclass(frozen=True)
class Discrepancy:
    r"""The posterior of the law's error per decade beyond the data, on a grid of cells.

    :math:`\delta(x) \mid b, \kappa \sim \mathcal N(b\, d(x), (\kappa\, d(x))^2)` on the link
    scale (log-loss for a loss law); see :mod:`bayescale._discrepancy`.

    Attributes:
        drift: :math:`b` of each cell (link-scale units per decade; negative: the runs beyond
            the data came out lower than the law says).
        kappa: :math:`\kappa` of each cell (link-scale units per decade).
        prob: Posterior probability of each cell (sums to 1).
        source: ``"nested_lfo"`` (learned from the fit's own ladder), ``"prior"`` (too few rows
            for an inner fold: the priors alone) or ``"fixed"`` (given by hand).
        holdouts: Inner holdout fractions that were scored.
        n_scored: Held-out rows scored over all inner folds.
    """

    drift: tuple[float, ...]
    kappa: tuple[float, ...]
    prob: tuple[float, ...]
    source: str = "fixed"
    holdouts: tuple[float, ...] = ()
    n_scored: int = 0

    def __post_init__(self) -> None:
        drift = np.asarray(self.drift, np.float64).reshape(-1)
        kappa = np.asarray(self.kappa, np.float64).reshape(-1)
        prob = np.asarray(self.prob, np.float64).reshape(-1)
        if not (drift.size == kappa.size == prob.size > 0):
            raise InvalidValueError(
                "Discrepancy: drift, kappa and prob must be non-empty, one length"
            )
        if not (np.all(np.isfinite(drift)) and np.all(np.isfinite(kappa)) and np.all(kappa >= 0)):
            raise InvalidValueError("Discrepancy: drift must be finite and kappa finite and >= 0")
        if not (np.all(np.isfinite(prob)) and np.all(prob >= 0) and prob.sum() > 0):
            raise InvalidValueError("Discrepancy: prob must be finite, >= 0 and not all 0")
        object.__setattr__(self, "drift", tuple(drift.tolist()))
        object.__setattr__(self, "kappa", tuple(kappa.tolist()))
        object.__setattr__(self, "prob", tuple((prob / prob.sum()).tolist()))
        object.__setattr__(self, "holdouts", tuple(float(h) for h in self.holdouts))
        object.__setattr__(self, "n_scored", int(self.n_scored))

    @classmethod
    def fixed(cls, kappa: float, drift: float = 0.0) -> Discrepancy:
        r"""A discrepancy with :math:`\kappa` (and :math:`b`) known, e.g. ``kappa=0.03``: the
        law errs by about 3% of the loss per decade beyond the data."""
        return cls(drift=(float(drift),), kappa=(float(kappa),), prob=(1.0,), source="fixed")

    def _quantile(self, values: tuple[float, ...], q: float) -> float:
        v = np.asarray(values)
        order = np.argsort(v, kind="stable")
        cdf = np.cumsum(np.asarray(self.prob)[order])
        return float(v[order][min(np.searchsorted(cdf, q), len(cdf) - 1)])

    def quantile(self, q: float, of: str = "kappa") -> float:
        r"""Posterior quantile ``q`` of ``"kappa"`` or ``"drift"`` (on the grid)."""
        if of not in ("kappa", "drift"):
            raise InvalidValueError(f"of must be 'kappa' or 'drift', got {of!r}")
        return self._quantile(getattr(self, of), q)

    def sample(self, rng_key: jax.Array, num: int) -> tuple[np.ndarray, np.ndarray]:
        r"""``num`` draws of :math:`(b, \kappa)` from the cells by their probability."""
        idx = _numpy_rng(rng_key).choice(len(self.prob), size=num, p=np.asarray(self.prob))
        return np.asarray(self.drift)[idx], np.asarray(self.kappa)[idx]

    def shifts(self, rng_key: jax.Array, num: int) -> np.ndarray:
        r""":math:`b_s + \kappa_s z_s` for ``num`` draws: the law's error per decade at each
        draw (the forecast adds it times the distance)."""
        drift, kappa = self.sample(rng_key, num)
        z = _numpy_rng(jax.random.fold_in(rng_key, 1)).standard_normal(num)
        return drift + kappa * z

    def to_json(self) -> str:
        """The value as JSON (what :meth:`Posterior.save` stores); cells of probability below
        1e-9 are left out."""
        keep = [i for i, p in enumerate(self.prob) if p > 1e-9]
        return json.dumps(
            {
                "drift": [self.drift[i] for i in keep],
                "kappa": [self.kappa[i] for i in keep],
                "prob": [self.prob[i] for i in keep],
                "source": self.source,
                "holdouts": list(self.holdouts),
                "n_scored": self.n_scored,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Discrepancy:
        """The value :meth:`to_json` wrote."""
        d = json.loads(text)
        return cls(
            drift=tuple(d["drift"]),
            kappa=tuple(d["kappa"]),
            prob=tuple(d["prob"]),
            source=str(d["source"]),
            holdouts=tuple(d.get("holdouts", ())),
            n_scored=int(d.get("n_scored", 0)),
        )

    def __repr__(self) -> str:
        return (
            f"Discrepancy(per decade beyond the data: drift {self.quantile(0.5, 'drift'):+.3g} "
            f"[{self.quantile(0.05, 'drift'):+.3g}, {self.quantile(0.95, 'drift'):+.3g}], "
            f"kappa {self.quantile(0.5):.3g} [{self.quantile(0.05):.3g}, "
            f"{self.quantile(0.95):.3g}] (90%); {self.source}"
            + (f", {self.n_scored} held-out rows scored" if self.n_scored else "")
            + ")"
        )


def _numpy_rng(rng_key: jax.Array) -> np.random.Generator:
    """A NumPy generator seeded by a JAX key (small draws without compiling JAX ops)."""
    return np.random.default_rng(np.asarray(jax.random.key_data(rng_key)).astype(np.uint32))


def _cells() -> tuple[np.ndarray, np.ndarray]:
    """The ``(drift, kappa)`` grid, flattened to cells."""
    drift, kappa = np.meshgrid(DRIFT_GRID, KAPPA_GRID, indexing="ij")
    return drift.reshape(-1), kappa.reshape(-1)


def _log_prior(drift: np.ndarray, kappa: np.ndarray, prior_scale: float) -> np.ndarray:
    """Log prior mass of each cell: Normal(0, DRIFT_SCALE) on b (an even grid) times
    HalfNormal(prior_scale) on kappa, with the log grid's Jacobian (d kappa = kappa d log kappa)."""
    return -0.5 * (drift / DRIFT_SCALE) ** 2 - 0.5 * (kappa / prior_scale) ** 2 + np.log(kappa)


def prior_discrepancy(prior_scale: float = PRIOR_SCALE) -> Discrepancy:
    """The priors alone on the grid (a ladder too small for an inner fold)."""
    drift, kappa = _cells()
    log_p = _log_prior(drift, kappa, prior_scale)
    return Discrepancy(drift, kappa, np.exp(log_p - log_p.max()), source="prior")


# ----------------------------------------------------------------------------- densities
@functools.cache
def shifted_law(law: Law) -> Law:
    """``law`` whose location is moved by ``shift * distance``: a parameter site and an input
    the forecast and scoring code fill in (the fit never sees this law)."""

    def mean_fn(theta, x):
        return law.mean(theta, x) + theta[_SHIFT] * x[_DIST]

    return Law(
        name=law.name,
        inputs=(*law.inputs, _DIST),
        params=(*law.params, Parameter(_SHIFT, dist.Normal(0.0, 1.0))),
        mean_fn=mean_fn,
        formula=law.formula,
        target=law.target,
        link=law.link,
        min_rows=law.min_rows,
    )


def _obs_fn(model, params, x):
    tr = handlers.trace(handlers.substitute(handlers.seed(model, 0), data=params)).get_trace(x=x)
    return tr[OBS_SITE]["fn"]


def _widened_log_prob(fn, extra_sd, y):
    """``log p(y)`` of ``fn`` with its link-scale location blurred by ``N(0, extra_sd^2)``:
    exact for Normal noise and for both scales of the contaminated Normal, a widened scale for
    Student-t; None for other families."""
    base, transforms = fn, None
    if isinstance(fn, dist.TransformedDistribution):
        base, transforms = fn.base_dist, fn.transforms
    if type(base) is dist.Normal:
        widened = dist.Normal(base.loc, jnp.sqrt(base.scale**2 + extra_sd**2))
    elif type(base) is dist.StudentT:
        widened = dist.StudentT(base.df, base.loc, jnp.sqrt(base.scale**2 + extra_sd**2))
    elif isinstance(base, ContaminatedNormal):
        widened = base.widened(extra_sd)
    else:
        return None
    if transforms is not None:
        widened = dist.TransformedDistribution(widened, transforms)
    return widened.log_prob(y)


@functools.lru_cache(maxsize=MAX_PROGRAMS)
def _density_fn(law: Law, noise: Noise):
    model = build_model(shifted_law(law), noise)
    nodes, weights = np.polynomial.hermite_e.hermegauss(_GH_NODES)
    log_w = jnp.asarray(np.log(weights / weights.sum()))
    nodes = jnp.asarray(nodes)

    def one(params, drift, kappa, x, y, d):
        # (n,) log density of y at one draw, delta ~ N(drift d, (kappa d)^2) integrated out
        xd = {**x, _DIST: d}
        fn = _obs_fn(model, {**params, _SHIFT: drift}, xd)
        out = _widened_log_prob(fn, kappa * d, y)
        if out is not None:
            return out

        def at(z):
            return _obs_fn(model, {**params, _SHIFT: drift + kappa * z}, xd).log_prob(y)

        return jax.nn.logsumexp(jax.vmap(at)(nodes) + log_w[:, None], axis=0)

    return jax.jit(jax.vmap(one, in_axes=(0, 0, 0, None, None, None)))


def log_density(
    law: Law,
    noise: Noise,
    theta: Mapping[str, Any],
    x: Mapping[str, Any],
    y: Any,
    d: Any,
    drift: Any = 0.0,
    kappa: Any = 0.0,
) -> np.ndarray:
    r"""Pointwise :math:`\log p(y_i \mid \theta_s, b_s, \kappa_s)`, the discrepancy
    :math:`\delta_i \sim \mathcal N(b_s d_i, (\kappa_s d_i)^2)` integrated out:
    ``(draws, points)``.

    Args:
        law: The fitted law.
        noise: Its noise model.
        theta: Draws of every latent site (the law's and the noise's), leading axis the draws.
        x: The law's inputs at the points.
        y: Observed targets at the points (raw scale).
        d: Distance beyond the data per point (decades; 0 gives the model's own density).
        drift: :math:`b`, one per draw or one for all.
        kappa: :math:`\kappa`, one per draw or one for all.
    """
    theta = {k: jnp.asarray(v) for k, v in theta.items()}
    s = next(iter(theta.values())).shape[0]
    drift = jnp.broadcast_to(jnp.asarray(drift, jnp.float64), (s,))
    kappa = jnp.broadcast_to(jnp.asarray(kappa, jnp.float64), (s,))
    xj = {k: jnp.asarray(np.asarray(v, np.float64)) for k, v in x.items()}
    yj = jnp.asarray(np.asarray(y, np.float64))
    return np.asarray(
        _density_fn(law, noise)(theta, drift, kappa, xj, yj, jnp.asarray(d, jnp.float64))
    )


def predictive(
    law: Law,
    noise: Noise,
    theta: Mapping[str, Any],
    x: Mapping[str, Any],
    shifts: np.ndarray,
    d: np.ndarray,
    rng_key: jax.Array,
) -> np.ndarray:
    r"""Predictive draws ``(draws, points)`` of the target with the law's error
    :math:`\delta_s(x) = \text{shift}_s\, d(x)` added to the location before the noise."""
    from numpyro.infer import Predictive

    model = build_model(shifted_law(law), noise)
    samples = {k: jnp.asarray(v) for k, v in theta.items()}
    samples[_SHIFT] = jnp.asarray(shifts, jnp.float64)
    xj = {k: jnp.asarray(np.asarray(v, np.float64)) for k, v in x.items()}
    xj[_DIST] = jnp.asarray(d, jnp.float64)
    out = Predictive(model, posterior_samples=samples, return_sites=[OBS_SITE])(rng_key, xj)
    return np.asarray(out[OBS_SITE])


# ----------------------------------------------------------------------------- calibration
@functools.lru_cache(maxsize=MAX_PROGRAMS)
def _nested_runner(law: Law, noise: Noise, num_draws: int, num_inits: int):
    """Jitted Laplace refit of a masked subset of one padded dataset.

    ``run(rng_key, start, x, y, mask) -> (draws, ok)``: L-BFGS from ``start`` (constrained
    values of every latent site, e.g. the outer fit's posterior medians) or, for
    ``start=None``, from ``num_inits`` draws of Uniform(-2, 2) in unconstrained space (numpyro's
    ``init_to_uniform``), the lowest potential kept; then ``num_draws`` draws of the Laplace
    approximation there (Hessian eigenvalues floored, so the draws always exist).
    """
    from jax.flatten_util import ravel_pytree
    from numpyro.infer.util import unconstrain_fn

    from ._approx import lbfgs_minimize, make_target

    def run(rng_key, start, x, y, mask):
        target = make_target(law, noise, x, y, mask)
        k_start, k_draw = jax.random.split(rng_key)

        def minimize(u0):
            return lbfgs_minimize(target.potential, u0, max_iter=1000, tol=1e-6)[:2]

        if start is None:
            starts = jax.random.uniform(k_start, (num_inits, target.dim), minval=-2.0, maxval=2.0)
            us, values = jax.vmap(minimize)(starts)
            u = us[jnp.argmin(values)]
        else:  # one start near the mode: no multi-start batch to trace
            u = minimize(ravel_pytree(unconstrain_fn(target.model, (), target.kwargs, start))[0])[0]
        hess = jax.hessian(target.potential)(u)
        evals, evecs = jnp.linalg.eigh(0.5 * (hess + hess.T))
        scale = evecs / jnp.sqrt(jnp.maximum(evals, _MIN_CURVATURE))
        z = jax.random.normal(k_draw, (num_draws, target.dim))
        draws = jax.vmap(target.constrain)(u + z @ scale.T)
        ok = jnp.all(jnp.isfinite(u)) & jnp.all(jnp.isfinite(scale))
        return draws, ok

    return jax.jit(run)


# Per-decade errors u at which a noise model without a closed-form widening is tabulated for
# the calibration grid, even in t = asinh(u / _U_WIDTH): 0.0035 apart near u = 0, 1.4% of
# |u| apart beyond (a row's density peaks where u is its residual over its distance, and is
# as wide there, so the relative spacing bounds the interpolation error). Every Gauss-Hermite
# node b + kappa z of every cell lies inside but the outermost nodes of the widest cells
# (|z| > 7.4, weights below 1e-11), clamped to its edge.
_U_WIDTH = 0.25
_T_STEP = 0.014
_T_MAX = float(np.arcsinh(3.8 / _U_WIDTH))
_T_GRID = np.arange(-_T_MAX, _T_MAX + _T_STEP / 2, _T_STEP)
_U_GRID = _U_WIDTH * np.sinh(_T_GRID)


@functools.lru_cache(maxsize=MAX_PROGRAMS)
def _lpd_grid_fn(law: Law, noise: Noise):
    r"""Jitted ``lpd(theta, drift, kappa, x, y, d) -> (cells, n)``: each held-out row's log
    predictive density, averaged over the draws, at each cell of the ``(b, kappa)`` grid.

    Where the noise has no closed-form widening (counts, Beta) the integral over the law's
    error is Gauss-Hermite, as in :func:`log_density`. Averaging over the draws and
    integrating over the error commute (both are linear in the density), so the draws' mean
    density :math:`\bar p(u) = S^{-1} \sum_s p_s(u)` is tabulated once per row on a grid of
    u (0.0035 apart near 0, 1.4% of |u| apart beyond), and each of the grid's thousands of
    cells interpolates its log at the nodes instead of evaluating every draw anew. The error
    of the linear interpolation, :math:`h^2 |\partial_u^2 \log \bar p| / 8`, is far below
    the Monte Carlo error of the draws (``test_discrepancy.py`` checks it against direct
    quadrature).
    """
    density = _density_fn(law, noise)
    model = build_model(shifted_law(law), noise)
    nodes, weights = np.polynomial.hermite_e.hermegauss(_GH_NODES)
    log_w = jnp.asarray(np.log(weights / weights.sum()))
    nodes = jnp.asarray(nodes)
    u_grid = jnp.asarray(_U_GRID)

    def lpd(theta, drift, kappa, x, y, d):
        s = next(iter(theta.values())).shape[0]
        xd = {**x, _DIST: d}
        probe = _obs_fn(model, {k: v[0] for k, v in theta.items()} | {_SHIFT: 0.0}, xd)
        if _widened_log_prob(probe, 0.0, y) is not None:  # closed form: no table needed

            def at(cell):
                b, k = cell
                ll = density(theta, jnp.full((s,), b), jnp.full((s,), k), x, y, d)
                return jax.nn.logsumexp(ll, axis=0) - jnp.log(s)

            return jax.lax.map(at, (drift, kappa))

        def table_one(params):  # (u, n) log density of each row at each u
            return jax.vmap(lambda u: _obs_fn(model, {**params, _SHIFT: u}, xd).log_prob(y))(u_grid)

        def add_draw(acc, params):
            return jnp.logaddexp(acc, table_one(params)), None

        # the draws' mean density, accumulated one draw at a time (a (draws, u, n) table of
        # a big fold would not fit in memory); floored: 0 * -inf below would be nan
        start = jnp.full((len(_U_GRID), y.shape[0]), -jnp.inf)
        table = jax.lax.scan(add_draw, start, theta)[0] - jnp.log(s)
        table = jnp.maximum(table, -1e200)  # (u, n)

        def at(cell):
            b, k = cell
            t = jnp.arcsinh((b + k * nodes) / _U_WIDTH)
            pos = jnp.clip((t - _T_GRID[0]) / _T_STEP, 0.0, len(_U_GRID) - 1.0)
            lo = jnp.minimum(jnp.floor(pos).astype(jnp.int32), len(_U_GRID) - 2)
            w = (pos - lo)[:, None]
            ll = (1.0 - w) * table[lo, :] + w * table[lo + 1, :]  # (nodes, n)
            return jax.nn.logsumexp(ll + log_w[:, None], axis=0)

        return jax.lax.map(at, (drift, kappa))  # (cells, n)

    return jax.jit(lpd)


def _row_bucket(n: int) -> int:
    """Rows to pad ``n`` to: the next power of two, at least 64."""
    return max(64, 1 << max(0, int(n) - 1).bit_length())


def _folds(law: Law, x: Mapping[str, np.ndarray], holdouts) -> list[tuple[float, np.ndarray]]:
    """``(holdout, train_mask)`` per inner fold that leaves enough rows on both sides."""
    s = log_scale(law, x)
    out = []
    for h in holdouts:
        cut = np.quantile(s, 1.0 - h)
        train = s < cut
        if train.sum() >= max(law.min_rows, 2 * len(law.params)) and (~train).sum() >= 1:
            out.append((float(h), train))
    return out


def calibrate(
    law: Law,
    noise: Noise,
    x: Mapping[str, Any],
    y: Any,
    *,
    seed: int = 0,
    start: Mapping[str, Any] | None = None,
    holdouts: tuple[float, ...] = DEFAULT_HOLDOUTS,
    prior_scale: float = PRIOR_SCALE,
    num_draws: int = NUM_DRAWS,
    num_inits: int = 8,
) -> Discrepancy:
    r"""Learn the drift :math:`b` and spread :math:`\kappa` of the law's error by nested
    leave-future-out on the runs ``(x, y)`` themselves.

    Each inner fold refits the law to its smaller runs with the same compiled function (the
    rows are the fit's own, padded as the fit padded them and masked), so the folds compile
    once per law, noise model and row bucket.

    Args:
        law: The law.
        noise: Its noise model.
        x: The law's inputs of the training runs.
        y: Their observed targets.
        seed: Seed of the inner fits.
        start: Values of every latent site to start the inner fits' L-BFGS from (the outer
            fit's posterior medians: one start suffices); None: ``num_inits`` random starts.
        holdouts: Fractions of the largest runs (by scale) held out, one inner fold each.
        prior_scale: Scale of the HalfNormal prior of :math:`\kappa`.
        num_draws: Laplace draws per inner fit.
        num_inits: Random L-BFGS starts per inner fit when ``start`` is None.

    Returns:
        The :class:`Discrepancy`; ``source="prior"`` when no fold leaves enough rows.
    """
    from ._inference import pad_rows

    x = {k: np.asarray(v, np.float64) for k, v in x.items()}
    y = np.asarray(y, np.float64)
    folds = _folds(law, x, holdouts)
    if not folds:
        return prior_discrepancy(prior_scale)
    # rows padded to a power of two: a ladder and its subsets (leave-future-out refits,
    # compare(by="future")) share one compiled inner fit
    xp, yp, pad_mask = pad_rows(x, y, bucket=_row_bucket(len(y)))
    xp = {k: jnp.asarray(v) for k, v in xp.items()}
    yp = jnp.asarray(yp)
    n = len(y)
    key = jax.random.PRNGKey(seed)
    runner = _nested_runner(law, noise, num_draws, num_inits)
    if start is not None:
        start = {k: jnp.asarray(v, jnp.float64) for k, v in start.items()}
    drift, kappa = _cells()
    total = np.zeros(drift.size)
    scored, used = 0, []
    for j, (h, train) in enumerate(folds):
        mask = np.zeros(len(pad_mask), bool)
        mask[:n] = train
        draws, ok = runner(jax.random.fold_in(key, j), start, xp, yp, jnp.asarray(mask))
        theta = {k: jnp.asarray(v) for k, v in draws.items()}
        if not (bool(ok) and all(bool(jnp.all(jnp.isfinite(v))) for v in theta.values())):
            continue
        test = np.flatnonzero(~train)
        if len(test) > MAX_SCORED:  # evenly spaced in scale order
            order = test[np.argsort(log_scale(law, {k: v[test] for k, v in x.items()}))]
            test = order[np.linspace(0, len(order) - 1, MAX_SCORED).round().astype(int)]
        d = distance(law, {k: v[train] for k, v in x.items()}, {k: v[test] for k, v in x.items()})
        # pad the scored rows (repeating the first, weight 0): few compilations
        m = _row_bucket(len(test))
        idx = np.concatenate([test, np.full(m - len(test), test[0])])
        weight = (np.arange(m) < len(test)) * min(1.0, FOLD_WEIGHT_CAP / len(test))
        lpd = np.asarray(
            _lpd_grid_fn(law, noise)(
                theta,
                jnp.asarray(drift),
                jnp.asarray(kappa),
                {k: jnp.asarray(v[idx]) for k, v in x.items()},
                jnp.asarray(y[idx]),
                jnp.asarray(np.concatenate([d, np.full(m - len(test), d[0])])),
            )
        )
        lpd = np.where(np.isfinite(lpd), lpd, -1e10)
        total += lpd @ weight
        scored += len(test)
        used.append(h)
    if not used:
        return prior_discrepancy(prior_scale)
    log_post = _log_prior(drift, kappa, prior_scale) + total
    return Discrepancy(
        drift,
        kappa,
        np.exp(log_post - log_post.max()),
        source="nested_lfo",
        holdouts=tuple(used),
        n_scored=scored,
    )


# ----------------------------------------------------------------------------- Posterior hooks
def check_discrepancy(value: Any) -> Any:
    """``value`` if it is a valid ``Posterior.discrepancy`` setting, else a ValueError."""
    if (
        value is None
        or isinstance(value, Discrepancy)
        or (isinstance(value, str) and value == "auto")
    ):
        return value
    raise InvalidValueError(
        "discrepancy must be 'auto' (learned by nested leave-future-out when first needed), "
        f"None (no law error: intervals conditional on the law form) or a Discrepancy, got "
        f"{value!r}"
    )


def calibration_of(post: Any) -> Discrepancy | None:
    """The :class:`Discrepancy` a Posterior's forecasts use (``post.discrepancy``, learned now
    when it is ``"auto"``)."""
    value = post.discrepancy
    if not (isinstance(value, str) and value == "auto"):
        return value
    law = post.law
    data = post.data
    x = {k: data[k].to_numpy(np.float64) for k in law.inputs}
    y = data[law.target].to_numpy(np.float64)
    sites = (*law.param_names, *post.noise.params)
    theta = post._theta_flat
    start = None
    if all(k in theta for k in sites):
        start = {k: np.median(np.asarray(theta[k], np.float64), axis=0) for k in sites}
    return calibrate(law, post.noise, x, y, seed=post.seed, start=start)


def training_distance(post: Any, x: Mapping[str, Any]) -> np.ndarray:
    """:func:`distance` of inputs ``x`` beyond a Posterior's data."""
    data = post.data
    return distance(post.law, {k: data[k].to_numpy() for k in _base_inputs(post.law)}, x)


def add_discrepancy(
    post: Any, x: Mapping[str, np.ndarray], pred: np.ndarray, rng_key: jax.Array
) -> tuple[np.ndarray, np.ndarray]:
    r"""Predictive draws ``pred`` (``(draws, points)``, from ``post``'s parameter draws, each
    repeated ``len(pred) / post.num_draws`` times) with the law's error beyond the data added,
    and the distance of each point.

    Inside the data (distance 0 everywhere), or with ``post.discrepancy`` None, ``pred`` is
    returned as it is. For location-family noise on the link scale the error moves each draw
    there, :math:`g(y) \to g(y) + (b_s + \kappa_s z_s) d`; for other noise models (counts,
    Beta) the draws are made again with the law's location moved.
    """
    d = training_distance(post, x)
    if not np.any(d > 0):
        return pred, d
    disc = post.calibration
    if disc is None:
        return pred, d
    shifts = _law_error_slopes(disc, rng_key, pred.shape[0])
    delta = shifts[:, None] * d[None, :]
    link = post.law.link
    # a location family on the link scale: the law's error moves a draw by exactly delta there
    if post.noise.location and link in ("log", "identity"):
        if link == "log":
            return pred * np.exp(delta), d
        return pred + delta, d
    repeat = pred.shape[0] // post.num_draws
    theta = {k: np.repeat(np.asarray(v), repeat, 0) for k, v in post._theta_flat.items()}
    return predictive(post.law, post.noise, theta, x, shifts, d, rng_key), d


def _law_error_slopes(disc: Discrepancy | None, rng_key: jax.Array, num: int) -> np.ndarray:
    r"""Per draw, the law error's slope in decades beyond the data, :math:`b_s + \kappa_s z_s`
    (zeros without a law error); the same key gives forecasts, allocations and compute_for
    the same slopes."""
    if disc is None:
        return np.zeros(num)
    return disc.shifts(jax.random.fold_in(rng_key, 7), num)


@functools.lru_cache(maxsize=MAX_PROGRAMS)
def _predictive_at_fn(law: Law, noise: Noise):
    model = build_model(shifted_law(law), noise)

    def one(key, params, x, shift, d):
        seeded = handlers.seed(handlers.substitute(model, data={**params, _SHIFT: shift}), key)
        return handlers.trace(seeded).get_trace(x={**x, _DIST: d})[OBS_SITE]["value"]

    return jax.jit(jax.vmap(one))


def allocation_prediction(
    post: Any, n_opt: np.ndarray, d_opt: np.ndarray, rng_key: jax.Array
) -> tuple[np.ndarray, np.ndarray]:
    r"""Predictive draws of the target of a run trained at each draw's own optimum
    ``(n_opt, d_opt)`` (``(draws, budgets)``): the law there, its error beyond the data
    (zero inside it) and the noise. Returns ``(draws, distance)``, both ``(draws, budgets)``.
    """
    s, m = n_opt.shape
    x = {"N": n_opt, "D": d_opt}
    dist_ = training_distance(post, {k: v.reshape(-1) for k, v in x.items()}).reshape(s, m)
    disc = post.calibration if np.any(dist_ > 0) else None
    shifts = _law_error_slopes(disc, rng_key, s)
    theta = {k: jnp.asarray(v) for k, v in post._theta_flat.items()}
    keys = jax.random.split(rng_key, s)
    xj = {k: jnp.asarray(v, jnp.float64) for k, v in x.items()}
    out = _predictive_at_fn(post.law, post.noise)(
        keys, theta, xj, jnp.asarray(shifts), jnp.asarray(dist_)
    )
    return np.asarray(out), dist_


# Budgets N*D searched for a target's crossing: e^10 up to 1e32, the product of the plausible
# bounds on N and D (bayescale._data.PLAUSIBLE_MAX; the law's error, linear in decades, would
# otherwise reach any target somewhere), on a grid a quarter of a nat apart refined by bisection.
MAX_BUDGET = PLAUSIBLE_MAX["N"] * PLAUSIBLE_MAX["D"]
_BUDGET_GRID = np.arange(10.0, np.log(MAX_BUDGET) + 0.25, 0.25)


def compute_for_prediction(
    post: Any, loss: np.ndarray, rng_key: jax.Array, *, num_iter: int = 50
) -> tuple[np.ndarray, np.ndarray]:
    r"""Per draw, the smallest budget ``N*D`` whose compute-optimal run reaches each target
    ``loss`` with the law's error beyond the data included: ``(budget, reachable)``, shaped
    ``(draws, targets)``, ``inf`` where a draw reaches it at no budget up to
    :data:`MAX_BUDGET`.

    Draw :math:`s` reaches target :math:`L^*` at log budget :math:`u` when
    :math:`\mu_s(N^*_s(u), D^*_s(u)) + (b_s + \kappa_s z_s)\, d_s(u) \le \log L^*`, with
    :math:`d_s(u)` the decades of that optimal run beyond the data: the forecast model of
    :func:`allocation_prediction` without the noise. The left side need not fall with compute
    (a draw whose law errs upward may never reach the target), so the first crossing is found
    on a grid of log budgets and refined by bisection within its cell.
    """
    law = post.law
    theta = {k: jnp.asarray(post._theta_flat[k]) for k in law.param_names}
    log_target = np.log(np.asarray(loss, np.float64))
    disc = post.calibration
    s = len(theta[law.param_names[0]])
    shifts = _law_error_slopes(disc, rng_key, s)

    def excess(log_budget: np.ndarray) -> np.ndarray:
        n, d, mu = (np.asarray(v) for v in optimal_runs(law, theta, log_budget))
        dist_ = training_distance(post, {"N": n.reshape(-1), "D": d.reshape(-1)})
        return mu + shifts[:, None] * dist_.reshape(n.shape)

    on_grid = excess(_BUDGET_GRID)  # (draws, grid)
    below = on_grid[:, :, None] <= log_target[None, None, :]  # (draws, grid, targets)
    reachable = below.any(axis=1)
    first = np.argmax(below, axis=1)  # (draws, targets); 0 where none is below
    lo = _BUDGET_GRID[np.maximum(first - 1, 0)]
    hi = _BUDGET_GRID[first]
    for _ in range(num_iter):
        mid = 0.5 * (lo + hi)
        above = excess(mid) > log_target[None, :]
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    log_budget = np.where(first == 0, _BUDGET_GRID[0], 0.5 * (lo + hi))
    return np.where(reachable, np.exp(log_budget), np.inf), reachable


def discrepancy_attr(post: Any) -> str:
    """What a saved file records of ``post.discrepancy``: ``"none"``, the learned or given
    :class:`Discrepancy` as JSON (also an ``"auto"`` one already learned), or ``"auto"``."""
    value = post.discrepancy
    if value is None:
        return "none"
    if isinstance(value, Discrepancy):
        return value.to_json()
    learned = post.__dict__.get("calibration")  # the cached property, if computed
    return learned.to_json() if isinstance(learned, Discrepancy) else "auto"


def discrepancy_from_attr(text: Any) -> Any:
    """The ``Posterior.discrepancy`` a file's attribute records (files without one: ``"auto"``)."""
    if text is None or text == "auto":
        return "auto"
    if text == "none":
        return None
    return Discrepancy.from_json(str(text))
