"""Calibration on data simulated with known truth."""

import numpy as np
import pytest
from bayescale.models import chinchilla
from cases_chinchilla import CHINCHILLA_RANGE

import bayescale as bs

CASE = CHINCHILLA_RANGE


@pytest.mark.slow
def test_90pct_intervals_cover_the_truth_at_90pct():
    """20 datasets x 5 published parameters = 100 intervals. Under calibration the number covered
    is ~Binomial(100, 0.9): mean 90, sd 3. Parameters within a dataset are correlated, which
    inflates the spread; [78, 99] is about +-4 binomial sd and still rejects a sampler whose
    intervals are too narrow by a third (coverage ~ 0.73)."""
    truth = chinchilla.to_published({k: np.asarray(v) for k, v in CASE.truth.items()})
    covered = []
    for i in range(20):
        post = bs.fit(
            chinchilla, CASE.dataset(seed=100 + i), seed=i, num_warmup=400, num_samples=400
        )
        table = post.summary(level=0.9)
        for name in chinchilla.published:
            covered.append(table.loc[name, "lower"] <= truth[name] <= table.loc[name, "upper"])
    n = int(np.sum(covered))
    print(f"90% interval coverage: {n}/100")
    assert 78 <= n <= 99, n


@pytest.mark.filterwarnings("ignore::bayescale.ConvergenceWarning")
def test_same_seed_gives_identical_draws_and_another_seed_does_not():
    df = CASE.dataset(seed=7)
    a = bs.fit(chinchilla, df, seed=5, num_warmup=200, num_samples=200)
    b = bs.fit(chinchilla, df, seed=5, num_warmup=200, num_samples=200)
    c = bs.fit(chinchilla, df, seed=6, num_warmup=200, num_samples=200)
    for k in a.draws:
        np.testing.assert_array_equal(a.draws[k], b.draws[k])
    assert not np.array_equal(a.draws["alpha"], c.draws["alpha"])


@pytest.mark.filterwarnings("ignore::bayescale.ConvergenceWarning")  # tiny runs, on purpose
@pytest.mark.slow
def test_second_same_shaped_fit_does_not_retrace():
    """The law's mean function runs in Python only while JAX traces: count the calls."""
    import dataclasses

    calls = []

    def counted_mean(theta, x):
        calls.append(1)
        return chinchilla.mean_fn(theta, x)

    law = dataclasses.replace(chinchilla, mean_fn=counted_mean)
    bs.fit(law, CASE.dataset(seed=8), seed=0, num_warmup=100, num_samples=100)
    traced = len(calls)
    assert traced > 0
    # New values, a different row count within the same padding bucket, and a new seed.
    bs.fit(law, CASE.dataset(seed=9).iloc[:-3], seed=1, num_warmup=100, num_samples=100)
    assert len(calls) == traced
