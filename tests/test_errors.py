"""The error hierarchy: every error bayescale raises on purpose is a BayescaleError that is also
the built-in a caller expects, and every warning is a BayescaleWarning."""

from __future__ import annotations

import ast
import pathlib
import warnings

import numpy as np
import pytest
from bayescale.models import chinchilla

import bayescale as bs

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILTINS = {"ValueError", "TypeError", "KeyError", "RuntimeError", "LookupError", "Exception"}


def test_each_error_is_also_the_builtin_a_caller_expects():
    for error, builtin in [
        (bs.InvalidValueError, ValueError),
        (bs.DataError, ValueError),
        (bs.InvalidTypeError, TypeError),
        (bs.UnknownNameError, KeyError),
        (bs.ComputationError, RuntimeError),
    ]:
        assert issubclass(error, bs.BayescaleError) and issubclass(error, builtin)
    assert issubclass(bs.DataError, bs.InvalidValueError)
    # a KeyError's str() quotes its key; this one is a sentence and reads as one
    assert str(bs.UnknownNameError("unknown law 'x'")) == "unknown law 'x'"
    for warning in (bs.ConvergenceWarning, bs.PriorWarning, bs.DataWarning, bs.ParetoKWarning):
        assert issubclass(warning, bs.BayescaleWarning) and issubclass(warning, UserWarning)


def _builtin_raises(path: pathlib.Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name) and exc.id in BUILTINS:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} raise {exc.id}")
    return found


def test_bayescale_raises_no_bare_builtin_errors():
    """A bare ValueError from bayescale would read as a bug to the command line (exit 3)."""
    files = sorted((ROOT / "bayescale").rglob("*.py")) + sorted((ROOT / "models").rglob("*.py"))
    found = [hit for path in files for hit in _builtin_raises(path)]
    assert not found, found


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda data: bs.fit("chinchilla", data), bs.InvalidTypeError),
        (lambda data: bs.fit(chinchilla, data, method=bs.NUTS(num_warmup=-1)), ValueError),
        (lambda data: bs.datasets.load("no_such_set"), bs.UnknownNameError),
        (lambda data: bs.prior_set("no_such_prior_set", chinchilla), bs.UnknownNameError),
        (lambda data: bs.validate(data.assign(loss=np.nan), ["N", "D"], "loss"), bs.DataError),
        (lambda data: bs.noise_of("no_such_noise"), bs.InvalidValueError),
    ],
)
def test_public_calls_raise_from_the_hierarchy(call, error):
    data = bs.datasets.load("chinchilla", variant="epoch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.BayescaleWarning)
        with pytest.raises(error) as raised:
            call(data)
    assert isinstance(raised.value, bs.BayescaleError)
