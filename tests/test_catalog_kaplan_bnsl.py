"""The power-law, Kaplan and BNSL laws of the catalog on published numbers and real data:
Kaplan's constants, BNSL on 4-digit addition, the GPT-3 learning-curve forecast.

Kaplan et al. (2020) released no raw runs, so his constants are checked on data simulated at his
scales (the battery cases in cases_power.py / cases_kaplan.py, same seed and sampler settings as
the battery's recovery test, so a full-suite run reuses its compiled sampler).
"""

import numpy as np
import pandas as pd
import pytest
from bayescale.models import bnsl, power_law
from cases_kaplan import BCRIT, ND, NS
from cases_kaplan import CASES as KAPLAN_CASES
from cases_power import CASES as POWER_CASES
from cases_power import KAPLAN

import bayescale as bs

SAMPLER = {"num_warmup": 500, "num_samples": 500}

PUBLISHED = {
    "power_law_N": {"N_c": KAPLAN["N"][0], "alpha_N": KAPLAN["N"][1]},
    "power_law_D": {"D_c": KAPLAN["D"][0], "alpha_D": KAPLAN["D"][1]},
    "power_law_C": {"C_c": KAPLAN["C"][0], "alpha_C": KAPLAN["C"][1]},
    "kaplan_ND": ND,
    "kaplan_NS": NS,
    "kaplan_bcrit": BCRIT,
}
# The inner loop (-m "not slow") checks the two- and three-input forms; CI checks all six.
INNER_SKIPS = ("power_law_C", "power_law_D")
KAPLAN_LAWS = [
    pytest.param(c, id=c.name, marks=pytest.mark.slow if c.name in INNER_SKIPS else ())
    for c in POWER_CASES + KAPLAN_CASES
    if c.name in PUBLISHED
]


@pytest.mark.parametrize("case", KAPLAN_LAWS)
def test_kaplan_forms_recover_published_constants(case):
    """Each published constant lies in the 99.9% interval, and the median is within 4 posterior
    sd (in log for the scale constants N_c, D_c, S_c, B_star) of it.

    One simulated data set per law and 16 constants: at 95% a correct posterior would miss
    one of them with probability ~0.56 (B_star of this data set sits at its posterior's 97.5th
    percentile), so the interval is 99.9% (family-wise false alarm ~1.6%)."""
    post = bs.fit(case.law, case.dataset(seed=3), seed=0, **{**SAMPLER, **case.fit_kwargs})
    assert post.ok, post.problems
    table = post.summary(0.999)
    for name, value in PUBLISHED[case.name].items():
        lo, hi = table.loc[name, "lower"], table.loc[name, "upper"]
        assert lo <= value <= hi, f"{name}: published {value:.4g} outside [{lo:.4g}, {hi:.4g}]"
        draws = post.samples[name]
        if not name.startswith("alpha"):
            draws, value = np.log(draws), np.log(value)
        z = (np.median(draws) - value) / draws.std()
        assert abs(z) < 4.0, f"{name}: z = {z:.2f}"


# Real-data fits: the 4-digit-addition posterior is a narrow curved ridge (floor vs. slope after the
# break vs. break location, sigma ~ 0.1%), the GPT-3 one a ridge between the N and S terms: at
# 500+500 draws and target 0.9 they show a few divergences and ESS < 400, so these use a higher
# target acceptance and more draws (measured: 0 divergences, R-hat <= 1.01).
REAL_DATA = {"num_warmup": 1000, "target_accept_prob": 0.99}


@pytest.mark.slow
def test_bnsl_addition_extrapolates_where_a_power_law_does_not():
    """Caballero et al. (2023) Fig. 4 left: fit the first 14 points, forecast the last 3."""
    fit_rows = bs.datasets.load("bnsl_addition", variant="fit")
    held = bs.datasets.load("bnsl_addition", variant="extrapolate")
    assert len(fit_rows) == 14 and len(held) == 3

    # At 2000 draws R-hat reached 1.011 and ESS 200 at another seed; with 3000 draws and trees
    # up to depth 12 every diagnostic passed in 5 of 5 seeds (2026-11-27, one CPU device).
    broken = bs.fit(
        bnsl(1, "examples", x0=500.0),
        fit_rows,
        seed=0,
        num_samples=3000,
        max_tree_depth=12,
        **REAL_DATA,
    )
    assert broken.ok, broken.problems
    fc = broken.forecast(examples=held["examples"].to_numpy(), level=0.9)
    y = held["loss"].to_numpy()
    print(
        f"\nBNSL 1 break, 4-digit addition: held-back {y.round(4)}, median "
        f"{fc['median'].to_numpy().round(4)}, 90% PI {fc['pred_lower'].to_numpy().round(4)} - "
        f"{fc['pred_upper'].to_numpy().round(4)}"
    )
    assert np.all((fc["pred_lower"] <= y) & (y <= fc["pred_upper"])), fc
    assert np.max(np.abs(fc["median"] / y - 1)) < 0.05  # within 5% of each held-back loss

    # the default sampler (at 500 + 500 the exponent's ESS fell to 339 at one seed of 4)
    plain = bs.fit(power_law("examples", x0=500.0), fit_rows, seed=0)
    assert plain.ok, plain.problems
    fp = plain.forecast(examples=held["examples"].to_numpy(), level=0.9)
    print(
        f"plain power law: 90% PI {fp['pred_lower'].to_numpy().round(4)} - "
        f"{fp['pred_upper'].to_numpy().round(4)}"
    )
    covered = (fp["pred_lower"] <= y) & (y <= fp["pred_upper"])
    assert not covered.any(), fp


