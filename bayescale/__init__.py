"""bayescale: Bayesian scaling laws on JAX.

Posterior distributions over scaling-law parameters (NumPyro NUTS, float64), credible and
predictive intervals for models not yet trained, and compute-optimal allocation with
uncertainty.

Example:
    >>> import bayescale as bs
    >>> from bayescale.models import chinchilla
    >>> data = bs.datasets.load("chinchilla", variant="epoch")
    >>> post = bs.fit(chinchilla, data, seed=0)
    >>> post = bs.fit(chinchilla, data, method=bs.NUTS(num_warmup=2000), seed=0)
    >>> post.forecast(N=70e9, D=1.4e12, level=0.9)
    >>> post.allocate(C=5.76e23)

The public names load on first use (``bs.fit`` imports JAX and the engine then), so that
``import bayescale`` and ``bayescale --help`` do not pay for JAX's import.
"""

from __future__ import annotations

import importlib as _importlib
import os as _os
import re as _re
import sys as _sys
from typing import TYPE_CHECKING, Any


def _configure_jax() -> None:
    """float64, and one XLA CPU device per core, both set before JAX starts.

    Loss extrapolation over orders of magnitude needs float64: JAX reads ``JAX_ENABLE_X64`` when
    it is imported, or, if it already is, takes the config update. One CPU device per core lets
    NUTS chains and fit_many's datasets run in parallel; XLA reads the device count only when
    its CPU backend starts, so importing bayescale before any JAX computation is enough (later
    it is a no-op). A count already in ``XLA_FLAGS`` is kept; ``BAYESCALE_CPU_DEVICES=1`` turns
    this off (any other number sets the count).
    """
    if "jax" in _sys.modules:
        _sys.modules["jax"].config.update("jax_enable_x64", True)
    else:
        _os.environ["JAX_ENABLE_X64"] = "1"
    flags = _os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" in flags:
        return
    if hasattr(_os, "sched_getaffinity"):
        cores = len(_os.sched_getaffinity(0))
    else:
        cores = _os.cpu_count() or 1
    count = int(_os.environ.get("BAYESCALE_CPU_DEVICES", cores))
    if count > 1:  # what numpyro.set_host_device_count does
        flags = _re.sub(r"--xla_force_host_platform_device_count=\S+", "", flags).split()
        _os.environ["XLA_FLAGS"] = " ".join(
            [f"--xla_force_host_platform_device_count={count}", *flags]
        )


_configure_jax()

__version__ = "0.1.0"

# public name -> the module that defines it (a submodule of bayescale, relative)
_PUBLIC: dict[str, str] = {
    "allocate_data_constrained": ".models._data_constrained",
    "BayescaleError": "._errors",
    "BayescaleWarning": "._errors",
    "Beta": "._noise",
    "BetaBinomial": "._noise",
    "Binomial": "._noise",
    "binomial_noise": "._noise",
    "build_model": "._model",
    "ChEES": "._methods",
    "compare": "._compare",
    "compare_allocations": "._plan",
    "Comparison": "._compare",
    "ComputationError": "._errors",
    "Contaminated": "._noise",
    "ConvergenceWarning": "._diagnostics",
    "cost": "._plan",
    "DataError": "._errors",
    "DataWarning": "._data",
    "Discrepancy": "._discrepancy",
    "effective_multiplier": "._hierarchical",
    "enable_compilation_cache": "._many",
    "Evidence": "._evidence",
    "fit": "._fit",
    "fit_many": "._many",
    "HARDWARE": "._plan",
    "Hardware": "._plan",
    "hierarchical": "._hierarchical",
    "Hoffmann": "._methods",
    "information_gain": "._next_runs",
    "InvalidTypeError": "._errors",
    "InvalidValueError": "._errors",
    "isoflop_allocation": "._plan",
    "isoflop_minima": "._plan",
    "Laplace": "._methods",
    "Law": "._law",
    "laws": "._catalog",
    "leave_future_out": "._lfo",
    "load": "._posterior",
    "log_evidence": "._evidence",
    "MAP": "._methods",
    "Method": "._methods",
    "Noise": "._noise",
    "noise_of": "._noise",
    "Normal": "._noise",
    "NUTS": "._methods",
    "Parameter": "._law",
    "ParetoKWarning": "._compare",
    "plot_prior_posterior": "._plot_prior",
    "Posterior": "._posterior",
    "prior_sensitivity": "._evidence",
    "prior_set": "._priors",
    "prior_sets": "._priors",
    "PriorWarning": "._diagnostics",
    "read_table": "._data",
    "scaled_noise": "._noise",
    "ScaledNormal": "._noise",
    "SmcSettings": "._evidence",
    "Stack": "._stack",
    "stack": "._stack",
    "StudentT": "._noise",
    "SVI": "._methods",
    "Undertrained": "._noise",
    "UnknownNameError": "._errors",
    "validate": "._data",
}
# submodules; plot imports matplotlib
_SUBMODULES = ("datasets", "models", "plot")

