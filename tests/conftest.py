"""Shared fixtures: float64 on (bayescale turns it on at import) and explicit PRNG keys."""

import os
import shutil
import tempfile

# One CPU device for the suite: chains split over devices compile ~1.5 s slower per program and
# the suite compiles a new program in most tests, at small sampler settings where parallel
# chains save little. The default (one device per core, chains in parallel) is tested in
# test_inference.py, in a subprocess.
os.environ.setdefault("BAYESCALE_CPU_DEVICES", "1")

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import bayescale  # noqa: E402  (enables float64)

# One persistent compilation cache per test run: the suite drops compiled programs after each
# module (below) and many modules compile the same samplers on the same shapes, which then load
# from disk instead of compiling again. The first process (pytest, or pytest-xdist's controller)
# makes the folder and its workers inherit it through the environment; it is set here, not
# through BAYESCALE_COMPILATION_CACHE, so subprocesses that tests start keep their own settings.
_CACHE_VARIABLE = "BAYESCALE_TEST_JAX_CACHE"
_OWN_CACHE = _CACHE_VARIABLE not in os.environ
if _OWN_CACHE:
    os.environ[_CACHE_VARIABLE] = tempfile.mkdtemp(prefix="bayescale-test-jax-cache-")
bayescale.enable_compilation_cache(os.environ[_CACHE_VARIABLE])


def pytest_sessionfinish(session):
    if _OWN_CACHE and not hasattr(session.config, "workerinput"):
        shutil.rmtree(os.environ[_CACHE_VARIABLE], ignore_errors=True)


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


# Fragility sweep: BAYESCALE_TEST_SEED_SHIFT=k adds k to the seed of every fit the tests make,
# fit_many and leave_future_out included (see tests/seed_shift.py).
from seed_shift import shift_seeds  # noqa: E402

shift_seeds(int(os.environ.get("BAYESCALE_TEST_SEED_SHIFT", "0")))


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Drop every compiled program after each test module. Each XLA:CPU executable holds about
    ten memory mappings and a process may have 65,530 (``vm.max_map_count``); the whole suite
    compiles thousands of programs in one process and, keeping them all, crashed inside the
    compiler half-way through (a segmentation fault at ~65,000 mappings)."""
    yield
    jax.clear_caches()
