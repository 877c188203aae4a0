"""The Posterior: an immutable result of a fit, and everything computed from its draws."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ._allocation import allocate_draws, compute_for_loss
from ._diagnostics import check_convergence, check_draws, convergence_table
from ._law import Law
from ._model import OBS_SITE, build_model, noise_params

__all__ = ["Posterior", "load", "FORMAT_VERSION"]

FORMAT_VERSION = 1

_NO_GROUP = object()  # sentinel: allocate() was not asked for a group


def _quantiles(
    draws: np.ndarray, level: float, method: str = "linear"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    q = (1.0 - level) / 2.0
    lo, med, hi = np.quantile(draws, [q, 0.5, 1.0 - q], axis=0, method=method)
    return lo, med, hi


def _inverse_link(link: str, loc):
    return {"log": jnp.exp, "identity": lambda v: v, "logit": jax.nn.sigmoid}[link](loc)


@dataclasses.dataclass(frozen=True, eq=False)
class Posterior:
    """Posterior draws of a law's parameters given data, with diagnostics.

    Never modified in place. ``samples`` holds draws by the law's published parameter names
    (chains flattened); ``draws`` holds the sampling-space parameters shaped ``(chain, draw)``.

    Attributes:
        law: The fitted law.
        noise: The noise model (``"normal"``, ``"student_t"``).
        data: The validated data (the law's inputs and target) the fit conditioned on.
        draws: Sampling-space parameters, noise parameters included, ``(chain, draw)`` each.
        stats: Sampler statistics (``diverging``, ``n_steps``, ``acceptance_rate``, ``energy``).
        method: The inference method (``"nuts"``).
        seed: The seed of the fit.
        settings: Sampler settings used.
        problems: Diagnostic failures, each with a remedy; empty when the fit passed.
    """

    law: Law
    noise: str
    data: pd.DataFrame
    draws: Mapping[str, np.ndarray]
    stats: Mapping[str, np.ndarray]
    method: str = "nuts"
    seed: int = 0
    settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    problems: tuple[str, ...] = ()

    # ----------------------------------------------------------------- draws
    @property
    def num_chains(self) -> int:
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
        out.update({k: self.draws[k] for k in noise_params(self.noise)})
        return out

    @property
    def samples(self) -> dict[str, np.ndarray]:
        """Draws keyed by published parameter names (plus noise parameters), chains flattened."""
        return {k: v.reshape(-1) for k, v in self.published_draws.items()}

    @property
    def approximate(self) -> bool:
        """True unless the draws come from an MCMC sampler (``"nuts"``, ``"chees"``): MAP,
        Laplace, SVI and the Hoffmann point fit/bootstrap only approximate the posterior."""
        return self.method not in ("nuts", "chees")

    @property
    def ok(self) -> bool:
        """True when the fit passed every diagnostic (no divergences, R-hat, ESS, BFMI)."""
        return not self.problems

    # ----------------------------------------------------------------- tables
    @functools.cached_property
    def diagnostics(self) -> pd.DataFrame:
        """R-hat and bulk/tail ESS of sampling-space and published parameters."""
        return convergence_table({**self.draws, **self.published_draws})

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """One row per parameter: mean, sd, median, equal-tailed interval, R-hat, ESS.

        Args:
            level: Probability mass of the central interval (default 0.95).
        """
        rows = {}
        diag = self.diagnostics
        for name, a in self.published_draws.items():
            flat = a.reshape(-1)
            lo, med, hi = _quantiles(flat, level)
            rows[name] = {
                "mean": flat.mean(),
                "sd": flat.std(ddof=1),
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

    def _x(self, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        missing = [k for k in self.law.inputs if k not in inputs]
        extra = [k for k in inputs if k not in self.law.inputs]
        if missing or extra:
            raise ValueError(
                f"law {self.law.name!r} takes inputs {self.law.inputs}; missing {missing}, "
                f"unexpected {extra}"
            )
        arrays = np.broadcast_arrays(
            *[np.atleast_1d(np.asarray(inputs[k], np.float64)) for k in self.law.inputs]
        )
        x = {k: a.reshape(-1) for k, a in zip(self.law.inputs, arrays, strict=True)}
        for k, a in x.items():
            if not np.all(np.isfinite(a) & (a > 0)):
                raise ValueError(f"input {k!r} must be finite and positive, got {a}")
        return x

    def forecast(self, *, level: float = 0.9, seed: int = 0, **inputs: Any) -> pd.DataFrame:
        """Posterior forecast of the target at new inputs.

        Returns both the credible interval of the law's mean (parameter uncertainty only) and
        the predictive interval of a new run (parameters and noise).

        Args:
            level: Central interval probability (default 0.9).
            seed: Seed of the noise draws for the predictive interval.
            **inputs: The law's inputs (scalars or arrays that broadcast), e.g. ``N=70e9``.

        Returns:
            One row per input point: the inputs, ``median`` (of the mean law), ``mean_lower``,
            ``mean_upper``, ``pred_median``, ``pred_lower``, ``pred_upper``, and
            ``extrapolation``, the largest distance in decades outside the data's range of
            any input, above its largest or below its smallest value (0 inside it).
        """
        grouped = self._grouped_inputs(inputs)
        if grouped is not None:  # a grouped law: forecast one group (or a new one)
            label, inputs = grouped
            return self.for_group(label, seed=seed).forecast(level=level, seed=seed, **inputs)
        x = self._x(inputs)
        theta = {k: jnp.asarray(self._theta_flat[k]) for k in self.law.param_names}
        xj = {k: jnp.asarray(v) for k, v in x.items()}
        loc = jax.vmap(lambda th: self.law.mean(th, xj))(theta)
        mean = np.asarray(_inverse_link(self.law.link, loc))
        mean = np.broadcast_to(mean, (self.num_draws, len(next(iter(x.values())))))
        pred = self.predictive(jax.random.PRNGKey(seed), x)
        m_lo, m_med, m_hi = _quantiles(mean, level)
        p_lo, p_med, p_hi = _quantiles(pred, level)
        out = pd.DataFrame(x)
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
        out.attrs["level"] = level
        return out

    def predictive(self, rng_key: jax.Array, x: Mapping[str, Any]) -> np.ndarray:
        """Posterior predictive draws of the target at inputs ``x``: ``(draws, points)``."""
        from numpyro.infer import Predictive

        model = build_model(self.law, self.noise)
        samples = {k: jnp.asarray(v) for k, v in self._theta_flat.items()}
        xj = {k: jnp.asarray(np.asarray(v, np.float64)) for k, v in x.items()}
        out = Predictive(model, posterior_samples=samples, return_sites=[OBS_SITE])(rng_key, xj)
        return np.asarray(out[OBS_SITE])

    def allocate(
        self,
        C: Any,
        *,
        level: float = 0.9,
        flops_per_param_token: float = 6.0,
        group: Any = _NO_GROUP,
        seed: int = 0,
    ) -> pd.DataFrame:
        """Compute-optimal allocation of FLOP budgets ``C``, with credible intervals.

        Per posterior draw, ``N*`` minimises the law on ``C = k N D`` (``k`` =
        ``flops_per_param_token``, 6 by default); the closed form where the law has one.

        For a grouped law (:func:`bayescale.hierarchical`), ``group`` names the group (None: a
        new, unseen group, with new group effects drawn with ``seed``).

        Returns:
            One row per budget: ``C`` and, for each of ``N_opt``, ``D_opt``,
            ``tokens_per_param`` (D*/N*), ``loss_opt``, ``a`` (dlog N*/dlog C) and ``b``
            (dlog D*/dlog C), the median and ``_lower``/``_upper`` interval bounds.
        """
        if group is not _NO_GROUP:  # a grouped law: allocate for one group (or a new one)
            return self.for_group(group, seed=seed).allocate(
                C, level=level, flops_per_param_token=flops_per_param_token
            )
        C = np.atleast_1d(np.asarray(C, np.float64)).reshape(-1)
        if not np.all(np.isfinite(C) & (C > 0)):
            raise ValueError(f"compute budgets C must be finite and positive, got {C}")
        theta = {k: jnp.asarray(self._theta_flat[k]) for k in self.law.param_names}
        per_draw = allocate_draws(self.law, theta, C / flops_per_param_token)
        out = pd.DataFrame({"C": C})
        # Per draw D* = (C/k) / N* and D*/N* = (C/k) / N*^2 fall as N* rises, so their quantiles
        # are those maps of N*'s quantiles (upper and lower swapped): the reported N* and D*
        # then spend exactly C, which separately interpolated medians do not.
        budget = C / flops_per_param_token
        n_lo, n_med, n_hi = _quantiles(np.asarray(per_draw["N_opt"]), level)
        out["N_opt"], out["N_opt_lower"], out["N_opt_upper"] = n_med, n_lo, n_hi
        out["D_opt"], out["D_opt_lower"], out["D_opt_upper"] = (
            budget / n for n in (n_med, n_hi, n_lo)
        )
        out["tokens_per_param"], out["tokens_per_param_lower"], out["tokens_per_param_upper"] = (
            budget / n**2 for n in (n_med, n_hi, n_lo)
        )
        for name in ("loss_opt", "a", "b"):
            lo, med, hi = _quantiles(np.asarray(per_draw[name]), level)
            out[name], out[f"{name}_lower"], out[f"{name}_upper"] = med, lo, hi
        out.attrs["level"] = level
        out.attrs["flops_per_param_token"] = flops_per_param_token
        return out

    def compute_for(
        self, loss: Any, *, level: float = 0.9, flops_per_param_token: float = 6.0
    ) -> pd.DataFrame:
        """FLOPs needed to reach a target loss with a compute-optimal model, with intervals.

        Returns:
            One row per target: ``loss``, ``C`` (median), ``C_lower``, ``C_upper`` and
            ``p_reachable``, the posterior probability that the target lies above the
            irreducible loss at all. Interval bounds are ``inf`` where the target is unreachable
            in that share of draws.
        """
        loss = np.atleast_1d(np.asarray(loss, np.float64)).reshape(-1)
        theta = {k: jnp.asarray(self._theta_flat[k]) for k in self.law.param_names}
        budget, reachable = compute_for_loss(self.law, theta, loss)
        c = np.asarray(budget) * flops_per_param_token
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

    # ----------------------------------------------------------------- groups
    def _grouped_inputs(self, inputs: Mapping[str, Any]):
        """``(label, base inputs)`` when this is a grouped law's fit and no group code is given.

        The group is named by label with ``group=`` or the group column's name; none given
        means a new, unseen group. Returns None for an ungrouped law or explicit codes.
        """
        from ._hierarchical import group_spec

        spec = group_spec(self.law)
        if spec is None:
            return None
        rest = dict(inputs)
        if spec.column in rest and spec.column != "group":
            value = rest[spec.column]
            if np.ndim(value) == 0 and any(str(value) == str(lab) for lab in spec.labels):
                return rest.pop(spec.column), rest
            return None  # numeric group codes: the grouped law evaluates them directly
        label_column = spec.column.removesuffix("_code")  # fit(groups="U") codes "U_code"
        if label_column in rest and label_column not in spec.base.inputs:
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
            raise ValueError(f"law {self.law.name!r} is not grouped; for_group needs a grouped law")
        base, draws = group_draws(self.law, self.draws, group, rng_key=jax.random.PRNGKey(seed))
        draws.update({k: self.draws[k] for k in noise_params(self.noise)})
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

    def group_gap(self, a: Any, b: Any, *, level: float = 0.9, **inputs: Any) -> pd.DataFrame:
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
            raise ValueError(f"law {self.law.name!r} is not grouped; group_gap needs a grouped fit")
        if a is None or b is None:
            raise ValueError("group_gap compares two existing groups: name both labels")
        if spec.code(a) == spec.code(b):
            raise ValueError(f"group_gap needs two different groups, got {a!r} twice")
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
        from numpyro.infer import log_likelihood

        model = build_model(self.law, self.noise)
        samples = {k: jnp.asarray(v) for k, v in self._theta_flat.items()}
        x = {k: jnp.asarray(self.data[k].to_numpy()) for k in self.law.inputs}
        y = jnp.asarray(self.data[self.law.target].to_numpy())
        ll = log_likelihood(model, samples, x=x, y=y)[OBS_SITE]
        return np.asarray(ll).reshape(self.num_chains, -1, len(self.data))

    def to_arviz(self, *, predictive_seed: int | None = None):
        """The fit as an ArviZ ``xarray.DataTree`` (posterior, sample_stats, log_likelihood,
        observed_data, constant_data), with the law, noise and settings in ``attrs``.

        Args:
            predictive_seed: When given, also add a ``posterior_predictive`` group (draws of the
                observed rows, made with this seed), which LOO-PIT and PPC plots need.
        """
        import arviz_base as azb

        rows = np.arange(len(self.data))
        posterior = {**self.published_draws, **self.draws}
        groups = {
            "posterior": posterior,
            "log_likelihood": {OBS_SITE: self.log_likelihood},
            "observed_data": {OBS_SITE: self.data[self.law.target].to_numpy()},
            "constant_data": {k: self.data[k].to_numpy() for k in self.law.inputs},
        }
        if self.stats:
            groups["sample_stats"] = dict(self.stats)
        if predictive_seed is not None:
            x = {k: self.data[k].to_numpy() for k in self.law.inputs}
            pred = self.predictive(jax.random.PRNGKey(predictive_seed), x)
            groups["posterior_predictive"] = {OBS_SITE: pred.reshape(self.log_likelihood.shape)}
        dims = {OBS_SITE: ["row"], **{k: ["row"] for k in self.law.inputs}}
        attrs = {
            "bayescale_format": FORMAT_VERSION,
            "law": self.law.name,
            "noise": self.noise,
            "method": self.method,
            "seed": self.seed,
            "settings": json.dumps(dict(self.settings)),
            "inputs": json.dumps(list(self.law.inputs)),
            "target": self.law.target,
            "row_labels": json.dumps(self.data.index.tolist(), default=str),
        }
        tree = azb.from_dict(groups, dims=dims, coords={"row": rows})
        tree.attrs.update(attrs)
        return tree

    def save(self, path: str | os.PathLike) -> None:
        """Write the fit to a netCDF file (no pickle); read it back with :func:`bayescale.load`."""
        self.to_arviz().to_netcdf(path, engine="h5netcdf")

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


def load(path: str | os.PathLike, *, law: Law | None = None) -> Posterior:
    """Read a fit written by :meth:`Posterior.save`.

    Args:
        path: A netCDF file from ``Posterior.save``.
        law: The law object, required for a user-defined law (catalog laws are found by name).

    Raises:
        ValueError: if the file is not a bayescale fit or is of an unknown format version.
    """
    import xarray as xr

    try:
        tree = xr.open_datatree(path, engine="h5netcdf")
    except Exception as err:  # noqa: BLE001 -- any reader failure means "not our file"
        raise ValueError(f"{path}: not a readable netCDF file ({err})") from err
    attrs = tree.attrs
    version = attrs.get("bayescale_format")
    if version is None:
        raise ValueError(f"{path}: not a bayescale fit (no 'bayescale_format' attribute)")
    try:
        version = int(version)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: unreadable bayescale format version {version!r}") from err
    if version < 1:
        raise ValueError(f"{path}: unknown bayescale format version {version}")
    if int(version) > FORMAT_VERSION:
        raise ValueError(
            f"{path}: format version {version} is newer than this bayescale "
            f"({FORMAT_VERSION}); upgrade bayescale"
        )
    if law is None and "law" not in attrs:
        raise ValueError(f"{path}: corrupted bayescale file: no 'law' attribute")
    if law is None:
        from . import models

        name = attrs["law"]
        law = getattr(models, name, None)
        if not isinstance(law, Law):
            raise ValueError(f"{path}: law {name!r} is not in the catalog; pass law=<your Law>")
    try:
        return _from_tree(tree, attrs, law)
    except (KeyError, TypeError, IndexError, ValueError, OSError) as err:
        raise ValueError(
            f"{path}: corrupted or incomplete bayescale file ({type(err).__name__}: {err})"
        ) from err


def _from_tree(tree, attrs, law: Law) -> Posterior:
    """The Posterior stored in an opened bayescale file (see :func:`load`)."""
    noise = attrs["noise"]
    posterior = tree["posterior"].to_dataset()
    draws = {k: posterior[k].to_numpy() for k in (*law.param_names, *noise_params(noise))}
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
    problems = ()
    if stats:
        table = convergence_table(draws)
        problems = tuple(
            check_convergence(
                table, stats, max_tree_depth=settings.get("max_tree_depth", 10), warn=False
            )
        )
    problems += tuple(check_draws(law, noise, draws, stats, warn=False))
    return Posterior(
        law=law,
        noise=noise,
        data=data,
        draws=draws,
        stats=stats,
        method=attrs["method"],
        seed=int(attrs["seed"]),
        settings=settings,
        problems=problems,
    )
