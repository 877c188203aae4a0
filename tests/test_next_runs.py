"""Which run next: the information-gain estimator against closed forms, and the ranking."""

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from bayescale.models import chinchilla, power_law_N

import bayescale as bs
from bayescale._next_runs import _draws_at, _greedy

TARGET = {"N": 7e10, "D": 1.4e12}


@pytest.fixture(scope="module")
def post(chinchilla_epoch):
    """A Laplace fit (4000 draws) of the 20 smallest-compute Chinchilla runs: wide enough that
    runs differ in what they teach."""
    small = chinchilla_epoch.sort_values("C").iloc[:20]
    return bs.fit(chinchilla, small, method="laplace", seed=0)


@pytest.fixture(scope="module")
def pool(chinchilla_epoch):
    """The next 60 runs by compute, with the table's own index and extra columns."""
    return chinchilla_epoch.sort_values("C").iloc[20:80]


def _exact_covariance_draws(rng, cov, n):
    """Draws whose sample covariance is exactly ``cov`` (whitened, then coloured)."""
    z = rng.standard_normal((n, len(cov)))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z.T)).T)
    return z @ np.linalg.cholesky(cov).T


# ------------------------------------------------------------------ the estimator


def test_gain_of_a_linear_gaussian_observation_is_the_closed_form_within_mc_error(np_rng):
    """y = s theta + noise, theta ~ N(0, tau^2): EIG = 0.5 log(1 + s^2 tau^2 / sigma^2) exactly;
    the estimator's error from S draws is that of the sample variance of theta (delta method:
    sd 0.5 r / (1 + r) sqrt(2 / S), r the signal-to-noise ratio)."""
    tau2, noise_var, s = 0.3, 0.05, np.array([0.1, 0.5, 1.0, 3.0])
    n = 4000
    theta = np_rng.normal(0.0, math.sqrt(tau2), n)
    got = bs.information_gain(theta, np.outer(theta, s), noise_var)
    r = s**2 * tau2 / noise_var
    exact = 0.5 * np.log1p(r)
    se = 0.5 * r / (1 + r) * math.sqrt(2 / n)
    assert np.all(np.abs(got - exact) < 4 * se), (got, exact, se)


def test_gain_of_the_target_itself_and_of_an_independent_quantity(np_rng):
    """Observing the target through noise gains 0.5 log(1 + Var t / sigma^2), the most any
    observation of that noise can; a quantity independent of the target gains about 1/(2S)
    (r^2 of independent draws is chi^2_1 / S)."""
    n = 4000
    t = np_rng.normal(2.0, 0.1, n)
    independent = np_rng.normal(0.0, 1.0, n)
    got = bs.information_gain(t, np.column_stack([t, 0.5 * t + 1, independent]), 0.01**2)
    exact = 0.5 * np.log1p(np.var(t, ddof=1) / 0.01**2)
    assert got[0] == pytest.approx(exact, rel=1e-12)
    assert got[1] < got[0]  # a smaller signal through the same noise
    assert 0.0 <= got[2] < 10 / (2 * n)


def test_a_set_of_observations_gains_the_exact_posterior_variance_ratio(np_rng):
    """theta ~ N(0, P) in 2-d, target t = c.theta, runs y_i = a_i.theta + noise: the chosen set's
    gain is 0.5 log(c'Pc / c'(P^-1 + A'A/sigma^2)^-1 c). With draws whose covariance is exactly P
    the Gaussian estimator is exact, so the greedy's sequential conditioning must match it."""
    p_cov = np.array([[0.4, 0.15], [0.15, 0.2]])
    theta = _exact_covariance_draws(np_rng, p_cov, 500)
    c = np.array([1.0, 0.7])
    a = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.3, -1.0], [2.0, 0.5]])
    noise_var = 0.1
    cost = np.array([1.0, 2.0, 3.0, 1.5, 4.0])
    alone, picks, gains, _ = _greedy(
        theta @ c, theta @ a.T, np.full(5, noise_var), cost, math.inf, 3
    )
    assert len(picks) == 3 and len(set(picks)) == 3
    chosen = a[picks]
    post_cov = np.linalg.inv(np.linalg.inv(p_cov) + chosen.T @ chosen / noise_var)
    exact = 0.5 * math.log((c @ p_cov @ c) / (c @ post_cov @ c))
    assert sum(gains) == pytest.approx(exact, rel=1e-9)
    one = [0.5 * math.log((c @ p_cov @ c) / (c @ np.linalg.inv(
        np.linalg.inv(p_cov) + np.outer(ai, ai) / noise_var) @ c)) for ai in a]  # fmt: skip
    np.testing.assert_allclose(alone, one, rtol=1e-9)
    assert gains[0] == pytest.approx(alone[picks[0]])
    assert picks[0] == int(np.argmax(alone / cost))
    assert all(g >= -1e-12 for g in gains)


