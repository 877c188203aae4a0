"""Inference methods as values: settings that check themselves, aliases, exactness in one place,
no setting silently dropped, one default for fit and fit_many."""

import dataclasses
import inspect
import warnings

import numpy as np
import pandas as pd
import pytest
from bayescale.models import chinchilla
from synthetic import synthetic_posterior

import bayescale as bs
from bayescale import _fit, _many
from bayescale._methods import DEFAULT_METHOD, METHODS, method_of

# fit's named sampler settings (the rest of a method's settings come in **options)
FIT_SETTINGS = {
    "num_chains": 4,
    "num_warmup": 1000,
    "num_samples": 1000,
    "target_accept_prob": 0.9,
    "dense_mass": True,
    "max_tree_depth": 10,
    "chain_method": "sequential",
    "progress": False,
}


class _Stop(Exception):
    """Raised by a stand-in for the sampler, carrying the settings it was given."""


def _no_data() -> pd.DataFrame:
    """A table no fit accepts: a test passing it proves its error came before the data."""
    return pd.DataFrame({"x": [1.0]})


# --------------------------------------------------------------------------- the values
def test_every_alias_is_its_method_with_default_settings():
    assert list(METHODS) == ["nuts", "chees", "laplace", "svi", "map", "hoffmann"]
    for name, cls in METHODS.items():
        assert method_of(name) == cls() and cls.name == name
        assert getattr(bs, cls.__name__) is cls
        assert method_of(cls(), **{}) == cls()
    assert method_of("laplace", num_samples=50) == bs.Laplace(num_samples=50)


def test_exactness_and_point_fits_are_properties_of_the_method():
    assert {n for n, cls in METHODS.items() if cls.exact} == {"nuts", "chees"}
    assert {n for n, cls in METHODS.items() if cls.point} == {"map", "hoffmann"}
    assert bs.NUTS(num_warmup=5).exact and not bs.SVI().exact


def test_posterior_approximate_and_compare_read_the_method(monkeypatch):
    """Posterior.approximate and compare's refusal of point fits look the method up by name:
    changing the method class changes both, so the rule lives in one place."""
    post = synthetic_posterior(bs.datasets.load("chinchilla", variant="epoch")[["N", "D", "loss"]])
    for name, cls in METHODS.items():
        assert dataclasses.replace(post, method=name).approximate is not cls.exact
    laplace = dataclasses.replace(post, method="laplace")
    monkeypatch.setattr(bs.Laplace, "exact", True)
    assert not laplace.approximate
    monkeypatch.setattr(bs.Laplace, "point", True)
    with pytest.raises(ValueError, match="'laplace' point fit"):
        bs.compare({"a": laplace, "b": post})


