"""MAP, Laplace and SVI through optax: same Posterior type, labelled approximate, and close to the
NUTS posterior where the posterior is near-Gaussian (240 Chinchilla points)."""

import numpy as np
import pytest
from bayescale.models import chinchilla

import bayescale as bs

# The NUTS posterior of the default Chinchilla model on Epoch's 240 points (STACK.md: NumPyro,
# PyMC and nutpie agree): E 1.864, alpha 0.360, beta 0.406.
NUTS_MEANS = {"E": 1.864, "alpha": 0.360, "beta": 0.406}


@pytest.fixture(scope="module")
def laplace(chinchilla_epoch):
    return bs.fit(chinchilla, chinchilla_epoch, method="laplace", seed=1)


def test_map_is_a_single_labelled_draw_at_the_mode(chinchilla_epoch):
    post = bs.fit(chinchilla, chinchilla_epoch, method="map", seed=0, num_inits=4)
    assert post.approximate
    assert post.draws["alpha"].shape == (1, 1)
    assert "approximate" in repr(post)
    assert post.stats["restarts_at_optimum"][0, 0] >= 2  # two starts found the same optimum
    # The mode of a near-Gaussian posterior sits at its mean, well within 0.3 posterior sd
    # (sd: E 0.0145, alpha 0.0104, beta 0.0097 from a ChEES fit, 4000 draws).
    for name, sd in {"E": 0.0145, "alpha": 0.0104, "beta": 0.0097}.items():
        assert abs(post.samples[name][0] - NUTS_MEANS[name]) < 0.3 * sd, name


@pytest.mark.slow
def test_laplace_matches_the_nuts_posterior(laplace):
    assert laplace.approximate and laplace.ok
    assert laplace.draws["log_E"].shape == (4, 1000)
    s = laplace.summary(level=0.9)
    for name, mean in NUTS_MEANS.items():
        # within 0.25 posterior sd of the sampler's mean (Monte Carlo SE of 4000 iid draws
        # is 0.016 sd)
        assert abs(s.loc[name, "mean"] - mean) < 0.25 * s.loc[name, "sd"], name
    # constraints hold on every draw
    assert np.all(laplace.samples["alpha"] > 0) and np.all(laplace.samples["sigma"] > 0)
    # forecasts and allocation work on approximate posteriors too
    f = laplace.forecast(N=70e9, D=1.4e12)
    assert f["mean_lower"].iloc[0] < f["median"].iloc[0] < f["mean_upper"].iloc[0]


@pytest.mark.slow
def test_svi_agrees_with_laplace(chinchilla_epoch, laplace):
    post = bs.fit(chinchilla, chinchilla_epoch, method="svi", seed=2, svi_steps=1500)
    assert post.approximate and post.method == "svi"
    assert post.draws["alpha"].shape == (4, 1000)
    a, b = post.summary(), laplace.summary()
    for name in ("E", "alpha", "beta"):
        assert abs(a.loc[name, "mean"] - b.loc[name, "mean"]) < 0.3 * b.loc[name, "sd"], name
        assert 0.6 < a.loc[name, "sd"] / b.loc[name, "sd"] < 1.4, name


def test_nuts_is_not_approximate_and_unknown_options_are_rejected(chinchilla_epoch):
    with pytest.raises(ValueError, match="unknown method"):
        bs.fit(chinchilla, chinchilla_epoch, method="gibbs")
    with pytest.raises(TypeError, match="num_bootstrap"):
        bs.fit(chinchilla, chinchilla_epoch, method="laplace", num_bootstrap=3)
    with pytest.raises(TypeError, match="no option"):
        bs.fit(chinchilla, chinchilla_epoch, num_inits=3)
