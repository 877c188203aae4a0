"""leave_future_out: fit the small runs, score the large ones."""

from __future__ import annotations

import math
import warnings

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from bayescale.models import chinchilla
from bayescale.models._chinchilla import D0, N0
from cases_chinchilla import TRUTH  # Epoch's refit, in sampling space

import bayescale as bs

# Same fit settings and training size as tests/test_compare.py, so a session reuses its sampler.
SETTINGS = {"num_warmup": 400, "num_samples": 500}
SIGMA = 0.02

no_data_term = bs.Law(
    name="no_data_term_lfo",
    inputs=("N", "D"),
    params=tuple(p for p in chinchilla.params if p.name in ("log_E", "log_A0", "alpha")),
    mean_fn=lambda t, x: jnp.logaddexp(
        t["log_E"], t["log_A0"] - t["alpha"] * (jnp.log(x["N"]) - math.log(N0))
    ),
    formula="L = E + A/N^alpha",
)


def simulate(n: int = 120, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(np.log(7e7), np.log(1.6e10), n))
    D = np.exp(rng.uniform(np.log(1e9), np.log(5e11), n))
    t = TRUTH
    mean = (
        np.exp(t["log_E"])
        + np.exp(t["log_A0"]) * (N / N0) ** -t["alpha"]
        + np.exp(t["log_B0"]) * (D / D0) ** -t["beta"]
    )
    loss = mean * np.exp(SIGMA * rng.standard_normal(n))
    return pd.DataFrame({"N": N, "D": D, "loss": loss}, index=[f"run_{i}" for i in range(n)])


@pytest.fixture(scope="module")
def data():
    return simulate()


