import numpy as np
import pytest

import bayescale as bs


def test_chinchilla_has_all_245_points_in_raw_counts():
    df = bs.datasets.load("chinchilla")
    assert len(df) == 245
    assert {"N", "D", "C", "loss"} <= set(df.columns)
    np.testing.assert_allclose(df["C"], 6 * df["N"] * df["D"], rtol=1e-12)
    assert df["N"].min() > 1e7 and df["D"].min() > 1e8  # raw counts, not billions
    assert "arXiv:2404.10102" in df.attrs["provenance"]
    assert df.attrs["reference"]["alpha"] == (0.348, 0.317, 0.373)


def test_epoch_variant_drops_exactly_the_five_highest_losses():
    full = bs.datasets.load("chinchilla")
    epoch = bs.datasets.load("chinchilla", variant="epoch")
    assert len(epoch) == 240
    dropped = full.loc[full.index.difference(epoch.index), "loss"]
    assert len(dropped) == 5
    assert dropped.min() > epoch["loss"].max()
    assert "5 highest-loss" in epoch.attrs["dropped"]


def test_names_and_unknown():
    assert "chinchilla" in bs.datasets.names()
    with pytest.raises(KeyError, match="unknown dataset"):
        bs.datasets.load("nope")


def test_farseer_reproduces_the_published_law_to_its_stated_error():
    """PROVENANCE: Farseer's constants fit the 404 runs to mean |rel. error| 0.226%, max 1.441%."""
    df = bs.datasets.load("farseer")
    assert len(df) == 404 and df["N"].nunique() == 25
    np.testing.assert_allclose(df["C"], 6 * df["N"] * df["D"], rtol=1e-12)
    E, s, q, S = 3.133347198805445, -0.062465473, 0.13, 0.1284880679442551
    B, b, Q, A, a = 230.73437075885855, -0.1729, -1.544209554, -1.665630816, 0.0458999999999619
    n, d = df["N"].to_numpy(), df["D"].to_numpy()
    law = np.exp(s * n**q + S) + np.exp(B * n**b + Q) * d ** (-np.exp(A * n**a + E))
    rel = np.abs(law / df["loss"].to_numpy() - 1)
    np.testing.assert_allclose([rel.mean(), rel.max()], [0.00226, 0.01441], atol=5e-6)
    assert "bits per character" in df.attrs["units"]["loss"]


def test_gemstones_stored_fit_has_its_stored_huber_objective():
    """The repo's approach-3 fit (delta 1e-4, main grid10b points to step 23850): objective
    0.0002076018 (PROVENANCE), the sum of scipy's Huber over log residuals."""
    from scipy.special import huber, logsumexp

    df = bs.datasets.load("gemstones", variant="grid10b")
    assert len(df) == 770 and df["run"].nunique() == 22
    sub = df[df["D"] <= 23850 * 2048 * 2048]
    assert len(sub) == 220
    r = df.attrs["reference"]
    log_n, log_d = np.log(sub["N"].to_numpy()), np.log(sub["D"].to_numpy())
    terms = [r["log_A"] - r["alpha"] * log_n, r["log_B"] - r["beta"] * log_d]
    pred = logsumexp([*terms, np.full(len(sub), r["log_E"])], axis=0)
    objective = huber(1e-4, pred - np.log(sub["loss"].to_numpy())).sum()
    np.testing.assert_allclose(objective, 0.0002076018, rtol=5e-7)  # 10 digits stored
    assert len(bs.datasets.load("gemstones")) == 3850
    assert len(bs.datasets.load("gemstones", variant="all")) == 4850


def test_routing_curves_drop_untrained_rows_and_say_so():
    dense = bs.datasets.load("routing")
    assert len(dense) == 325 and dense["run"].nunique() == 13
    assert (dense["S"] > 0).all() and np.isfinite(dense["loss"]).all()
    assert "13 step-0 rows" in dense.attrs["dropped"]
    final = bs.datasets.load("routing", variant="final")
    assert final["run"].is_unique and final["final"].all()
    # PROVENANCE: final-step validation losses span 1.99908-3.16202
    np.testing.assert_allclose(
        [final["loss"].min(), final["loss"].max()], [1.99908, 3.16202], atol=1e-5
    )
    with pytest.raises(ValueError, match="routing has variants"):
        bs.datasets.load("routing", variant="dense")