__all__ = [
    "allocate_data_constrained",
    "BayescaleError",
    "BayescaleWarning",
    "Beta",
    "BetaBinomial",
    "Binomial",
    "binomial_noise",
    "build_model",
    "ChEES",
    "compare",
    "compare_allocations",
    "Comparison",
    "ComputationError",
    "Contaminated",
    "ConvergenceWarning",
    "cost",
    "DataError",
    "datasets",
    "DataWarning",
    "Discrepancy",
    "effective_multiplier",
    "enable_compilation_cache",
    "Evidence",
    "fit",
    "fit_many",
    "HARDWARE",
    "Hardware",
    "hierarchical",
    "Hoffmann",
    "information_gain",
    "InvalidTypeError",
    "InvalidValueError",
    "isoflop_allocation",
    "isoflop_minima",
    "Laplace",
    "Law",
    "laws",
    "leave_future_out",
    "load",
    "log_evidence",
    "MAP",
    "Method",
    "models",
    "Noise",
    "noise_of",
    "Normal",
    "NUTS",
    "Parameter",
    "ParetoKWarning",
    "plot",
    "plot_prior_posterior",
    "Posterior",
    "prior_sensitivity",
    "prior_set",
    "prior_sets",
    "PriorWarning",
    "read_table",
    "scaled_noise",
    "ScaledNormal",
    "SmcSettings",
    "Stack",
    "stack",
    "StudentT",
    "SVI",
    "Undertrained",
    "UnknownNameError",
    "validate",
]

_engine_ready = False
# Names that never compile or sample: loading them leaves the engine (numpyro.infer, ArviZ, the
# compilation cache) for the first name that needs it, so ``bayescale laws`` answers in a second.
_WITHOUT_ENGINE = frozenset(
    {
        "BayescaleError",
        "BayescaleWarning",
        "ChEES",
        "ComputationError",
        "cost",
        "DataError",
        "datasets",
        "HARDWARE",
        "Hardware",
        "Hoffmann",
        "InvalidTypeError",
        "InvalidValueError",
        "isoflop_allocation",
        "isoflop_minima",
        "Laplace",
        "Law",
        "laws",
        "MAP",
        "Method",
        "models",
        "NUTS",
        "Parameter",
        "SVI",
        "UnknownNameError",
    }
)


def _start_engine() -> None:
    """Once, before the first public name loads: numpyro before arviz (ArviZ's lazy loader needs
    numpyro.infer imported), and the persistent compilation cache (off with
    ``BAYESCALE_COMPILATION_CACHE=0``), so a new process loads compiled samplers from disk."""
    global _engine_ready
    if _engine_ready:
        return
    _engine_ready = True
    _importlib.import_module("numpyro.infer")
    _importlib.import_module("._many", __name__).use_default_compilation_cache()


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        if name not in _WITHOUT_ENGINE:
            _start_engine()
        value = getattr(_importlib.import_module(_PUBLIC[name], __name__), name)
    elif name in _SUBMODULES:
        if name not in _WITHOUT_ENGINE:
            _start_engine()
        value = _importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'bayescale' has no attribute {name!r}")
    globals()[name] = value  # loaded once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # what static tools see
    from . import datasets, models, plot
    from ._catalog import laws
    from ._compare import Comparison, ParetoKWarning, compare
    from ._data import DataWarning, read_table, validate
    from ._diagnostics import ConvergenceWarning, PriorWarning
    from ._discrepancy import Discrepancy
    from ._errors import (
        BayescaleError,
        BayescaleWarning,
        ComputationError,
        DataError,
        InvalidTypeError,
        InvalidValueError,
        UnknownNameError,
    )
    from ._evidence import Evidence, SmcSettings, log_evidence, prior_sensitivity
    from ._fit import fit
    from ._hierarchical import effective_multiplier, hierarchical
    from ._law import Law, Parameter
    from ._lfo import leave_future_out
    from ._many import enable_compilation_cache, fit_many
    from ._methods import MAP, NUTS, SVI, ChEES, Hoffmann, Laplace, Method
    from ._model import build_model
    from ._next_runs import information_gain
    from ._noise import (
        Beta,
        BetaBinomial,
        Binomial,
        Contaminated,
        Noise,
        Normal,
        ScaledNormal,
        StudentT,
        Undertrained,
        binomial_noise,
        noise_of,
        scaled_noise,
    )
    from ._plan import (
        HARDWARE,
        Hardware,
        compare_allocations,
        cost,
        isoflop_allocation,
        isoflop_minima,
    )
    from ._plot_prior import plot_prior_posterior
    from ._posterior import Posterior, load
    from ._priors import prior_set, prior_sets
    from ._stack import Stack, stack
    from .models._data_constrained import allocate_data_constrained