def test_greedy_respects_the_budget_and_stops_when_nothing_is_affordable(np_rng):
    t = np_rng.normal(size=1000)
    mean = np.outer(t, np.ones(6)) + np_rng.normal(size=(1000, 6))
    cost = np.array([5.0, 1.0, 2.0, 3.0, 8.0, 2.5])
    _, picks, _, _ = _greedy(t, mean, np.zeros(6), cost, 6.0, None)
    assert cost[picks].sum() <= 6.0
    left = 6.0 - cost[picks].sum()
    rest = np.setdiff1d(np.arange(6), picks)
    assert np.all(cost[rest] > left)  # nothing left that fits


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((np.zeros((3, 2)), np.zeros((3, 2)), 0.1), "target_draws must be shaped"),
        ((np.zeros(3), np.zeros(3), 0.1), "mean_draws must be shaped"),
        ((np.zeros(3), np.zeros((4, 2)), 0.1), "3 draws and mean_draws 4"),
        ((np.zeros(1), np.zeros((1, 2)), 0.1), "at least 2 posterior draws"),
        ((np.zeros(3), np.zeros((3, 2)), -1.0), "noise_var must be finite and non-negative"),
        ((np.array([0.0, np.nan, 1.0]), np.zeros((3, 2)), 0.1), "not finite"),
    ],
)
def test_information_gain_input_errors(args, match):
    with pytest.raises(ValueError, match=match):
        bs.information_gain(*args)


# ------------------------------------------------------------------ the ranking on a fit


def test_table_columns_and_ordering(post, pool):
    table = post.next_runs(pool, target=TARGET)
    assert list(table.columns[:10]) == [
        "N",
        "D",
        "C",
        "eig",
        "eig_per_flop",
        "pred_median",
        "pred_lower",
        "pred_upper",
        "pick",
        "gain",
    ]
    assert set(table.index) == set(pool.index)  # joins back onto the caller's table
    np.testing.assert_allclose(table["C"], 6 * table["N"] * table["D"])
    np.testing.assert_allclose(table["eig_per_flop"], table["eig"] / table["C"])
    assert np.all(table["eig"] >= 0)
    per_flop = table["eig_per_flop"].to_numpy()
    assert np.all(np.diff(per_flop) <= 0)  # batch=1: the pick is the best, the rest follow
    assert table["pick"].iloc[0] == 1 and (table["pick"].iloc[1:] == 0).all()
    assert np.all((table["pred_lower"] < table["pred_median"]) & (table["pred_median"] < 3.6))
    assert table.attrs["target"] == "loss at N=7e+10, D=1.4e+12"
    assert table.attrs["target_lower"] < table.attrs["target_median"]
    assert table.attrs["width_ratio"] == pytest.approx(math.exp(-table["eig"].iloc[0]))


def test_a_run_at_the_target_tells_the_most(post, pool):
    candidates = pd.concat([pool[["N", "D"]], pd.DataFrame([TARGET], index=["target"])])
    table = post.next_runs(candidates, target=TARGET)
    assert table["eig"].idxmax() == "target"
    # and a run's gain falls with its distance from the target, at one tokens-per-parameter
    n = np.geomspace(1e8, 7e10, 6)
    ladder = post.next_runs({"N": n, "D": 20 * n}, target=TARGET).sort_values("N")
    assert np.all(np.diff(ladder["eig"].to_numpy()) > 0)


def test_batch_within_budget_adds_up_to_the_joint_gain(post, pool):
    budget = 3e19
    table = post.next_runs(pool, target=TARGET, budget=budget, batch=None, seed=3)
    chosen = table[table["pick"] > 0]
    assert len(chosen) >= 2
    assert list(chosen["pick"]) == list(range(1, len(chosen) + 1))
    assert chosen["C"].sum() <= budget and chosen["cumulative_C"].iloc[-1] <= budget
    np.testing.assert_allclose(chosen["cumulative_C"], chosen["C"].cumsum())
    np.testing.assert_allclose(chosen["cumulative_eig"], chosen["gain"].cumsum())
    assert table.attrs["eig"] == pytest.approx(chosen["gain"].sum())
    rest = table[table["pick"] == 0]
    assert rest["cumulative_C"].isna().all()
    assert np.all(rest["C"] > budget - chosen["C"].sum())  # batch=None: spent all it could
    # the joint gain from the draws' covariance directly: 0.5 log(Var t / Var(t | y_S))
    # (the noise variance from the same predictive draws: those of the whole pool, seed 3)
    x = {k: pool[k].to_numpy() for k in ("N", "D")}
    at = pool.index.get_indexer(chosen.index)
    t = np.log(post._mean_draws({k: np.array([v]) for k, v in TARGET.items()})[:, 0])
    mu, pred = _draws_at(post, x, seed=3)
    np.testing.assert_allclose(mu, np.log(post._mean_draws(x)), rtol=1e-12)
    noise = np.mean((np.log(pred) - mu) ** 2, axis=0)[at]
    sigma2 = np.mean(post.samples["sigma"] ** 2)  # Normal noise on log loss: E[sigma^2]
    np.testing.assert_allclose(noise, sigma2, rtol=5 * math.sqrt(2 / post.num_draws))
    mu = mu[:, at]
    cov = np.cov(np.column_stack([t, mu]).T)
    cov[1:, 1:] += np.diag(noise)
    cond = cov[0, 0] - cov[0, 1:] @ np.linalg.solve(cov[1:, 1:], cov[1:, 0])
    assert table.attrs["eig"] == pytest.approx(0.5 * math.log(cov[0, 0] / cond), rel=1e-8)
    # a batch of k stops at k
    two = post.next_runs(pool, target=TARGET, budget=1e22, batch=2)
    assert (two["pick"] > 0).sum() == 2
    assert two.iloc[0].name == table.iloc[0].name  # the first pick does not depend on batch


