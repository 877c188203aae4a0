"""The law catalog: ``from bayescale.models import chinchilla``.

Each law is a :class:`bayescale.Law` value. A user-defined law is built with the same class and
works everywhere a catalog law does.
"""

from ._chinchilla import chinchilla as chinchilla

__all__ = ["chinchilla"]
