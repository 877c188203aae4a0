"""bayescale: Bayesian scaling laws on JAX.

Posterior distributions over scaling-law parameters (NumPyro NUTS, float64), credible and
predictive intervals for models not yet trained, and compute-optimal allocation with
uncertainty.

Example:
    >>> import bayescale as bs
    >>> from bayescale.models import chinchilla
    >>> data = bs.datasets.load("chinchilla", variant="epoch")
    >>> post = bs.fit(chinchilla, data, seed=0)
    >>> post.forecast(N=70e9, D=1.4e12, level=0.9)
    >>> post.allocate(C=5.76e23)
"""

import jax as _jax

# Loss extrapolation over orders of magnitude needs float64; set before any array is made.
_jax.config.update("jax_enable_x64", True)

# numpyro before arviz: ArviZ's lazy loader needs numpyro.infer already imported.
import numpyro as _numpyro  # noqa: E402


def _expose_cpu_cores() -> None:
    """One XLA CPU device per core, so NUTS chains and fit_many's datasets run in parallel.

    XLA reads the flag only when its CPU backend starts: importing bayescale before any JAX
    computation is enough; later it is a no-op. A device count already in ``XLA_FLAGS`` is
    kept; ``BAYESCALE_CPU_DEVICES=1`` turns this off (any other number sets the count).
    """
    import os

    if "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    count = int(os.environ.get("BAYESCALE_CPU_DEVICES", cores or 1))
    if count > 1:
        _numpyro.set_host_device_count(count)


_expose_cpu_cores()

from . import datasets as datasets  # noqa: E402
from . import models as models  # noqa: E402
from ._catalog import laws as laws  # noqa: E402
from ._data import DataError as DataError  # noqa: E402
from ._data import DataWarning as DataWarning  # noqa: E402
from ._data import read_table as read_table  # noqa: E402
from ._data import validate as validate  # noqa: E402
from ._diagnostics import ConvergenceWarning as ConvergenceWarning  # noqa: E402
from ._diagnostics import PriorWarning as PriorWarning  # noqa: E402
from ._fit import fit as fit  # noqa: E402
from ._hierarchical import hierarchical as hierarchical  # noqa: E402
from ._law import Law as Law  # noqa: E402
from ._law import Parameter as Parameter  # noqa: E402
from ._model import binomial_noise as binomial_noise  # noqa: E402
from ._model import build_model as build_model  # noqa: E402
from ._model import scaled_noise as scaled_noise  # noqa: E402
from ._plot_prior import plot_prior_posterior as plot_prior_posterior  # noqa: E402
from ._posterior import Posterior as Posterior  # noqa: E402
from ._posterior import load as load  # noqa: E402
from ._priors import prior_set as prior_set  # noqa: E402
from ._priors import prior_sets as prior_sets  # noqa: E402
from .models._data_constrained import (  # noqa: E402
    allocate_data_constrained as allocate_data_constrained,
)

__version__ = "0.1.0"

__all__ = [
    "ConvergenceWarning",
    "DataError",
    "DataWarning",
    "Law",
    "Parameter",
    "Posterior",
    "PriorWarning",
    "build_model",
    "datasets",
    "fit",
    "hierarchical",
    "laws",
    "load",
    "models",
    "plot",
    "read_table",
    "validate",
]


def __getattr__(name: str):
    # Plotting imports matplotlib: load it only when asked for.
    if name == "plot":
        import importlib

        return importlib.import_module(".plot", __name__)
    raise AttributeError(f"module 'bayescale' has no attribute {name!r}")


# Catalog part B: accuracy noise models and data-constrained allocation.
__all__ += ["allocate_data_constrained", "binomial_noise"]

# Law comparison: PSIS-LOO, WAIC, stacking, evidence, leave-future-out.
from ._compare import Comparison as Comparison  # noqa: E402
from ._compare import ParetoKWarning as ParetoKWarning  # noqa: E402
from ._compare import compare as compare  # noqa: E402
from ._discrepancy import Discrepancy as Discrepancy  # noqa: E402
from ._evidence import Evidence as Evidence  # noqa: E402
from ._evidence import SmcSettings as SmcSettings  # noqa: E402
from ._evidence import log_evidence as log_evidence  # noqa: E402
from ._evidence import prior_sensitivity as prior_sensitivity  # noqa: E402
from ._lfo import leave_future_out as leave_future_out  # noqa: E402
from ._stack import Stack as Stack  # noqa: E402
from ._stack import stack as stack  # noqa: E402

__all__ += [
    "Comparison",
    "Discrepancy",
    "Evidence",
    "ParetoKWarning",
    "SmcSettings",
    "Stack",
    "compare",
    "leave_future_out",
    "log_evidence",
    "prior_sensitivity",
    "stack",
]

# Many fits per compiled call, accelerator-shaped sampling, compile cache.
from ._many import enable_compilation_cache as enable_compilation_cache  # noqa: E402
from ._many import fit_many as fit_many  # noqa: E402

__all__ += ["enable_compilation_cache", "fit_many"]

# Compiled samplers persist across processes (off with BAYESCALE_COMPILATION_CACHE=0).
from ._many import use_default_compilation_cache as _use_default_compilation_cache  # noqa: E402

_use_default_compilation_cache()

# Hierarchical laws, noise models, prior sets.
from ._hierarchical import effective_multiplier as effective_multiplier  # noqa: E402

__all__ += [
    "effective_multiplier",
    "plot_prior_posterior",
    "prior_set",
    "prior_sets",
    "scaled_noise",
]