def test_budget_targets_use_the_allocation(post, pool):
    for key in ("C", "N_opt"):
        table = post.next_runs(pool, target={key: 1e24}, budget=1e20, batch=3)
        assert np.all(table["eig"] >= 0) and np.isfinite(table["eig"]).all()
        assert (table["pick"] > 0).sum() == 3
    column = {"C": "loss_opt", "N_opt": "N_opt"}
    alloc = post.allocate(1e24)
    for key, name in column.items():
        attrs = post.next_runs(pool, target={key: 1e24}).attrs
        assert attrs["target_median"] == pytest.approx(alloc[name].iloc[0], rel=1e-9)
    assert "compute-optimal N at C=1e+24" in attrs["target"]


def test_grid_candidates_and_flops_per_param_token(post):
    n, d = np.geomspace(1e8, 1e9, 3), np.geomspace(2e9, 2e10, 4)
    table = post.next_runs({"N": n[:, None], "D": d[None, :]}, target=TARGET)
    assert len(table) == 12
    eight = post.next_runs({"N": n[:, None], "D": d[None, :]}, target=TARGET,
                           flops_per_param_token=8)  # fmt: skip
    np.testing.assert_allclose(eight.sort_index()["C"], 8 * n.repeat(4) * np.tile(d, 3))
    np.testing.assert_allclose(eight.sort_index()["eig"], table.sort_index()["eig"])


def test_same_seed_same_table(post, pool):
    a = post.next_runs(pool, target=TARGET, budget=1e20, batch=3, seed=1)
    b = post.next_runs(pool, target=TARGET, budget=1e20, batch=3, seed=1)
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"candidates": {"N": [1e9]}}, ValueError, r"missing input\(s\) \['D'\]"),
        ({"candidates": {"N": [1e9, -1.0], "D": [2e10, 2e10]}}, ValueError, "finite and pos"),
        ({"candidates": {"N": [], "D": []}}, ValueError, "empty"),
        ({"candidates": [(1e9, 2e10)]}, TypeError, "DataFrame or a dict"),
        ({"budget": 1e17}, ValueError, "below the cheapest candidate"),
        ({"budget": -1.0}, ValueError, "budget must be a finite positive"),
        ({"budget": "1e21"}, ValueError, "budget must be a finite positive"),
        ({"batch": 0}, ValueError, "batch must be a whole number"),
        ({"batch": 1.5}, ValueError, "batch must be a whole number"),
        ({"batch": None}, ValueError, "give a budget"),
        ({"target": {"N": 7e10}}, ValueError, "target must be one of"),
        ({"target": {"N": [7e10, 1e11], "D": 1.4e12}}, ValueError, "must be one number"),
        ({"target": {"C": -1e24}}, ValueError, "finite and positive"),
        ({"target": {"C": "big"}}, ValueError, "must be one number"),
        ({"target": 1e24}, TypeError, "target must be a dict"),
        ({"flops_per_param_token": 0}, ValueError, "flops_per_param_token"),
        ({"level": 1.5}, ValueError, "level"),
    ],
)
def test_input_errors(post, kwargs, error, match):
    args = {"candidates": {"N": [1e9, 2e9], "D": [2e10, 4e10]}, "target": TARGET, **kwargs}
    with pytest.raises(error, match=match):
        post.next_runs(args.pop("candidates"), **args)


def test_fits_that_cannot_rank_runs(post):
    candidates = {"N": [1e9], "D": [2e10]}
    one_draw = dataclasses.replace(post, draws={k: v[:1, :1] for k, v in post.draws.items()})
    with pytest.raises(ValueError, match="one draw"):
        one_draw.next_runs(candidates, target=TARGET)
    no_tokens = dataclasses.replace(post, law=power_law_N)
    with pytest.raises(ValueError, match="C = k N D"):
        no_tokens.next_runs(candidates, target=TARGET)
