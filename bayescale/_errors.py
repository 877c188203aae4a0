"""The errors and warnings bayescale raises on purpose, in one hierarchy.

Every error bayescale raises for a reason it can name is a :class:`BayescaleError`, so
``except bs.BayescaleError`` catches exactly those, and anything else escaping a bayescale call
is a bug. Each subclass also derives from the built-in exception a Python caller would expect
(``ValueError`` for a bad value, ``TypeError`` for a wrong type, ``KeyError`` for an unknown
name), so code written against the built-ins keeps working. The command line maps these types
to its exit codes (:mod:`bayescale._cli`); it never reads a message or a traceback to decide.

Warnings follow the same rule under :class:`BayescaleWarning`, so
``warnings.simplefilter("error", bs.BayescaleWarning)`` makes every warning of bayescale fatal
and leaves those of JAX and numpyro alone.

This module imports nothing of bayescale's: every other module may raise from it.
"""

from __future__ import annotations

__all__ = [
    "InvalidValueError",
    "InvalidTypeError",
    "BayescaleError",
    "BayescaleWarning",
    "ComputationError",
    "DataError",
    "UnknownNameError",
]


class BayescaleError(Exception):
    """Base of the errors bayescale raises on purpose; the message says what to change."""


class InvalidValueError(BayescaleError, ValueError):
    """An argument bayescale cannot use: a setting out of range, a level outside (0, 1), a
    budget that is not positive, a file that is not a saved fit."""


class DataError(InvalidValueError):
    """A problem with the input data; the message names the column and, where it applies, the
    row.

    Args:
        message: The message, with remedies phrased as Python arguments (``dropna=True``).
        cli_message: The same message with the command line's options (``--dropna``) instead,
            which the command line prints; the message itself where they are the same.
    """

    def __init__(self, message: str, *, cli_message: str | None = None):
        super().__init__(message)
        self.cli_message = message if cli_message is None else cli_message

    def within(self, where: str, hint: str = "") -> DataError:
        """The same error said of a part of something larger: ``where`` before the message
        (``"runs.csv: "``, ``"dataset 2: "``), ``hint`` after it, in both phrasings."""
        return DataError(f"{where}{self}{hint}", cli_message=f"{where}{self.cli_message}{hint}")


class InvalidTypeError(BayescaleError, TypeError):
    """An argument of the wrong kind: a string where a method value is wanted, a law that is
    not a :class:`~bayescale.Law`."""


class UnknownNameError(BayescaleError, KeyError):
    """A name bayescale does not know (a law, data set, parameter, prior set or group); the
    message lists the names it does know."""

    # KeyError's str() quotes its argument, as a dict key; this argument is a sentence.
    __str__ = BaseException.__str__


class ComputationError(BayescaleError, RuntimeError):
    """A numerical step that ran but did not succeed (a tempered sampler that did not reach
    the posterior, a density that is not finite at a draw); the message names the setting to
    raise or the check to run."""


class BayescaleWarning(UserWarning):
    """Base of the warnings bayescale issues: convergence, priors, data and PSIS reliability."""
