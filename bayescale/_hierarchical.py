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

With ``centred=`` a pooled parameter is sampled centred instead,
:math:`T^{-1}(\theta_g) \sim \mathcal N(T^{-1}(\theta_\mu), \tau)`, as one vector site
``<name>_groups`` (:class:`CentredGroups`): better when every group's data pin its value. When
some groups' data do and others' do not, centre only those (``centred={"beta": [labels]}``):
the rest stay non-centred in the same site (Papaspiliopoulos, Roberts & Skold 2007).

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

from ._data import DEFAULT_LEVEL
from ._errors import InvalidValueError, UnknownNameError
from ._law import Law, Parameter

__all__ = [
    "hierarchical",
    "GroupSpec",
    "combine_labels",
    "effective_multiplier",
    "group_spec",
    "group_draws",
    "resolve_params",
]

# Spread of pooled groups on the unconstrained scale (see the module docstring).
TAU_PRIOR_SCALE = 0.5
OFFSET = "offset"
CENTRED = "_groups"  # suffix of a centred pooled parameter's vector site (CentredGroups)


@dataclasses.dataclass(frozen=True, eq=False)
class GroupSpec:
    """How a grouped law groups its base law.

    Attributes:
        base: The ungrouped law.
        column: Name of the group-code input column.
        labels: Group labels; label ``labels[i]`` has code ``i + 1``.
        pooled, shared, separate: Sampling-space parameter names of each kind.
        offset: Whether a random log-loss offset per group is included.
        centred: The pooled parameters sampled in the centred parameterisation, each with the
            groups it centres (a tuple of booleans in code order; the others are non-centred).
    """

    base: Law
    column: str
    labels: tuple[Hashable, ...]
    pooled: tuple[str, ...]
    shared: tuple[str, ...]
    separate: tuple[str, ...]
    offset: bool
    centred: tuple[tuple[str, tuple[bool, ...]], ...] = ()

    @property
    def centred_names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.centred)

    def centred_mask(self, name: str) -> tuple[bool, ...]:
        return dict(self.centred)[name]

    @property
    def num_groups(self) -> int:
        return len(self.labels)

    @property
    def label_column(self) -> str:
        """The data column of group labels: ``fit(groups="U")`` codes column ``U`` as ``U_code``."""
        return self.column.removesuffix("_code")

    def code(self, label: Hashable) -> int:
        """The 1-based code of a group label.

        A tuple names a combination of several group columns, ``("a", 1)`` for the label
        ``"a|1"`` (see :func:`combine_labels`).
        """
        for i, lab in enumerate(self.labels):
            if lab == label or str(lab) == str(label):
                return i + 1
        if isinstance(label, tuple) and label:
            joined = combine_labels([label])[0]
            for i, lab in enumerate(self.labels):
                if str(lab) == joined:
                    return i + 1
        raise UnknownNameError(
            f"unknown group {label!r} in column {self.column!r}; groups: {self.labels}"
        )

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
            raise InvalidValueError(
                f"{what}: law {law.name!r} has no parameter {n!r}; name a sampling-space "
                f"parameter {law.param_names} or a published one {tuple(mapping)}"
            )
    return tuple(out)


def _transform(prior: dist.Distribution):
    return biject_to(prior.support)


