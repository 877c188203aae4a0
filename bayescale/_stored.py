"""What a saved fit records beside its draws, and how it is read back: the format version,
the law (a catalog law by name, with its prior set; a grouped fit of one from its grouping),
checks of the stored draws and data, and the verdict recomputed from them.

Nothing here needs the :class:`~bayescale.Posterior` class: :mod:`bayescale._posterior` builds
one from what these functions return.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ._diagnostics import check_draws
from ._errors import InvalidValueError
from ._hierarchical import group_spec, hierarchical
from ._law import Law
from ._methods import METHODS, NUTS, recorded_method
from ._noise import Noise
from ._priors import prior_sets, with_prior_set
from ._verdicts import remember, remembered, verdict_key

FORMAT_VERSION = 1


def _show(values: np.ndarray, most: int = 5, fmt=None) -> str:
    fmt = fmt or (lambda v: f"{v:g}")
    head = ", ".join(fmt(v) for v in values.reshape(-1)[:most])
    return f"[{head}{', ...' if values.size > most else ''}]"


def _json_labels(labels: tuple[Any, ...]) -> list[Any] | None:
    """Group labels as JSON values that read back equal, or None when they do not."""
    out = [lab.item() if isinstance(lab, np.generic) else lab for lab in labels]
    for lab in out:
        if not isinstance(lab, (str, int, float)) or (isinstance(lab, float) and math.isnan(lab)):
            return None
    return out


def _catalog_law(name: str) -> Law | None:
    from . import models  # here, not at the top: the catalog imports bayescale itself

    law = getattr(models, name, None) if isinstance(name, str) else None
    return law if isinstance(law, Law) else None


def _priors_attr(law: Law) -> str | None:
    """How a fit of a catalog law's name chose its priors: ``"default"``, ``"set:<name>"`` (a
    named prior set) or ``"custom"`` (replaced by hand: :func:`load` then needs the law).
    None for a law outside the catalog."""
    catalog = _catalog_law(law.name)
    if catalog is None:
        return None
    if law is catalog:
        return "default"
    for name in prior_sets():
        if law is with_prior_set(catalog, name):
            return f"set:{name}"
    return "custom"


def _law_with_priors(path: str, catalog: Law, priors: str) -> Law:
    """The catalog law with the priors a file records (see :func:`_priors_attr`)."""
    if priors == "default":
        return catalog
    if priors.startswith("set:") and priors[4:] in prior_sets():
        return with_prior_set(catalog, priors[4:])
    if priors == "custom":
        raise InvalidValueError(
            f"{path}: this fit of {catalog.name!r} used replaced priors, which a file cannot "
            f"hold; pass law=<the law with those priors>, e.g. law={catalog.name}.with_priors(...)"
        )
    raise InvalidValueError(f"{path}: corrupted bayescale file: unknown 'priors' {priors!r}")


def _group_attrs(law: Law) -> dict[str, Any] | None:
    """The arguments of :func:`bayescale.hierarchical` that rebuild a grouped law, or None.

    None for an ungrouped law, and for one :func:`load` could not rebuild from them: a base
    law outside the catalog (or a catalog law with replaced priors), labels JSON cannot hold.
    """
    spec = group_spec(law)
    if spec is None or _catalog_law(spec.base.name) is not spec.base:
        return None
    labels = _json_labels(spec.labels)
    if labels is None:
        return None
    return {
        "base": spec.base.name,
        "labels": labels,
        "column": spec.column,
        "pooled": list(spec.pooled),
        "shared": list(spec.shared),
        "separate": list(spec.separate),
        "offset": bool(spec.offset),
        # per centred parameter, the labels of the groups it centres (hierarchical's mapping)
        "centred": {
            name: [lab for lab, c in zip(labels, mask, strict=True) if c]
            for name, mask in spec.centred
        },
    }


def _grouped_law(grouping: Mapping[str, Any]) -> Law | None:
    """The grouped law that :func:`_group_attrs` describes (None: base not in the catalog)."""
    base = _catalog_law(grouping["base"])
    if base is None:
        return None
    law = hierarchical(
        base,
        tuple(grouping["labels"]),
        pooled=tuple(grouping["pooled"]),
        shared=tuple(grouping["shared"]),
        separate=tuple(grouping["separate"]),
        column=grouping["column"],
        offset=bool(grouping["offset"]),
        centred={k: list(v) for k, v in grouping["centred"].items()},
    )
    if _group_attrs(law) != dict(grouping):  # e.g. labels "1" and 1: refuse, do not guess
        return None
    return law


def _check_law_matches(path: Any, law: Law, attrs: Mapping[str, Any], tree: Any) -> None:
    """Raise when ``law`` is not the law of the fit stored in ``tree``, naming both."""
    stored = attrs.get("law")
    why = None
    if stored != law.name:
        why = f"the file holds a fit of law {stored!r}"
    else:
        try:
            inputs = tuple(json.loads(attrs["inputs"]))
            names = set(tree["posterior"].to_dataset().data_vars)
        except (KeyError, TypeError, ValueError):
            return  # an incomplete file: _from_tree says so
        missing = [k for k in law.param_names if k not in names]
        if inputs != tuple(law.inputs):
            why = f"the file's law {stored!r} takes inputs {list(inputs)}"
        elif missing:
            why = f"the file's law {stored!r} has no parameter(s) {missing}"
    if why is not None:
        raise InvalidValueError(
            f"{path}: law {law.name!r} (inputs {list(law.inputs)}) does not match the file: "
            f"{why}. Pass the law the fit was made with (law=None for a catalog law)."
        )


# The sampler statistics the diagnostics read, per MCMC method (Method.needed_stats).
_NEEDED_STATS = {name: cls.needed_stats for name, cls in METHODS.items() if cls.needed_stats}


def _neutral_stats(name: str, shape: tuple[int, ...]) -> np.ndarray:
    """A stand-in for a missing statistic that passes its check (the missing statistic is a
    problem of its own): no divergence, one step, an energy whose E-BFMI is 4, whitened."""
    if name == "diverging":
        return np.zeros(shape, bool)
    if name == "laplace_whitening":
        return np.ones(shape, bool)
    if name == "energy":
        return np.broadcast_to((-1.0) ** np.arange(shape[-1]), shape).copy()
    return np.ones(shape, np.int64)


def _diagnose(
    law: Law, noise: Noise, method: str, settings: Mapping[str, Any], draws, stats
) -> tuple[str, ...]:
    """The problems of a fit, recomputed from its draws and sampler statistics: the
    per-method checks of the fit (:meth:`bayescale.Method.problems`), and for NUTS the checks
    on the draws that :func:`bayescale.fit` adds (non-finite draws, priors that exclude the
    data). A sampler's missing statistics are a problem of their own."""
    options = recorded_method(method, settings)
    problems: list[str] = []
    missing = [k for k in options.needed_stats if k not in stats]
    if missing:
        shape = next(iter(draws.values())).shape[:2]
        stats = {**{k: _neutral_stats(k, shape) for k in missing}, **stats}
        problems.append(
            f"the file holds no sampler statistics {missing}: divergences, tree depth and "
            "E-BFMI cannot be checked. Remedy: refit (Posterior.save keeps them)."
        )
    finite = all(np.all(np.isfinite(np.asarray(v, np.float64))) for v in draws.values())
    if not finite and options.needed_stats:
        # R-hat and ESS of NaN draws are NaN: say what is wrong, not that chains disagree
        problems += check_draws(law, noise, draws, stats, warn=False)
        return tuple(problems)
    problems += options.problems(draws, stats, warn=False)
    if isinstance(options, NUTS):
        problems += check_draws(law, noise, draws, stats, warn=False)
    return tuple(problems)


