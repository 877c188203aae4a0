"""The data-constrained and downstream laws of the catalog on real data and against published
numbers.

Data-constrained law (Muennighoff et al. 2023) on the datablations runs, its allocation under a
unique-token budget, the accuracy noise models, and emergence vs smooth laws on obsscaling.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats as st
from bayescale.models import (
    chinchilla_tied,
    data_constrained,
    emergence,
    exact_match,
    logit_linear,
)
from bayescale.models._data_constrained import (
    PUBLISHED_DATA_CONSTRAINED,
    allocate_data_constrained,
    data_constrained_loss,
)
from bayescale.models._downstream import exact_match_law
from cases_data_constrained import TRUTH_DC, _numpy_dc
from numpyro.handlers import seed, substitute
from scipy.optimize import minimize_scalar

import bayescale as bs

P = PUBLISHED_DATA_CONSTRAINED


# ----------------------------------------------------------------------------- allocation
def test_readme_example_is_reproduced_from_published_constants():
    """datablations README: 1e22 FLOPs and 25B unique tokens -> ~7.0B params, ~237B tokens."""
    out = allocate_data_constrained(P, 1e22, 25e9)
    assert round(float(out["N"]) / 1e9, 1) == 7.0
    assert round(float(out["D"]) / 1e9) == 237
    # Independently: bounded scalar minimisation of the README's own NumPy formula.
    t = TRUTH_DC

    def loss(log_n):
        n = np.exp(log_n)
        return _numpy_dc(t, {"N": [n], "D": [1e22 / 6 / n], "U": [25e9]})[0]

    ref = minimize_scalar(
        loss, bounds=(np.log(1e8), np.log(1e12)), method="bounded", options={"xatol": 1e-9}
    )
    np.testing.assert_allclose(float(out["N"]), np.exp(ref.x), rtol=1e-5)
    np.testing.assert_allclose(float(out["loss"]), ref.fun, rtol=1e-9)


def test_allocation_is_vectorised_over_draws_budgets_and_unique_tokens():
    draws = {k: np.full(5, v) * np.linspace(0.98, 1.02, 5) for k, v in P.items()}
    C = np.array([[1e21], [1e22], [1e23]])
    out = allocate_data_constrained(draws, C, 25e9)
    assert out["N"].shape == (3, 5)
    one = allocate_data_constrained({k: v[2] for k, v in draws.items()}, 1e22, 25e9)
    np.testing.assert_allclose(out["N"][1, 2], one["N"], rtol=1e-6)  # flat optimum
    # Compute identity C = 6 N D holds for every entry.
    np.testing.assert_allclose(6 * out["N"] * out["D"], np.broadcast_to(C, (3, 5)), rtol=1e-10)


def test_allocation_without_a_data_limit_is_the_tied_chinchilla_optimum():
    """With ample unique data nothing repeats: N* = (A/B)^(1/(2 alpha)) sqrt(C/6)."""
    out = allocate_data_constrained(P, np.array([1e20, 1e22, 1e24]), 1e16)
    want = (P["A"] / P["B"]) ** (1 / (2 * P["alpha"])) * np.sqrt(np.array([1e20, 1e22, 1e24]) / 6)
    np.testing.assert_allclose(out["N"], want, rtol=1e-6)
    np.testing.assert_allclose(out["epochs"], out["D"] / 1e16)


def test_scarcer_unique_data_means_more_epochs_and_higher_loss():
    out = allocate_data_constrained(P, 1e22, np.array([1e9, 5e9, 25e9, 1e11, 1e13]))
    assert np.all(np.diff(out["epochs"]) < 0)
    assert np.all(np.diff(out["loss"]) < 0)


def test_saturated_allocation_is_the_smallest_model_on_the_loss_floor():
    """Thousands of epochs: N' and D' both saturate and the loss is flat to float precision over
    a band of N. N* is then the smallest N within 1e-13 (log loss) of the floor: 1% smaller
    costs more than that, and no larger model up to 100x gains more than it."""
    for C, U in [(1e24, 1e9), (1e25, 1e8)]:
        out = allocate_data_constrained(P, C, U)
        n, log_l = float(out["N"]), np.log(float(out["loss"]))
        assert float(out["epochs"]) > 1e4

        def log_loss(m, C=C, U=U):
            return np.log(np.asarray(data_constrained_loss(P, m, C / 6 / m, U)))

        floor = log_loss(n * np.geomspace(1.0, 100.0, 200)).min()
        assert 0 <= log_l - floor <= 1e-13 * (1 + 1e-3)
        assert log_loss(0.99 * n) - floor > 1e-13


def test_allocation_rejects_missing_parameters():
    with pytest.raises(KeyError, match="R_N_star"):
        allocate_data_constrained({k: v for k, v in P.items() if k != "R_N_star"}, 1e22, 25e9)


def test_data_constrained_is_tied_chinchilla_for_one_epoch_and_few_parameters():
    theta = {k: jnp.asarray(v) for k, v in TRUTH_DC.items()}
    x = {"N": jnp.array([1e8, 5e8]), "D": jnp.array([2e10, 4e10]), "U": jnp.array([2e10, 4e10])}
    tied = {k: theta[k] for k in chinchilla_tied.param_names}
    np.testing.assert_allclose(
        data_constrained.mean(theta, x), chinchilla_tied.mean(tied, x), rtol=1e-12
    )
    # Repeating data (same D, a quarter unique) costs loss; U > D reads as U = D.
    worse = data_constrained_loss(P, 5e8, 4e10, 1e10)
    assert worse > data_constrained_loss(P, 5e8, 4e10, 4e10)
    np.testing.assert_allclose(
        data_constrained_loss(P, 5e8, 4e10, 1e12),
        data_constrained_loss(P, 5e8, 4e10, 4e10),
        rtol=1e-12,
    )


def test_fit_names_a_missing_unique_token_column():
    df = bs.datasets.load("datablations").drop(columns="U")
    with pytest.raises(bs.DataError, match="'U'"):
        bs.fit(data_constrained, df)


# ----------------------------------------------------------------------------- datasets
def test_bundled_datasets_are_raw_counts_with_provenance():
    d = bs.datasets.load("datablations")
    assert len(d) == 296 and len(bs.datasets.load("datablations", variant="few_epochs")) == 62
    assert d["N"].min() > 1e6 and (d["D"] >= d["U"]).all()
    np.testing.assert_allclose(d["epochs"], d["D"] / d["U"], rtol=1e-6)
    assert "arXiv:2305.16264" in d.attrs["provenance"]
    o = bs.datasets.load("obsscaling")
    assert len(o) == 84 and "arithmetic_3ds_2_acc" in o.attrs["tasks"]
    assert o["N"].min() > 1e7 and o["C"].max() > 1e25
    assert len(bs.datasets.load("obsscaling", variant="benchmark")) == 148
    with pytest.raises(ValueError, match="variants"):
        bs.datasets.load("datablations", variant="bogus")


# ----------------------------------------------------------------------------- noise models
def _dist(noise, loc, sigma=0.3):
    with seed(rng_seed=0), substitute(data={"sigma": sigma}):
        return bs.noise_of(noise).likelihood(jnp.asarray(loc), "logit")


def test_beta_noise_matches_scipy_and_has_logit_scale_dispersion():
    loc, sigma = np.array([-3.0, 0.0, 2.0]), 0.3
    mu = 1 / (1 + np.exp(-loc))
    phi = 1 / (sigma**2 * mu * (1 - mu))
    y = np.array([0.05, 0.5, 0.9])
    np.testing.assert_allclose(
        _dist("beta", loc).log_prob(y), st.beta.logpdf(y, mu * phi, (1 - mu) * phi), rtol=1e-10
    )
    draws = np.asarray(_dist("beta", loc).sample(jax.random.PRNGKey(0), (20000,)))
    # sd = sigma mu(1-mu) / sqrt(1 + sigma^2 mu(1-mu)) exactly; MC error of an sd ~ 0.5% here
    v = mu * (1 - mu)
    np.testing.assert_allclose(draws.std(0), sigma * v / np.sqrt(1 + sigma**2 * v), rtol=0.03)
    np.testing.assert_allclose(draws.mean(0), mu, atol=4 * draws.std(0).max() / np.sqrt(20000))


def test_student_t_noise_on_log_loss_is_the_t_density_of_log_y_with_its_jacobian():
    """noise="student_t" with the log link: log p(y) = log t_nu(log y; loc, sigma) - log y."""
    loc, y, sigma, nu = np.array([0.5, 0.7, 1.0]), np.array([1.7, 2.1, 2.6]), 0.02, 3.5
    with seed(rng_seed=0), substitute(data={"sigma": sigma, "nu": nu}):
        likelihood = bs.StudentT().likelihood(jnp.asarray(loc), "log")
    np.testing.assert_allclose(
        likelihood.log_prob(y),
        st.t.logpdf(np.log(y), nu, loc=loc, scale=sigma) - np.log(y),
        rtol=1e-10,
    )


def test_binomial_noise_is_the_count_likelihood_on_the_accuracy_scale():
    loc, y = np.array([-3.0, 0.0, 2.0]), np.array([0.05, 0.5, 0.8805])
    mu = 1 / (1 + np.exp(-loc))
    np.testing.assert_allclose(
        _dist("binomial_2000", loc).log_prob(y),
        st.binom.logpmf(np.round(y * 2000), 2000, mu),
        rtol=1e-10,
    )
    # The beta-binomial: SciPy's pmf of the count, with the Beta dispersion of "beta"; it
    # accepts accuracies of exactly 0 and 1.
    sigma = 0.3
    phi = 1 / (sigma**2 * mu * (1 - mu))
    for acc in (y, np.array([0.0, 1.0, 1.0])):
        np.testing.assert_allclose(
            _dist("beta_binomial_2000", loc, sigma).log_prob(acc),
            st.betabinom.logpmf(np.round(acc * 2000), 2000, mu * phi, (1 - mu) * phi),
            rtol=1e-8,  # differences of log-gamma functions of ~1e3: 1e-10 relative rounding
        )
    s = np.asarray(_dist("binomial_1000", loc).sample(jax.random.PRNGKey(1), (5,)))
    np.testing.assert_allclose(s * 1000, np.round(s * 1000), atol=1e-9)
    # any size, by value or by name; no registry to fill first
    assert bs.binomial_noise(57) == bs.Binomial(57) == bs.noise_of("binomial_57")
    assert bs.binomial_noise(57, overdispersed=True).name == "beta_binomial_57"
    assert bs.BetaBinomial(57) != bs.Binomial(57)
    assert bs.Binomial(57).counts and not bs.Binomial(57).location
    for bad in (2.5, 0, True):
        with pytest.raises(ValueError, match="n must be a positive integer"):
            bs.Binomial(bad)


def test_exact_match_length_is_absorbed_by_the_per_token_scales():
    """acc = exp(-l (E + A x^-a)): length l with (E, A) equals length 1 with (l E, l A)."""
    x = {"C": jnp.geomspace(1e19, 1e25, 7)}
    t = {"log_E": jnp.log(0.02), "log_A": jnp.log(0.3), "alpha": jnp.asarray(0.4)}
    t5 = {**t, "log_E": t["log_E"] + jnp.log(5.0), "log_A": t["log_A"] + jnp.log(5.0)}
    np.testing.assert_allclose(exact_match_law(5).mean(t, x), exact_match.mean(t5, x), rtol=1e-12)


# ----------------------------------------------------------------------------- real-data fits
def _z(draws, published):
    return (np.median(draws) - published) / draws.std()


@pytest.mark.slow
def test_tied_chinchilla_on_few_epoch_runs_lands_near_the_published_fit():
    """The notebook's tied fit (Huber loss, L-BFGS) on the 62 runs with <= 2.5 epochs gives
    [log A, log B, log E, alpha] = [6.4526, 8.0230, 0.6399, 0.3595]: each lies within 3
    posterior sd of our posterior median (Normal noise on log-loss; measured |z| <= 2.1)."""
    df = bs.datasets.load("datablations", variant="few_epochs")
    post = bs.fit(chinchilla_tied, df, seed=0, num_warmup=400, num_samples=400)
    assert post.ok, post.problems
    s = post.samples
    for name, draws, pub in [
        ("log A", np.log(s["A"]), 6.4526),
        ("log B", np.log(s["B"]), 8.0230),
        ("log E", np.log(s["E"]), 0.6399),
        ("alpha", s["alpha"], 0.3595),
    ]:
        assert abs(_z(draws, pub)) < 3.0, f"{name}: z = {_z(draws, pub):.2f}"


@pytest.mark.slow
def test_data_constrained_on_all_runs_recovers_R_D_star():
    """All 296 runs: the published R_D* = 15.4 lies inside our 90% interval; R_N* is weakly
    identified (few runs have many excess parameters), so its interval is far wider.

    The joint posterior of all seven parameters has a curved ridge: at target 0.9 (and 0.95)
    NUTS diverged and R-hat reached 1.025. At 0.99 with 1000 + 1000 draws ESS of log A0 or
    log E fell below 400 at 4 of 5 seeds (2 of 5 from numpyro's uniform start); with the
    library's escalation (twice the draws when a diagnostic fails) every fit passed at 5 of 5
    seeds (2026-12-02, one CPU device)."""
    df = bs.datasets.load("datablations")
    post = bs.fit(
        data_constrained,
        df,
        seed=0,
        num_warmup=1000,
        num_samples=1000,
        target_accept_prob=0.99,
        escalate=True,
    )
    assert post.ok, post.problems
    s = post.samples
    lo, hi = np.quantile(s["R_D_star"], [0.05, 0.95])
    assert lo < P["R_D_star"] < hi, (lo, hi)
    rel = lambda v: np.subtract(*np.quantile(np.log(v), [0.95, 0.05]))  # noqa: E731
    assert rel(s["R_N_star"]) > rel(s["R_D_star"])
    alloc = allocate_data_constrained(s, 1e22, 25e9)
    assert alloc["N"].shape == (post.num_draws,) and np.all(np.isfinite(alloc["N"]))


@pytest.mark.slow
def test_emergent_task_fits_and_forecasts_with_emergence_and_smooth_laws():
    """obsscaling, 3-digit subtraction (BIG-bench, 2000 questions): fit on the 45 models below
    1e23 FLOPs, forecast the 28 above. Both laws converge under beta-binomial noise (the scatter
    across model families is far above binomial sampling noise); both forecasts are accuracies
    in [0, 1] whose 90% predictive intervals cover most held-out models. Which law the data
    favour is the comparison issue's question, not this test's."""
    df = bs.datasets.load("obsscaling").dropna(subset=["C"])
    d = (
        df[["C", "arithmetic_3ds_2_acc"]]
        .dropna()
        .rename(columns={"arithmetic_3ds_2_acc": "accuracy"})
    )
    train, test = d[d["C"] < 1e23], d[d["C"] >= 1e23]
    assert (len(train), len(test)) == (45, 28)
    y = test["accuracy"].to_numpy()
    posts = {}
    for law in (emergence, logit_linear):
        post = posts[law.name] = bs.fit(
            # 800 draws: at 400, the emergence law's ESS of gain was 365 at another seed
            law,
            train,
            seed=0,
            noise="beta_binomial_2000",
            num_warmup=400,
            num_samples=800,
        )
        assert post.ok, (law.name, post.problems)
        f = post.forecast(C=test["C"].to_numpy(), level=0.9)
        assert f["pred_lower"].min() >= 0.0 and f["pred_upper"].max() <= 1.0
        # Expected 90%; fewer than 22 of 28 covered has probability < 5% under calibration.
        covered = (y >= f["pred_lower"]) & (y <= f["pred_upper"])
        assert covered.sum() >= 22, (law.name, covered.sum())
        # Accuracy keeps rising with compute beyond the data in both readings.
        far = post.forecast(C=[1e23, 1e25])["median"].to_numpy()
        assert far[1] > far[0]
    # The emergence law places the jump inside the training range (1e20-1e23 FLOPs).
    assert 1e20 < np.median(posts["emergence"].samples["C_mid"]) < 1e23