class CentredGroups(dist.Distribution):
    r"""Joint prior of a centred, partially pooled parameter: one vector site.

    The vector is :math:`v = (m, s, w_1, \dots, w_G)` on the unconstrained scale of the base
    parameter: :math:`m = T^{-1}(\theta_\mu)` the population centre, :math:`s = \log\tau` the
    log spread, and per group either the centred value :math:`w_g = u_g = T^{-1}(\theta_g)` or,
    for groups outside ``mask``, the non-centred offset :math:`w_g = z_g` with
    :math:`u_g = m + \tau z_g`. Its density is the hierarchical prior

    .. math::
        p(v) = p_\mu(T(m))\,|T'(m)|\;\; \text{HalfNormal}(e^s \mid \sigma_\tau)\, e^s
        \prod_{g \in \text{mask}} \mathcal N(w_g \mid m, e^s)
        \prod_{g \notin \text{mask}} \mathcal N(w_g \mid 0, 1),

    so a centred hierarchy is an ordinary law parameter (the engine samples each parameter from
    its own prior). Use it where each group's data pin its value (many points per group): there
    the non-centred :math:`z_g = (u_g - m)/\tau` trace a curved ridge against :math:`\tau`
    that NUTS crosses slowly, while the centred :math:`u_g` barely move.

    Groups whose own rows leave the value loose stay non-centred: centred, they would sit in
    the funnel of :math:`\tau \to 0` (Papaspiliopoulos, Roberts & Skold 2007, "A general
    framework for the parametrization of hierarchical models", Statistical Science 22).

    Args:
        base: The base parameter's prior (its support gives :math:`T`).
        num_groups: :math:`G`.
        tau_scale: Scale :math:`\sigma_\tau` of the HalfNormal prior on :math:`\tau`.
        mask: Which groups are centred (default: all).
    """

    arg_constraints: dict = {}
    support = dist.constraints.real_vector
    reparametrized_params: list = []

    def __init__(
        self,
        base: dist.Distribution,
        num_groups: int,
        tau_scale: float,
        mask: Sequence[bool] | None = None,
    ):
        self.base = base
        self.num_groups = num_groups
        self.tau_scale = tau_scale
        self.centred = np.ones(num_groups, bool) if mask is None else np.asarray(mask, bool)
        if self.centred.shape != (num_groups,):
            raise InvalidValueError(
                f"mask must have {num_groups} entries, got {self.centred.shape}"
            )
        self.transform = _transform(base)
        super().__init__(batch_shape=(), event_shape=(num_groups + 2,))

    def group_values(self, value):
        """Unconstrained group values :math:`u_g` from a vector :math:`v`."""
        m, s, w = value[..., :1], value[..., 1:2], value[..., 2:]
        return jnp.where(self.centred, w, m + jnp.exp(s) * w)

    def sample(self, key, sample_shape=()):
        k1, k2, k3 = jax.random.split(key, 3)
        mu = self.base.sample(k1, sample_shape)
        tau = dist.HalfNormal(self.tau_scale).sample(k2, sample_shape)
        m = self.transform.inv(mu)
        z = jax.random.normal(k3, (*sample_shape, self.num_groups))
        w = jnp.where(self.centred, m[..., None] + tau[..., None] * z, z)
        return jnp.concatenate([m[..., None], jnp.log(tau)[..., None], w], axis=-1)

    def log_prob(self, value):
        m, s, u = value[..., 0], value[..., 1], value[..., 2:]
        mu = self.transform(m)
        lp = self.base.log_prob(mu) + self.transform.log_abs_det_jacobian(m, mu)
        tau = jnp.exp(s)
        lp = lp + dist.HalfNormal(self.tau_scale).log_prob(tau) + s
        centred = dist.Normal(m[..., None], tau[..., None]).log_prob(u)
        return lp + jnp.where(self.centred, centred, dist.Normal(0.0, 1.0).log_prob(u)).sum(-1)


def population(spec: GroupSpec, theta: Mapping[str, Any], name: str) -> tuple[Any, Any]:
    """``(mu, tau)`` of pooled parameter ``name``: the population centre (the parameter's own
    scale) and the spread on the unconstrained scale, for either parameterisation."""
    if name in spec.centred_names:
        v = jnp.asarray(theta[f"{name}{CENTRED}"])
        return _transform(spec.base.prior(name))(v[..., 0]), jnp.exp(v[..., 1])
    return theta[f"{name}_mu"], theta[f"{name}_tau"]