def _diagnosed(
    attrs: Mapping[str, Any],
    law: Law,
    noise: Noise,
    method: str,
    settings: Mapping[str, Any],
    draws: Mapping[str, np.ndarray],
    stats: Mapping[str, np.ndarray],
    data: pd.DataFrame,
) -> tuple[str, ...]:
    """:func:`_diagnose`'s verdict of a stored fit, remembered by this machine for exactly
    these values and this version of bayescale (:mod:`bayescale._verdicts`)."""
    columns = {k: data[k].to_numpy() for k in (*law.inputs, law.target)}
    key = verdict_key(attrs, draws, stats, columns)
    problems = remembered(key)
    if problems is None:
        problems = _diagnose(law, noise, method, settings, draws, stats)
        remember(key, problems)
    return problems


def _checked_draws(kind: str, arrays: Mapping[str, np.ndarray], shape=None) -> tuple[int, int]:
    """Raise unless every array is real-valued numbers shaped ``(chain, draw, ...)`` with the
    same chains and draws (``shape``, when given); return that leading shape."""
    for name, a in arrays.items():
        if a.dtype.kind not in "fiub":
            raise InvalidValueError(f"{kind} {name!r} holds {a.dtype} values, not real numbers")
        if a.ndim < 2 or 0 in a.shape[:2]:
            raise InvalidValueError(f"{kind} {name!r} has shape {a.shape}, not (chain, draw, ...)")
        if shape is None:
            shape = a.shape[:2]
        elif a.shape[:2] != tuple(shape):
            raise InvalidValueError(
                f"{kind} {name!r} has {a.shape[:2]} (chain, draw), the draws {tuple(shape)}"
            )
    return tuple(shape)


def _checked_data(law: Law, data: pd.DataFrame) -> None:
    """Raise unless the stored data are what a fit conditions on: finite real numbers, inputs
    positive (group codes whole numbers), a log-link target positive."""
    spec = group_spec(law)
    codes = {spec.column} if spec is not None else set()
    for k in data.columns:
        a = data[k].to_numpy()
        if a.dtype.kind not in "fiu":
            raise InvalidValueError(
                f"observed column {k!r} holds {a.dtype} values, not real numbers"
            )
        a = a.astype(np.float64)
        bad = ~np.isfinite(a)
        if k in codes:
            bad |= a != np.round(a)
        elif k in law.inputs or law.link == "log":
            bad |= a <= 0
        if bad.any():
            raise InvalidValueError(
                f"observed column {k!r} holds values no fit accepts at row(s) "
                f"{np.flatnonzero(bad)[:5].tolist()}: {_show(a[bad])}"
            )
