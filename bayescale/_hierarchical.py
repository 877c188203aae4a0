r"""Grouped (hierarchical) laws: one law fitted across groups with per-parameter pooling.

:func:`hierarchical` turns any :class:`~bayescale.Law` into a new ``Law`` over the base law's
inputs plus one numeric group-code column (codes ``1..G``; 1-based because every law input is
validated as positive). Each sampling-space parameter :math:`\theta` of the base law is

* **shared**: one value for all groups (the base prior);
* **separate**: one independent value per group, each with the base prior;
* **pooled** (partial pooling, non-centred): with :math:`T` the bijection from the real line to
  the parameter's support (identity for real parameters, a scaled sigmoid for an exponent on
  (0, 2)),

  .. math::
      \theta_g = T\big(T^{-1}(\theta_\mu) + \tau\, z_g\big), \qquad
      \theta_\mu \sim \text{base prior}, \quad \tau \sim \text{HalfNormal}(0.5),
      \quad z_g \sim \mathcal N(0, 1),

  sampled as ``<name>_mu``, ``<name>_tau`` and ``<name>_z`` (shape ``(G,)``). :math:`\tau` is
  the spread of the groups on the unconstrained scale (for ``log_A0`` the log scale: 0.5 is a
  factor 1.6; for an exponent near 0.35 on (0, 2) it is about +-0.15).

An optional random **offset** adds :math:`\tau_o z_{o,g}` to the log-loss of every row of group
``g``: the random intercept of repeated runs that share a seed (seed random effects).

The grouped law is an ordinary ``Law``: ``fit``, ``Posterior``, ``log_likelihood``,
``save``/``load`` (pass ``law=``) work unchanged. :func:`group_spec` returns its grouping
(labels, codes, the base law), and :func:`group_draws` turns a posterior of the grouped law
into draws of the base law for one existing group, or for a new, unseen group (population
predictive: new :math:`z` drawn from :math:`\mathcal N(0, 1)` for each posterior draw).

References:
    Gelman & Hill (2007), Data Analysis Using Regression and Multilevel/Hierarchical Models,
    ch. 11-13. Betancourt & Girolami (2015), Hamiltonian Monte Carlo for hierarchical models,
    arXiv:1312.0906 (the non-centred parameterisation).
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from numpyro.distributions.transforms import biject_to

from ._law import Law, Parameter

__all__ = ["hierarchical", "GroupSpec", "group_spec", "group_draws", "resolve_params"]

# Spread of pooled groups on the unconstrained scale (see the module docstring).
TAU_PRIOR_SCALE = 0.5
OFFSET = "offset"


@dataclasses.dataclass(frozen=True, eq=False)
class GroupSpec:
    """How a grouped law groups its base law.

    Attributes:
        base: The ungrouped law.
        column: Name of the group-code input column.
        labels: Group labels; label ``labels[i]`` has code ``i + 1``.
        pooled, shared, separate: Sampling-space parameter names of each kind.
        offset: Whether a random log-loss offset per group is included.
    """

    base: Law
    column: str
    labels: tuple[Hashable, ...]
    pooled: tuple[str, ...]
    shared: tuple[str, ...]
    separate: tuple[str, ...]
    offset: bool

    @property
    def num_groups(self) -> int:
        return len(self.labels)

    def code(self, label: Hashable) -> int:
        """The 1-based code of a group label."""
        for i, lab in enumerate(self.labels):
            if lab == label or str(lab) == str(label):
                return i + 1
        raise KeyError(f"unknown group {label!r} in column {self.column!r}; groups: {self.labels}")

    def codes(self, labels: Sequence[Hashable]) -> np.ndarray:
        lookup = {lab: i + 1 for i, lab in enumerate(self.labels)}
        return np.array([lookup[v] if v in lookup else self.code(v) for v in labels], np.float64)


_SPECS: weakref.WeakKeyDictionary[Law, GroupSpec] = weakref.WeakKeyDictionary()
_MEMO: dict[tuple, Law] = {}


def group_spec(law: Law) -> GroupSpec | None:
    """The :class:`GroupSpec` of a grouped law, or None for an ungrouped law."""
    return _SPECS.get(law)


def _published_to_sampling(law: Law) -> dict[str, str]:
    """Map published names to sampling-space names where the link is plain.

    ``alpha -> alpha`` (same name), ``E -> log_E`` (``log_`` prefix), ``A -> log_A0`` (the
    centred scale ``log_<name>`` followed by a reference suffix).
    """
    names = law.param_names
    out = {}
    for pub in law.published:
        if pub in names:
            out[pub] = pub
        elif f"log_{pub}" in names:
            out[pub] = f"log_{pub}"
        else:
            hits = [n for n in names if n.startswith(f"log_{pub}") and n[len(pub) + 4 :].isdigit()]
            if len(hits) == 1:
                out[pub] = hits[0]
    return out


def resolve_params(law: Law, names: Sequence[str] | str, what: str) -> tuple[str, ...]:
    """Sampling-space names for user names (sampling or published), with a clear error."""
    if isinstance(names, str):
        names = [names]
    mapping = _published_to_sampling(law)
    out = []
    for n in names:
        if n in law.param_names:
            out.append(n)
        elif n in mapping:
            out.append(mapping[n])
        else:
            raise ValueError(
                f"{what}: law {law.name!r} has no parameter {n!r}; name a sampling-space "
                f"parameter {law.param_names} or a published one {tuple(mapping)}"
            )
    return tuple(out)


def _transform(prior: dist.Distribution):
    return biject_to(prior.support)


def _group_values(spec: GroupSpec, theta: Mapping[str, Any]) -> dict[str, Any]:
    """Per-group base parameters: shared scalars, ``(G,)`` arrays otherwise."""
    vals = {}
    for p in spec.base.params:
        if p.name in spec.shared:
            vals[p.name] = theta[p.name]
        elif p.name in spec.separate:
            vals[p.name] = theta[p.name]
        else:
            t = _transform(p.prior)
            # mu, tau: batch shape; z: batch shape + (G,)
            mu = jnp.expand_dims(jnp.asarray(theta[f"{p.name}_mu"]), -1)
            tau = jnp.expand_dims(jnp.asarray(theta[f"{p.name}_tau"]), -1)
            u = t.inv(mu) + tau * theta[f"{p.name}_z"]
            vals[p.name] = t(u)
    return vals


def hierarchical(
    law: Law,
    groups: Sequence[Hashable] | int,
    *,
    pooled: Sequence[str] | str = (),
    shared: Sequence[str] | str = (),
    separate: Sequence[str] | str | None = None,
    column: str = "group",
    offset: bool = False,
) -> Law:
    r"""A grouped version of ``law``: per-parameter shared, separate or partially pooled.

    Args:
        law: The base law (any :class:`Law`, catalog or user-defined).
        groups: The group labels in code order (label ``groups[i]`` has code ``i + 1``), or the
            number of groups (labels ``1..G``).
        pooled: Parameters drawn per group from a population distribution (non-centred).
            Sampling-space names (``"log_A0"``) or published ones (``"A"`` maps to ``log_A0``,
            ``"E"`` to ``log_E``, ``"alpha"`` to ``alpha``).
        shared: Parameters common to all groups.
        separate: Parameters with one independent value per group. ``None`` (default): every
            parameter not named in ``pooled`` or ``shared``. Any one of the three may be the
            string ``"rest"``: every parameter not named in the others.
        column: Name of the group-code input column (numeric codes ``1..G``).
        offset: Add a partially pooled log-loss offset per group (``offset_tau``,
            ``offset_z``): seed random effects for repeated runs. Use it with every law
            parameter shared, or the offset is confounded with a pooled ``log_E``.

    Returns:
        A new :class:`Law` (the same object for the same arguments, so compiled samplers are
        reused). Its published parameters are the shared ones, ``<name>_mu`` and
        ``<name>_tau`` of each pooled one, and ``<pub>[<label>]`` per group for every published
        parameter that varies by group.

    Raises:
        ValueError: for unknown names, a parameter named twice, or fewer than 2 groups.

    Example:
        >>> from bayescale.models import chinchilla
        >>> law = hierarchical(chinchilla, ["a", "b", "c"], pooled=["alpha", "beta"],
        ...                    shared="rest", column="family")
    """
    if isinstance(groups, int):
        labels = tuple(range(1, groups + 1))
    else:
        labels = tuple(groups)
    if len(labels) < 2:
        raise ValueError(f"hierarchical: need at least 2 groups, got {labels}")
    if len(set(labels)) != len(labels):
        raise ValueError(f"hierarchical: duplicate group labels in {labels}")
    if column in law.inputs:
        raise ValueError(f"hierarchical: group column {column!r} is already an input of the law")
    kinds = {"pooled": pooled, "shared": shared, "separate": separate}
    rest = [k for k, v in kinds.items() if (v == "rest") or (k == "separate" and v is None)]
    if len([k for k, v in kinds.items() if v == "rest"]) > 1:
        raise ValueError("hierarchical: only one of pooled/shared/separate may be 'rest'")
    named: dict[str, tuple[str, ...]] = {}
    for k, v in kinds.items():
        if v is None or v == "rest":
            continue
        named[k] = resolve_params(law, v, k)
    seen: dict[str, str] = {}
    for k, names in named.items():
        for n in names:
            if n in seen:
                raise ValueError(f"hierarchical: parameter {n!r} is both {seen[n]} and {k}")
            seen[n] = k
    leftover = tuple(n for n in law.param_names if n not in seen)
    if rest:
        # 'rest' wins over separate=None
        target = [k for k in rest if kinds[k] == "rest"] or rest
        named[target[0]] = leftover
    elif leftover:
        raise ValueError(
            f"hierarchical: parameters {leftover} are not named in pooled, shared or separate"
        )
    for k in kinds:
        named.setdefault(k, ())
    key = (law, labels, column, named["pooled"], named["shared"], named["separate"], offset)
    if key in _MEMO:
        return _MEMO[key]

    spec = GroupSpec(
        base=law,
        column=column,
        labels=labels,
        pooled=tuple(n for n in law.param_names if n in named["pooled"]),
        shared=tuple(n for n in law.param_names if n in named["shared"]),
        separate=tuple(n for n in law.param_names if n in named["separate"]),
        offset=offset,
    )
    G = len(labels)
    params: list[Parameter] = []
    for p in law.params:
        if p.name in spec.shared:
            params.append(p)
        elif p.name in spec.separate:
            params.append(
                Parameter(p.name, p.prior.expand([G]).to_event(1), f"per group: {p.description}")
            )
        else:
            params += [
                Parameter(f"{p.name}_mu", p.prior, f"population centre of {p.name}"),
                Parameter(
                    f"{p.name}_tau",
                    dist.HalfNormal(TAU_PRIOR_SCALE),
                    f"spread of {p.name} across groups on the unconstrained scale",
                ),
                Parameter(
                    f"{p.name}_z",
                    dist.Normal(0.0, 1.0).expand([G]).to_event(1),
                    f"non-centred group offsets of {p.name}",
                ),
            ]
    if offset:
        params += [
            Parameter(
                f"{OFFSET}_tau",
                dist.HalfNormal(0.05),
                "spread of the per-group log-loss offset (e.g. seed-to-seed); HalfNormal(0.05)",
            ),
            Parameter(
                f"{OFFSET}_z",
                dist.Normal(0.0, 1.0).expand([G]).to_event(1),
                "non-centred per-group log-loss offsets",
            ),
        ]
    base_inputs = law.inputs

    def mean_fn(theta, x):
        idx = jnp.round(jnp.asarray(x[column])).astype(jnp.int32) - 1
        vals = _group_values(spec, theta)
        rows = {k: (v[..., idx] if k not in spec.shared else v) for k, v in vals.items()}
        loc = law.mean_fn(rows, {k: x[k] for k in base_inputs})
        if offset:
            loc = loc + theta[f"{OFFSET}_tau"] * theta[f"{OFFSET}_z"][..., idx]
        return loc

    shared_pub = _shared_published(law, spec)

    def published_fn(theta):
        vals = _group_values(spec, theta)
        out = {}
        for n in spec.pooled:
            out[f"{n}_mu"] = theta[f"{n}_mu"]
            out[f"{n}_tau"] = theta[f"{n}_tau"]
        if offset:
            out[f"{OFFSET}_tau"] = theta[f"{OFFSET}_tau"]
        for g, lab in enumerate(labels):
            pub = law.to_published(
                {k: (v if k in spec.shared else v[..., g]) for k, v in vals.items()}
            )
            for name, value in pub.items():
                if name in shared_pub:
                    if g == 0:
                        out[name] = value
                else:
                    out[f"{name}[{lab}]"] = value
        return out

    published = [*(f"{n}_{s}" for n in spec.pooled for s in ("mu", "tau"))]
    if offset:
        published.append(f"{OFFSET}_tau")
    published += [n for n in law.published if n in shared_pub]
    published += [f"{n}[{lab}]" for lab in labels for n in law.published if n not in shared_pub]
    grouped = Law(
        name=f"{law.name}_by_{column}",
        inputs=(*law.inputs, column),
        params=tuple(params),
        mean_fn=mean_fn,
        published_fn=published_fn,
        published=tuple(published),
        formula=f"{law.formula}, parameters by {column} "
        f"(pooled {spec.pooled}, shared {spec.shared}, separate {spec.separate}"
        + (", random offset)" if offset else ")"),
        reference=law.reference,
        target=law.target,
        link=law.link,
        allocate_fn=None,
        min_rows=law.min_rows,
        doc=f"{law.name} grouped by {column!r} ({G} groups). See bayescale.hierarchical.",
    )
    _SPECS[grouped] = spec
    _MEMO[key] = grouped
    return grouped


def _shared_published(law: Law, spec: GroupSpec) -> set[str]:
    """Published names that depend on shared parameters only (found by perturbation)."""
    base = {p.name: jnp.asarray(0.3) for p in law.params}
    ref = law.to_published(base)
    varying = set()
    for n in (*spec.pooled, *spec.separate):
        bumped = law.to_published({**base, n: jnp.asarray(0.4)})
        varying |= {k for k in ref if not np.allclose(np.asarray(ref[k]), np.asarray(bumped[k]))}
    return {k for k in ref if k not in varying}


def _offset_law(law: Law) -> Law:
    """``law`` plus a log-loss offset parameter (the group posterior of an offset model)."""
    if law in _OFFSET_LAWS:
        return _OFFSET_LAWS[law]

    def mean_fn(theta, x):
        return law.mean_fn(theta, x) + theta[OFFSET]

    def published_fn(theta):
        return law.to_published({k: v for k, v in theta.items() if k != OFFSET})

    shifted = dataclasses.replace(
        law,
        name=law.name,
        params=(*law.params, Parameter(OFFSET, dist.Normal(0.0, 0.1), "group log-loss offset")),
        mean_fn=mean_fn,
        published_fn=published_fn,
        min_rows=law.min_rows,
    )
    _OFFSET_LAWS[law] = shifted
    return shifted


_OFFSET_LAWS: weakref.WeakKeyDictionary[Law, Law] = weakref.WeakKeyDictionary()


def group_draws(
    law: Law,
    draws: Mapping[str, np.ndarray],
    group: Hashable | None,
    *,
    rng_key: jax.Array | None = None,
) -> tuple[Law, dict[str, np.ndarray]]:
    """Draws of the base law's parameters for one group.

    Args:
        law: A grouped law from :func:`hierarchical`.
        draws: Its posterior draws, sampling space, each ``(chain, draw, ...)``.
        group: An existing group's label, or None for a new, unseen group: per posterior draw,
            new offsets ``z ~ N(0, 1)`` of every pooled parameter (and of the random offset)
            are drawn, so the result is the population predictive of a new group.
        rng_key: PRNG key for the new group's offsets (required when ``group`` is None).

    Returns:
        ``(base_law, draws)``: the law to evaluate (the base law, or the base law with a
        log-loss ``offset`` parameter when the grouped law has one) and its draws shaped
        ``(chain, draw)``.

    Raises:
        ValueError: for a new group when some parameter is ``separate`` (no population to
            draw it from).
    """
    spec = group_spec(law)
    if spec is None:
        raise ValueError(f"law {law.name!r} is not grouped; build one with bayescale.hierarchical")
    theta = {k: jnp.asarray(v) for k, v in draws.items()}
    shape = next(iter(draws.values())).shape[:2]
    if group is None:
        if spec.separate:
            raise ValueError(
                f"a new group needs every per-group parameter pooled; {spec.separate} are "
                "separate (no population distribution to draw them from). Refit with them in "
                "pooled=."
            )
        if rng_key is None:
            raise ValueError("a new group's offsets are random: pass rng_key (or seed=)")
        names = [f"{n}_z" for n in spec.pooled] + ([f"{OFFSET}_z"] if spec.offset else [])
        keys = jax.random.split(rng_key, max(1, len(names)))
        theta = dict(theta)
        for k, n in zip(keys, names, strict=False):
            theta[n] = jax.random.normal(k, (*shape, 1), jnp.float64)
        g = 0
    else:
        g = spec.code(group) - 1
    vals = _group_values(spec, theta)
    out = {
        k: np.asarray(v if k in spec.shared else v[..., g]).reshape(shape) for k, v in vals.items()
    }
    base = spec.base
    if spec.offset:
        out[OFFSET] = np.asarray(theta[f"{OFFSET}_tau"] * theta[f"{OFFSET}_z"][..., g]).reshape(
            shape
        )
        base = _offset_law(base)
    return base, out


def grouped_fit_inputs(
    law: Law,
    data: Any,
    groups: str,
    *,
    pooled: Sequence[str] | str = (),
    shared: Sequence[str] | str = (),
    separate: Sequence[str] | str | None = None,
    offset: bool = False,
) -> tuple[Law, Any]:
    """The grouped law and a copy of ``data`` with codes ``1..G`` in ``<groups>_code``.

    Labels are sorted (numbers numerically, anything else by ``str``); the grouped law keeps
    the label <-> code mapping (:func:`group_spec`).

    Raises:
        DataError: when the column is missing or has missing labels (naming the rows).
    """
    import pandas as pd

    from ._data import DataError

    if not isinstance(data, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame, got {type(data).__name__}")
    if groups not in data.columns:
        raise DataError(f"missing group column {groups!r}: the table has {list(data.columns)}")
    col = data[groups]
    missing = col.isna().to_numpy()
    if missing.any():
        rows = [repr(r) for r in data.index[missing][:5]]
        raise DataError(f"group column {groups!r} has missing labels at row(s) {', '.join(rows)}")
    values = col.tolist()
    uniq = set(values)
    if all(isinstance(v, (int, float, np.number)) for v in uniq):
        labels = tuple(sorted(uniq))
    else:
        labels = tuple(sorted(uniq, key=str))
    labels = tuple(v.item() if isinstance(v, np.generic) else v for v in labels)
    if len(labels) < 2:
        raise DataError(f"group column {groups!r} has a single group {labels}: nothing to pool")
    # The codes get their own column: the label column may carry an input's name (e.g. "U")
    # whose validation (raw counts) codes 1..G would fail.
    column = f"{groups}_code"
    grouped = hierarchical(
        law, labels, pooled=pooled, shared=shared, separate=separate, column=column, offset=offset
    )
    out = data.drop(columns=[groups])
    out[column] = group_spec(grouped).codes(values)
    return grouped, out