def test_methods_are_frozen_keyword_only_and_hash_alike():
    method = bs.NUTS(num_warmup=500)
    with pytest.raises(dataclasses.FrozenInstanceError):
        method.num_warmup = 10
    with pytest.raises(TypeError):
        bs.NUTS(4)
    with pytest.raises(TypeError, match="abstract"):
        bs.Method()
    # NumPy scalars are stored as Python ones: equal settings hash and print alike
    same = bs.NUTS(
        num_warmup=np.int64(500), target_accept_prob=np.float64(0.9), dense_mass=np.True_
    )
    assert same == method and hash(same) == hash(method) and repr(same) == repr(method)
    assert type(same.num_warmup) is int and type(same.dense_mass) is bool
    assert {bs.NUTS(), bs.NUTS()} == {DEFAULT_METHOD}


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: bs.NUTS(num_warmup=-1), ValueError, "method 'nuts': num_warmup must be at le"),
        (lambda: bs.NUTS(num_samples=0), ValueError, "num_samples must be at least 1, got 0"),
        (lambda: bs.NUTS(num_chains=2.0), TypeError, "num_chains must be an integer, got 2.0"),
        (lambda: bs.NUTS(dense_mass="yes"), TypeError, "dense_mass must be True or False"),
        (lambda: bs.NUTS(target_accept_prob=1.0), ValueError, r"probability in \(0, 1\)"),
        (lambda: bs.NUTS(chain_method="threads"), ValueError, "chain_method must be one of"),
        (lambda: bs.NUTS(init="random"), ValueError, "init must be one of 'laplace', 'uniform'"),
        (lambda: bs.ChEES(num_chains=1), ValueError, "cross-chain statistics"),
        (lambda: bs.ChEES(learning_rate=float("nan")), ValueError, "learning_rate must be a pos"),
        (lambda: bs.SVI(svi_lr=0.0), ValueError, "method 'svi': svi_lr must be a positive"),
        (lambda: bs.MAP(tol="small"), TypeError, "method 'map': tol must be a number"),
        (lambda: bs.Laplace(num_samples=True), TypeError, "num_samples must be an integer"),
        (lambda: bs.Hoffmann(search="random"), ValueError, "search must be one of"),
        (lambda: bs.Hoffmann(bootstrap_starts=0), ValueError, "bootstrap_starts must be at le"),
        (lambda: bs.Hoffmann(batch_size=0), ValueError, "batch_size must be at least 1"),
    ],
)
def test_a_method_checks_its_settings_when_made(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_defaults_pass_their_own_checks():
    assert bs.Hoffmann().ftol == 0.0 and bs.Hoffmann(batch_size=None).batch_size is None
    assert bs.NUTS(num_warmup=0).num_warmup == 0


def test_method_of_names_what_it_cannot_use():
    with pytest.raises(ValueError, match=r"unknown method 'gibbs'; available: \['chees'"):
        method_of("gibbs")
    with pytest.raises(TypeError, match=r"method=bs\.NUTS\(\), not the class"):
        method_of(bs.NUTS)
    with pytest.raises(TypeError, match="method must be a method value"):
        method_of(3)


# ------------------------------------------------------------ no setting is silently dropped
@pytest.mark.parametrize("name", [n for n in METHODS if n != "nuts"])
def test_a_setting_the_method_lacks_is_an_error(name):
    """fit's sampler arguments apply to NUTS; given to a method without them they raise a
    TypeError naming the setting, the method and the settings it has, before the data."""
    have = METHODS[name].option_names()
    lacking = {k: v for k, v in FIT_SETTINGS.items() if k not in have}
    assert lacking  # every other method lacks some of NUTS's settings
    for setting, value in lacking.items():
        for fit, data in ((bs.fit, _no_data()), (bs.fit_many, [_no_data()])):
            with pytest.raises(TypeError) as caught:
                fit(chinchilla, data, method=name, **{setting: value})
            message = str(caught.value)
            assert f"method {name!r}" in message and repr(setting) in message, message
            assert "its options are " + ", ".join(have) in message, message


def test_laplace_has_no_warmup():
    with pytest.raises(TypeError, match=r"method 'laplace' \(bs\.Laplace\) has no option "):
        bs.fit(chinchilla, _no_data(), method="laplace", num_warmup=5000)
    with pytest.raises(TypeError, match="'num_bootstrap'"):
        bs.fit(chinchilla, _no_data(), method="map", num_bootstrap=3)


def test_settings_beside_a_method_value_are_an_error():
    with pytest.raises(TypeError, match=r"put them in it, e\.g\. method=bs\.NUTS\(num_warm"):
        bs.fit(chinchilla, _no_data(), method=bs.NUTS(), num_warmup=2000)
    with pytest.raises(TypeError, match=r"method=bs\.ChEES\(num_chains=16\)"):
        bs.fit_many(chinchilla, [_no_data()], method=bs.ChEES(), num_chains=16)
    with pytest.raises(TypeError, match="search='grid'"):
        bs.fit(chinchilla, _no_data(), method=bs.Hoffmann(), search="grid")


# ------------------------------------------------------------------ one default, one meaning
def test_fit_and_fit_many_share_one_default(monkeypatch, chinchilla_epoch):
    for fn in (bs.fit, bs.fit_many):
        assert inspect.signature(fn).parameters["method"].default is None
    assert method_of(None) is DEFAULT_METHOD and DEFAULT_METHOD == bs.NUTS()
    seen = []

    def stop(*args):
        seen.append(next(a for a in args if isinstance(a, bs.Method)))
        raise _Stop

    monkeypatch.setattr(_fit, "run_nuts", stop)
    monkeypatch.setattr(_many, "_batched", stop)
    data = chinchilla_epoch[["N", "D", "loss"]]
    for call in (
        lambda: bs.fit(chinchilla, data),
        lambda: bs.fit(chinchilla, data, method=bs.NUTS()),
        lambda: bs.fit(chinchilla, data, method="nuts"),
        lambda: bs.fit_many(chinchilla, [data]),
    ):
        with pytest.raises(_Stop):
            call()
    # "auto" chains resolved for the run; every other setting the default's
    for method in seen:
        assert dataclasses.replace(method, chain_method="auto") == DEFAULT_METHOD
    assert seen[0] == seen[1] == seen[2] and seen[3].chain_method == "sequential"


def _failing_sampler(calls):
    """A stand-in for run_nuts: every run diverges; the second run stops the fit."""

    def run_nuts(key, law, noise, x, y, settings):
        calls.append(settings)
        if len(calls) > 1:
            raise _Stop
        rng = np.random.default_rng(0)
        names = (*law.param_names, "sigma")
        draws = {k: rng.normal(size=(settings.num_chains, 50)) for k in names}
        shape = (settings.num_chains, 50)
        stats = {
            "diverging": np.ones(shape, bool),
            "n_steps": np.ones(shape, int),
            "energy": rng.normal(size=shape),
        }
        return draws, stats

    return run_nuts


@pytest.mark.parametrize(
    "kwargs, escalates",
    [
        ({}, True),
        ({"method": "nuts"}, True),
        ({"method": bs.NUTS()}, True),
        ({"method": bs.NUTS(num_warmup=1000, chain_method="sequential")}, True),  # the defaults
        ({"num_warmup": 1000}, True),
        ({"method": bs.NUTS(num_warmup=500)}, False),
        ({"num_warmup": 500}, False),
        ({"target_accept_prob": 0.95}, False),
        ({"method": bs.NUTS(max_tree_depth=12)}, False),
        ({"method": bs.NUTS(num_warmup=500), "escalate": True}, True),
        ({"escalate": False}, False),
    ],
)
def test_nuts_escalates_iff_its_settings_are_the_defaults(
    monkeypatch, chinchilla_epoch, kwargs, escalates
):
    calls = []
    monkeypatch.setattr(_fit, "run_nuts", _failing_sampler(calls))

    def hints(*args):  # reached when the failed fit is kept as it is
        raise _Stop

    monkeypatch.setattr(_fit, "identification_hints", hints)
    with warnings.catch_warnings(), pytest.raises(_Stop):
        warnings.simplefilter("ignore", bs.ConvergenceWarning)  # the failed fit kept
        bs.fit(chinchilla, chinchilla_epoch[["N", "D", "loss"]], **kwargs)
    assert len(calls) == (2 if escalates else 1)
    if escalates:
        first, second = calls
        assert second.target_accept_prob == 0.99 and second.num_warmup == 2 * first.num_warmup


# ------------------------------------------------------------------------- same draws
def test_an_alias_gives_the_draws_of_its_value(chinchilla_epoch):
    data = chinchilla_epoch[["N", "D", "loss"]]
    by_name = bs.fit(chinchilla, data, method="laplace", seed=3, num_samples=100)
    by_value = bs.fit(chinchilla, data, method=bs.Laplace(num_samples=100), seed=3)
    assert by_name.method == by_value.method == "laplace"
    assert dict(by_name.settings) == dict(by_value.settings)
    assert by_name.draws.keys() == by_value.draws.keys()
    for k, v in by_name.draws.items():
        np.testing.assert_array_equal(v, by_value.draws[k])
