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