@pytest.fixture(scope="module")
def lfo_true(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        return bs.leave_future_out(chinchilla, data, holdout=0.2, seed=0, **SETTINGS)


@pytest.fixture(scope="module")
def lfo_plain(data):
    """The same split without the law's own error (the training fit's sampler is reused)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        return bs.leave_future_out(
            chinchilla, data, holdout=0.2, seed=0, discrepancy=None, **SETTINGS
        )


def test_scores_the_largest_runs(data, lfo_true):
    out, s = lfo_true, lfo_true.attrs["summary"]
    c = 6.0 * data["N"] * data["D"]
    assert s["n_test"] == len(out) == int((c >= s["cutoff"]).sum())
    assert s["n_train"] + s["n_test"] == len(data)
    assert set(out.index) == set(data.index[c >= s["cutoff"]])
    assert (out["C"] >= s["cutoff"]).all() and np.all(np.diff(out["C"]) >= 0)
    for col in ("loss", "median", "pred_lower", "pred_upper", "lpd", "abs_rel_error", "covered"):
        assert col in out.columns
    assert (out["pred_lower"] < out["median"]).all() and (out["median"] < out["pred_upper"]).all()
    assert np.isfinite(out["lpd"]).all()
    assert s["elpd_lfo"] == pytest.approx(out["lpd"].sum())


def test_held_out_rows_are_scored_by_a_fit_that_never_saw_them(data, lfo_true, lfo_plain):
    """The same fit on the training rows alone (same seed and settings: the same draws) scores
    each held-out run by log (1/S) sum_s LogNormal(y | L_s, sigma_s), recomputed with SciPy;
    with the law's own error (the default), by log (1/S) sum_s LogNormal(y | L_s e^(b_s d),
    (sigma_s^2 + kappa_s^2 d^2)^(1/2)), d the held-out run's distance beyond the training runs
    and (b_s, kappa_s) drawn from the training fit's calibration."""
    import jax
    from scipy.special import logsumexp
    from scipy.stats import lognorm

    out, s = lfo_plain, lfo_plain.attrs["summary"]
    train = data[6.0 * data["N"] * data["D"] < s["cutoff"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        post = bs.fit(chinchilla, train, seed=0, **SETTINGS)
    p = {k: v[:, None] for k, v in post.samples.items()}
    law = p["E"] + p["A"] / out["N"].to_numpy() ** p["alpha"]
    law = law + p["B"] / out["D"].to_numpy() ** p["beta"]
    ll = lognorm.logpdf(out["loss"].to_numpy(), s=p["sigma"], scale=law)
    np.testing.assert_allclose(out["lpd"], logsumexp(ll, axis=0) - np.log(len(ll)), rtol=1e-9)
    np.testing.assert_allclose(out["median"], np.median(law, axis=0), rtol=1e-10)

    out = lfo_true.loc[out.index]
    d = out["distance"].to_numpy()
    assert (d > 0).all() and (d >= out["extrapolation"].to_numpy() - 1e-12).all()
    drift, kappa = post.calibration.sample(jax.random.PRNGKey(2), post.num_draws)
    sd = np.sqrt(p["sigma"] ** 2 + (kappa[:, None] * d) ** 2)
    ll = lognorm.logpdf(out["loss"].to_numpy(), s=sd, scale=law * np.exp(drift[:, None] * d))
    np.testing.assert_allclose(out["lpd"], logsumexp(ll, axis=0) - np.log(len(ll)), rtol=1e-9)


def test_true_law_forecasts_are_calibrated(lfo_true):
    s = lfo_true.attrs["summary"]
    # 24 held-out runs at nominal 90%: P(coverage < 0.7) is below 0.2% for a calibrated law.
    assert s["coverage"] >= 0.7
    # Median error within the noise (2% on log-loss) plus extrapolation uncertainty.
    assert s["median_abs_rel_error"] < 0.03
    # Each held-out point scored near the density of its noise: log N(0, 0.02) / loss ~ 2.9.
    assert s["mean_lpd"] > 1.5


@pytest.mark.slow
def test_misspecified_law_scores_worse_on_the_future(data, lfo_true):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        wrong = bs.leave_future_out(no_data_term, data, holdout=0.2, seed=0, **SETTINGS)
    s_true, s_wrong = lfo_true.attrs["summary"], wrong.attrs["summary"]
    assert s_wrong["n_test"] == s_true["n_test"]
    diff = lfo_true["lpd"].to_numpy() - wrong.loc[lfo_true.index, "lpd"].to_numpy()
    # Paired difference in its own standard errors.
    assert diff.sum() > 4.0 * math.sqrt(len(diff) * diff.var(ddof=1))
    assert s_wrong["median_abs_rel_error"] > s_true["median_abs_rel_error"]


def test_bad_inputs_are_named(data):
    with pytest.raises(bs.DataError, match="'S'"):
        bs.leave_future_out(chinchilla, data, by="S", cutoff=1.0)
    with pytest.raises(bs.DataError, match="no row"):
        bs.leave_future_out(chinchilla, data, cutoff=1e40)
    with pytest.raises(bs.DataError, match="needs at least"):
        bs.leave_future_out(chinchilla, data, by="N", cutoff=float(data["N"].min()) * 1.0001)
    with pytest.raises(bs.DataError, match="'C'.*6 N D"):
        bs.leave_future_out(chinchilla, data[["N", "loss"]], cutoff=1e20)
    with pytest.raises(ValueError, match="level"):
        bs.leave_future_out(chinchilla, data, cutoff=1e20, level=1.5)


def test_undefined_interval_gives_nan_coverage_not_zero(data, monkeypatch):
    """NaN predictive bounds (overflowing draws of a failed fit) must not count as misses."""
    real = bs.Posterior.forecast

    def nan_upper(self, **kw):
        fc = real(self, **kw).copy()
        fc.iloc[0, fc.columns.get_loc("pred_upper")] = np.nan
        return fc

    monkeypatch.setattr(bs.Posterior, "forecast", nan_upper)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        with pytest.warns(RuntimeWarning, match="undefined"):
            out = bs.leave_future_out(chinchilla, data, holdout=0.2, seed=0, **SETTINGS)
    assert math.isnan(out.attrs["summary"]["coverage"])
    assert np.isfinite(out["lpd"]).all()


def test_grouped_fit_scores_each_held_out_row_with_its_own_group():
    """fit(groups=...) through leave_future_out: the held-out rows get their group's codes, so
    each is forecast by its own group's law (the same numbers as the training fit's for_group),
    and a group seen only among the held-out rows is named."""
    from bayescale.models import power_law_N

    rng = np.random.default_rng(7)
    frames = []
    for fam, (log_l0, alpha) in {"x": (0.9, 0.05), "y": (1.1, 0.12)}.items():
        N = np.exp(rng.uniform(np.log(1e7), np.log(1e11), 25))
        loss = np.exp(log_l0 - alpha * np.log(N / 1e9) + 0.01 * rng.standard_normal(25))
        frames.append(pd.DataFrame({"N": N, "loss": loss, "fam": fam}))
    df = pd.concat(frames, ignore_index=True)
    settings = {"num_warmup": 300, "num_samples": 300, "groups": "fam"}
    cutoff = 2e10
    out = bs.leave_future_out(power_law_N, df, by="N", cutoff=cutoff, seed=0, **settings)
    assert set(df.loc[out.index, "fam"]) == {"x", "y"} and np.all(np.isfinite(out["lpd"]))
    post = bs.fit(power_law_N, df[df["N"] < cutoff], seed=0, **settings)
    for fam in ("x", "y"):
        rows = out.index[df.loc[out.index, "fam"] == fam]
        want = post.for_group(fam).forecast(N=df.loc[rows, "N"].to_numpy())["median"]
        np.testing.assert_allclose(out.loc[rows, "median"], want.to_numpy(), rtol=1e-12)
    lone = df.copy()
    lone.loc[lone["N"] >= cutoff, "fam"] = "z"
    with pytest.raises(bs.DataError, match="fam: unknown group 'z'"):
        bs.leave_future_out(power_law_N, lone, by="N", cutoff=cutoff, seed=0, **settings)
