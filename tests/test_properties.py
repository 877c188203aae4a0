"""Property tests (hypothesis) on one shared fitted posterior (``chinchilla_post``).

Properties: allocation spends exactly the budget (6 N* D* = C) and matches the numeric optimum;
forecasts fall in N and in D as the Chinchilla law does; 50% intervals sit inside 90% ones;
results do not depend on row order; declared units give the same validated data and the same
likelihood.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from bayescale.models import chinchilla
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from numpyro.infer.util import log_density

import bayescale as bs
from bayescale._allocation import allocate_draws, numeric_allocation
from bayescale._model import build_model

SETTINGS = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)
# Forecasts draw 4000 predictive samples each (~1 s): fewer examples for them.
FEW = settings(SETTINGS, max_examples=6)
log10_budget = st.floats(18.0, 27.0)
log10_n = st.floats(7.0, 12.0)
log10_d = st.floats(8.0, 13.0)


def _theta(post, every: int = 1):
    return {k: jnp.asarray(post.draws[k].reshape(-1)[::every]) for k in post.law.param_names}


# ------------------------------------------------------------------ allocation


@SETTINGS
@given(lc=st.tuples(log10_budget, log10_budget))
def test_allocation_spends_the_budget(chinchilla_post, lc):
    C = 10.0 ** np.asarray(lc)
    per_draw = allocate_draws(chinchilla, _theta(chinchilla_post), C / 6.0)
    spent = 6.0 * np.asarray(per_draw["N_opt"]) * np.asarray(per_draw["D_opt"])
    np.testing.assert_allclose(spent, np.broadcast_to(C, spent.shape), rtol=1e-12)
    table = chinchilla_post.allocate(C)
    np.testing.assert_array_equal(table["C"], C)
    # The reported N* and D* spend the budget, and D*'s median is a median of its draws.
    np.testing.assert_allclose(6.0 * table["N_opt"] * table["D_opt"], C, rtol=1e-12)
    d_sorted = np.sort(np.asarray(per_draw["D_opt"]), axis=0)
    n = d_sorted.shape[0]
    assert np.all(d_sorted[(n - 1) // 2] * (1 - 1e-12) <= table["D_opt"])
    assert np.all(table["D_opt"] <= d_sorted[n // 2] * (1 + 1e-12))
    for name in ("N_opt", "D_opt", "loss_opt"):
        assert np.all(table[f"{name}_lower"] <= table[name])
        assert np.all(table[name] <= table[f"{name}_upper"])
    # More compute -> larger optimal model and more tokens, in every draw.
    lo, hi = np.argsort(C)
    if C[hi] > C[lo] * 1.001:
        for name in ("N_opt", "D_opt"):
            assert np.all(np.asarray(per_draw[name])[:, hi] > np.asarray(per_draw[name])[:, lo])


@SETTINGS
@given(lc=log10_budget)
def test_closed_form_allocation_is_the_optimum(chinchilla_post, lc):
    # The closed form (Law.allocate_fn) and a golden-section search of the law along the
    # iso-FLOP line must find the same N*; tolerance 1e-6 relative (the search's bracket is
    # ~1e-19 wide, the closed form exact up to rounding).
    budget = jnp.asarray([10.0**lc / 6.0])
    theta = {k: v[:, None] for k, v in _theta(chinchilla_post, every=20).items()}
    closed = chinchilla.allocate_fn(chinchilla.to_published(theta), budget)
    numeric = numeric_allocation(chinchilla, theta, budget)
    np.testing.assert_allclose(numeric["N"], closed["N"], rtol=1e-6)


# ------------------------------------------------------------------ forecasts


@FEW
@given(n=st.tuples(log10_n, log10_n), d=log10_d)
def test_forecast_falls_with_model_size(chinchilla_post, n, d):
    lo, hi = sorted(n)
    assume(hi - lo >= 1e-3)  # a rejected example, not a passed one
    f = chinchilla_post.forecast(N=10.0 ** np.array([lo, hi]), D=10.0**d)
    # Every draw's loss falls in N (A, alpha > 0), so every quantile of the mean falls too.
    for col in ("median", "mean_lower", "mean_upper"):
        assert f[col].iloc[1] < f[col].iloc[0], col


@FEW
@given(d=st.tuples(log10_d, log10_d), n=log10_n)
def test_forecast_falls_with_tokens(chinchilla_post, d, n):
    lo, hi = sorted(d)
    assume(hi - lo >= 1e-3)  # a rejected example, not a passed one
    f = chinchilla_post.forecast(N=10.0**n, D=10.0 ** np.array([lo, hi]))
    for col in ("median", "mean_lower", "mean_upper"):
        assert f[col].iloc[1] < f[col].iloc[0], col


@FEW
@given(n=log10_n, d=log10_d, seed=st.integers(0, 2**31 - 1))
def test_intervals_nest(chinchilla_post, n, d, seed):
    narrow = chinchilla_post.forecast(N=10.0**n, D=10.0**d, level=0.5, seed=seed)
    wide = chinchilla_post.forecast(N=10.0**n, D=10.0**d, level=0.9, seed=seed)
    for kind in ("mean", "pred"):
        assert wide[f"{kind}_lower"].iloc[0] <= narrow[f"{kind}_lower"].iloc[0]
        assert narrow[f"{kind}_upper"].iloc[0] <= wide[f"{kind}_upper"].iloc[0]
    assert narrow["mean_lower"].iloc[0] <= narrow["median"].iloc[0] <= narrow["mean_upper"].iloc[0]
    # The predictive interval (parameters + noise) contains the credible interval of the mean
    # up to Monte Carlo error of a 5%/95% quantile from 4000 draws (~3% of the noise scale;
    # 0.15 is ~4.5 Monte Carlo sd).
    sigma = float(np.median(chinchilla_post.samples["sigma"]))
    mid = wide["median"].iloc[0]
    assert wide["pred_lower"].iloc[0] <= wide["mean_lower"].iloc[0] + 0.15 * sigma * mid
    assert wide["pred_upper"].iloc[0] >= wide["mean_upper"].iloc[0] - 0.15 * sigma * mid
    s50, s90 = chinchilla_post.summary(0.5), chinchilla_post.summary(0.9)
    assert np.all(s90["lower"] <= s50["lower"]) and np.all(s50["upper"] <= s90["upper"])


# ------------------------------------------------------------------ invariances


@pytest.fixture(scope="module")
def loglik_fn(chinchilla_post):
    """Total log likelihood of a data set at 64 posterior draws (compiled once)."""
    model = build_model(chinchilla, "normal")
    theta = {k: v[:64] for k, v in _theta(chinchilla_post, every=50).items()}
    theta["sigma"] = jnp.asarray(chinchilla_post.draws["sigma"].reshape(-1)[::50][:64])

    @jax.jit
    def f(x, y):
        return jax.vmap(lambda th: log_density(model, (x,), {"y": y}, th)[0])(theta)

    def total(df: pd.DataFrame) -> np.ndarray:
        clean = bs.validate(df, chinchilla.inputs, "loss")
        x = {k: jnp.asarray(clean[k].to_numpy()) for k in chinchilla.inputs}
        return np.asarray(f(x, jnp.asarray(clean["loss"].to_numpy())))

    return total


@SETTINGS
@given(perm_seed=st.integers(0, 2**32 - 1))
def test_results_invariant_to_row_order(chinchilla_epoch, loglik_fn, perm_seed):
    perm = np.random.default_rng(perm_seed).permutation(len(chinchilla_epoch))
    shuffled = chinchilla_epoch.iloc[perm]
    clean = bs.validate(shuffled, chinchilla.inputs, "loss")
    pd.testing.assert_frame_equal(
        clean.sort_index(), bs.validate(chinchilla_epoch, chinchilla.inputs, "loss").sort_index()
    )
    # Summation order changes only rounding: the log density agrees to ~1e-13 relative.
    np.testing.assert_allclose(loglik_fn(shuffled), loglik_fn(chinchilla_epoch), rtol=1e-11)


@SETTINGS
@given(
    column=st.sampled_from(["N", "D"]),
    unit=st.sampled_from([1e3, 1e6, 1e9]),
    bits=st.booleans(),
)
def test_results_invariant_to_declared_units(chinchilla_epoch, loglik_fn, column, unit, bits):
    scaled = chinchilla_epoch.copy()
    scaled[column] = scaled[column] / unit
    units = {column: unit}
    if bits:
        scaled["loss"] = scaled["loss"] / math.log(2)
        units["loss"] = math.log(2)
    clean = bs.validate(scaled, chinchilla.inputs, "loss", units=units)
    want = bs.validate(chinchilla_epoch, chinchilla.inputs, "loss")
    np.testing.assert_allclose(clean.to_numpy(), want.to_numpy(), rtol=4e-16)
    np.testing.assert_allclose(
        loglik_fn(clean),
        loglik_fn(chinchilla_epoch),
        rtol=1e-11,
    )


def test_fit_on_shuffled_rows_agrees_within_monte_carlo_error(chinchilla_post, chinchilla_epoch):
    # Same data, other row order: draws differ (rounding perturbs the trajectories) but the
    # posterior must agree within Monte Carlo error: |mean difference| < 4.5 combined MCSE.
    shuffled = chinchilla_epoch.sample(frac=1.0, random_state=7)
    other = bs.fit(chinchilla, shuffled, seed=0)
    assert other.ok, other.problems
    a, b = chinchilla_post.summary(), other.summary()
    mcse = np.sqrt(a["sd"] ** 2 / a["ess_bulk"] + b["sd"] ** 2 / b["ess_bulk"])
    z = (a["mean"] - b["mean"]).abs() / mcse
    assert np.all(z < 4.5), z


def test_allocation_refuses_a_law_that_is_not_on_the_log_scale():
    """The optimum and compute_for read the law's mean as the log of the loss: an N, D law on
    another link would be exponentiated silently, so it is refused by name."""
    import dataclasses

    from bayescale._allocation import compute_for_loss

    linear = dataclasses.replace(chinchilla, name="chinchilla_identity", link="identity")
    theta = {p.name: np.full(3, 0.5) for p in linear.params}
    with pytest.raises(ValueError, match="law 'chinchilla_identity' has link 'identity'"):
        allocate_draws(linear, theta, np.array([1e20]))
    with pytest.raises(ValueError, match="link='log'"):
        compute_for_loss(linear, theta, [2.0])