def _group_values(
    spec: GroupSpec, theta: Mapping[str, Any], masks: Mapping[str, Sequence[bool]] | None = None
) -> dict[str, Any]:
    """Per-group base parameters: shared scalars, ``(G,)`` arrays otherwise."""
    vals = {}
    for p in spec.base.params:
        if p.name in spec.shared:
            vals[p.name] = theta[p.name]
        elif p.name in spec.separate:
            vals[p.name] = theta[p.name]
        elif p.name in spec.centred_names:
            mask = (masks or {}).get(p.name, spec.centred_mask(p.name))
            v = jnp.asarray(theta[f"{p.name}{CENTRED}"])
            u = CentredGroups(p.prior, len(mask), TAU_PRIOR_SCALE, mask).group_values(v)
            vals[p.name] = _transform(p.prior)(u)
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
    centred: Sequence[str] | str | bool | Mapping[str, Sequence[Hashable]] = (),
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
        centred: Pooled parameters to sample in the centred parameterisation (``True``: all
            of them): one vector site ``<name>_groups`` (:class:`CentredGroups`) holds the
            unconstrained centre, ``log tau`` and the group values. Choose it when every group
            has enough points to pin its own value; the default non-centred form suits groups
            with few points, whose values the population must fill in. A mapping
            ``{name: [labels]}`` centres only those groups (the others stay non-centred in the
            same site): for data where some groups pin the value and others do not.

    Returns:
        A new :class:`Law` (the same object for the same arguments, so compiled samplers are
        reused). Its published parameters are the shared ones, ``<name>_mu`` and
        ``<name>_tau`` of each pooled one, and ``<pub>[<label>]`` per group for every published
        parameter that varies by group.

    Raises:
        ValueError: for unknown names, a parameter named twice, fewer than 2 groups, or a
            centred parameter that is not pooled.

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
        raise InvalidValueError(f"hierarchical: need at least 2 groups, got {labels}")
    if len(set(labels)) != len(labels):
        raise InvalidValueError(f"hierarchical: duplicate group labels in {labels}")
    if column in law.inputs:
        raise InvalidValueError(
            f"hierarchical: group column {column!r} is already an input of the law"
        )
    kinds = {"pooled": pooled, "shared": shared, "separate": separate}
    rest = [k for k, v in kinds.items() if (v == "rest") or (k == "separate" and v is None)]
    if len([k for k, v in kinds.items() if v == "rest"]) > 1:
        raise InvalidValueError("hierarchical: only one of pooled/shared/separate may be 'rest'")
    named: dict[str, tuple[str, ...]] = {}
    for k, v in kinds.items():
        if v is None or v == "rest":
            continue
        named[k] = resolve_params(law, v, k)
    seen: dict[str, str] = {}
    for k, names in named.items():
        for n in names:
            if n in seen:
                raise InvalidValueError(f"hierarchical: parameter {n!r} is both {seen[n]} and {k}")
            seen[n] = k
    leftover = tuple(n for n in law.param_names if n not in seen)
    if rest:
        # 'rest' wins over separate=None
        target = [k for k in rest if kinds[k] == "rest"] or rest
        named[target[0]] = leftover
    elif leftover:
        raise InvalidValueError(
            f"hierarchical: parameters {leftover} are not named in pooled, shared or separate"
        )
    for k in kinds:
        named.setdefault(k, ())
    masks: dict[str, tuple[bool, ...]] = {}
    if centred is True:
        masks = {n: (True,) * len(labels) for n in named["pooled"]}
    elif isinstance(centred, Mapping):
        for n, which in centred.items():
            (name,) = resolve_params(law, [n], "centred")
            which = [which] if isinstance(which, str) or not isinstance(which, Sequence) else which
            codes = set()
            for lab in which:
                hits = [i for i, x in enumerate(labels) if x == lab or str(x) == str(lab)]
                if not hits:
                    raise InvalidValueError(
                        f"hierarchical: centred: unknown group {lab!r} for {n!r}"
                    )
                codes.add(hits[0])
            masks[name] = tuple(i in codes for i in range(len(labels)))
    elif centred is not False:
        masks = {n: (True,) * len(labels) for n in resolve_params(law, centred, "centred")}
    not_pooled = [n for n in masks if n not in named["pooled"]]
    if not_pooled:
        raise InvalidValueError(f"hierarchical: centred parameters {not_pooled} are not pooled")
    centred_spec = tuple((n, masks[n]) for n in law.param_names if n in masks)
    # In the law's parameter order: the same grouping named in another order (or rebuilt by
    # bayescale.load from its GroupSpec) is the same law object.
    pooled_, shared_, separate_ = (
        tuple(n for n in law.param_names if n in named[k]) for k in ("pooled", "shared", "separate")
    )
    key = (law, labels, column, pooled_, shared_, separate_, offset, centred_spec)
    if key in _MEMO:
        return _MEMO[key]

    spec = GroupSpec(
        base=law,
        column=column,
        labels=labels,
        pooled=pooled_,
        shared=shared_,
        separate=separate_,
        offset=offset,
        centred=centred_spec,
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
        elif p.name in spec.centred_names:
            params.append(
                Parameter(
                    f"{p.name}{CENTRED}",
                    CentredGroups(p.prior, G, TAU_PRIOR_SCALE, spec.centred_mask(p.name)),
                    f"centred hierarchy of {p.name}: (unconstrained centre, log tau, "
                    "unconstrained group values)",
                )
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
            out[f"{n}_mu"], out[f"{n}_tau"] = population(spec, theta, n)
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
        raise InvalidValueError(
            f"law {law.name!r} is not grouped; build one with bayescale.hierarchical"
        )
    theta = {k: jnp.asarray(v) for k, v in draws.items()}
    shape = next(iter(draws.values())).shape[:2]
    if group is None:
        if spec.separate:
            raise InvalidValueError(
                f"a new group needs every per-group parameter pooled; {spec.separate} are "
                "separate (no population distribution to draw them from). Refit with them in "
                "pooled=."
            )
        if rng_key is None:
            raise InvalidValueError("a new group's offsets are random: pass rng_key (or seed=)")
        names = [*spec.pooled, *([OFFSET] if spec.offset else [])]
        keys = jax.random.split(rng_key, max(1, len(names)))
        theta = dict(theta)
        for k, n in zip(keys, names, strict=False):
            z = jax.random.normal(k, (*shape, 1), jnp.float64)
            if n in spec.centred_names:  # a new group, non-centred: u = centre + tau * z
                v = theta[f"{n}{CENTRED}"]
                theta[f"{n}{CENTRED}"] = jnp.concatenate([v[..., :2], z], axis=-1)
            else:
                theta[f"{n}_z"] = z
        masks = {n: (False,) for n in spec.centred_names}
        g = 0
    else:
        masks = None
        g = spec.code(group) - 1
    vals = _group_values(spec, theta, masks)
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


SEPARATOR = "|"


def _label_part(value: Any) -> str:
    """One column's share of a combined label: integral floats print as integers (``1e9`` ->
    ``"1000000000"``), everything else as ``str``."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return str(value)


def combine_labels(rows: Sequence[Sequence[Any]]) -> list[str]:
    """Labels of the combinations of several group columns: ``("de", 1e9)`` -> ``"de|1000000000"``.

    Args:
        rows: One tuple of column values per row.

    Returns:
        One label per row, the parts joined by ``"|"``.
    """
    return [SEPARATOR.join(_label_part(v) for v in row) for row in rows]


def _sort_key(values: Sequence[Any]):
    """Sort numbers numerically, anything else by ``str`` (one column's values)."""
    if all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in values):
        return lambda v: (0, float(v), "")
    return lambda v: (1, 0.0, str(v))


def grouped_fit_inputs(
    law: Law,
    data: Any,
    groups: str | Sequence[str],
    *,
    pooled: Sequence[str] | str = (),
    shared: Sequence[str] | str = (),
    separate: Sequence[str] | str | None = None,
    offset: bool = False,
    centred: Sequence[str] | str | bool | Mapping[str, Sequence[Hashable]] = (),
) -> tuple[Law, Any]:
    """The grouped law and a copy of ``data`` with group codes ``1..G`` in a code column.

    ``groups`` is one column name or a list of several; with several, a group is a combination
    of their values that occurs in the data, labelled ``"v1|v2"`` (:func:`combine_labels`), and
    the codes go in ``"<c1>_<c2>_code"``. Labels are sorted (numbers numerically, anything else
    by ``str``; combinations column by column); the grouped law keeps the label <-> code mapping
    (:func:`group_spec`). Group columns that are not inputs of ``law`` are dropped.

    Raises:
        DataError: when a group column is missing or has missing labels (naming the column and
            the rows), a column is named twice, or there is a single group.
    """
    import pandas as pd

    from ._data import DataError, check_distinct_labels

    if not isinstance(data, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame, got {type(data).__name__}")
    columns = [groups] if isinstance(groups, str) else list(groups)
    if not columns or not all(isinstance(c, str) for c in columns):
        raise DataError(f"groups must be a column name or a list of column names, got {groups!r}")
    if len(set(columns)) != len(columns):
        raise DataError(f"groups names a column twice: {columns}")
    for c in columns:
        if c not in data.columns:
            raise DataError(f"missing group column {c!r}: the table has {list(data.columns)}")
        missing = data[c].isna().to_numpy()
        if missing.any():
            rows = [repr(r) for r in data.index[missing][:5]]
            more = f" and {int(missing.sum()) - 5} more" if missing.sum() > 5 else ""
            raise DataError(
                f"group column {c!r} has missing labels at row(s) {', '.join(rows)}{more}"
            )
    per_column = [
        [v.item() if isinstance(v, np.generic) else v for v in data[c].tolist()] for c in columns
    ]
    for c, vals in zip(columns, per_column, strict=True):
        check_distinct_labels(set(vals), c)  # 1 and "1" would print as one group
    keys = [_sort_key(list(set(vals))) for vals in per_column]
    if len(columns) == 1:
        values: list[Any] = per_column[0]
        labels = tuple(sorted(set(values), key=keys[0]))
    else:
        tuples = list(zip(*per_column, strict=True))
        uniq = sorted(set(tuples), key=lambda t: tuple(k(v) for k, v in zip(keys, t, strict=True)))
        labels = tuple(combine_labels(uniq))
        if len(set(labels)) != len(uniq):
            raise DataError(
                f"group columns {columns}: two combinations print as the same label (a value "
                f"contains {SEPARATOR!r}?); labels {labels}"
            )
        values = combine_labels(tuples)
    name = " x ".join(repr(c) for c in columns)
    if len(labels) < 2:
        raise DataError(f"group column {name} has a single group {labels}: nothing to pool")
    # The codes get their own column: the label column may carry an input's name (e.g. "U")
    # whose validation (raw counts) codes 1..G would fail.
    column = "_".join(columns) + "_code"
    grouped = hierarchical(
        law,
        labels,
        pooled=pooled,
        shared=shared,
        separate=separate,
        column=column,
        offset=offset,
        centred=centred,
    )
    out = data.drop(columns=[c for c in columns if c not in law.inputs])
    out[column] = group_spec(grouped).codes(values)
    return grouped, out


def effective_multiplier(
    post: Any,
    *,
    scale: str = "A",
    exponent: str = "alpha",
    reference: Hashable | None = None,
    level: float = DEFAULT_LEVEL,
) -> Any:
    r"""Per-group effective multipliers of an input, from a grouped fit with a shared exponent.

    When the scale of a power-law term varies by group and its exponent is shared, group
    :math:`g`'s term is the reference group's at a multiplied input:

    .. math::
        \frac{A_g}{x^{\alpha}} = \frac{A_{\rm ref}}{(m_g\, x)^{\alpha}}, \qquad
        \log m_g = \frac{\log A_{\rm ref} - \log A_g}{\alpha}.

    With ``x`` the parameters (or data), :math:`m_g = 2` means group ``g`` reaches the
    reference's reducible loss with half the parameters (data): an effective parameter (data)
    multiplier. A partially pooled ``log A`` is then a partially pooled :math:`\log m_g`.

    Args:
        post: A :class:`~bayescale.Posterior` of a grouped law (:func:`hierarchical`).
        scale: The term's scale parameter (published ``"A"`` or sampling-space ``"log_A0"``),
            pooled or separate by group.
        exponent: The term's exponent (``"alpha"``), shared by all groups.
        reference: Label of the reference group (multiplier 1). None: the population centre
            ``<scale>_mu`` when the scale is pooled, otherwise the first group.
        level: Central interval probability (default 0.9).

    Returns:
        One row per group (index: labels): ``median``, ``lower``, ``upper`` of :math:`m_g`,
        ``log_median`` (median of :math:`\log m_g`), ``log_sd`` and ``p_above_1``
        (:math:`P(m_g > 1)`). ``attrs["draws"]`` holds the draws of :math:`m_g`,
        ``(draws, groups)``.

    Raises:
        ValueError: for an ungrouped fit, a scale that is not a log-scale parameter varying by
            group, or an exponent that is not shared (the multiplier would depend on ``x``).

    Example:
        >>> post = bs.fit(hestness_D, df, groups="arch", pooled=["A"], shared="rest")
        >>> effective_multiplier(post, reference="6 Enc, 6 Dec")
    """
    import pandas as pd

    law = post.law
    spec = group_spec(law)
    if spec is None:
        raise InvalidValueError(f"law {law.name!r} is not grouped; fit with groups= first")
    (s_name,) = resolve_params(spec.base, scale, "scale")
    (e_name,) = resolve_params(spec.base, exponent, "exponent")
    if not s_name.startswith("log_"):
        raise InvalidValueError(f"scale {scale!r} ({s_name}) is not a log-scale parameter")
    if s_name in spec.shared:
        raise InvalidValueError(
            f"scale {s_name!r} is shared: every multiplier is 1; pool it by group"
        )
    if e_name not in spec.shared:
        raise InvalidValueError(
            f"exponent {e_name!r} varies by group, so a group's term is not the reference's at a "
            "multiplied input (the ratio depends on the input); refit with it in shared="
        )
    per_group = np.stack(
        [group_draws(law, post.draws, lab)[1][s_name].reshape(-1) for lab in spec.labels], axis=1
    )
    alpha = np.asarray(post.draws[e_name]).reshape(-1, 1)
    if reference is not None:
        ref = per_group[:, [spec.code(reference) - 1]]
    elif s_name in spec.pooled:
        ref = np.asarray(population(spec, post.draws, s_name)[0]).reshape(-1, 1)
    else:
        ref = per_group[:, :1]
    log_m = (ref - per_group) / alpha
    m = np.exp(log_m)
    q = (1.0 - level) / 2.0
    lo, med, hi = np.quantile(m, [q, 0.5, 1.0 - q], axis=0)
    out = pd.DataFrame(
        {
            "median": med,
            "lower": lo,
            "upper": hi,
            "log_median": np.median(log_m, axis=0),
            "log_sd": log_m.std(axis=0, ddof=1),
            "p_above_1": (log_m > 0).mean(axis=0),
        },
        index=pd.Index(spec.labels, name="group"),
    )
    out.attrs.update(level=level, reference=reference, draws=m)
    return out
