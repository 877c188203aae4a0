"""The seed-shift harness (tests/seed_shift.py) reaches every way a test makes a fit."""

from __future__ import annotations

import pytest
from bayescale.models import chinchilla
from seed_shift import SEEDED, shift_seeds

import bayescale as bs


class _Reached(Exception):
    """Raised by a stand-in for a fitting function, carrying the seed it was given."""


def _record(*args, seed=0, **kwargs):
    raise _Reached(seed)


def _seed_of(call) -> int:
    with pytest.raises(_Reached) as caught:
        call()
    return caught.value.args[0]


def test_the_shift_reaches_fit_fit_many_and_leave_future_out(monkeypatch, chinchilla_epoch):
    import importlib

    for module_name, name in SEEDED:  # stand-ins that report the seed they were given
        monkeypatch.setattr(importlib.import_module(module_name), name, _record)
    shift_seeds(7, monkeypatch.setattr)
    data = chinchilla_epoch[["N", "D", "loss"]]
    assert _seed_of(lambda: bs.fit(chinchilla, data, seed=1)) == 8
    assert _seed_of(lambda: bs.fit(chinchilla, data)) == 7
    assert _seed_of(lambda: bs.fit_many(chinchilla, [data], seed=2)) == 9
    assert _seed_of(lambda: bs._many.fit_many(chinchilla, [data])) == 7
    # leave_future_out fits through the `fit` its module bound at import
    assert _seed_of(lambda: bs.leave_future_out(chinchilla, data, seed=3)) == 10
