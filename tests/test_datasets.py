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
