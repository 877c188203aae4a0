"""The fragility sweep of the test suite: every seeded entry point's seed shifted by k.

``BAYESCALE_TEST_SEED_SHIFT=k pytest`` adds k to the seed of every fit the tests make, through
each name a fit is reached by: ``bayescale.fit``, the ``fit`` that
:func:`bayescale.leave_future_out` bound at import (``bayescale._lfo.fit``), and
``bayescale.fit_many`` (also as ``bayescale._many.fit_many``). A test that asserts convergence at
its fixed seed should pass at other seeds too; the sweep finds the ones that passed by the luck
of one seed on one CPU (XLA's floating point differs between CPUs, so the same seed samples
differently).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any

# (module, attribute) of every seeded entry point; a name bound by ``from ... import`` inside
# the package is its own entry.
SEEDED = (
    ("bayescale", "fit"),
    ("bayescale._lfo", "fit"),
    ("bayescale", "fit_many"),
    ("bayescale._many", "fit_many"),
)


def shifted(fn: Callable[..., Any], shift: int) -> Callable[..., Any]:
    """``fn`` with ``shift`` added to its ``seed`` keyword (default 0). A seed that is not a
    valid one (not an int, negative, too large) goes through as it is, for ``fn`` to refuse."""

    @functools.wraps(fn)
    def call(*args: Any, seed: Any = 0, **kwargs: Any) -> Any:
        valid = type(seed) is int and 0 <= seed < 2**63 - shift
        return fn(*args, seed=seed + shift if valid else seed, **kwargs)

    call.unshifted = fn
    return call


def shift_seeds(shift: int, set_attr: Callable[[Any, str, Any], None] = setattr) -> None:
    """Shift the seed of every entry point in :data:`SEEDED` by ``shift`` (``set_attr`` may be a
    ``monkeypatch.setattr``, to undo it after a test)."""
    if not shift:
        return
    for module_name, name in SEEDED:
        module = importlib.import_module(module_name)
        set_attr(module, name, shifted(getattr(module, name), shift))