def _gpt3_split(cut=1e11):
    """Validation-loss curves of GPT-3 125M..13B, binned; drop the points left of 15B tokens
    (the curves enter the digitised figure there, during the batch-size ramp-up)."""
    df = bs.datasets.load("gpt3_curves", variant="binned")
    df = df[(df["model"] != "175b") & (df["D"] >= 1.5e10)]
    train = df[df["D"] <= cut]
    test = df[(df["model"] == "13b") & (df["D"] > cut)]
    return train, test


@pytest.mark.slow
def test_gpt3_learning_curve_forecasts_late_13b():
    """Kaplan's L(N, S) fitted on every curve's first 100B tokens (13B included) forecasts the
    13B curve from 100B to 290B tokens. GPT-3's N (Table 2.1) counts embeddings, Kaplan's does
    not: the fitted constants are not Kaplan's, so only the forecast is checked."""
    from bayescale.models import kaplan_NS

    train, test = _gpt3_split()
    # 2000 draws: at 1000, R-hat of ell_N reached 1.010 at another seed; escalation: a
    # diagnostic failed at seed shift 2 even at 2000
    post = bs.fit(kaplan_NS, train, seed=0, num_samples=2000, escalate=True, **REAL_DATA)
    # the forecast is this test's question; a sampler that missed part of the posterior would
    # show as divergences or chains that disagree (not post.ok's ESS bar)
    s = post.summary()
    assert int(np.asarray(post.stats["diverging"]).sum()) == 0
    assert s["r_hat"].max() < 1.01, s
    fc = post.forecast(N=test["N"].to_numpy(), S=test["S"].to_numpy(), level=0.9)
    y = test["loss"].to_numpy()
    rel = fc["median"].to_numpy() / y - 1
    covered = (fc["pred_lower"].to_numpy() <= y) & (y <= fc["pred_upper"].to_numpy())
    pd.set_option("display.width", 200)
    print(
        f"\nGPT-3 13B late curve: n={len(y)}, mean |rel err| {np.mean(np.abs(rel)):.4f}, "
        f"max {np.max(np.abs(rel)):.4f}, 90% coverage {covered.mean():.2f}"
    )
    # Measured: mean |rel err| 0.8%, max 1.5%, all 10 points inside the 90% interval.
    assert np.mean(np.abs(rel)) < 0.02
    assert covered.mean() >= 0.8


def test_bundled_datasets_units():
    add = bs.datasets.load("bnsl_addition")
    assert list(add.columns) == ["examples", "loss", "split"] and len(add) == 17
    assert add["examples"].iloc[-1] == 928 and add["split"].value_counts()["fit"] == 14
    gpt3 = bs.datasets.load("gpt3_curves")
    # tokens are raw counts (the CSV stores billions): GPT-3 trained on 300B tokens
    assert 2.9e11 < gpt3["D"].max() < 3.1e11
    assert set(gpt3.loc[gpt3["model"] == "13b", "N"]) == {13e9}
    b13 = gpt3[gpt3["model"] == "13b"]
    np.testing.assert_allclose(b13["S"] * 2e6, b13["D"], rtol=1e-12)  # batch 2M tokens
    with pytest.raises(ValueError, match="variants"):
        bs.datasets.load("gpt3_curves", variant="bogus")
    assert "gpt3_curves" in bs.datasets.names() and "bnsl_addition" in bs.datasets.names()


def test_bnsl_two_breaks_matches_the_paper_formula():
    """n_breaks=2: the log-space mean equals Caballero eq. 1 in NumPy, breaks ordered."""
    import jax.numpy as jnp

    law = bnsl(2, "D")
    theta = {
        "log_y0": 1.0,
        "floor": 0.5,
        "c0": 0.1,
        "c1": 0.4,
        "c2": -0.2,
        "log_d1": -1.0,
        "gap2": 2.0,
        "log_f1": -0.5,
        "log_f2": 0.3,
    }
    x = np.exp(np.linspace(np.log(1e8), np.log(1e13), 25))
    got = np.exp(np.asarray(law.mean({k: jnp.asarray(v) for k, v in theta.items()}, {"D": x})))
    pub = {k: float(v) for k, v in law.to_published(theta).items()}
    assert pub["d1"] < pub["d2"] and np.isclose(np.log(pub["d2"] / pub["d1"]), 2.0)
    reducible = pub["b"] * x ** -pub["c0"]
    for i in (1, 2):
        f = pub[f"f{i}"]
        reducible = reducible * (1 + (x / pub[f"d{i}"]) ** (1 / f)) ** (-pub[f"c{i}"] * f)
    want = pub["a"] + reducible
    np.testing.assert_allclose(got, want, rtol=1e-10)
    # the centring: y(x0) = exp(log_y0), a = sigmoid(floor) * y(x0)
    y0 = np.exp(np.asarray(law.mean(theta, {"D": np.array([2e10])})))[0]
    assert np.isclose(y0, np.exp(1.0)) and np.isclose(pub["a"], y0 / (1 + np.exp(-0.5)))


def test_factories_reject_bad_arguments():
    with pytest.raises(ValueError, match="n_breaks"):
        bnsl(0)
    with pytest.raises(ValueError, match="x0="):
        power_law("examples")
    with pytest.raises(ValueError, match="positive"):
        power_law("N", x0=-1.0)
    assert power_law("examples", x0=500.0).published == ("examples_c", "alpha_examples")


def test_catalog_rows_and_aliases():
    from bayescale import models

    table = bs.laws()
    for name in ("power_law_N", "hestness_D", "kaplan_ND", "kaplan_NS", "kaplan_bcrit", "bnsl_1"):
        assert name in table.index and table.loc[name, "reference"]
    assert models.kaplan_N is models.power_law_N and models.kaplan_C is models.power_law_C
    assert models.kaplan_bcrit.target == "B" and models.kaplan_bcrit.inputs == ("loss",)
