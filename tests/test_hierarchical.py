"""Grouped (hierarchical) laws: structure, forecasts for existing and new groups, pooling gain."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from bayescale.models import chinchilla

import bayescale as bs
from bayescale._hierarchical import group_spec

SMALL = {"num_warmup": 400, "num_samples": 400, "target_accept_prob": 0.95}
# Shared truth (sampling space): E=1.8, reducible terms 0.25 / 0.30 nats at N0=1e9, D0=2e10.
TRUTH = {"log_E": np.log(1.8), "log_A0": np.log(0.25), "log_B0": np.log(0.30)}


def _simulate(
    rng, alphas, betas, n_per_group, sigma=0.01, n_range=(3e7, 3e10), d_range=(6e8, 6e11)
):
    rows = []
    for g, (a, b) in enumerate(zip(alphas, betas, strict=True)):
        N = np.exp(rng.uniform(np.log(n_range[0]), np.log(n_range[1]), n_per_group))
        D = np.exp(rng.uniform(np.log(d_range[0]), np.log(d_range[1]), n_per_group))
        theta = {**TRUTH, "alpha": a, "beta": b}
        mu = np.asarray(chinchilla.mean(theta, {"N": N, "D": D}))
        loss = np.exp(mu + rng.normal(0.0, sigma, n_per_group))
        rows.append(pd.DataFrame({"N": N, "D": D, "loss": loss, "lab": f"g{g}"}))
    return pd.concat(rows, ignore_index=True)


# ------------------------------------------------------------------ structure (fast)
def test_structure_and_names():
    law = bs.hierarchical(chinchilla, ["x", "y", "z"], pooled=["alpha", "B"], shared=["E"])
    spec = group_spec(law)
    assert law.inputs == ("N", "D", "group")
    assert set(spec.pooled) == {"log_B0", "alpha"}
    assert spec.shared == ("log_E",)
    assert set(spec.separate) == {"log_A0", "beta"}  # unnamed -> separate
    assert {"alpha_mu", "alpha_tau", "alpha_z", "log_B0_mu", "log_B0_z"} <= set(law.param_names)
    assert "alpha[y]" in law.published and "E" in law.published and "E[y]" not in law.published
    # same arguments -> the same Law object (compiled samplers are reused)
    assert law is bs.hierarchical(chinchilla, ["x", "y", "z"], pooled=["alpha", "B"], shared="E")
    with pytest.raises(ValueError, match="both"):
        bs.hierarchical(chinchilla, 3, pooled=["alpha"], shared=["alpha"])
    with pytest.raises(ValueError, match="no parameter 'gamma'"):
        bs.hierarchical(chinchilla, 3, pooled=["gamma"])
    with pytest.raises(ValueError, match="not named"):
        bs.hierarchical(chinchilla, 3, pooled=["alpha"], shared=["E"], separate=["beta"])


def test_mean_matches_base_law_per_group():
    law = bs.hierarchical(chinchilla, 3, pooled=["alpha", "beta"], shared="rest")
    theta = {
        **TRUTH,
        "alpha_mu": 0.35,
        "alpha_tau": 0.4,
        "alpha_z": np.array([-1.0, 0.0, 2.0]),
        "beta_mu": 0.3,
        "beta_tau": 0.1,
        "beta_z": np.array([0.5, -0.5, 0.0]),
    }
    x = {"N": np.array([1e8, 3e9, 1e11]), "D": np.array([1e9, 4e10, 2e12])}
    pub = law.to_published(theta)
    for g in range(3):
        base = {**TRUTH, "alpha": pub[f"alpha[{g + 1}]"], "beta": pub[f"beta[{g + 1}]"]}
        want = np.asarray(chinchilla.mean(base, x))
        got = np.asarray(law.mean(theta, {**x, "group": np.full(3, g + 1.0)}))
        np.testing.assert_allclose(got, want, rtol=1e-12)
    # the pooled exponent stays in the prior's support (0, 2) even for a large offset
    theta["alpha_z"] = np.array([-50.0, 0.0, 50.0])
    a = [float(law.to_published(theta)[f"alpha[{g}]"]) for g in (1, 2, 3)]
    assert 0.0 < a[0] < a[1] < a[2] < 2.0


def test_fit_keyword_errors_name_the_column():
    df = pd.DataFrame(
        {"N": [1e8, 1e9, 1e10] * 3, "D": [1e9, 1e10, 1e11] * 3, "loss": [3.0, 2.5, 2.2] * 3}
    )
    with pytest.raises(bs.DataError, match="missing group column 'family'"):
        bs.fit(chinchilla, df, groups="family", pooled=["alpha"])
    df["family"] = ["a", "b", None] * 3
    with pytest.raises(bs.DataError, match=r"'family' has missing labels at row\(s\) 2, 5, 8"):
        bs.fit(chinchilla, df, groups="family", pooled=["alpha"])


def test_groups_by_several_columns_labels_and_errors():
    from bayescale._hierarchical import grouped_fit_inputs

    df = pd.DataFrame(
        {
            "N": [1e8, 1e9, 1e10, 3e8] * 3,
            "D": [2e9, 2e10, 2e11, 6e9] * 3,
            "loss": [3.0, 2.5, 2.2, 2.8] * 3,
            "family": ["b", "a", "b", "a"] * 3,
            "size_bucket": [10, 2, 2, 10] * 3,  # numbers sort numerically: 2 before 10
        }
    )
    law, out = grouped_fit_inputs(chinchilla, df, ["family", "size_bucket"], pooled=["alpha"])
    spec = group_spec(law)
    assert spec.labels == ("a|2", "a|10", "b|2", "b|10")
    assert spec.column == "family_size_bucket_code" and "family" not in out.columns
    np.testing.assert_array_equal(out[spec.column].to_numpy()[:4], [4.0, 1.0, 3.0, 2.0])
    assert spec.code(("b", 10)) == spec.code("b|10") == 4
    assert "alpha[a|10]" in law.published
    # errors name the column (and the rows)
    with pytest.raises(bs.DataError, match="missing group column 'size'"):
        grouped_fit_inputs(chinchilla, df, ["family", "size"], pooled=["alpha"])
    bad = df.assign(size_bucket=df["size_bucket"].where(df.index != 5))
    with pytest.raises(bs.DataError, match=r"'size_bucket' has missing labels at row\(s\) 5"):
        bs.fit(chinchilla, bad, groups=["family", "size_bucket"], pooled=["alpha"])
    with pytest.raises(bs.DataError, match="names a column twice"):
        grouped_fit_inputs(chinchilla, df, ["family", "family"])
    clash = df.assign(family=["x|1", "x", "x|1", "x"] * 3, size_bucket=[2, "1|2", 2, "1|2"] * 3)
    with pytest.raises(bs.DataError, match="print as the same label"):
        grouped_fit_inputs(chinchilla, clash, ["family", "size_bucket"])
    one = df.assign(family="a", size_bucket=1)
    with pytest.raises(bs.DataError, match="'family' x 'size_bucket' has a single group"):
        grouped_fit_inputs(chinchilla, one, ["family", "size_bucket"])


@pytest.mark.slow
def test_groups_by_several_columns_fit_and_forecast():
    """A fit grouped by (family, size bucket): four combinations, exponent partially pooled."""
    from bayescale.models import hestness_N

    rng = np.random.default_rng(4)
    truth = {("a", 1): 0.30, ("a", 2): 0.34, ("b", 1): 0.38, ("b", 2): 0.42}
    rows = []
    for (fam, bucket), a in truth.items():
        N = np.geomspace(1e7, 1e10, 8)
        loss = (1.8 + 0.5 * (N / 1e9) ** -a) * rng.lognormal(0.0, 0.01, 8)
        rows.append(pd.DataFrame({"N": N, "family": fam, "bucket": bucket, "loss": loss}))
    df = pd.concat(rows, ignore_index=True)
    post = bs.fit(
        hestness_N,
        df,
        groups=["family", "bucket"],
        pooled=["alpha"],
        shared="rest",
        centred=True,
        seed=2,
        # The per-group exponents are diagnosed too: at 300 + 300 R-hat of one passed 1.01 in
        # 4 of 8 seeds, at 500 + 1000 in none (2026-11-27, one CPU device).
        num_warmup=500,
        num_samples=1000,
        target_accept_prob=0.95,
    )
    assert post.ok, post.problems
    s = post.summary()
    for (fam, bucket), a in truth.items():
        row = s.loc[f"alpha[{fam}|{bucket}]"]
        assert abs(row["mean"] - a) < 3 * row["sd"], (fam, bucket, row["mean"])
    by_tuple = post.forecast(N=3e10, group=("b", 2))
    by_label = post.forecast(N=3e10, group="b|2")
    np.testing.assert_allclose(by_tuple["median"], by_label["median"], rtol=1e-12)
    with pytest.raises(KeyError, match="unknown group"):
        post.forecast(N=3e10, group=("c", 1))


def test_centred_pooling_structure():
    """centred=: one vector site per pooled parameter with the hierarchical prior density."""
    import jax
    import numpyro.distributions as dist

    from bayescale._hierarchical import CentredGroups, group_draws

    law = bs.hierarchical(chinchilla, 3, pooled=["alpha"], shared="rest", centred=True)
    assert "alpha_groups" in law.param_names and "alpha_z" not in law.param_names
    assert {"alpha_mu", "alpha_tau", "alpha[2]"} <= set(law.published)
    with pytest.raises(ValueError, match="not pooled"):
        bs.hierarchical(chinchilla, 3, pooled=["alpha"], shared="rest", centred=["beta"])
    base = dist.TruncatedNormal(0.5, 0.5, low=0.0, high=2.0)
    prior = CentredGroups(base, 3, 0.5)
    t = dist.transforms.biject_to(base.support)
    v = np.array([t.inv(0.4), np.log(0.3), -1.0, -1.2, -0.8])
    want = (
        base.log_prob(0.4)
        + t.log_abs_det_jacobian(t.inv(0.4), 0.4)
        + dist.HalfNormal(0.5).log_prob(0.3)
        + np.log(0.3)
        + dist.Normal(t.inv(0.4), 0.3).log_prob(v[2:]).sum()
    )
    np.testing.assert_allclose(prior.log_prob(v), want, rtol=1e-12)
    # group 2 non-centred: its entry is z, u = m + tau z, with a standard Normal prior
    mixed = CentredGroups(base, 3, 0.5, (True, False, True))
    want_mixed = (
        want - dist.Normal(t.inv(0.4), 0.3).log_prob(v[3]) + dist.Normal(0.0, 1.0).log_prob(v[3])
    )
    np.testing.assert_allclose(mixed.log_prob(v), want_mixed, rtol=1e-12)
    np.testing.assert_allclose(mixed.group_values(v)[1], t.inv(0.4) + 0.3 * v[3], rtol=1e-12)
    law_mixed = bs.hierarchical(
        chinchilla, 3, pooled=["alpha"], shared="rest", centred={"alpha": [1, 3]}
    )
    assert group_spec(law_mixed).centred == (("alpha", (True, False, True)),)
    with pytest.raises(ValueError, match="unknown group 7"):
        bs.hierarchical(chinchilla, 3, pooled=["alpha"], shared="rest", centred={"alpha": [7]})
    draws = prior.sample(jax.random.PRNGKey(0), (4000,))
    assert draws.shape == (4000, 5)
    # prior draws of the centre follow the base prior (4 Monte Carlo standard errors)
    mu = np.asarray(t(draws[:, 0]))
    assert abs(mu.mean() - float(base.mean)) < 4 * mu.std() / np.sqrt(mu.size)
    theta = {**TRUTH, "beta": np.full((1, 2), 0.3), "alpha_groups": np.tile(v, (1, 2, 1))}
    theta = {k: np.broadcast_to(np.asarray(x), (1, 2, *np.shape(x)[2:])) for k, x in theta.items()}
    pub = law.to_published({k: np.asarray(x) for k, x in theta.items()})
    np.testing.assert_allclose(pub["alpha_mu"], 0.4, rtol=1e-12)
    np.testing.assert_allclose(pub["alpha_tau"], 0.3, rtol=1e-12)
    np.testing.assert_allclose(pub["alpha[3]"], t(-0.8), rtol=1e-12)
    _, one = group_draws(law, theta, 3)
    np.testing.assert_allclose(one["alpha"], t(-0.8), rtol=1e-12)
    _, new = group_draws(law, theta, None, rng_key=jax.random.PRNGKey(1))
    assert new["alpha"].shape == (1, 2) and np.all((new["alpha"] > 0) & (new["alpha"] < 2))


# ------------------------------------------------------------------ a grouped fit end to end
@pytest.fixture(scope="module")
def grouped_post():
    rng = np.random.default_rng(1)
    # 8 points per group over four decades of N. Measured over 8 seeds (2026-11-27, one CPU
    # device): non-centred alpha diverged or missed R-hat in 7 of 8 (in 3 of 8 on the narrower
    # default ranges), centred in none: at noise 0.02 each group's points pin its alpha.
    df = _simulate(
        rng, [0.30, 0.35, 0.40, 0.33], [0.37] * 4, 8, sigma=0.02,
        n_range=(1e7, 1e11), d_range=(1e8, 2e12),
    )  # fmt: skip
    return bs.fit(
        chinchilla,
        df,
        groups="lab",
        pooled=["alpha"],
        shared=["E", "A", "B", "beta"],
        centred=["alpha"],
        seed=1,
        num_warmup=600,
        num_samples=800,
        target_accept_prob=0.98,
    )


@pytest.mark.slow
def test_grouped_fit_forecast_existing_and_new_group(grouped_post, tmp_path):
    post = grouped_post
    assert post.ok, post.problems
    s = post.summary(0.95)
    for g, a in zip(("g0", "g1", "g2"), (0.30, 0.35, 0.40), strict=True):
        z = (s.loc[f"alpha[{g}]", "median"] - a) / s.loc[f"alpha[{g}]", "sd"]
        assert abs(z) < 3.5, (g, z)
    # an existing group by label, by group=, and a new group (population predictive)
    f_a = post.forecast(N=7e10, D=1.4e12, lab="g0")
    f_a2 = post.forecast(N=7e10, D=1.4e12, group="g0")
    assert np.allclose(f_a["median"], f_a2["median"])
    # one label per point: each point gets its own group's law (labels become codes)
    f_g2 = post.forecast(N=7e10, D=1.4e12, lab="g2")
    per_point = post.forecast(N=[7e10, 7e10], D=[1.4e12, 1.4e12], lab=np.array(["g0", "g2"]))
    np.testing.assert_allclose(per_point["median"], [f_a["median"][0], f_g2["median"][0]])
    np.testing.assert_allclose(
        per_point["mean_upper"], [f_a["mean_upper"][0], f_g2["mean_upper"][0]]
    )
    with pytest.raises(ValueError, match="lab: unknown group 'g9'"):
        post.forecast(N=[1e9, 1e9], D=[1e10, 1e10], lab=np.array(["g0", "g9"]))
    truth = np.exp(
        chinchilla.mean({**TRUTH, "alpha": 0.30, "beta": 0.37}, {"N": 7e10, "D": 1.4e12})
    )
    # the truth (at the top of the data's range) within 4 posterior sd of the group's mean law
    f_wide = post.forecast(N=7e10, D=1.4e12, group="g0", level=0.9999)
    sd = float(f_wide["mean_upper"][0] - f_wide["mean_lower"][0]) / (2 * 3.89)
    assert abs(float(f_a["median"][0]) - truth) < 4 * sd
    # a new group carries the between-group spread; law-conditional, since the law's own
    # error grows with the decades beyond each group's runs, which differ (test_discrepancy.py)
    width = lambda f: float(f["pred_upper"][0] - f["pred_lower"][0])  # noqa: E731
    cond = post.with_discrepancy(None)
    new_group = cond.forecast(N=7e10, D=1.4e12, seed=3)
    assert width(new_group) > 1.1 * width(cond.forecast(N=7e10, D=1.4e12, group="g0"))
    # allocation for a group works through the base law's closed form
    alloc = post.allocate(1e23, group="g2")
    assert np.isfinite(alloc["N_opt"][0]) and alloc["N_opt_lower"][0] < alloc["N_opt"][0]
    with pytest.raises(KeyError, match="unknown group 'g9'"):
        post.forecast(N=1e9, D=1e10, group="g9")
    # save / load round trip with the grouped law
    path = tmp_path / "grouped.nc"
    post.save(path)
    back = bs.load(path, law=post.law)
    np.testing.assert_allclose(back.samples["alpha[g1]"], post.samples["alpha[g1]"])
    np.testing.assert_allclose(back.log_likelihood, post.log_likelihood)


def test_new_group_needs_pooling():
    from bayescale._hierarchical import group_draws

    law = bs.hierarchical(chinchilla, 2, separate=["alpha"], shared="rest")
    draws = {p.name: np.zeros((1, 2)) for p in chinchilla.params}
    draws["alpha"] = np.full((1, 2, 2), 0.3)
    with pytest.raises(ValueError, match=r"\('alpha',\) are separate"):
        group_draws(law, draws, None)
    base, one = group_draws(law, draws, 2)
    assert base is chinchilla and one["alpha"].shape == (1, 2)


# ------------------------------------------------------------------ pooling vs separate
def _exponent_rmse(n_per_group, seed):
    rng = np.random.default_rng(seed)
    G = 6
    alphas = 0.35 + 0.04 * rng.standard_normal(G)
    betas = 0.37 + 0.04 * rng.standard_normal(G)
    df = _simulate(rng, alphas, betas, n_per_group, sigma=0.02)
    truth = np.concatenate([alphas, betas])
    out = {}
    for kind in ("pooled", "separate"):
        post = bs.fit(
            chinchilla,
            df,
            groups="lab",
            shared=["E", "A", "B"],
            seed=seed,
            **{kind: ["alpha", "beta"]},
            **SMALL,
        )
        med = post.summary().loc[[f"{p}[g{g}]" for p in ("alpha", "beta") for g in range(G)]]
        out[kind] = float(np.sqrt(np.mean((med["median"].to_numpy() - truth) ** 2)))
    return out


@pytest.mark.slow
def test_partial_pooling_beats_separate_with_few_points():
    rmse = _exponent_rmse(n_per_group=4, seed=11)
    print("few points per group, RMSE of 12 exponents:", rmse)
    # Measured over 4 sampler seeds on this dataset: pooled / separate = 0.76, 0.86, 0.79,
    # 0.77 (2026-11-27); the bound of 0.8 used before sat at the median of that spread.
    assert rmse["pooled"] < 0.92 * rmse["separate"], rmse


@pytest.mark.slow
def test_partial_pooling_no_worse_with_many_points():
    rmse = _exponent_rmse(n_per_group=40, seed=12)
    print("many points per group, RMSE of 12 exponents:", rmse)
    assert rmse["pooled"] < 1.15 * rmse["separate"], rmse


# ------------------------------------------------------------------ real grouped data
@pytest.mark.slow
def test_datablations_by_unique_token_budget():
    """Muennighoff et al. (2023) runs with at most 16 epochs, grouped by unique-token budget U
    (6 budgets, 100M to 28B tokens, >= 8 runs each, 87 runs): does the data exponent beta
    differ by budget? One beta for all against one beta per budget (``separate``), by
    ``bs.compare``. Their finding (repeated tokens up to ~4 epochs are worth almost as much as
    new ones, and the loss of value is modest by 16 epochs) predicts no clear difference.

    Why not partial pooling of beta (measured, target_accept_prob=0.99): pooled B and beta
    (non-centred, 800 warmup + 500 draws, seed 0): 12 divergences, R-hat 1.028, bulk ESS 36;
    beta alone pooled, non-centred: seed 0 passes at 2000 + 1000, seed 1 gives 50 divergences
    and R-hat 1.027 at the same settings; centred: 31-45 divergences; centred for the 5
    budgets whose runs have >= 3 distinct D and non-centred for the 28B budget (two distinct
    D, N changing with D): 8 and 17 divergences (seeds 0, 1), all at log tau ~ -4.3. The
    budgets' exponents agree, so the posterior of the spread tau runs from ~0.007 to ~0.5
    while each well-measured budget pins its own value to ~+-0.1 on the unconstrained scale:
    tau spans the scale of the data uncertainty, the centred form then has a funnel at small
    tau and the non-centred one a curved ridge at large tau. The separate and the single-beta
    fits have no spread parameter and pass every diagnostic.
    """
    d = bs.datasets.load("datablations")
    d = d[d["epochs"] <= 16]
    keep = d.groupby("U").size().loc[lambda v: v >= 8].index
    d = d[d["U"].isin(keep)][["N", "D", "U", "loss"]]
    settings = {"num_warmup": 1000, "num_samples": 1000, "target_accept_prob": 0.99, "seed": 0}
    one = bs.fit(chinchilla, d[["N", "D", "loss"]], **settings)
    by_budget = bs.fit(chinchilla, d, groups="U", separate=["beta"], shared="rest", **settings)
    assert one.ok, one.problems
    assert by_budget.ok, by_budget.problems
    s = by_budget.summary(0.9)
    print(s[["median", "lower", "upper", "r_hat", "ess_bulk"]].to_string())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ParetoKWarning)
        cmp = bs.compare({"one_beta": one, "beta_by_budget": by_budget})
    print(cmp)
    t = cmp.table
    # LOO cannot tell them apart (the second is within 2 standard errors of the first), and
    # the evidence, which charges the five extra exponents, prefers one beta
    second = t.index[1]
    assert t.loc[second, "elpd_diff"] > -2 * t.loc[second, "dse"], t
    assert t.loc["beta_by_budget", "log_bf"] < 0.0, t
    # forecast for a budget by its label
    f = by_budget.forecast(N=1e9, D=2e10, U=float(keep[0]))
    assert f["pred_lower"][0] < f["median"][0] < f["pred_upper"][0]
