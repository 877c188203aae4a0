"""Simulation-based calibration (Talts et al. 2018) of the Chinchilla law with default priors.

The procedure and the stated test live in ``benchmarks/sbc.py`` (which also loops over the whole
catalog): ranks of the true parameters among L thinned posterior draws, binned into B bins,
Pearson chi-square against uniform, per-parameter level 0.01 / P (Bonferroni). Here: R = 40
replicates, L = 19, B = 4 (10 expected per bin), small sampler settings; a negative control
checks that the same test rejects an overconfident posterior.
"""

from __future__ import annotations

import importlib.util
import pathlib
import sys

import numpy as np
import pytest
from bayescale.models import chinchilla
from cases_chinchilla import CHINCHILLA_RANGE

_PATH = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "sbc.py"
_spec = importlib.util.spec_from_file_location("bayescale_sbc", _PATH)
sbc = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = sbc  # dataclasses look their module up there
_spec.loader.exec_module(sbc)


def test_rank_counts_and_chi_square():
    uniform = np.arange(200) % 20  # ranks 0..19, exactly uniform
    assert sbc.rank_counts(uniform, 19, 4).tolist() == [50, 50, 50, 50]
    stat, p = sbc.chi2_uniform(uniform, 19, 4)
    assert stat == 0.0 and p == 1.0
    piled = np.r_[np.zeros(60, int), np.full(60, 19), np.arange(80) % 20]  # U-shaped ranks
    assert sbc.chi2_uniform(piled, 19, 4)[1] < 1e-6
    with pytest.raises(ValueError, match="must divide"):
        sbc.rank_counts(uniform, 19, 3)


def test_ranks_of_thinned_draws():
    draws = np.arange(400.0).reshape(2, 200)  # 400 draws -> every 21st: 0, 21, ..., 378
    thinned = sbc.thin(draws, 19)
    assert thinned.tolist() == list(np.arange(19) * 21.0)
    truth = np.array([[-1.0, 21.0, 1e9]])
    ranks = sbc.ranks_of(truth, np.broadcast_to(thinned, (1, 3, 19)))
    assert ranks.tolist() == [[0, 1, 19]]


@pytest.mark.slow
def test_sbc_chinchilla_default_priors():
    case = CHINCHILLA_RANGE
    res = sbc.run_sbc(
        chinchilla,
        case.make_inputs,
        n_rows=40,
        replicates=40,
        draws=19,
        bins=4,
        seed=1,
        num_chains=2,
        num_warmup=300,
        num_samples=200,
    )
    assert res.params == ("log_E", "log_A0", "log_B0", "alpha", "beta", "sigma")
    assert res.ranks.shape == (40 - res.skipped, 6)
    assert res.skipped <= 1  # prior predictive overflow is rare (battery: < 1% of draws)
    table = res.table()
    assert res.uniform, f"SBC ranks not uniform at level {res.alpha:.4f}:\n{table}"
    # Negative control: the same test must reject an overconfident posterior (draws shrunk to
    # 30% of their spread around the posterior mean): ranks pile at 0 and L.
    centre = res.thinned.mean(axis=-1, keepdims=True)
    shrunk = centre + 0.3 * (res.thinned - centre)
    bad = sbc.ranks_of(res.truth, shrunk)
    p_bad = [sbc.chi2_uniform(bad[:, j], 19, 4)[1] for j in range(6)]
    assert min(p_bad) < res.alpha, p_bad
