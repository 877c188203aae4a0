"""The Posterior: an immutable result of a fit, and everything computed from its draws."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import warnings
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ._allocation import allocate_draws
from ._compiled import CompiledCache
from ._data import (
    _RAW_COUNT_FLOOR,
    _SCALE_HINT,
    DEFAULT_LEVEL,
    PLAUSIBLE_MAX,
    DataWarning,
    check_flops_per_param_token,
    check_level,
    check_seed,
)
from ._diagnostics import ConvergenceWarning, convergence_table
from ._errors import InvalidValueError
from ._law import Law
from ._methods import method_of
from ._model import OBS_SITE, build_model
from ._noise import Noise, noise_of
from ._stored import (
    _NEEDED_STATS,
    FORMAT_VERSION,
    _catalog_law,
    _check_law_matches,
    _checked_data,
    _checked_draws,
    _diagnosed,
    _group_attrs,
    _grouped_law,
    _law_with_priors,
    _priors_attr,
    _show,
)

__all__ = ["Posterior", "load", "FORMAT_VERSION"]

# Jitted pointwise log likelihoods, per law and noise model: numpyro's log_likelihood compiles
# anew on every call otherwise, and fit's influence check calls it once per fit.
_LOG_LIKELIHOODS = CompiledCache()


def _log_likelihood_fn(post: Posterior):
    from numpyro.infer import log_likelihood

    model = build_model(post.law, post.noise)
    return jax.jit(lambda samples, x, y: log_likelihood(model, samples, x=x, y=y)[OBS_SITE])


_NO_GROUP = object()  # sentinel: allocate() was not asked for a group
_AS_GIVEN = object()  # sentinel: evaluate the inputs with the fit's own law (no one group)
# Noise draws at a point fit's one parameter draw behind its forecast's predictive interval
# (the 5% and 95% quantiles each to about 0.015 sigma, Monte Carlo standard error).
_POINT_NOISE_DRAWS = 20000


def _quantiles(
    draws: np.ndarray, level: float, method: str = "linear"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not 0.0 < level < 1.0:
        raise InvalidValueError(f"level must be in (0, 1), got {level}")
    q = (1.0 - level) / 2.0
    lo, med, hi = np.quantile(draws, [q, 0.5, 1.0 - q], axis=0, method=method)
    return lo, med, hi


def _optimal_run_columns(
    out: pd.DataFrame, n_opt_draws: np.ndarray, budget: np.ndarray, level: float
) -> None:
    """Add N*, D* and D*/N* with their intervals to an allocation table, in place.

    Per draw D* = budget / N* and D*/N* = budget / N*^2 fall as N* rises, so their quantiles
    are those maps of N*'s quantiles (upper and lower swapped): the reported N* and D* then
    spend exactly the budget, which separately interpolated medians do not.
    """
    n_lo, n_med, n_hi = _quantiles(n_opt_draws, level)
    out["N_opt"], out["N_opt_lower"], out["N_opt_upper"] = n_med, n_lo, n_hi
    out["D_opt"], out["D_opt_lower"], out["D_opt_upper"] = (budget / n for n in (n_med, n_hi, n_lo))
    out["tokens_per_param"], out["tokens_per_param_lower"], out["tokens_per_param_upper"] = (
        budget / n**2 for n in (n_med, n_hi, n_lo)
    )


def _inverse_link(link: str, loc):
    return {"log": jnp.exp, "identity": lambda v: v, "logit": jax.nn.sigmoid}[link](loc)


def _real_array(name: str, value: Any, must: str) -> np.ndarray:
    """``value`` as a float64 array (at least 1-d), or a ValueError "{name} must be {must}":
    complex values are refused, not cut to their real part."""
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError):  # ragged nesting
        raw = None
    if raw is not None and np.iscomplexobj(raw):
        raise InvalidValueError(
            f"{name} holds complex numbers ({_show(raw, fmt=_complex)}): give real numbers"
        )
    try:
        return np.atleast_1d(np.asarray(value if raw is None else raw, np.float64))
    except (TypeError, ValueError):
        raise InvalidValueError(f"{name} must be {must}, got {value!r}") from None


def _complex(value: Any) -> str:
    return f"{complex(value):g}"


def _positive_array(name: str, value: Any, what: str) -> np.ndarray:
    """``value`` as a flat float64 array of finite positive numbers, or a ValueError naming it."""
    a = _real_array(name, value, f"{what}: a number or array of numbers")
    if a.size == 0:
        raise InvalidValueError(f"{name} is empty: give at least one value")
    bad = a[~(np.isfinite(a) & (a > 0))]
    if bad.size:
        raise InvalidValueError(f"{name} must be finite and positive ({what}), got {_show(bad)}")
    return a


def _checked_targets(
    name: str, value: Any, what: str, level: Any, flops_per_param_token: Any
) -> np.ndarray:
    """The arguments ``allocate`` and ``compute_for`` share, checked: ``value`` (budgets or
    target losses) as a flat array of finite positive numbers, ``level`` and the FLOPs
    constant."""
    values = _positive_array(name, value, what).reshape(-1)
    check_level(level)
    check_flops_per_param_token(flops_per_param_token)
    return values


def _warn_scaled(name: str, values: np.ndarray, *, stacklevel: int) -> None:
    """Warn where input ``name`` looks scaled: the rule :func:`bayescale.validate` applies to
    data columns (largest value below the raw-count floor of ``N``, ``D``, ``C``, ``U``).
    ``stacklevel`` counts from the function that calls this one."""
    floor = _RAW_COUNT_FLOOR.get(name)
    if floor is not None and values.max() < floor:
        warnings.warn(
            f"{name!r} looks scaled (largest value {values.max():g}, below {floor:g}): bayescale "
            f"expects raw counts of {_SCALE_HINT[name]}, not millions or billions of them "
            "(N=7e10 for a 70B model, not 70); multiply by the unit",
            DataWarning,
            stacklevel=stacklevel + 1,
        )


def _warn_implausible(name: str, values: np.ndarray, *, stacklevel: int) -> None:
    """Warn where input ``name`` exceeds the plausible bound :func:`bayescale.validate` applies
    to data (1e15 parameters, 1e17 tokens, 1e30 FLOPs...): a forecast there is a unit error or
    an extrapolation by many decades. ``stacklevel`` counts from the caller of this one."""
    bound = PLAUSIBLE_MAX.get(name)
    if bound is not None and values.max() > bound:
        warnings.warn(
            f"{name!r} = {values.max():g} is above {bound:g}, more than any training run has: "
            "check its unit (raw counts, not multiplied twice); a forecast there extrapolates "
            "far beyond any data",
            DataWarning,
            stacklevel=stacklevel + 1,
        )


def _row_index(inputs: Mapping[str, Any], n: int) -> pd.Index | None:
    """The index shared by the inputs given as pandas Series of ``n`` rows, else None."""
    indexes = [v.index for v in inputs.values() if isinstance(v, pd.Series)]
    if indexes and len(indexes[0]) == n and all(i.equals(indexes[0]) for i in indexes):
        return indexes[0]
    return None


def _read_only(value: Any) -> np.ndarray:
    """A read-only view of ``value`` as an array (the caller's own array keeps its flags)."""
    a = np.asarray(value).view()
    a.flags.writeable = False
    return a


def _frozen_arrays(mapping: Mapping[str, Any]) -> Mapping[str, np.ndarray]:
    return MappingProxyType({k: _read_only(v) for k, v in mapping.items()})


@dataclasses.dataclass(frozen=True, eq=False)
class Posterior:
    """Posterior draws of a law's parameters given data, with diagnostics.

    Never modified in place. ``samples`` holds draws by the law's published parameter names
    (chains flattened); ``draws`` holds the sampling-space parameters shaped ``(chain, draw)``.

    Attributes:
        law: The fitted law.
        noise: The noise model, a :class:`~bayescale.Noise` (``bs.Normal()``, ...; a name
            given here is read into its value); ``str(post.noise)`` is its name.
        data: The validated data (the law's inputs and target) the fit conditioned on. Each
            access returns a copy (no values copied under pandas' copy-on-write), so changing
            it leaves the fit as it is.
        draws: Sampling-space parameters, noise parameters included, ``(chain, draw)`` each
            (a read-only mapping of read-only arrays).
        stats: Sampler statistics (``diverging``, ``n_steps``, ``acceptance_rate``, ``energy``;
            read-only, as ``draws``).
        method: The inference method (``"nuts"``, ``"chees"``, ``"laplace"``, ``"svi"``,
            ``"map"``, ``"hoffmann"``).
        seed: The seed of the fit.
        settings: Sampler settings used (a read-only mapping).
        problems: Diagnostic failures, each with a remedy; empty when the fit passed.
        discrepancy: The law's own error beyond the data, which forecasts add there:
            ``"auto"`` (default: learned by nested leave-future-out on the fit's own rows when
            a forecast first needs it, see :attr:`calibration`), a
            :class:`~bayescale.Discrepancy`, or None (intervals conditional on the law form).
    """

    law: Law
    noise: Noise
    data: pd.DataFrame
    draws: Mapping[str, np.ndarray]
    stats: Mapping[str, np.ndarray]
    method: str = "nuts"
    seed: int = 0
    settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    problems: tuple[str, ...] = ()
    discrepancy: Any = "auto"

    def __post_init__(self) -> None:
        # Read-only mappings of read-only arrays: a result never changes in place.
        object.__setattr__(self, "draws", _frozen_arrays(self.draws))
        object.__setattr__(self, "stats", _frozen_arrays(self.stats))
        object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))
        object.__setattr__(self, "problems", tuple(self.problems))
        object.__setattr__(self, "noise", noise_of(self.noise))
        from ._discrepancy import check_discrepancy

        check_discrepancy(self.discrepancy)

    def __getstate__(self) -> dict[str, Any]:
        # mappingproxy does not pickle: store plain dicts (cached tables are recomputed).
        state = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for name in ("draws", "stats", "settings"):
            state[name] = dict(state[name])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)

    # ----------------------------------------------------------------- draws
    @property
    def num_chains(self) -> int:
        """Number of chains (the leading axis of every draw array; 1 for MAP/Hoffmann)."""
        return next(iter(self.draws.values())).shape[0]

    @property
    def num_draws(self) -> int:
        """Total draws, chains flattened."""
        a = next(iter(self.draws.values()))
        return a.shape[0] * a.shape[1]

    @functools.cached_property
    def _theta_flat(self) -> dict[str, np.ndarray]:
        return {k: v.reshape(-1, *v.shape[2:]) for k, v in self.draws.items()}

    @functools.cached_property
    def published_draws(self) -> dict[str, np.ndarray]:
        """Published parameters shaped ``(chain, draw)``, then the noise parameters."""
        theta = {k: jnp.asarray(self.draws[k]) for k in self.law.param_names}
        out = {k: np.asarray(v) for k, v in self.law.to_published(theta).items()}
        out.update({k: self.draws[k] for k in self.noise.params})
        return out

    @property
    def samples(self) -> dict[str, np.ndarray]:
        """Draws keyed by published parameter names (plus noise parameters), chains flattened."""
        return {k: v.reshape(-1) for k, v in self.published_draws.items()}

    @property
    def approximate(self) -> bool:
        """True unless the draws come from an exact method (an MCMC sampler: NUTS, ChEES):
        MAP, Laplace, SVI and the Hoffmann point fit/bootstrap only approximate the posterior
        (``Method.exact``)."""
        return not method_of(self.method).exact

    @property
    def notes(self) -> tuple[str, ...]:
        """What the fit did beyond its settings, e.g. an automatic refit with stricter
        sampler settings after a failed diagnostic (kept in ``settings["notes"]``)."""
        return tuple(self.settings.get("notes", ()))

    @property
    def ok(self) -> bool:
        """True when the fit passed every diagnostic (no divergences, R-hat, ESS, BFMI)."""
        return not self.problems

    @functools.cached_property
    def calibration(self):
        r"""The law's own error beyond the data that forecasts add: a
        :class:`~bayescale.Discrepancy`, or None when ``discrepancy=None``.

        :math:`\delta(x) \sim \mathcal N(b\,d(x), (\kappa\,d(x))^2)` on the link scale,
        :math:`d(x)` the decades beyond the data (the ``distance`` column of a forecast). With
        ``discrepancy="auto"`` the drift :math:`b` and spread :math:`\kappa` are learned here
        by nested leave-future-out on the fit's own rows (Laplace refits of the smaller runs,
        scoring the larger: about 0.1 s per fold warm, plus one compilation per law, noise model
        and row count, 5-20 s on 2 cores); see ``bayescale._discrepancy``.
        """
        from ._discrepancy import calibration_of

        return calibration_of(self)

    def with_discrepancy(self, discrepancy: Any) -> Posterior:
        """The same fit with another law-error setting (a new Posterior; this one unchanged).

        Args:
            discrepancy: ``"auto"``, a :class:`~bayescale.Discrepancy` (e.g.
                ``bayescale.Discrepancy.fixed(0.03)``, or another fit's :attr:`calibration`),
                or None: forecasts then carry no law error (conditional on the law form).
        """
        return dataclasses.replace(self, discrepancy=discrepancy)

    def _warn_if_failed(self, what: str, *, stacklevel: int) -> None:
        """A :class:`ConvergenceWarning` naming the problems when the fit failed a diagnostic;
        ``stacklevel`` counts from the method that calls this one (the user's call: 2)."""
        if self.ok:
            return
        warnings.warn(
            f"{what} from a fit that FAILED its diagnostics; the numbers may be wrong:\n- "
            + "\n- ".join(self.problems)
            + "\nRefit as the remedies say, or, accepting the risk, silence this with "
            "warnings.simplefilter('ignore', bayescale.ConvergenceWarning).",
            ConvergenceWarning,
            stacklevel=stacklevel + 1,
        )

    # ----------------------------------------------------------------- tables
    @functools.cached_property
    def diagnostics(self) -> pd.DataFrame:
        """R-hat and bulk/tail ESS of sampling-space and published parameters."""
        return convergence_table({**self.draws, **self.published_draws})

    def summary(self, level: float = DEFAULT_LEVEL) -> pd.DataFrame:
        """One row per parameter: mean, sd, median, equal-tailed interval, R-hat, ESS.

        Args:
            level: Probability mass of the central interval, in (0, 1) (default 0.9, the level
                of every forecast and allocation).

        Raises:
            ValueError: for a ``level`` that is not a number in (0, 1) (``"0.9"``, 95).
        """
        check_level(level)
        rows = {}
        diag = self.diagnostics
        for name, a in self.published_draws.items():
            flat = a.reshape(-1)
            lo, med, hi = _quantiles(flat, level)
            rows[name] = {
                "mean": flat.mean(),
                "sd": flat.std(ddof=1) if flat.size > 1 else np.nan,  # one draw: no spread
                "median": med,
                "lower": lo,
                "upper": hi,
                "r_hat": diag.loc[name, "r_hat"],
                "ess_bulk": diag.loc[name, "ess_bulk"],
                "ess_tail": diag.loc[name, "ess_tail"],
            }
        table = pd.DataFrame.from_dict(rows, orient="index")
        table.attrs["level"] = level
        return table

    def _x(self, inputs: Mapping[str, Any], *, stacklevel: int = 3) -> dict[str, np.ndarray]:
        """The law's inputs as flat float arrays of one length, with clear errors.

        ``stacklevel`` places the scaled-input :class:`DataWarning` at the caller's call.
        """
        missing = [k for k in self.law.inputs if k not in inputs]
        extra = [k for k in inputs if k not in self.law.inputs]
        if missing or extra:
            parts = [f"missing input(s) {missing}"] if missing else []
            parts += [f"unexpected input(s) {extra}"] if extra else []
            raise InvalidValueError(
                f"{'; '.join(parts)}: law {self.law.name!r} takes inputs {list(self.law.inputs)}"
            )
        arrays = {}
        for k in self.law.inputs:
            arrays[k] = _real_array(f"input {k!r}", inputs[k], "a number or an array of numbers")
            if arrays[k].size == 0:
                raise InvalidValueError(f"input {k!r} is empty: give at least one value")
        try:
            broadcast = np.broadcast_arrays(*arrays.values())
        except ValueError:
            shapes = ", ".join(f"{k} {a.shape}" for k, a in arrays.items())
            raise InvalidValueError(
                f"inputs of different lengths do not broadcast: {shapes}; give arrays of one "
                "length, scalars, or shapes that broadcast (N[:, None] with D[None, :] for a grid)"
            ) from None
        x = {k: a.reshape(-1) for k, a in zip(self.law.inputs, broadcast, strict=True)}
        for k, a in x.items():
            bad = a[~(np.isfinite(a) & (a > 0))]
            if bad.size:
                raise InvalidValueError(
                    f"input {k!r} must be finite and positive, got {_show(bad)}"
                )
        for k in self.law.inputs:
            _warn_scaled(k, arrays[k], stacklevel=stacklevel)
            _warn_implausible(k, arrays[k], stacklevel=stacklevel)
        return x

    def forecast(
        self, *, level: float = DEFAULT_LEVEL, seed: int = 0, **inputs: Any
    ) -> pd.DataFrame:
        """Posterior forecast of the target at new inputs.

        Returns both the credible interval of the law's mean (parameter uncertainty only) and
        the predictive interval of a new run (parameters, noise and, beyond the data, the
        law's own error :attr:`calibration`, which grows with the ``distance`` column).

        Args:
            level: Central interval probability (default 0.9).
            seed: Seed of the noise draws for the predictive interval.
            **inputs: The law's inputs (scalars or arrays that broadcast), e.g. ``N=70e9``.

        Returns:
            One row per input point (indexed like the inputs where they are pandas Series
            sharing one index, so the result joins back onto the caller's table): the
            inputs, ``median`` (of the mean law), ``mean_lower``,
            ``mean_upper``, ``pred_median``, ``pred_lower``, ``pred_upper``, and
            ``extrapolation``, the largest distance in decades outside the data's range of
            any input, above its largest or below its smallest value (0 inside it), and
            ``distance``, the same for the runs' scale too (compute ``N D`` for a law of ``N``
            and ``D``): the decades beyond the data that the law's error grows with.

        Raises:
            ValueError: for a missing or unexpected input, an empty one, inputs whose lengths
                do not broadcast, values that are not finite and positive, or a ``level``
                outside (0, 1). An input that looks scaled (``N=70`` for 70B parameters)
                raises a :class:`~bayescale.DataWarning`, the rule :func:`~bayescale.validate`
                applies to data.
        """
        check_level(level)
        check_seed(seed)
        self._warn_if_failed("forecast", stacklevel=2)
        return self._forecast(inputs, level=level, seed=seed, stacklevel=3)

    def _forecast(
        self, inputs: Mapping[str, Any], *, level: float, seed: int, stacklevel: int
    ) -> pd.DataFrame:
        grouped, inputs = self._grouped_inputs(inputs)
        if grouped is not _AS_GIVEN:  # a grouped law: forecast one group (or a new one)
            return self.for_group(grouped, seed=seed)._forecast(
                inputs, level=level, seed=seed, stacklevel=stacklevel + 1
            )
        x = self._x(inputs, stacklevel=stacklevel + 1)
        theta = {k: jnp.asarray(self._theta_flat[k]) for k in self.law.param_names}
        xj = {k: jnp.asarray(v) for k, v in x.items()}
        loc = jax.vmap(lambda th: self.law.mean(th, xj))(theta)
        mean = np.asarray(_inverse_link(self.law.link, loc))
        mean = np.broadcast_to(mean, (self.num_draws, len(next(iter(x.values())))))
        pred, distance = self._predictive_draws(x, seed)
        m_lo, m_med, m_hi = _quantiles(mean, level)
        p_lo, p_med, p_hi = _quantiles(pred, level)
        out = pd.DataFrame(x, index=_row_index(inputs, len(m_med)))
        out["median"] = m_med
        out["mean_lower"], out["mean_upper"] = m_lo, m_hi
        out["pred_median"] = p_med
        out["pred_lower"], out["pred_upper"] = p_lo, p_hi
        from ._hierarchical import group_spec

        spec = group_spec(self.law)
        decades = np.zeros(len(out))
        for k in spec.base.inputs if spec is not None else self.law.inputs:
            # outside the data's range, above or below it (group codes are not a range)
            lo, hi = self.data[k].min(), self.data[k].max()
            decades = np.maximum.reduce([decades, np.log10(x[k] / hi), np.log10(lo / x[k])])
        out["extrapolation"] = decades
        out["distance"] = distance
        out.attrs["level"] = level
        return out

    def _predictive_draws(
        self, x: Mapping[str, np.ndarray], seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The predictive draws behind :meth:`forecast`'s interval at checked inputs ``x``
        (parameters, noise and the law's error beyond the data), chain-major, and the
        distance of each point: ``((draws, points), (points,))``."""
        theta_pred = self._theta_flat
        if self.num_draws == 1:  # a point fit (MAP, Hoffmann): no parameter draws, so the
            # predictive interval is the noise's around the point, from many noise draws at it
            theta_pred = {k: np.repeat(v, _POINT_NOISE_DRAWS, 0) for k, v in theta_pred.items()}
        pred = self._predictive(jax.random.PRNGKey(seed), x, theta_pred)
        from ._discrepancy import add_discrepancy

        return add_discrepancy(self, x, pred, jax.random.PRNGKey(seed))

    def predictive(self, x: Mapping[str, Any], *, seed: int = 0) -> np.ndarray:
        """Posterior predictive draws of the target at inputs ``x``: ``(draws, points)``.

        The law at each parameter draw plus one noise draw (no law error beyond the data:
        :meth:`forecast` adds it). ``seed`` makes the noise reproducible, as in ``forecast``.
        """
        return self._predictive(jax.random.PRNGKey(check_seed(seed)), x, self._theta_flat)

    def _predictive(self, rng_key: jax.Array, x: Mapping[str, Any], theta) -> np.ndarray:
        from numpyro.infer import Predictive

        model = build_model(self.law, self.noise)
        samples = {k: jnp.asarray(v) for k, v in theta.items()}
        xj = {k: jnp.asarray(np.asarray(v, np.float64)) for k, v in x.items()}
        out = Predictive(model, posterior_samples=samples, return_sites=[OBS_SITE])(rng_key, xj)
        return np.asarray(out[OBS_SITE])

    def allocate(
        self,
        C: Any,
        *,
        level: float = DEFAULT_LEVEL,
        flops_per_param_token: float = 6.0,
        group: Any = _NO_GROUP,
        seed: int = 0,
        method: str = "parametric",
        budgets: Any = None,
        tolerance: float | None = None,
    ) -> pd.DataFrame:
        """Compute-optimal allocation of FLOP budgets ``C``, with credible intervals.

        Per posterior draw, ``N*`` minimises the law on ``C = k N D`` (``k`` =
        ``flops_per_param_token``, 6 by default); the closed form where the law has one.
        ``method="isoflop"`` estimates it from the fit's runs instead, without the law:
        Hoffmann et al.'s Approach 2 (:func:`bayescale.isoflop_allocation`), warned by a
        :class:`~bayescale.DataWarning` where its interval of ``a`` and the law's do not
        overlap (:func:`bayescale.compare_allocations` shows both).

        Args:
            C: FLOP budgets, raw counts (a number or an array, e.g. ``5.76e23``); finite and
                positive. Budgets below 1e12 FLOPs look scaled and raise a
                :class:`~bayescale.DataWarning`.
            level: Central interval probability, in (0, 1) (default 0.9).
            flops_per_param_token: ``k`` in ``C = k N D``, finite and positive (default 6).
            group: For a grouped law (:func:`bayescale.hierarchical`), the group's label (None:
                a new, unseen group, with new group effects drawn with ``seed``).
            seed: Seed of a new group's effects (and of the isoFLOP posterior draws).
            method: ``"parametric"`` (default: the law's own optimum per posterior draw) or
                ``"isoflop"`` (parabolas through the fit's isoFLOP curves; columns as
                :func:`bayescale.isoflop_allocation` returns).
            budgets: ``method="isoflop"`` only: the curves' FLOP budgets (default: runs
                grouped by compute).
            tolerance: ``method="isoflop"`` only: the factor grouping runs into curves
                (default 1.1).

        Returns:
            One row per budget: ``C`` and, for each of ``N_opt``, ``D_opt``,
            ``tokens_per_param`` (D*/N*), ``loss_opt``, ``a`` (dlog N*/dlog C) and ``b``
            (dlog D*/dlog C), the median and ``_lower``/``_upper`` interval bounds; then
            ``loss_pred`` (with bounds), the predictive loss of a run trained at the optimum
            (the law, its own error beyond the data and the noise: what the run will show), and
            ``distance``, the median decades of the optimum beyond the data.

        Raises:
            ValueError: for budgets that are empty, not finite or not positive, a ``level``
                outside (0, 1), a ``flops_per_param_token`` that is not finite and positive, or an
                unknown ``method``; for ``"isoflop"``, as :func:`bayescale.isoflop_allocation`.
        """
        C = _checked_targets("C", C, "FLOP budgets", level, flops_per_param_token)
        check_seed(seed)
        if method not in ("parametric", "isoflop"):
            raise InvalidValueError(f"method must be 'parametric' or 'isoflop', got {method!r}")
        if method == "parametric" and (budgets is not None or tolerance is not None):
            raise InvalidValueError("budgets and tolerance apply to method='isoflop' only")
        _warn_scaled("C", C, stacklevel=2)
        _warn_implausible("C", C, stacklevel=2)
        self._warn_if_failed("allocation", stacklevel=2)
        post = self
        if group is not _NO_GROUP:  # a grouped law: allocate for one group (or a new one)
            post = self.for_group(group, seed=seed)
        if method == "isoflop":
            from ._plan import posterior_isoflop

            return posterior_isoflop(
                post,
                C,
                level=level,
                flops_per_param_token=flops_per_param_token,
                seed=seed,
                budgets=budgets,
                tolerance=tolerance,
                stacklevel=2,
            )
        return post._allocate(C, level=level, flops_per_param_token=flops_per_param_token)

    def _allocate(self, C: np.ndarray, *, level: float, flops_per_param_token: float):
        theta = {k: jnp.asarray(self._theta_flat[k]) for k in self.law.param_names}
        per_draw = allocate_draws(self.law, theta, C / flops_per_param_token)
        out = pd.DataFrame({"C": C})
        budget = C / flops_per_param_token
        _optimal_run_columns(out, np.asarray(per_draw["N_opt"]), budget, level)
        for name in ("loss_opt", "a", "b"):
            lo, med, hi = _quantiles(np.asarray(per_draw[name]), level)
            out[name], out[f"{name}_lower"], out[f"{name}_upper"] = med, lo, hi
        from ._discrepancy import allocation_prediction

        n_opt = np.asarray(per_draw["N_opt"])
        pred, distance = allocation_prediction(
            self, n_opt, budget / n_opt, jax.random.PRNGKey(self.seed + 1)
        )
        lo, med, hi = _quantiles(pred, level)
        out["loss_pred"], out["loss_pred_lower"], out["loss_pred_upper"] = med, lo, hi
        out["distance"] = np.median(distance, axis=0)
        out.attrs["level"] = level
        out.attrs["flops_per_param_token"] = flops_per_param_token
        return out

    def prob_reach(
        self,
        loss: Any,
        *,
        C: Any = None,
        seed: int = 0,
        flops_per_param_token: float = 6.0,
        **inputs: Any,
    ) -> pd.DataFrame:
        r"""The chance that a run reaches a target loss: :math:`P(y \le L^* \mid \text{data})`.

        The posterior predictive probability of the run's own loss, the draws behind
        :meth:`forecast`'s predictive interval: the law at each posterior draw, its own error
        beyond the data (:attr:`calibration`) and the noise of one run. With ``C``, the run is
        each draw's compute-optimal one at that budget, as :meth:`allocate`'s ``loss_pred``.

        Args:
            loss: Target losses (a number or an array), in the target's units; one target, one
                point, or one target per point.
            C: FLOP budgets instead of the law's inputs: the compute-optimal run at each.
            seed: Seed of the noise and law-error draws (``forecast(seed=...)`` and this give
                the same draws; ``allocate``'s ``loss_pred`` are those of ``seed=post.seed+1``).
            flops_per_param_token: ``k`` in ``C = k N D`` (default 6), with ``C``.
            **inputs: The law's inputs (scalars or arrays that broadcast), e.g.
                ``N=70e9, D=1.4e12``; a grouped law's group as in :meth:`forecast`.

        Returns:
            One row per point: the inputs (with ``C``: ``C`` and the medians of ``N_opt`` and
            ``D_opt``), ``loss``, ``p_reach``, ``p_reach_se`` (its Monte Carlo standard
            error, from the effective sample size of the draws; 0 where every draw lands on
            one side) and ``distance`` (decades beyond the data, the law error's reach).

        Raises:
            ValueError: for targets or inputs that are not finite and positive, both ``C``
                and inputs, or targets and points of different lengths.

        Example:
            >>> post.prob_reach(2.0, N=70e9, D=1.4e12)["p_reach"]
            >>> post.prob_reach([1.9, 2.0], C=5.76e23)
        """
        self._warn_if_failed("prob_reach", stacklevel=2)
        from ._plan import prob_reach

        return prob_reach(
            self,
            loss,
            C=C,
            seed=seed,
            flops_per_param_token=flops_per_param_token,
            inputs=inputs,
            stacklevel=3,
        )

    def compute_for(
        self, loss: Any, *, level: float = DEFAULT_LEVEL, flops_per_param_token: float = 6.0
    ) -> pd.DataFrame:
        """FLOPs needed to reach a target loss with a compute-optimal model, with intervals.

        Per draw, the smallest budget whose compute-optimal run reaches the target, the law's
        own error beyond the data (:attr:`calibration`) included: a run that far out may come
        out above or below the law, and the interval says by how much compute that moves the
        answer. ``with_discrepancy(None).compute_for(...)`` is conditional on the law form.

        Args:
            loss: Target losses (a number or an array), in the units of the fitted target
                (e.g. nats); finite and positive.
            level: Central interval probability, in (0, 1) (default 0.9).
            flops_per_param_token: ``k`` in ``C = k N D``, finite and positive (default 6).

        Returns:
            One row per target: ``loss``, ``C`` (median), ``C_lower``, ``C_upper`` and
            ``p_reachable``, the posterior probability that some budget up to
            :math:`N D = 10^{32}` (the plausible bounds on ``N`` times ``D``) reaches the target
            at all (not when it lies below the irreducible loss, or where the law's error
            rises faster than the law falls). Interval bounds
            are ``inf`` where the target is unreachable in that share of draws.

        Raises:
            ValueError: for targets that are empty, not finite or not positive, a ``level``
                outside (0, 1), or a ``flops_per_param_token`` that is not finite and positive.
        """
        loss = _checked_targets("loss", loss, "target losses", level, flops_per_param_token)
        self._warn_if_failed("compute_for", stacklevel=2)
        from ._discrepancy import compute_for_prediction

        budget, reachable = compute_for_prediction(self, loss, jax.random.PRNGKey(self.seed + 1))
        c = budget * flops_per_param_token
        # Unreachable draws are inf: take order statistics, since interpolating inf gives nan.
        lo, med, hi = _quantiles(c, level, method="inverted_cdf")
        return pd.DataFrame(
            {
                "loss": loss,
                "C": med,
                "C_lower": lo,
                "C_upper": hi,
                "p_reachable": np.asarray(reachable).mean(axis=0),
            }
        )

    def next_runs(
        self,
        candidates: Any,
        *,
        target: Mapping[str, Any],
        budget: float | None = None,
        batch: int | None = 1,
        flops_per_param_token: float = 6.0,
        level: float = DEFAULT_LEVEL,
        seed: int = 0,
    ) -> pd.DataFrame:
        r"""Rank candidate runs by what they would tell about a target, per FLOP spent.

        The expected information gain (EIG, Lindley 1956) of a run's loss :math:`y_c` about a
        target :math:`t`, under a Gaussian approximation of their joint posterior draws on the
        link scale (log loss, log model size):

        .. math::
            \operatorname{EIG}(c) = -\tfrac12 \log\big(1 - \rho^2(t, y_c)\big), \qquad
            \operatorname{EIG}(S) = \tfrac12 \log
                \frac{\operatorname{Var} t}{\operatorname{Var}(t \mid y_S)}

        in nats, for one run and for a set :math:`S`; :math:`\operatorname{Var}(t \mid y_S)`
        conditions the draws' covariance of the law's mean (plus the noise variance of each
        run, from the predictive draws) on the set. A run of cost :math:`C_c = k N_c D_c`
        ranks by :math:`\operatorname{EIG}(c) / C_c`; a batch is chosen greedily, each pick
        the affordable run adding most information per FLOP to the runs picked before it.
        Under the Gaussian approximation a gain :math:`g` shrinks the target's interval by
        the factor :math:`e^{-g}` (``width_ratio`` in the table's ``attrs``).

        Why this estimator: it is exact for a linear-Gaussian model (Bayesian c-optimal design,
        Chaloner & Verdinelli 1995), costs one covariance of the draws the fit already has,
        and is deterministic given them, so the ranking does not move with a Monte Carlo seed.
        Nested Monte Carlo (Rainforth et al. 2018) would drop the Gaussian assumption, but for
        a derived target it needs :math:`p(y_c \mid t)`, an inner integral over the parameters
        given the target, at a bias of order :math:`1/M` for :math:`M` inner draws and
        :math:`M` times the cost; on the log scale the posteriors of scaling laws are close
        enough to Gaussian that the ranking, not the exact nats, is what matters. The gains
        are conditional on the law form: the law's own error beyond the data
        (:attr:`calibration`) is not something a run teaches, and is left out.

        Args:
            candidates: Runs that could be trained next: a DataFrame or a dict with the law's
                inputs as columns (raw counts; other columns are ignored), or arrays that
                broadcast, ``N[:, None]`` with ``D[None, :]`` for a grid.
            target: What to learn about, one of: the law's inputs (``{"N": 7e10,
                "D": 1.4e12}``): the loss of a run there; ``{"C": 1e24}``: the compute-optimal
                loss at a budget of that many FLOPs; ``{"N_opt": 1e24}``: the compute-optimal
                model size :math:`N^*` at that budget (:math:`D^* = C / (k N^*)` and
                :math:`D^*/N^*` carry the same information).
            budget: FLOPs the chosen runs may spend together (None: no limit).
            batch: How many runs to choose (default 1); None: as many as the budget allows.
                Fewer are chosen when the budget or the candidates run out.
            flops_per_param_token: ``k`` in ``C = k N D`` (default 6).
            level: Central interval probability of the predictive loss (default 0.9).
            seed: Seed of the predictive draws (the noise variance and the loss intervals).

        Returns:
            One row per candidate (indexed like ``candidates``), the chosen runs first in the
            order picked, then the rest by ``eig_per_flop``: the inputs, ``C`` (FLOPs),
            ``eig`` (nats, the run alone), ``eig_per_flop``, ``pred_median``, ``pred_lower``,
            ``pred_upper`` (the run's predictive loss), ``pick`` (1, 2, ... in the chosen
            set, 0 otherwise), ``gain`` (nats the run adds to the runs picked before it; for
            the others, to the whole chosen set), ``cumulative_C`` and ``cumulative_eig`` (of
            the chosen set up to that pick; NaN for the others). ``attrs`` holds ``target``
            (its description), the target's current ``target_median``, ``target_lower``,
            ``target_upper``, the chosen set's ``eig`` and ``width_ratio``
            (:math:`e^{-\mathrm{eig}}`), ``level`` and ``flops_per_param_token``.

        Raises:
            ValueError: for a candidate column that is missing, empty, not finite or not
                positive; a target that is not one of the three forms, or whose value is not
                one finite positive number; a ``budget`` that is not positive or is below the
                cheapest candidate; a ``batch`` below 1 (or None without a budget); a fit of a
                law without inputs ``N`` and ``D``, a grouped law, or a point fit (one draw).
            TypeError: for candidates or a target that are not a table or a dict.

        Example:
            >>> grid = {"N": np.geomspace(1e8, 1e10, 9)[:, None], "D": np.geomspace(2e9, 2e11, 9)}
            >>> post.next_runs(grid, target={"N": 7e10, "D": 1.4e12}, budget=1e21, batch=3)

        References:
            Lindley, D. V. (1956). On a measure of the information provided by an experiment.
            Annals of Mathematical Statistics 27(4), 986-1005.
            Chaloner, K. & Verdinelli, I. (1995). Bayesian experimental design: a review.
            Statistical Science 10(3), 273-304.
            Rainforth, T., Cornish, R., Yang, H., Warrington, A. & Wood, F. (2018). On nesting
            Monte Carlo estimators. ICML.
            Krause, A., Singh, A. & Guestrin, C. (2008). Near-optimal sensor placements in
            Gaussian processes. JMLR 9, 235-284.
        """
        from ._next_runs import next_runs

        self._warn_if_failed("next_runs", stacklevel=2)
        return next_runs(
            self,
            candidates,
            target=target,
            budget=budget,
            batch=batch,
            flops_per_param_token=flops_per_param_token,
            level=level,
            seed=seed,
        )

    # ----------------------------------------------------------------- groups
    def _grouped_inputs(self, inputs: Mapping[str, Any]) -> tuple[Any, Mapping[str, Any]]:
        """``(label, base inputs)`` for one group of a grouped law's fit, else
        ``(_AS_GIVEN, inputs)`` for the fit's own law.

        One group is named by label with ``group=`` or the group column's name; none given
        means a new, unseen group (label None). Per-point labels (an array) become the grouped
        law's codes, and per-point codes are evaluated as they are, as are an ungrouped law's
        inputs.
        """
        from ._hierarchical import group_spec

        spec = group_spec(self.law)
        if spec is None:
            return _AS_GIVEN, inputs
        rest = dict(inputs)
        if spec.column in rest and (spec.column != "group" or np.ndim(rest["group"]) > 0):
            value = rest[spec.column]
            if np.ndim(value) == 0 and any(str(value) == str(lab) for lab in spec.labels):
                return rest.pop(spec.column), rest
            return _AS_GIVEN, inputs  # numeric group codes: the grouped law evaluates them
        label_column = spec.label_column
        if label_column in rest and label_column not in spec.base.inputs:
            if np.ndim(rest[label_column]) > 0:  # one label per point: map them to codes
                labels = np.asarray(rest.pop(label_column)).tolist()
                try:
                    rest[spec.column] = spec.codes(labels)
                except KeyError as err:
                    raise InvalidValueError(f"{label_column}: {err.args[0]}") from None
                return _AS_GIVEN, rest
            return rest.pop(label_column), rest
        return rest.pop("group", None), rest

    def for_group(self, group: Any = None, *, seed: int = 0) -> Posterior:
        """The posterior of the base law for one group of a grouped fit.

        Args:
            group: An existing group's label, or None for a new, unseen group (population
                predictive: each draw gets new group effects drawn from the population).
            seed: Seed of the new group's effects.

        Returns:
            A :class:`Posterior` of the base law (with a log-loss ``offset`` parameter when
            the grouped law has a random offset): ``forecast``, ``allocate`` and
            ``compute_for`` then work as for an ungrouped fit. Its ``data`` are the group's
            rows (all rows for a new group).
        """
        from ._hierarchical import group_draws, group_spec

        spec = group_spec(self.law)
        if spec is None:
            raise InvalidValueError(
                f"law {self.law.name!r} is not grouped; for_group needs a grouped law"
            )
        check_seed(seed)
        base, draws = group_draws(self.law, self.draws, group, rng_key=jax.random.PRNGKey(seed))
        draws.update({k: self.draws[k] for k in self.noise.params})
        data = self.data
        if group is not None:
            data = data[data[spec.column].to_numpy() == spec.code(group)]
        data = data.drop(columns=[spec.column])
        return dataclasses.replace(self, law=base, data=data, draws=draws)

    def _mean_draws(self, x: Mapping[str, np.ndarray]) -> np.ndarray:
        """Draws of the law's mean (target units) at inputs ``x``: ``(draws, points)``."""
        theta = {k: jnp.asarray(self._theta_flat[k]) for k in self.law.param_names}
        xj = {k: jnp.asarray(v) for k, v in x.items()}
        loc = jax.vmap(lambda th: self.law.mean(th, xj))(theta)
        mean = np.asarray(_inverse_link(self.law.link, loc))
        return np.broadcast_to(mean, (self.num_draws, len(next(iter(x.values())))))

    def group_gap(
        self, a: Any, b: Any, *, level: float = DEFAULT_LEVEL, **inputs: Any
    ) -> pd.DataFrame:
        r"""The gap between two groups' mean laws, and whether it narrows with scale.

        Per posterior draw :math:`s`, the gap :math:`g_s(x) = L_b(x \mid \theta_s) -
        L_a(x \mid \theta_s)` between the mean laws (target units, e.g. nats) of groups ``b``
        and ``a`` of a grouped fit, at each input point. The draws of both groups come from the
        same joint posterior draws, so the gap carries their correlation. "The gap narrows
        between :math:`x_0` and :math:`x_i`" is the event :math:`|g(x_i)| < |g(x_0)|`; its
        posterior probability is ``p_narrower``.

        Args:
            a: Label of the first group (an existing group of the fit; a tuple for a group of
                several columns).
            b: Label of the second group.
            level: Central interval probability of the gap (default 0.9).
            **inputs: The base law's inputs (scalars or arrays that broadcast), e.g.
                ``N=[1e8, 1e11]``; the first point is the reference of ``p_narrower``.

        Returns:
            One row per input point: the inputs, ``gap`` (posterior median of
            :math:`L_b - L_a`), ``gap_lower``, ``gap_upper``, ``p_positive``
            (:math:`P(L_b > L_a)`) and ``p_narrower`` (:math:`P(|g(x_i)| < |g(x_0)|)`; NaN in
            the first row).

        Raises:
            ValueError: for an ungrouped fit or ``a == b``. KeyError: for an unknown label.

        Example:
            >>> post = bs.fit(hestness_N, df, groups="lang", pooled=["alpha", "A"])
            >>> post.group_gap("en", "sw", N=[1e8, 1e11])["p_narrower"].iloc[-1]
        """
        from ._hierarchical import group_spec

        spec = group_spec(self.law)
        if spec is None:
            raise InvalidValueError(
                f"law {self.law.name!r} is not grouped; group_gap needs a grouped fit"
            )
        if a is None or b is None:
            raise InvalidValueError("group_gap compares two existing groups: name both labels")
        if spec.code(a) == spec.code(b):
            raise InvalidValueError(f"group_gap needs two different groups, got {a!r} twice")
        post_a, post_b = self.for_group(a), self.for_group(b)
        x = post_a._x(inputs)
        gap = post_b._mean_draws(x) - post_a._mean_draws(x)
        lo, med, hi = _quantiles(gap, level)
        out = pd.DataFrame(x)
        out["gap"], out["gap_lower"], out["gap_upper"] = med, lo, hi
        out["p_positive"] = (gap > 0).mean(axis=0)
        narrower = (np.abs(gap) < np.abs(gap[:, :1])).mean(axis=0)
        out["p_narrower"] = np.where(np.arange(gap.shape[1]) == 0, np.nan, narrower)
        out.attrs.update(level=level, a=a, b=b)
        return out

    # ----------------------------------------------------------------- ArviZ, I/O
    @functools.cached_property
    def log_likelihood(self) -> np.ndarray:
        """Pointwise log likelihood of the observed rows, ``(chain, draw, row)``."""
        return self._pointwise_log_likelihood()

    def _pointwise_log_likelihood(self) -> np.ndarray:
        """:attr:`log_likelihood`, computed afresh and not kept."""
        samples = {k: jnp.asarray(v) for k, v in self._theta_flat.items()}
        x = {k: jnp.asarray(self.data[k].to_numpy()) for k in self.law.inputs}
        y = jnp.asarray(self.data[self.law.target].to_numpy())
        ll = _LOG_LIKELIHOODS.get((self.law, self.noise), lambda: _log_likelihood_fn(self))(
            samples, x, y
        )
        return np.asarray(ll).reshape(self.num_chains, -1, len(self.data))

    def to_arviz(
        self,
        *,
        predictive: bool = True,
        predictive_seed: int | None = None,
        log_likelihood: bool = True,
    ):
        """The fit as an ArviZ ``xarray.DataTree`` (posterior, posterior_predictive,
        sample_stats, log_likelihood, observed_data, constant_data), with the law, noise and
        settings in ``attrs``: ``arviz.loo``, ``loo_pit`` and ``plot_ppc`` work on it as it is.

        Args:
            predictive: Add the ``posterior_predictive`` group: one draw of each observed row per
                posterior draw, the noise included (default True; :meth:`save` leaves it out).
            predictive_seed: Seed of those draws (default: the fit's own seed).
            log_likelihood: Add the ``log_likelihood`` group, one value per draw and row, which
                ``arviz.loo`` needs (default True; :meth:`save` leaves it out).
        """
        import arviz_base as azb

        rows = np.arange(len(self.data))
        posterior = {**self.published_draws, **self.draws}
        groups = {"posterior": posterior}
        if log_likelihood:
            groups["log_likelihood"] = {OBS_SITE: self.log_likelihood}
        groups["observed_data"] = {OBS_SITE: self.data[self.law.target].to_numpy()}
        groups["constant_data"] = {k: self.data[k].to_numpy() for k in self.law.inputs}
        if self.stats:
            groups["sample_stats"] = dict(self.stats)
        if predictive or predictive_seed is not None:
            x = {k: self.data[k].to_numpy() for k in self.law.inputs}
            seed = self.seed if predictive_seed is None else predictive_seed
            pred = self.predictive(x, seed=seed)
            shape = (self.num_chains, self.num_draws // self.num_chains, len(self.data))
            groups["posterior_predictive"] = {OBS_SITE: pred.reshape(shape)}
        dims = {OBS_SITE: ["row"], **{k: ["row"] for k in self.law.inputs}}
        attrs = {
            "bayescale_format": FORMAT_VERSION,
            "law": self.law.name,
            "noise": self.noise.name,
            "method": self.method,
            "seed": self.seed,
            "settings": json.dumps(dict(self.settings)),
            "inputs": json.dumps(list(self.law.inputs)),
            "target": self.law.target,
            "row_labels": json.dumps(self.data.index.tolist(), default=str),
            # The verdict of the fit, kept as it was (files without it are re-diagnosed).
            "problems": json.dumps(list(self.problems)),
        }
        grouping = _group_attrs(self.law)
        if grouping is not None:  # what bs.load needs to rebuild a grouped catalog law
            attrs["grouping"] = json.dumps(grouping)
        priors = _priors_attr(self.law)
        if priors is not None:  # which priors a catalog law's fit used
            attrs["priors"] = priors
        from ._discrepancy import discrepancy_attr

        attrs["discrepancy"] = discrepancy_attr(self)  # the law's error beyond the data
        tree = azb.from_dict(groups, dims=dims, coords={"row": rows})
        tree.attrs.update(attrs)
        return tree

    def save(self, path: str | os.PathLike, *, log_likelihood: bool = False) -> None:
        """Write the fit to a netCDF file (no pickle); read it back with :func:`bayescale.load`.

        The file is written whole or not at all: to a temporary file in the same folder,
        flushed to disk, then renamed over ``path``, so a crash, a kill, a full disk or Ctrl-C
        during the save leaves the previous file as it was. ``os.devnull`` discards the fit.

        The file holds the draws, the sampler statistics, the data and the settings: what
        :func:`bayescale.load` needs to rebuild the fit and re-check its diagnostics. The
        pointwise log likelihood (``chains x draws x rows`` numbers, 3 GB for a million rows)
        is recomputed from them on demand (:attr:`log_likelihood`, LOO, :func:`compare`), so it
        is left out unless asked for.

        Args:
            path: The file to write (``.nc`` by convention).
            log_likelihood: Also store the ``log_likelihood`` group, for tools that read the
                file with ArviZ directly (``arviz.loo(xarray.open_datatree(path))``).

        Raises:
            TypeError: for ``path=None`` or a value that is not a path.
            ValueError: for a folder, a missing or read-only folder, or a special file.
            OSError: when the file cannot be written (the previous file is unchanged).
        """
        import io

        from ._files import check_target, write_atomic

        target = check_target(path)  # before any work: a bad path fails at once
        buffer = io.BytesIO()  # the whole file in memory first: a failing disk never sees HDF5
        tree = self.to_arviz(predictive=False, log_likelihood=log_likelihood)
        tree.to_netcdf(buffer, engine="h5netcdf")
        # released on the way out, also when the write fails: a view still exported when the
        # buffer is freed (from a traceback's frame) crashes the interpreter
        with buffer.getbuffer() as contents:
            write_atomic(target, contents)
        # this machine remembers the file's verdict, so loading it needs no re-diagnosis
        names = (*self.law.param_names, *self.noise.params)
        draws = {k: self.draws[k] for k in names}
        _diagnosed(
            tree.attrs,
            self.law,
            self.noise,
            self.method,
            self.settings,
            draws,
            dict(self.stats),
            self.data,
        )

    # ----------------------------------------------------------------- display
    def __repr__(self) -> str:
        status = "ok" if self.ok else f"FAILED DIAGNOSTICS ({len(self.problems)} problems)"
        if self.approximate:
            status = f"approximate ({self.method}), {status}"
        lines = [
            f"Posterior({self.law.name}, noise={self.noise}, method={self.method}, "
            f"{self.num_chains} chains x {self.num_draws // self.num_chains} draws, "
            f"{len(self.data)} rows) [{status}]"
        ]
        table = self.summary()
        lines.append(
            table[["median", "lower", "upper", "r_hat", "ess_bulk"]].to_string(
                float_format=lambda v: f"{v:.4g}"
            )
        )
        lines += [f"note: {n}" for n in self.notes]
        lines += [f"! {p}" for p in self.problems]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        status = (
            "<b style='color:green'>diagnostics ok</b>"
            if self.ok
            else "<b style='color:red'>FAILED DIAGNOSTICS</b><ul>"
            + "".join(f"<li>{p}</li>" for p in self.problems)
            + "</ul>"
        )
        head = (
            f"<p>Posterior of <code>{self.law.formula}</code> ({self.noise} noise, "
            f"{self.method}, {len(self.data)} rows): {status}</p>"
        )
        return head + self.summary().to_html(float_format=lambda v: f"{v:.4g}")


def _copy_on_write() -> bool:
    """Whether pandas copies on write (always from pandas 3; an option in pandas 2)."""
    if int(pd.__version__.split(".")[0]) >= 3:
        return True
    return pd.get_option("mode.copy_on_write") is True


def _table_copy(table: pd.DataFrame) -> pd.DataFrame:
    # With copy-on-write a shallow copy copies no values yet is never written through.
    return table.copy(deep=not _copy_on_write())


def _get_data(self: Posterior) -> pd.DataFrame:
    return _table_copy(self.__dict__["_data"])


def _set_data(self: Posterior, value: pd.DataFrame) -> None:
    # Reached only from __init__ (the frozen dataclass refuses `post.data = ...`): keep a
    # private copy, so the caller's later edits to its table do not reach the fit either.
    self.__dict__["_data"] = _table_copy(value) if isinstance(value, pd.DataFrame) else value


# ``data`` stays a dataclass field (``Posterior(data=...)``, ``dataclasses.replace``); this
# property stores it privately and hands out copies, so ``post.data.loc[i, "loss"] = 100``
# cannot change later results.
Posterior.data = property(
    _get_data,
    _set_data,
    doc="The validated data the fit conditioned on (a copy: editing it leaves the fit as it is).",
)


def load(path: str | os.PathLike, *, law: Law | None = None) -> Posterior:
    """Read a fit written by :meth:`Posterior.save`.

    The file is read into memory and closed, so it can be overwritten (``post.save(path)``)
    right away. A grouped fit of a catalog law (``fit(..., groups=...)``) is rebuilt with
    :func:`bayescale.hierarchical` from what the file records.

    The verdict (:attr:`Posterior.problems`, :attr:`Posterior.ok`) is recomputed from the
    draws and sampler statistics, as :func:`bayescale.fit` computed it, not read from the
    file: an edited file, or one whose draws are not finite, cannot load as a fit that passed.
    Problems the file records beyond the recomputed ones are kept.

    Args:
        path: A netCDF file from ``Posterior.save``.
        law: The law object, required for a user-defined law (catalog laws, and grouped fits of
            them, are found by name).

    Raises:
        ValueError: if the file is not a bayescale fit, is of an unknown format version, is
            incomplete, holds draws or data that are not real numbers of consistent shapes
            (or data no fit accepts: non-finite, non-positive inputs), or ``law`` is not the
            law the file's fit was made with.
    """
    import xarray as xr

    try:
        tree = xr.open_datatree(path, engine="h5netcdf")
    except Exception as err:  # noqa: BLE001 -- any reader failure means "not our file"
        raise InvalidValueError(f"{path}: not a readable netCDF file ({err})") from err
    try:
        return _load_open(path, tree, law)
    finally:
        tree.close()


def _load_open(path: str | os.PathLike, tree: Any, law: Law | None) -> Posterior:
    """:func:`load` on an opened file (read wholly into memory: the caller closes it)."""
    attrs = dict(tree.attrs)
    version = attrs.get("bayescale_format")
    if version is None:
        raise InvalidValueError(f"{path}: not a bayescale fit (no 'bayescale_format' attribute)")
    try:
        version = int(version)
    except (TypeError, ValueError) as err:
        raise InvalidValueError(f"{path}: unreadable bayescale format version {version!r}") from err
    if version < 1:
        raise InvalidValueError(f"{path}: unknown bayescale format version {version}")
    if int(version) > FORMAT_VERSION:
        raise InvalidValueError(
            f"{path}: format version {version} is newer than this bayescale "
            f"({FORMAT_VERSION}); upgrade bayescale"
        )
    if law is None and "law" not in attrs:
        raise InvalidValueError(f"{path}: corrupted bayescale file: no 'law' attribute")
    if law is None:
        name = attrs["law"]
        if "grouping" in attrs:
            try:
                law = _grouped_law(json.loads(attrs["grouping"]))
            except (KeyError, TypeError, ValueError, AttributeError) as err:
                raise InvalidValueError(
                    f"{path}: corrupted bayescale file: unreadable 'grouping' ({err})"
                ) from err
            if law is None:
                raise InvalidValueError(
                    f"{path}: law {name!r} groups a law that is not in the catalog; "
                    "pass law=<your grouped Law>"
                )
        else:
            law = _catalog_law(name)
            if law is None:
                raise InvalidValueError(
                    f"{path}: law {name!r} is not in the catalog; pass law=<your Law>"
                )
            # files written before priors were recorded: the catalog's default priors
            law = _law_with_priors(path, law, str(attrs.get("priors", "default")))
    _check_law_matches(path, law, attrs, tree)
    try:
        return _from_tree(tree, attrs, law)
    except (KeyError, TypeError, IndexError, ValueError, OSError) as err:
        raise InvalidValueError(
            f"{path}: corrupted or incomplete bayescale file ({type(err).__name__}: {err})"
        ) from err


def _from_tree(tree, attrs, law: Law) -> Posterior:
    """The Posterior stored in an opened bayescale file (see :func:`load`), read into memory."""
    noise = noise_of(attrs["noise"])
    posterior = tree["posterior"].to_dataset()
    draws = {k: posterior[k].to_numpy() for k in (*law.param_names, *noise.params)}
    stats = {}
    if "sample_stats" in tree.children:
        ss = tree["sample_stats"].to_dataset()
        stats = {k: ss[k].to_numpy() for k in ss.data_vars}
    const = tree["constant_data"].to_dataset()
    obs = tree["observed_data"].to_dataset()
    index = pd.Index(json.loads(attrs["row_labels"]))
    data = pd.DataFrame({k: const[k].to_numpy() for k in law.inputs}, index=index)
    data[law.target] = obs[OBS_SITE].to_numpy()
    settings = json.loads(attrs["settings"])
    if not isinstance(settings, dict):
        raise InvalidValueError(f"'settings' is not a mapping: {attrs['settings']!r}")
    method = attrs["method"]
    shape = _checked_draws("draws of", draws)
    # MCMC statistics are per draw; an approximation's (a MAP's potential, an ELBO, a Hoffmann
    # objective) are one per fit, shaped (1, 1)
    per_fit = {k: v for k, v in stats.items() if method not in _NEEDED_STATS and v.shape == (1, 1)}
    _checked_draws("sampler statistic", {k: stats[k] for k in stats if k not in per_fit}, shape)
    _checked_draws("sampler statistic", per_fit, (1, 1))
    _checked_data(law, data)
    # The verdict is recomputed from the draws (or remembered by this machine for these very
    # values): a file cannot vouch for itself. Problems the file records beyond those (checks
    # of the fit that need more than the draws) are kept.
    problems = _diagnosed(attrs, law, noise, method, settings, draws, stats, data)
    if "problems" in attrs:
        stored = json.loads(attrs["problems"])
        if not (isinstance(stored, list) and all(isinstance(p, str) for p in stored)):
            raise InvalidValueError(f"'problems' is not a list of strings: {attrs['problems']!r}")
        problems += tuple(p for p in stored if p not in problems)
    from ._discrepancy import discrepancy_from_attr

    return Posterior(
        law=law,
        noise=noise,
        data=data,
        draws=draws,
        stats=stats,
        method=method,
        seed=int(attrs["seed"]),
        settings=settings,
        problems=problems,
        discrepancy=discrepancy_from_attr(attrs.get("discrepancy")),
    )
