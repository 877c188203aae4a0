"""The two grouped-law examples, on simulated data with known truth and on real data.

* Multilingual scaling law: per-language curves with partially pooled exponents; "does the gap
  between languages narrow with scale?" as a posterior probability (``Posterior.group_gap``).
* Architecture efficiency: per-architecture effective data multipliers
  (``bs.effective_multiplier``); "does architecture matter?" by ``bs.compare`` of one law for all
  against grouped fits, on simulated data and on the NMT learning curves of Alabdulmohsin et al.
  (2022) (dataset ``revisiting_nmt``), with the paper's held-out largest-D points.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from bayescale.models import hestness

import bayescale as bs
from bayescale._hierarchical import group_spec

# Small sampler settings for the centred fits below. Each group's parameters are diagnosed (not
# only the population's): at 300 + 300 some group's R-hat reached 1.011-1.012, so 500 + 1000.
SMALL = {"num_warmup": 500, "num_samples": 1000, "target_accept_prob": 0.98}

# ------------------------------------------------------------------ multilingual
N1, N2 = 1e7, 1e10  # the ends of the simulated ladder
E_EN = 1.7
# language: (E, reducible loss at N1, exponent). Against "en":
#   de: the same reducible term, E higher by 0.3    -> parallel curves, constant gap 0.3
#   sw: low resource, worse at N1 but a larger exponent -> the gap narrows (0.9 -> 0.28)
#   yo: a smaller exponent                            -> the gap widens (0.3 -> 0.43)
LANGS = {
    "en": (E_EN, 1.0, 0.30),
    "de": (E_EN + 0.3, 1.0, 0.30),
    "sw": (E_EN + 0.3, 1.6, 0.40),
    "yo": (E_EN + 0.3, 1.0, 0.20),
}


def _true_loss(lang: str, N):
    E, r1, a = LANGS[lang]
    return E + r1 * (np.asarray(N) / N1) ** -a


def _simulate_languages(seed: int, n: int = 10, sigma: float = 0.01) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for lang in LANGS:
        N = np.geomspace(N1, N2, n) * np.exp(rng.uniform(-0.1, 0.1, n))
        loss = _true_loss(lang, N) * np.exp(rng.normal(0.0, sigma, n))
        rows.append(pd.DataFrame({"N": N, "lang": lang, "loss": loss}))
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def languages_post():
    # Exponents partially pooled (centred: the points of a language pin its exponent), E and A
    # per language. hestness("N") is L = E + A / N^alpha. 20 points per language: with 10, each
    # language's E, A and alpha trade off and NUTS diverged in 5 of 8 seeds at target 0.98
    # (4 of 8 at 0.99); with 20 in none of 8 (2026-11-27, one CPU device).
    return bs.fit(
        hestness("N"),
        _simulate_languages(0, n=20),
        groups="lang",
        pooled=["alpha"],
        separate=["E", "A"],
        centred=True,
        seed=0,
        **SMALL,
    )


@pytest.mark.slow
def test_multilingual_exponents_recovered(languages_post):
    post = languages_post
    assert post.ok, post.problems
    s = post.summary()
    for lang, (E, _r1, a) in LANGS.items():
        z = (s.loc[f"alpha[{lang}]", "mean"] - a) / s.loc[f"alpha[{lang}]", "sd"]
        assert abs(z) < 3.0, (lang, z)
        z = (s.loc[f"E[{lang}]", "mean"] - E) / s.loc[f"E[{lang}]", "sd"]
        assert abs(z) < 3.0, (lang, z)


def test_multilingual_gap_narrows_posterior_probability(languages_post):
    """Six interval checks (3 languages x 2 sizes) at 99.2% each (Bonferroni: a calibrated
    posterior fails one with probability < 5%)."""
    post = languages_post
    gaps = {b: post.group_gap("en", b, N=[N1, N2], level=0.992) for b in ("sw", "de", "yo")}
    for b, g in gaps.items():
        print(b, g.to_string())
        truth = _true_loss(b, [N1, N2]) - _true_loss("en", [N1, N2])
        assert (g["gap_lower"] < truth).all() and (truth < g["gap_upper"]).all(), (b, truth)
        assert np.isnan(g["p_narrower"].iloc[0]) and (g["p_positive"] > 0.99).all()
    assert gaps["sw"]["p_narrower"].iloc[1] > 0.95  # truth narrows
    assert gaps["yo"]["p_narrower"].iloc[1] < 0.05  # truth widens
    # truth parallel: the data cannot say "narrows" (no decision either way is claimed; under
    # calibration p_narrower is then ~uniform, so this fails 1% of the time)
    assert 0.005 < gaps["de"]["p_narrower"].iloc[1] < 0.995
    # the gap is antisymmetric in (a, b)
    back = post.group_gap("sw", "en", N=[N1, N2])
    np.testing.assert_allclose(back["gap"], -gaps["sw"]["gap"], rtol=1e-12)
    np.testing.assert_allclose(back["p_narrower"].iloc[1], gaps["sw"]["p_narrower"].iloc[1])
    with pytest.raises(ValueError, match="two different groups"):
        post.group_gap("en", "en", N=N1)
    with pytest.raises(KeyError, match="unknown group 'xx'"):
        post.group_gap("en", "xx", N=N1)


# ------------------------------------------------------------------ architecture (simulated)
D0 = 1e7
ARCH_LAW = hestness("D", x0=D0, name="hestness_D_examples")  # centred inside 1e6..1e9
# L = E + A / (m_g D)^alpha: shared E, A, alpha; per-architecture effective data multipliers.
ARCH_TRUTH = {"E": 0.3, "A": 40.0, "alpha": 0.4}
MULTIPLIERS = {"base": 1.0, "deep": 2.0, "lstm": 0.5, "wide": 4.0}


def _simulate_architectures(seed: int, n: int = 8, sigma: float = 0.01) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for arch, m in MULTIPLIERS.items():
        D = np.geomspace(1e6, 1e9, n) * np.exp(rng.uniform(-0.1, 0.1, n))
        mean = ARCH_TRUTH["E"] + ARCH_TRUTH["A"] / (m * D) ** ARCH_TRUTH["alpha"]
        rows.append(pd.DataFrame({"D": D, "arch": arch, "loss": mean * rng.lognormal(0, sigma, n)}))
    return pd.concat(rows, ignore_index=True)


@pytest.mark.slow
def test_architecture_multipliers_recovered():
    # log A pooled with alpha shared is a pooled log multiplier: log m_g = (log A_ref - log A_g)
    # / alpha (bayescale._hierarchical.effective_multiplier).
    df = _simulate_architectures(1)
    post = bs.fit(
        ARCH_LAW, df, groups="arch", pooled=["A"], shared="rest", centred=True, seed=0, **SMALL
    )
    assert post.ok, post.problems
    m = bs.effective_multiplier(post, scale="A", exponent="alpha", reference="base", level=0.95)
    print(m.to_string())
    for arch, truth in MULTIPLIERS.items():
        if arch == "base":
            assert m.loc[arch, "median"] == 1.0 and m.loc[arch, "log_sd"] == 0.0
            continue
        z = (m.loc[arch, "log_median"] - np.log(truth)) / m.loc[arch, "log_sd"]
        assert abs(z) < 3.0, (arch, z)  # within 3 posterior sd
    assert m.loc["wide", "p_above_1"] > 0.99 and m.loc["lstm", "p_above_1"] < 0.01
    assert m.attrs["draws"].shape == (post.num_draws, 4)
    # the population centre as the reference: multipliers relative to the typical architecture
    m_pop = bs.effective_multiplier(post)
    np.testing.assert_allclose(
        m_pop.loc["wide", "log_median"] - m_pop.loc["base", "log_median"],
        m.loc["wide", "log_median"],
        atol=3 * m.loc["wide", "log_sd"] / np.sqrt(post.num_draws) + 0.02,
    )
    with pytest.raises(ValueError, match="is shared"):
        bs.effective_multiplier(post, scale="E")


# ------------------------------------------------------------------ architecture (real: NMT)
NMT_LAW = hestness("D", x0=1e7, name="hestness_D_nmt")


@pytest.fixture(scope="module")
def nmt():
    fit_rows = bs.datasets.load("revisiting_nmt", variant="fit")
    held_out = bs.datasets.load("revisiting_nmt", variant="extrapolate")
    # Every fit passed every diagnostic in 8 of 8 seeds at these settings (2026-11-27, one CPU
    # device); at 500 draws and target 0.95 a group's ESS sat at the bar (399) or a divergence
    # appeared in 1 of 6, and the five separate laws need 2000 draws for ESS and R-hat.
    settings = {"num_warmup": 500, "num_samples": 1000, "target_accept_prob": 0.98, "seed": 0}
    posts = {
        # one law for every architecture
        "one_law": bs.fit(NMT_LAW, fit_rows[["D", "loss"]], **settings),
        # per-architecture data multiplier (log A pooled) and irreducible loss (log E pooled),
        # one exponent
        "multiplier": bs.fit(
            NMT_LAW,
            fit_rows[["D", "arch", "loss"]],
            groups="arch",
            pooled=["A", "E"],
            shared="rest",
            centred=True,
            **settings,
        ),
        # every parameter separate: five independent laws
        "separate": bs.fit(
            NMT_LAW,
            fit_rows[["D", "arch", "loss"]],
            groups="arch",
            separate="rest",
            **{**settings, "num_samples": 2000},
        ),
    }
    return posts, held_out


def _held_out_errors(post, held_out: pd.DataFrame) -> pd.DataFrame:
    """Forecasts of the held-out rows in one call: grouped fits take the group codes."""
    spec = group_spec(post.law)
    x = {"D": held_out["D"].to_numpy()}
    if spec is not None:
        x[spec.column] = spec.codes(held_out["arch"].tolist())
    f = post.forecast(level=0.9, **x)
    out = pd.DataFrame({"arch": held_out["arch"], "loss": held_out["loss"]})
    out["pred"] = f["pred_median"].to_numpy()
    out["inside_90"] = (f["pred_lower"].to_numpy() <= out["loss"]) & (
        out["loss"] <= f["pred_upper"].to_numpy()
    )
    out["abs_err"] = (out["pred"] - out["loss"]).abs()
    return out


@pytest.mark.slow
def test_nmt_architecture_matters(nmt):
    posts, held_out = nmt
    for name, post in posts.items():
        assert post.ok, (name, post.problems)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ParetoKWarning)
        cmp = bs.compare(posts)
    print(cmp)
    t = cmp.table
    # one law for all five architectures is far behind both grouped fits, in LOO and evidence
    assert t.loc["one_law", "elpd_diff"] < -4 * t.loc["one_law", "dse"]
    assert t.loc["one_law", "weight"] < 0.01
    assert t.loc["one_law", "log_bf"] < -5.0
    # held out: the paper's largest-D point of each architecture (2x beyond the fit rows)
    errs = {n: _held_out_errors(p, held_out) for n, p in posts.items()}
    for n, e in errs.items():
        print(n, e.to_string(), "mean abs err", e["abs_err"].mean())
    assert errs["multiplier"]["abs_err"].mean() < 0.6 * errs["one_law"]["abs_err"].mean()
    assert errs["separate"]["abs_err"].mean() < 0.6 * errs["one_law"]["abs_err"].mean()
    m = bs.effective_multiplier(posts["multiplier"], reference="6 Enc, 6 Dec")
    print(m.to_string())
    assert m.loc["6 Enc, 6 Dec", "median"] == 1.0 and (m["median"] > 0).all()
