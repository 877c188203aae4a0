"""Shared fixtures: float64 on (bayescale turns it on at import) and explicit PRNG keys."""

import jax
import numpy as np
import pytest

import bayescale  # noqa: F401  (enables float64)


@pytest.fixture
def rng_key():
    return jax.random.PRNGKey(20261126)


@pytest.fixture
def np_rng():
    return np.random.default_rng(20261126)


@pytest.fixture(scope="session")
def chinchilla_epoch():
    return bayescale.datasets.load("chinchilla", variant="epoch")


@pytest.fixture(scope="session")
def chinchilla_post(chinchilla_epoch):
    """The default fit on Epoch's 240 points (shared: it takes ~20 s)."""
    from bayescale.models import chinchilla

    return bayescale.fit(chinchilla, chinchilla_epoch, seed=0)
