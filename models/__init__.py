"""The law catalog: ``from bayescale.models import chinchilla``.

Each law is a :class:`bayescale.Law` value. A user-defined law is built with the same class and
works everywhere a catalog law does.
"""

from ._bnsl import bnsl as bnsl
from ._bnsl import bnsl_1 as bnsl_1
from ._chinchilla import chinchilla as chinchilla
from ._kaplan import kaplan_bcrit as kaplan_bcrit
from ._kaplan import kaplan_C as kaplan_C
from ._kaplan import kaplan_D as kaplan_D
from ._kaplan import kaplan_N as kaplan_N
from ._kaplan import kaplan_ND as kaplan_ND
from ._kaplan import kaplan_NS as kaplan_NS
from ._power import hestness as hestness
from ._power import hestness_C as hestness_C
from ._power import hestness_D as hestness_D
from ._power import hestness_N as hestness_N
from ._power import power_law as power_law
from ._power import power_law_C as power_law_C
from ._power import power_law_D as power_law_D
from ._power import power_law_N as power_law_N

__all__ = ["chinchilla"]

# Part A of the catalog (power laws, Kaplan, BNSL). kaplan_N/D/C are aliases of power_law_N/D/C
# (the same Law values), so they are importable but not listed twice in the catalog.
__all__ += [
    "bnsl",
    "bnsl_1",
    "hestness",
    "hestness_C",
    "hestness_D",
    "hestness_N",
    "kaplan_ND",
    "kaplan_NS",
    "kaplan_bcrit",
    "power_law",
    "power_law_C",
    "power_law_D",
    "power_law_N",
]

# Part B of the catalog (data-constrained, downstream/emergence, inference-time laws).
from ._data_constrained import chinchilla_tied as chinchilla_tied  # noqa: E402
from ._data_constrained import data_constrained as data_constrained  # noqa: E402

__all__ += ["chinchilla_tied", "data_constrained"]
from ._downstream import emergence as emergence  # noqa: E402
from ._downstream import emergence_loss as emergence_loss  # noqa: E402
from ._downstream import exact_match as exact_match  # noqa: E402
from ._downstream import exact_match_law as exact_match_law  # noqa: E402
from ._downstream import logit_linear as logit_linear  # noqa: E402
from ._inference_time import latency_N as latency_N  # noqa: E402
from ._inference_time import memory_N as memory_N  # noqa: E402
from ._inference_time import temperature_quality as temperature_quality  # noqa: E402
from ._inference_time import test_time_compute as test_time_compute  # noqa: E402
from ._inference_time import throughput_batch as throughput_batch  # noqa: E402
from ._inference_time import train_test_tradeoff as train_test_tradeoff  # noqa: E402
from ._inference_time import utilisation_batch as utilisation_batch  # noqa: E402

__all__ += [
    "emergence",
    "emergence_loss",
    "exact_match",
    "exact_match_law",
    "logit_linear",
    "latency_N",
    "memory_N",
    "temperature_quality",
    "test_time_compute",
    "throughput_batch",
    "train_test_tradeoff",
    "utilisation_batch",
]
